/*
 * The qtest accelerator and protocol: with -machine accel=qtest no vCPU runs; a test drives
 * ports, MMIO, guest memory, interrupt lines and the virtual clock over a line protocol on a
 * chardev (-qtest stdio|unix:PATH). The same protocol works with a KVM machine that is
 * stopped (-S), as QEMU's does.
 */
#ifndef SYSTEM_QTEST_H
#define SYSTEM_QTEST_H

#include <stdbool.h>
#include "util/chardev.h"
#include "util/error.h"

/* Select the qtest accelerator (virtual clock driven by clock_step/clock_set). */
void qtest_enable_accel(void);
bool qtest_accel_enabled(void);
/* Serve the protocol on chr; log to log_path ("-qtest-log"), or nowhere when NULL. */
bool qtest_server_init(Chardev *chr, const char *log_path, Error **errp);

/* One protocol line in, the reply line(s) out (without the trailing newline); exposed for
 * unit tests and fuzzing. Returns the reply text, owned by the caller. */
char *qtest_process_line(const char *line);

#endif
