/*
 * The PC's system flash: -drive if=pflash units in place of the BIOS file. See
 * hw/i386/pc-flash.c.
 */
#ifndef HW_PC_FLASH_H
#define HW_PC_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

/* True when -drive if=pflash gave unit 0, so the flash is the firmware. */
bool pc_system_flash_present(void);
/*
 * Map the flash units below 4 GiB and return a copy of the last 128 KiB (or less) of unit 0,
 * for the ISA BIOS window, in *isa_bios and *isa_size (g_free it).
 */
bool pc_system_flash_init(uint8_t **isa_bios, size_t *isa_size, Error **errp);

#endif
