/* Scenario `entry`: how the loader entered the payload (the Linux 64-bit entry at
 * startup_64, or a 32-bit one), and whether ESI/RSI pointed at a zero page with the
 * setup header's "HdrS". */
#include "guest.h"

static int entry_run(int argc, char **argv)
{
    const char *bp = (const char *)(uintptr_t)boot_params;

    printf("ENTRY %s\n", boot_entry64 ? "64" : "32");
    if (boot_params) {
        printf("BOOT_PARAMS 0x%x %s\n", boot_params,
               bp[0x202] == 'H' && bp[0x203] == 'd' && bp[0x204] == 'r' && bp[0x205] == 'S'
                   ? "HdrS" : "no-header");
    }
    return 0;
}

SCENARIO(entry, entry_run);
