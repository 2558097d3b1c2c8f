/*
 * The PC memory map: how RAM is split around the PCI hole and the e820 table the firmware
 * receives (fw_cfg file etc/e820). Pure functions, unit-tested.
 */
#ifndef HW_E820_H
#define HW_E820_H

#include <stdint.h>

#define E820_RAM      1
#define E820_RESERVED 2

#define PC_4G           0x100000000ULL
#define PC_LOWMEM_SPLIT 0xe0000000ULL  /* RAM at least this large is split ... */
#define PC_LOWMEM_TOP   0xc0000000ULL  /* ... with this much below 4 GiB (gigabyte aligned) */
#define PC_KVM_RESERVED_ADDR 0xfeffc000ULL  /* KVM identity map + TSS */
#define PC_KVM_RESERVED_SIZE 0x4000ULL

typedef struct __attribute__((packed)) E820Entry {
    uint64_t addr;
    uint64_t len;
    uint32_t type;
} E820Entry;

#define E820_MAX_ENTRIES 4

void pc_split_ram(uint64_t ram_size, uint64_t *below_4g, uint64_t *above_4g);
/* Fill table (E820_MAX_ENTRIES) and return the number of entries used. */
unsigned pc_build_e820(uint64_t below_4g, uint64_t above_4g, E820Entry *table);

#endif
