/*
 * The image tools' password prompt (include/util/password.h). Standard input is read a byte
 * at a time with read(2) rather than through stdio, so a later reader of the same input
 * (minivmm-io's command loop, a second prompt) finds the rest of it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>
#include "util/password.h"

/* Echo off while the password is typed; true if the terminal's settings must be restored. */
static bool echo_off(struct termios *saved)
{
    struct termios t;

    if (!isatty(0) || tcgetattr(0, saved) < 0) {
        return false;
    }
    t = *saved;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    return tcsetattr(0, TCSAFLUSH, &t) == 0;
}

static int read_line(char *buf, size_t size)
{
    size_t n = 0;
    char ch;

    for (;;) {
        ssize_t r = read(0, &ch, 1);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            buf[n] = '\0';
            return -1;
        }
        if (ch == '\n' || ch == '\r') {
            buf[n] = '\0';
            return 0;
        }
        if (n + 1 < size) {
            buf[n++] = ch;
        }
    }
}

int read_password(char *buf, size_t size)
{
    struct termios saved;
    bool restore;
    int ret;

    printf("password: ");
    fflush(stdout);
    restore = echo_off(&saved);
    ret = read_line(buf, size);
    if (restore) {
        tcsetattr(0, TCSAFLUSH, &saved);
    }
    printf("\n");
    fflush(stdout);
    return ret;
}
