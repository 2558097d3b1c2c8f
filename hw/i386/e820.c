/*
 * The PC's RAM split and e820 table, as QEMU's i440FX machine lays them out: RAM below the
 * PCI hole (all of it when smaller than 3.5 GiB, else 3 GiB), the rest from 4 GiB up, and the
 * pages KVM needs for real mode reserved (and, under Xen emulation, the Xen special pages).
 */
#include <glib.h>
#include "hw/e820.h"
#include "hw/xen/xen.h"

void pc_split_ram(uint64_t ram_size, uint64_t *below_4g, uint64_t *above_4g)
{
    uint64_t low = ram_size >= PC_LOWMEM_SPLIT ? PC_LOWMEM_TOP : ram_size;

    *below_4g = low;
    *above_4g = ram_size - low;
}

unsigned pc_build_e820(uint64_t below_4g, uint64_t above_4g, E820Entry *table)
{
    unsigned n = 0;

    table[n++] = (E820Entry){ GUINT64_TO_LE(0), GUINT64_TO_LE(below_4g),
                              GUINT32_TO_LE(E820_RAM) };
    if (above_4g) {
        table[n++] = (E820Entry){ GUINT64_TO_LE(PC_4G), GUINT64_TO_LE(above_4g),
                                  GUINT32_TO_LE(E820_RAM) };
    }
    table[n++] = (E820Entry){ GUINT64_TO_LE(PC_KVM_RESERVED_ADDR),
                              GUINT64_TO_LE(PC_KVM_RESERVED_SIZE),
                              GUINT32_TO_LE(E820_RESERVED) };
    if (xen_enabled()) {
        table[n++] = (E820Entry){ GUINT64_TO_LE(XEN_SPECIAL_AREA_ADDR),
                                  GUINT64_TO_LE(XEN_SPECIAL_AREA_SIZE),
                                  GUINT32_TO_LE(E820_RESERVED) };
    }
    return n;
}
