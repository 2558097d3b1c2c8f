/*
 * The PC board (i440FX + PIIX3): builds the machine from a MachineState and the
 * host-side resources the command line named.
 */
#ifndef HW_PC_H
#define HW_PC_H

#include "hw/machine.h"
#include "util/chardev.h"
#include "util/error.h"

#define PC_ISA_BIOS_SIZE 0x20000ULL  /* the BIOS window below 1 MiB: 0xe0000-0xfffff */

typedef struct PCConfig {
    Chardev *serial;      /* COM1 backend, or NULL for no COM1 */
    Chardev *debugcon;    /* port 0x402 backend, or NULL */
    int reboot_timeout;   /* -boot reboot-timeout (ms), -1 when not given */
    bool boot_menu;
    GPtrArray *fw_cfg_user; /* PCFwCfgItem* from -fw_cfg */
    const char *kernel;   /* -kernel: boot it directly instead of the BIOS's boot */
    const char *initrd;   /* -initrd */
    const char *append;   /* -append */
} PCConfig;

typedef struct PCFwCfgItem {
    char *name;
    void *data;
    size_t len;
} PCFwCfgItem;

bool pc_init(MachineState *ms, PCConfig *cfg, Error **errp);
/* After -device: what depends on every device (the bootorder file from bootindex). */
void pc_machine_done(void);

#endif
