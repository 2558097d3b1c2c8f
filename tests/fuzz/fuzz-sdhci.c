/*
 * The SD host controller with a card (-device sdhci-pci at 00:05.0, -device sd-card on a
 * 1 MiB drive): its register BAR in memory space and the PCI configuration ports. The
 * target's own operation is one of: a register access; a command shaped like a driver's
 * (block size and count, transfer mode with PIO, SDMA or ADMA into the scratch RAM, then
 * the command word) with any index and argument; a run of buffer data port reads or
 * writes; the card's initialisation as SeaBIOS does it, so inputs reach the transfer state
 * at once; or a clock step that lets ADMA go on. The BAR is programmed before every input
 * (the reset between inputs clears it). Seeds (tests/fuzz/corpus/sdhci/): initialisation
 * then a PIO read, a PIO multi-block write, an SDMA read and an ADMA2 write.
 */
#include <glib.h>
#include "block/block-backend.h"
#include "harness.h"
#include "hw/ioport.h"
#include "hw/pci.h"
#include "hw/qdev.h"
#include "util/error.h"

#define SD_DEVFN PCI_DEVFN(5, 0)
#define SD_MMIO_BASE 0xfe000000ULL
#define SD_IMAGE_SIZE (1 << 20)
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

enum { SD_OP_MMIO_W, SD_OP_MMIO_R, SD_OP_CMD, SD_OP_PIO, SD_OP_INIT, SD_OP_SETTLE, SD_OP_COUNT };

static void sd_config_write(unsigned reg, uint32_t val)
{
    io_dispatch_write(IO_SPACE_PIO, PCI_CONFIG_ADDRESS, 0x80000000u | SD_DEVFN << 8 | reg, 4);
    io_dispatch_write(IO_SPACE_PIO, PCI_CONFIG_DATA, val, 4);
}

static void sd_program_bar(void)
{
    sd_config_write(PCI_BASE_ADDRESS_0, (uint32_t)SD_MMIO_BASE);
    sd_config_write(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static void sd_w(unsigned off, uint32_t val, unsigned size)
{
    io_dispatch_write(IO_SPACE_MMIO, SD_MMIO_BASE + off, val, size);
}

static uint32_t sd_r(unsigned off, unsigned size)
{
    return io_dispatch_read(IO_SPACE_MMIO, SD_MMIO_BASE + off, size);
}

/* Response types of the command register: none, 136, 48, 48 with busy; data or not. */
static void sd_command(uint8_t index, uint8_t flags, uint32_t arg)
{
    sd_w(0x08, arg, 4);
    sd_w(0x0e, (uint16_t)(index << 8 | flags), 2);
}

static void sd_init_card(void)
{
    uint32_t rca;

    sd_w(0x29, 0x0f, 1);   /* 3.3 V, power on */
    sd_w(0x2c, 0x8005, 2); /* internal clock, SD clock */
    sd_w(0x34, 0x01ff01ff, 4);
    sd_command(0, 0x00, 0);
    sd_command(8, 0x1a, 0x1aa);
    sd_command(55, 0x1a, 0);
    sd_command(41, 0x02, 0x40300000);
    sd_command(2, 0x09, 0);
    sd_command(3, 0x1a, 0);
    rca = sd_r(0x10, 4) & 0xffff0000;
    sd_command(7, 0x1b, rca);
    sd_w(0x30, 0xffffffff, 4);
}

static void sd_cmd_op(FuzzInput *in)
{
    uint8_t index = fuzz_u8(in) % 64;
    uint8_t flags = fuzz_u8(in);
    uint32_t arg = fuzz_u32(in);
    uint16_t blksize = fuzz_u16(in);
    uint16_t blkcnt = fuzz_u16(in);
    uint16_t trnmod = fuzz_u16(in);
    uint8_t hostctl = fuzz_u8(in);

    sd_w(0x00, FUZZ_SCRATCH_BASE + (fuzz_u16(in) % FUZZ_SCRATCH_SIZE), 4);
    sd_w(0x58, FUZZ_SCRATCH_BASE + (fuzz_u16(in) % FUZZ_SCRATCH_SIZE), 4);
    sd_w(0x28, hostctl, 1);
    sd_w(0x04, blksize | (uint32_t)blkcnt << 16, 4);
    sd_w(0x0c, trnmod | (uint32_t)(index << 8 | flags) << 16, 4);
    sd_w(0x08, arg, 4); /* after the command: arguments of the next one */
}

static void sd_pio_op(FuzzInput *in)
{
    unsigned words = fuzz_u8(in) + 1;
    bool write = fuzz_u8(in) & 1;

    for (unsigned i = 0; i < words; i++) {
        if (write) {
            sd_w(0x20, i * 0x01010101u, 4);
        } else {
            sd_r(0x20, 4);
        }
    }
}

static void sd_extra(FuzzInput *in)
{
    uint8_t op = fuzz_u8(in) % SD_OP_COUNT;
    uint8_t off = fuzz_u8(in);
    unsigned size = 1u << (fuzz_u8(in) % 3);

    switch (op) {
    case SD_OP_MMIO_W:
        sd_w(off, fuzz_u32(in), size);
        break;
    case SD_OP_MMIO_R:
        sd_r(off, size);
        break;
    case SD_OP_CMD:
        sd_cmd_op(in);
        break;
    case SD_OP_PIO:
        sd_pio_op(in);
        break;
    case SD_OP_INIT:
        sd_init_card();
        break;
    default:
        fuzz_clock_step(1000);
        break;
    }
}

static const FuzzPortRange sd_ports[] = {{PCI_CONFIG_ADDRESS, 8}};

static const FuzzDevice sd_fuzz = {
    .ports = sd_ports,
    .nports = G_N_ELEMENTS(sd_ports),
    .extra_op = sd_extra,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    BusState *pci, *sd;

    fuzz_machine_init();
    fuzz_open_image("sd0", SD_IMAGE_SIZE, BDRV_O_RDWR);
    pci = qbus_find("pci.0");
    qdev_create_on_bus("sdhci-pci", pci, &error_abort, "addr", "5", NULL);
    sd = qbus_find("sd-bus");
    if (!sd || !qdev_create_on_bus("sd-card", sd, &error_abort, "drive", "sd0", NULL)) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_program_bar();
    fuzz_device_run(&sd_fuzz, data, size);
    return 0;
}
