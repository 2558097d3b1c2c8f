/*
 * The LSI 53C895A (-drive if=scsi: the adapter at 00:02.0 with a 1 MiB scsi-disk at
 * scsi-id 0 and a CD-ROM with a 64 KiB medium at scsi-id 1): its register file in I/O space
 * (BAR0 at 0xc000) and the PCI configuration ports as port operations; as the target's own
 * operation one of: an access to the register BAR or the SCRIPTS RAM BAR in memory space, a
 * SCRIPTS program of instructions shaped like real ones (SELECT, block moves in every
 * phase, table indirect, WAIT RESELECT, register ops, jumps, memory moves, LOAD/STORE) with
 * random bits and addresses mostly in scratch RAM, started from RAM or from SCRIPTS RAM, or
 * waiting for the disks and stepping the clock past the SCRIPTS pause. The BARs are
 * programmed before every input, since the machine reset between inputs clears them.
 * Seeds (tests/fuzz/corpus/lsi/): SeaBIOS-shaped programs running INQUIRY, READ(10),
 * WRITE(10) with disconnect privilege, and a selection of an absent target.
 */
#include <glib.h>
#include "block/block-backend.h"
#include "harness.h"
#include "hw/ioport.h"
#include "hw/pci.h"
#include "hw/memory.h"
#include "util/main-loop.h"

#define LSI_DEVFN PCI_DEVFN(2, 0)
#define LSI_IO_BASE 0xc000
#define LSI_MMIO_BASE 0xfe000000ULL
#define LSI_RAM_BASE 0xfe002000ULL
#define LSI_RAM_SIZE 0x2000
#define LSI_DISK_SIZE (1 << 20)
#define LSI_CD_SIZE (64 << 10)
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define LSI_MAX_PROGRAM 32

enum {
    LSI_OP_MMIO_W,
    LSI_OP_MMIO_R,
    LSI_OP_RAM_W,
    LSI_OP_RAM_R,
    LSI_OP_SCRIPT,
    LSI_OP_SETTLE,
    LSI_OP_COUNT
};

static BlockBackend *lsi_blks[2];

static void lsi_config_write(unsigned reg, uint32_t val)
{
    io_dispatch_write(IO_SPACE_PIO, PCI_CONFIG_ADDRESS, 0x80000000u | LSI_DEVFN << 8 | reg, 4);
    io_dispatch_write(IO_SPACE_PIO, PCI_CONFIG_DATA, val, 4);
}

