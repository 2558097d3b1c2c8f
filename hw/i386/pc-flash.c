/*
 * The PC's system flash, as QEMU 2.2 builds it for -drive if=pflash: units 0 and 1 (up to
 * the first missing one) each become a 4 KiB-sector CFI flash, stacked down from 4 GiB with
 * unit 0 on top, at most 8 MiB in all, replacing the BIOS file (-bios is ignored). The ISA
 * BIOS window (0xe0000-0xfffff) gets a copy of the top 128 KiB of unit 0 taken at start-up,
 * so flash writes do not show there until the VMM restarts. Errors are 2.2's.
 */
#include <inttypes.h>
#include "blockdev/blockdev.h"
#include "hw/e820.h"
#include "hw/pc.h"
#include "hw/pc-flash.h"
#include "hw/pflash.h"

#define PC_FLASH_UNITS 2
#define PC_FLASH_SECTOR 4096
#define PC_FLASH_BASE_MIN (PC_4G - 8 * 1024 * 1024)

bool pc_system_flash_present(void)
{
    return drive_get(IF_PFLASH, 0, 0) != NULL;
}

static bool pc_flash_check_size(int64_t size, uint64_t top, Error **errp)
{
    if (size < 0) {
        error_setg(errp, "failed to get backing file size");
    } else if (size == 0) {
        error_setg(errp, "PC system firmware (pflash) cannot have zero size");
    } else if (size % PC_FLASH_SECTOR) {
        error_setg(errp, "PC system firmware (pflash) must be a multiple of 0x%x",
                   PC_FLASH_SECTOR);
    } else if (top < (uint64_t)size || top - size < PC_FLASH_BASE_MIN) {
        error_setg(errp, "oversized backing file, pflash segments cannot be mapped under "
                   "%016" PRIx64, (uint64_t)PC_FLASH_BASE_MIN);
    } else {
        return true;
    }
    return false;
}

bool pc_system_flash_init(uint8_t **isa_bios, size_t *isa_size, Error **errp)
{
    uint64_t top = PC_4G;
    DriveInfo *dinfo;

    for (int unit = 0; unit < PC_FLASH_UNITS && (dinfo = drive_get(IF_PFLASH, 0, unit));
         unit++) {
        g_autofree char *name = g_strdup_printf("system.flash%d", unit);
        BlockBackend *blk = drive_claim(dinfo, dinfo);
        int64_t size = blk ? blk_getlength(blk) : -1;
        PFlashCFI01 *pfl;

        if (!pc_flash_check_size(size, top, errp)) {
            return false;
        }
        top -= size;
        pfl = pflash_cfi01_new(top, blk, PC_FLASH_SECTOR, 0, 0, 0, 0, name, errp);
        if (!pfl) {
            return false;
        }
        if (unit == 0) {
            uint64_t len;
            const uint8_t *data = pflash_cfi01_storage(pfl, &len);

            *isa_size = MIN(len, PC_ISA_BIOS_SIZE);
            *isa_bios = g_memdup2(data + len - *isa_size, *isa_size);
        }
    }
    return true;
}
