/* Scenario `echo`: print the arguments it was given, one per line. */
#include "guest.h"

static int echo_run(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        printf("ARG %d %s\n", i, argv[i]);
    }
    return 0;
}

SCENARIO(echo, echo_run);