static void lsi_program_bars(void)
{
    lsi_config_write(PCI_BASE_ADDRESS_0, LSI_IO_BASE);
    lsi_config_write(PCI_BASE_ADDRESS_1, (uint32_t)LSI_MMIO_BASE);
    lsi_config_write(PCI_BASE_ADDRESS_2, (uint32_t)LSI_RAM_BASE);
    lsi_config_write(PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static unsigned lsi_size(FuzzInput *in)
{
    static const unsigned sizes[] = {1, 2, 4};

    return sizes[fuzz_u8(in) % 3];
}

/* An address: mostly in scratch RAM, sometimes the SCRIPTS RAM or registers, or anything. */
static uint32_t lsi_addr(FuzzInput *in)
{
    uint32_t v = fuzz_u32(in);

    switch (v >> 30) {
    case 0:
    case 1:
        return FUZZ_SCRATCH_BASE + (v & (FUZZ_SCRATCH_SIZE - 1));
    case 2:
        return (v & 0x100 ? LSI_MMIO_BASE : LSI_RAM_BASE) + (v & 0xff);
    default:
        return v;
    }
}

/* One instruction in the shape of a real one, with input-chosen fields. */
static unsigned lsi_insn(FuzzInput *in, uint32_t *w)
{
    static const uint32_t shapes[] = {
        0x40000000, /* SELECT */
        0x42000000, /* SELECT table indirect */
        0x48000000, /* WAIT DISCONNECT */
        0x50000000, /* WAIT RESELECT */
        0x58000000, /* SET */
        0x60000000, /* CLEAR */
        0x08000000, /* MOVE (phase below) */
        0x18000000, /* MOVE table indirect */
        0x28000000, /* MOVE indirect */
        0x80080000, /* JUMP */
        0x80000000, /* JUMP if (compares below) */
        0x88080000, /* CALL */
        0x90080000, /* RETURN */
        0x98080000, /* INT */
        0x98180000, /* INTFLY */
        0x70000000, /* register ops */
        0xc0000000, /* MEMORY MOVE */
        0xe0000000, /* LOAD/STORE */
    };
    uint32_t shape = shapes[fuzz_u8(in) % G_N_ELEMENTS(shapes)];
    uint32_t bits = fuzz_u32(in);

    switch (shape >> 28) {
    case 0x0:
    case 0x1:
    case 0x2: /* phase, and a count kept small most of the time */
        w[0] = shape | (bits & 0x07000000) | (bits & 0x80 ? bits & 0xffffff : bits & 0x3ff);
        break;
    case 0x4:
    case 0x5:
    case 0x6: /* target id, relative, ATN/ACK/carry */
        w[0] = shape | (bits & 0x070f0648);
        break;
    case 0x7:
        w[0] = shape | (bits & 0x0fffffff);
        break;
    case 0x8:
    case 0x9: /* phase, relative, compares, mask and data */
        w[0] = shape | (bits & 0x07eeffff);
        break;
    case 0xc: /* a count of up to 64 KiB, rarely the full 24 bits */
        w[0] = shape | (bits & 0x80000000 ? bits & 0xffffff : bits & 0xffff);
        break;
    default: /* LOAD/STORE: DSA relative, load, register, count */
        w[0] = shape | (bits & 0x11ff0007);
        break;
    }
    w[1] = w[0] & 0x00800000 && (shape >> 30) == 2 ? fuzz_u8(in) * 8 : lsi_addr(in);
    if ((shape >> 28) == 0xc) {
        w[2] = lsi_addr(in);
        return 3;
    }
    return 2;
}

/* A program in scratch RAM or SCRIPTS RAM, its DSA, and a start through DSP. */
static void lsi_script(FuzzInput *in)
{
    uint32_t prog[3 * LSI_MAX_PROGRAM];
    unsigned n = 0, count = fuzz_u8(in) % LSI_MAX_PROGRAM + 1;
    bool in_ram = fuzz_u8(in) & 1;
    uint32_t base = in_ram ? LSI_RAM_BASE : FUZZ_SCRATCH_BASE + (fuzz_u16(in) & 0x7ff8);

    for (unsigned i = 0; i < count; i++) {
        n += lsi_insn(in, prog + n);
    }
    if (in_ram) {
        for (unsigned i = 0; i < n; i++) {
            io_dispatch_write(IO_SPACE_MMIO, base + 4 * i, prog[i], 4);
        }
    } else {
        guest_mem_write(base, prog, 4 * n);
    }
    io_dispatch_write(IO_SPACE_PIO, LSI_IO_BASE + 0x10, lsi_addr(in), 4); /* DSA */
    io_dispatch_write(IO_SPACE_PIO, LSI_IO_BASE + 0x2c, base, 4);         /* DSP */
}

static void lsi_settle(void)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(lsi_blks); i++) {
        blk_drain(lsi_blks[i]);
    }
    while (g_main_context_iteration(main_loop_context(), FALSE)) {
    }
    fuzz_clock_step(1000000); /* past the pause of a program over its budget */
}

static void lsi_extra(FuzzInput *in)
{
    uint8_t op = fuzz_u8(in) % LSI_OP_COUNT;
    uint16_t off = fuzz_u16(in);
    unsigned size = lsi_size(in);

    switch (op) {
    case LSI_OP_MMIO_W:
        io_dispatch_write(IO_SPACE_MMIO, LSI_MMIO_BASE + off % 0x3fc, fuzz_u32(in), size);
        break;
    case LSI_OP_MMIO_R:
        io_dispatch_read(IO_SPACE_MMIO, LSI_MMIO_BASE + off % 0x3fc, size);
        break;
    case LSI_OP_RAM_W:
        io_dispatch_write(IO_SPACE_MMIO, LSI_RAM_BASE + off % (LSI_RAM_SIZE - 3), fuzz_u32(in),
                          size);
        break;
    case LSI_OP_RAM_R:
        io_dispatch_read(IO_SPACE_MMIO, LSI_RAM_BASE + off % (LSI_RAM_SIZE - 3), size);
        break;
    case LSI_OP_SCRIPT:
        lsi_script(in);
        break;
    default:
        lsi_settle();
        break;
    }
}

static const FuzzPortRange lsi_ports[] = {{LSI_IO_BASE, 0x100}, {PCI_CONFIG_ADDRESS, 8}};

static const FuzzDevice lsi_fuzz = {
    .ports = lsi_ports,
    .nports = G_N_ELEMENTS(lsi_ports),
    .extra_op = lsi_extra,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    lsi_blks[0] = fuzz_add_drive("scsi0-hd0", IF_SCSI, 0, 0, false, LSI_DISK_SIZE);
    lsi_blks[1] = fuzz_add_drive("scsi0-cd1", IF_SCSI, 0, 1, true, LSI_CD_SIZE);
    fuzz_machine_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lsi_program_bars();
    fuzz_device_run(&lsi_fuzz, data, size);
    for (unsigned i = 0; i < G_N_ELEMENTS(lsi_blks); i++) {
        blk_drain(lsi_blks[i]);
    }
    return 0;
}
