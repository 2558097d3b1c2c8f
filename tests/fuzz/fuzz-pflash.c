/*
 * The PC's system flash: two pflash units (64 KiB, and 16 KiB read-only) below 4 GiB in
 * place of the BIOS. The target's operation is an MMIO access anywhere in the two units (a
 * command, its data, or a read in whatever mode the flash is in), so command sequences,
 * write buffers with any count, erases and the read-only unit's errors are all reachable.
 * The reset between inputs puts both units back in array mode; their content carries over,
 * as the images are not restored.
 */
#include <unistd.h>
#include <glib.h>
#include "block/block-backend.h"
#include "harness.h"
#include "hw/ioport.h"

#define UNIT0_SIZE (64 * 1024)
#define UNIT1_SIZE (16 * 1024)
#define FLASH_BASE (0x100000000ULL - UNIT0_SIZE - UNIT1_SIZE)

/* op: bit 0 write, bits 1-2 size (1, 2, 4, 8 bytes), then an offset and a value. */
static void pflash_fuzz_access(FuzzInput *in)
{
    uint8_t op = fuzz_u8(in);
    unsigned size = 1u << ((op >> 1) & 3);
    uint64_t addr = FLASH_BASE + fuzz_u32(in) % (UNIT0_SIZE + UNIT1_SIZE);
    uint64_t val = fuzz_u64(in);

    if (op & 1) {
        io_dispatch_write(IO_SPACE_MMIO, addr, val, size);
    } else {
        (void)io_dispatch_read(IO_SPACE_MMIO, addr, size);
    }
}

static const FuzzDevice pflash_fuzz = {
    .ports = NULL,
    .nports = 0,
    .extra_op = pflash_fuzz_access,
};

static void pflash_add_drive(int unit, uint64_t size, bool readonly)
{
    g_autofree char *name = g_strdup_printf("pflash%d", unit);
    BlockBackend *blk = fuzz_open_image(name, size, readonly ? 0 : BDRV_O_RDWR);
    DriveInfo *dinfo = g_new0(DriveInfo, 1);

    dinfo->type = IF_PFLASH;
    dinfo->unit = unit;
    blk_set_legacy_dinfo(blk, dinfo);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pflash_add_drive(0, UNIT0_SIZE, false);
    pflash_add_drive(1, UNIT1_SIZE, true);
    fuzz_machine_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_device_run(&pflash_fuzz, data, size);
    return 0;
}
