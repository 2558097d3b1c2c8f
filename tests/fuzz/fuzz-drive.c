/*
 * -drive option strings: drive_def() then drive_parse(), QEMU 2.2's checks without opening
 * anything. The world drive_parse() asks about is fixed: slot ide 0:0 is taken, and the
 * formats raw, qcow2 and file exist. The input is the option string (up to its first NUL).
 */
#include <string.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "harness.h"

static bool drive_fuzz_slot_taken(BlockInterfaceType type, int bus, int unit, void *opaque)
{
    return type == IF_IDE && bus == 0 && unit == 0;
}

static bool drive_fuzz_format_exists(const char *format, void *opaque)
{
    return !strcmp(format, "raw") || !strcmp(format, "qcow2") || !strcmp(format, "file");
}

static const DriveEnv drive_fuzz_env = {IF_IDE, drive_fuzz_slot_taken, drive_fuzz_format_exists,
                                        NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *optstr = g_strndup((const char *)data, size);
    Error *err = NULL;
    Opts *opts = drive_def(optstr, &err);
    DriveConfig cfg;

    if (opts) {
        memset(&cfg, 0, sizeof(cfg));
        if (drive_parse(opts, &drive_fuzz_env, &cfg, &err)) {
            drive_config_clear(&cfg);
        }
        opts_free(opts);
    }
    if (err) {
        error_free(err);
    }
    return 0;
}
