/*
 * The PIIX3 IDE function with a 1 MiB disk on the primary master and a CD-ROM with a
 * 64 KiB medium on the secondary master: the task-file and control ports of both channels
 * and the bus-master block (BMIBA mapped at 0xc000 by the extra operation). The extra
 * operation also reaches what random port writes rarely do: a whole ATA command with its
 * task file, an ATAPI packet, a PRD table written into scratch RAM (its entries may point
 * anywhere) with the engine started, or waiting for the requests in flight.
 */
#include <unistd.h>
#include <glib.h>
#include "block/block-backend.h"
#include "harness.h"
#include "hw/ioport.h"
#include "hw/memory.h"

#define IDE_DISK_SIZE (1 << 20)
#define IDE_CD_SIZE (64 << 10)
#define BMIBA 0xc000
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PIIX3_IDE_CONFIG 0x80000900u /* 00:01.1 */

static BlockBackend *ide_blks[2];

static void ide_out(uint16_t port, uint32_t val, unsigned size)
{
    io_dispatch_write(IO_SPACE_PIO, port, val, size);
}

static void ide_pci_config_write(unsigned reg, uint32_t val)
{
    ide_out(PCI_CONFIG_ADDRESS, PIIX3_IDE_CONFIG | reg, 4);
    ide_out(PCI_CONFIG_DATA, val, 4);
}

/* BMIBA at 0xc000, I/O decoding and bus mastering on. */
static void ide_map_bmdma(void)
{
    ide_pci_config_write(0x20, BMIBA);
    ide_pci_config_write(0x04, 0x05);
}

/* Task file of a channel from the input, then a command byte. */
static void ide_fuzz_command(FuzzInput *in, uint16_t base)
{
    uint8_t select = fuzz_u8(in);

    ide_out(base + 6, select, 1);
    for (unsigned reg = 1; reg <= 5; reg++) {
        ide_out(base + reg, fuzz_u8(in), 1);
        if (select & 0x01) { /* the HOB bytes of an LBA48 command too */
            ide_out(base + reg, fuzz_u8(in), 1);
        }
    }
    ide_out(base + 7, fuzz_u8(in), 1);
}

static void ide_fuzz_packet(FuzzInput *in)
{
    ide_out(0x176, 0xa0, 1);
    ide_out(0x171, fuzz_u8(in) & 1, 1); /* PIO or DMA */
    ide_out(0x174, fuzz_u8(in), 1);
    ide_out(0x175, fuzz_u8(in), 1);
    ide_out(0x177, 0xa0, 1);
    for (unsigned i = 0; i < 6; i++) {
        ide_out(0x170, fuzz_u16(in), 2);
    }
}

/* A PRD table in scratch RAM (or anywhere), its address, and START in either direction. */
static void ide_fuzz_prd(FuzzInput *in)
{
    unsigned channel = fuzz_u8(in) & 1, n = fuzz_u8(in) % 16;
    uint16_t bm = BMIBA + 8 * channel;
    uint32_t table = FUZZ_SCRATCH_BASE + (fuzz_u16(in) & 0xfff8);

    ide_map_bmdma();
    for (unsigned i = 0; i < n && table + 8 * i + 8 <= FUZZ_SCRATCH_BASE + FUZZ_SCRATCH_SIZE; i++) {
        uint32_t prd[2] = {fuzz_u32(in), fuzz_u32(in)};

        if (!(prd[0] & 0x80000000u)) { /* mostly inside the scratch area */
            prd[0] = FUZZ_SCRATCH_BASE + (prd[0] & 0xffff);
        }
        guest_mem_write(table + 8 * i, prd, sizeof(prd));
    }
    ide_out(bm + 4, table, 4);
    ide_out(bm, 0x01 | (fuzz_u8(in) & 0x08), 1);
}

static void ide_fuzz_extra(FuzzInput *in)
{
    switch (fuzz_u8(in) % 5) {
    case 0:
        ide_fuzz_command(in, 0x1f0);
        break;
    case 1:
        ide_fuzz_command(in, 0x170);
        break;
    case 2:
        ide_fuzz_packet(in);
        break;
    case 3:
        ide_fuzz_prd(in);
        break;
    default:
        for (unsigned i = 0; i < G_N_ELEMENTS(ide_blks); i++) {
            blk_drain(ide_blks[i]);
        }
        break;
    }
}

static const FuzzPortRange ide_ports[] = {
    {0x1f0, 8}, {0x3f6, 1}, {0x170, 8}, {0x376, 1}, {BMIBA, 16},
};

static const FuzzDevice ide_fuzz = {
    .ports = ide_ports,
    .nports = G_N_ELEMENTS(ide_ports),
    .extra_op = ide_fuzz_extra,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ide_blks[0] = fuzz_add_drive("ide0-hd0", IF_IDE, 0, 0, false, IDE_DISK_SIZE);
    ide_blks[1] = fuzz_add_drive("ide1-cd0", IF_IDE, 1, 0, true, IDE_CD_SIZE);
    fuzz_machine_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_device_run(&ide_fuzz, data, size);
    for (unsigned i = 0; i < G_N_ELEMENTS(ide_blks); i++) {
        blk_drain(ide_blks[i]);
    }
    return 0;
}
