/*
 * The minivmm command line, in QEMU's syntax: parsed into a VMConfig; errors exit with
 * status 1 and a message of the form "minivmm: -opt value: what is wrong".
 */
#ifndef SYSTEM_CMDLINE_H
#define SYSTEM_CMDLINE_H

#include <glib.h>
#include "hw/machine.h"
#include "hw/pc.h"
#include "util/opts.h"

#define MAX_SERIAL_PORTS 4

/* One -drive, -hda, -cdrom ... as given, created into a drive after the parse. */
typedef struct DriveArg {
    Opts *opts;
    char *loc;                 /* "-drive OPTS", "-hda FILE" (NULL: an image file operand) */
} DriveArg;

typedef struct VMConfig {
    MachineState ms;
    PCConfig pc;
    const char *serial_specs[MAX_SERIAL_PORTS];
    unsigned nr_serial;
    const char *debugcon_spec;
    const char *bios_dir;      /* -L */
    bool accel_qtest;          /* -machine accel=qtest: no vCPUs, qtest drives the clock */
    const char *qtest_spec;    /* -qtest CHARDEV */
    const char *qtest_log;     /* -qtest-log FILE */
    GPtrArray *drives;         /* of DriveArg *, in command-line order */
    GPtrArray *devices;        /* of DriveArg * (-device OPTS), in command-line order */
    bool snapshot;             /* -snapshot */
    bool no_kvm_check;         /* -no-kvm-check: skip the host's kernel-mode speed check */
    bool no_loop_accel;        /* -machine loop-accel=off (include/hw/loop-accel.h) */
    uint32_t xen_version;      /* -accel ...,xen-version=: Xen HVM emulation (hw/xen/) */
    GPtrArray *chardevs;       /* -chardev option strings, in order (NULL: none) */
    GPtrArray *monitors;       /* of MonitorArg * (-mon, -qmp, -monitor), NULL: none */
    bool no_default_monitor;   /* -mon, -qmp or -monitor was given */
} VMConfig;

/* Parse argv into cfg; on a bad option print the error and exit(1). */
void cmdline_parse(int argc, char **argv, VMConfig *cfg);
/*
 * Create the drives of cfg, then the machine's default ones (unless -nodefaults); on an
 * error print "minivmm: -drive OPTS: MESSAGE" and exit(1), as QEMU does.
 */
void cmdline_create_drives(VMConfig *cfg);
/* Create the -device devices, after the board; on an error print it and exit(1). */
void cmdline_create_devices(VMConfig *cfg);

/* -chardev, -mon, -qmp, -monitor (system/cmdline-monitor.c). */
bool cmdline_opt_chardev(VMConfig *cfg, const char *arg, Error **errp);
bool cmdline_opt_mon(VMConfig *cfg, const char *arg, Error **errp);
bool cmdline_opt_qmp(VMConfig *cfg, const char *arg, Error **errp);
bool cmdline_opt_monitor(VMConfig *cfg, const char *arg, Error **errp);
/* Open the -chardev chardevs, then start the monitors; on an error print it and exit(1). */
void cmdline_create_monitors(VMConfig *cfg);

#endif
