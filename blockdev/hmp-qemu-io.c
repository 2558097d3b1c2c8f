/*
 * HMP `qemu-io device "command"`: one minivmm-io command (blockdev/io-*.c) run on a drive,
 * as QEMU 2.2's monitor runs a qemu-io command on a drive's top node. Its output goes to the
 * VMM's stdout, not to the monitor (2.2 does the same). Not the minivmm-io program.
 */
#include <stdio.h>
#include "blockdev/io-cmds.h"
#include "monitor/command.h"

static void hmp_qemu_io(JsonObject *args, JsonNode **ret, Error **errp)
{
    const char *device = monitor_arg_str(args, "device");
    BlockBackend *blk = blk_by_name(device);

    if (!blk) {
        error_setg(errp, "Device '%s' not found", device);
        return;
    }
    /* Without a medium there is nothing to run on: qemu-io's "no file open". A node made
     * unusable (fatal corruption) is still there: its requests fail "No medium found". */
    io_command(blk_bs(blk) ? blk : NULL, monitor_arg_str(args, "command"));
    fflush(stdout);
    fflush(stderr);
}

static const MonitorCommand qemu_io_cmds[] = {
    {.hmp_name = "qemu-io",
     .args_type = "device:B,command:s",
     .fn = hmp_qemu_io,
     .hmp_params = "[device] \"[command]\"",
     .hmp_help = "run a qemu-io command on a block device"},
    {NULL},
};
MONITOR_REGISTER_COMMANDS(qemu_io_cmds);
