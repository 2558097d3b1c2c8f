/*
 * The floppy controller (0x3f1-0x3f5, 0x3f7) with a 1.44M diskette in drive A:, and both
 * 8237 DMA controllers (0x00-0x0f, 0xc0-0xdf, page registers 0x81-0x8f). The extra
 * operation programs DMA channel 2 (mode, an address in or out of the scratch RAM, a count)
 * and sends a whole command with its parameters, so data transfers, formats and their
 * refusals are reached without the fuzzer having to find the byte sequences itself.
 */
#include <unistd.h>
#include <glib.h>
#include "block/block-backend.h"
#include "harness.h"
#include "hw/ioport.h"

#define FDC_IMAGE_SIZE (1440 * 1024)

static void fdc_out(uint16_t port, uint8_t val)
{
    io_dispatch_write(IO_SPACE_PIO, port, val, 1);
}

/* mode, address (16 bits + page), count, then a command byte and up to 8 parameters. */
static void fdc_fuzz_command(FuzzInput *in)
{
    uint8_t mode = fuzz_u8(in);
    uint32_t addr = (mode & 0x80) ? fuzz_u32(in) : FUZZ_SCRATCH_BASE + fuzz_u16(in);
    uint16_t count = fuzz_u16(in);
    unsigned nparams = fuzz_u8(in) % 10;

    fdc_out(0x0a, 0x06);
    fdc_out(0x0c, 0);
    fdc_out(0x0b, 0x42 | (mode & 0x3c));
    fdc_out(0x04, addr & 0xff);
    fdc_out(0x04, (addr >> 8) & 0xff);
    fdc_out(0x81, (addr >> 16) & 0xff);
    fdc_out(0x05, count & 0xff);
    fdc_out(0x05, count >> 8);
    fdc_out(0x0a, 0x02);
    for (unsigned i = 0; i < nparams; i++) {
        fdc_out(0x3f5, fuzz_u8(in));
    }
}

static const FuzzPortRange fdc_ports[] = {
    {0x3f1, 5}, {0x3f7, 1}, {0x00, 16}, {0xc0, 32}, {0x81, 15},
};

static const FuzzDevice fdc_fuzz = {
    .ports = fdc_ports,
    .nports = G_N_ELEMENTS(fdc_ports),
    .extra_op = fdc_fuzz_command,
};

/* A floppy0 drive the board's FDC claims as drive A:. */
static void fdc_add_drive(void)
{
    BlockBackend *blk = fuzz_open_image("floppy0", FDC_IMAGE_SIZE, BDRV_O_RDWR);
    DriveInfo *dinfo = g_new0(DriveInfo, 1);

    dinfo->type = IF_FLOPPY;
    blk_set_legacy_dinfo(blk, dinfo);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fdc_add_drive();
    fuzz_machine_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_device_run(&fdc_fuzz, data, size);
    return 0;
}
