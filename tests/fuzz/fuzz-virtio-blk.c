/*
 * virtio-blk-pci (transitional, 2 queues, MSI-X) on a 1 MiB raw image: the legacy I/O block
 * at 0xc000 and the PCI configuration ports as port operations, and as the target's own
 * operation one of: an MMIO access to the modern BAR (common, ISR, device, notify) or the
 * MSI-X table, a queue set up with its rings in scratch RAM (so the fuzzer reaches the
 * descriptor walk without guessing addresses), a kick, or waiting for in-flight requests.
 * The BARs are programmed before every input, since the machine reset between inputs
 * clears them. Descriptor tables, rings and buffers come from the MEM operation.
 */
#include <stdlib.h>
#include <unistd.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include "block/block-backend.h"
#include "harness.h"
#include "hw/ioport.h"
#include "hw/qdev.h"
#include "hw/virtio-blk.h"
#include "util/main-loop.h"

#define VB_DEVFN PCI_DEVFN(4, 0)
#define VB_IO_BASE 0xc000
#define VB_MSIX_BASE 0xfe000000ULL
#define VB_MODERN_BASE 0xfe004000ULL
#define VB_MODERN_SIZE 0x4000
#define VB_MSIX_SIZE 0x1000
#define VB_IMAGE_SIZE (1 << 20)
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

enum {
    VB_OP_MMIO_W,
    VB_OP_MMIO_R,
    VB_OP_MSIX_W,
    VB_OP_MSIX_R,
    VB_OP_QUEUE,
    VB_OP_KICK,
    VB_OP_SETTLE,
    VB_OP_COUNT
};

static BlockBackend *vb_blk;

static void vb_config_write(unsigned reg, uint32_t val)
{
    io_dispatch_write(IO_SPACE_PIO, PCI_CONFIG_ADDRESS, 0x80000000u | VB_DEVFN << 8 | reg, 4);
    io_dispatch_write(IO_SPACE_PIO, PCI_CONFIG_DATA, val, 4);
}

static void vb_program_bars(void)
{
    vb_config_write(PCI_BASE_ADDRESS_0, VB_IO_BASE);
    vb_config_write(PCI_BASE_ADDRESS_1, VB_MSIX_BASE);
    vb_config_write(PCI_BASE_ADDRESS_4, (uint32_t)VB_MODERN_BASE);
    vb_config_write(PCI_BASE_ADDRESS_4 + 4, 0);
    vb_config_write(PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static unsigned vb_size(FuzzInput *in)
{
    static const unsigned sizes[] = {1, 2, 4, 8};

    return sizes[fuzz_u8(in) % 4];
}

static void vb_settle(void)
{
    blk_drain(vb_blk);
    while (g_main_context_iteration(main_loop_context(), FALSE)) {
    }
}

/* Queue q with size n and its three rings at scratch offsets, enabled, driver ready. */
static void vb_queue(FuzzInput *in)
{
    uint64_t c = VB_MODERN_BASE;
    uint16_t q = fuzz_u8(in) % 3, n = fuzz_u16(in);

    io_dispatch_write(IO_SPACE_MMIO, c + 20, 0xb, 1); /* ACK, DRIVER, FEATURES_OK */
    io_dispatch_write(IO_SPACE_MMIO, c + 22, q, 2);
    io_dispatch_write(IO_SPACE_MMIO, c + 24, n, 2);
    io_dispatch_write(IO_SPACE_MMIO, c + 32, FUZZ_SCRATCH_BASE + fuzz_u16(in), 8);
    io_dispatch_write(IO_SPACE_MMIO, c + 40, FUZZ_SCRATCH_BASE + fuzz_u16(in), 8);
    io_dispatch_write(IO_SPACE_MMIO, c + 48, FUZZ_SCRATCH_BASE + fuzz_u16(in), 8);
    io_dispatch_write(IO_SPACE_MMIO, c + 28, 1, 2);
    io_dispatch_write(IO_SPACE_MMIO, c + 20, 0xf, 1);
}

static void vb_extra(FuzzInput *in)
{
    uint8_t op = fuzz_u8(in) % VB_OP_COUNT;
    uint16_t off = fuzz_u16(in);
    unsigned size = vb_size(in);

    switch (op) {
    case VB_OP_MMIO_W:
        io_dispatch_write(IO_SPACE_MMIO, VB_MODERN_BASE + off % (VB_MODERN_SIZE - 7), fuzz_u64(in),
                          size);
        break;
    case VB_OP_MMIO_R:
        io_dispatch_read(IO_SPACE_MMIO, VB_MODERN_BASE + off % (VB_MODERN_SIZE - 7), size);
        break;
    case VB_OP_MSIX_W:
        io_dispatch_write(IO_SPACE_MMIO, VB_MSIX_BASE + off % (VB_MSIX_SIZE - 7), fuzz_u64(in),
                          size);
        break;
    case VB_OP_MSIX_R:
        io_dispatch_read(IO_SPACE_MMIO, VB_MSIX_BASE + off % (VB_MSIX_SIZE - 7), size);
        break;
    case VB_OP_QUEUE:
        vb_queue(in);
        break;
    case VB_OP_KICK:
        io_dispatch_write(IO_SPACE_MMIO, VB_MODERN_BASE + 0x3000 + 4 * (off % 3), off, 2);
        break;
    default:
        vb_settle();
        break;
    }
}

static const FuzzPortRange vb_ports[] = {{VB_IO_BASE, 0x80}, {PCI_CONFIG_ADDRESS, 8}};

static const FuzzDevice vb_fuzz = {
    .ports = vb_ports,
    .nports = G_N_ELEMENTS(vb_ports),
    .extra_op = vb_extra,
};

static BlockBackend *vb_open_image(void)
{
    return fuzz_open_image("vb0", VB_IMAGE_SIZE, BDRV_O_RDWR | BDRV_O_UNMAP);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    VirtioBlkConf conf;
    BusState *bus;

    fuzz_machine_init();
    vb_blk = vb_open_image();
    virtio_blk_conf_init(&conf);
    conf.num_queues = 2;
    conf.queue_size = 16;
    conf.serial = "fuzz";
    bus = qbus_find("pci.0");
    if (blk_attach_dev(vb_blk, &vb_blk) < 0 ||
        !virtio_blk_pci_create(bus->opaque, VB_DEVFN, vb_blk, &conf, &error_abort)) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vb_program_bars();
    fuzz_device_run(&vb_fuzz, data, size);
    return 0;
}
