/*
 * The minivmm command line, in QEMU's syntax: parsed into a VMConfig; errors exit with
 * status 1 and a message of the form "minivmm: -opt value: what is wrong".
 */
#ifndef SYSTEM_CMDLINE_H
#define SYSTEM_CMDLINE_H

#include <glib.h>
#include "hw/machine.h"
#include "hw/pc.h"

#define MAX_SERIAL_PORTS 4

typedef struct VMConfig {
    MachineState ms;
    PCConfig pc;
    const char *serial_specs[MAX_SERIAL_PORTS];
    unsigned nr_serial;
    const char *debugcon_spec;
    const char *bios_dir;      /* -L */
} VMConfig;

/* Parse argv into cfg; on a bad option print the error and exit(1). */
void cmdline_parse(int argc, char **argv, VMConfig *cfg);

#endif
