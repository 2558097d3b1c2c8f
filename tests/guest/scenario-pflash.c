/*
 * Scenario `pflash BASE`: drive the CFI flash at BASE (a -drive if=pflash unit) from the
 * guest, the way firmware keeps its variables there: read the array, CFI query, program a
 * byte, erase the second 4 KiB sector, write a 16-byte buffer, reading the status after each
 * command. Every access is a real guest load or store, so array mode (reads straight from the
 * memory block) and I/O mode (every access exits) are both crossed. Prints what it read; the
 * host test checks the image file.
 */
#include "guest.h"
#include "io.h"

static uint8_t fl_status(uint64_t base)
{
    mmio_write8(base, 0x70);
    return mmio_read8(base);
}

static int pflash_run(int argc, char **argv)
{
    uint64_t base;
    char qry[4] = {0};

    if (argc != 2 || !(base = strtou64(argv[1], NULL))) {
        report_fail("usage: pflash BASE");
        return -1;
    }
    printf("ARRAY %02x %02x\n", mmio_read8(base), mmio_read8(base + 0x1000));
    mmio_write8(base + 0x55, 0x98);
    for (int i = 0; i < 3; i++) {
        qry[i] = mmio_read8(base + 0x10 + i);
    }
    printf("CFI %s size 2^%u\n", qry, mmio_read8(base + 0x27));
    mmio_write8(base, 0xff);
    mmio_write8(base + 0x100, 0x40);
    mmio_write8(base + 0x100, 0x5a);
    printf("PROGRAM status %02x\n", fl_status(base));
    mmio_write8(base + 0x1800, 0x20);
    mmio_write8(base + 0x1800, 0xd0);
    printf("ERASE status %02x\n", fl_status(base));
    mmio_write8(base + 0x2000, 0xe8);
    mmio_write8(base + 0x2000, 15);
    for (unsigned i = 0; i < 16; i++) {
        mmio_write8(base + 0x2000 + i, 0xc0 + i);
    }
    mmio_write8(base + 0x2000, 0xd0);
    printf("BUFFER status %02x\n", fl_status(base));
    mmio_write8(base, 0xff);
    printf("READ %02x %02x %02x %02x\n", mmio_read8(base + 0x100), mmio_read8(base + 0x1000),
           mmio_read8(base + 0x1fff), mmio_read8(base + 0x200f));
    return 0;
}

SCENARIO(pflash, pflash_run);
