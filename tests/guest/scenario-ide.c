/*
 * Scenarios for the PIIX3 IDE disk on the primary master, polled with nIEN set:
 *   `ide [MiB|Nk] [pio|pio32|dma|pioread]`
 *                          writes MiB (default 16; "256k" for KiB) of a pattern derived from
 *                          each sector's number in 128 KiB commands (WRITE MULTIPLE EXT with
 *                          rep outsw, or WRITE DMA EXT over two 64 KiB PRDs; pioread writes
 *                          by DMA and reads by PIO; pio32 moves dwords through the data port
 *                          with rep outsl/insl), flushes, reads it all back and compares;
 *                          reports the KB/s of both passes.
 *   `ide_hostile`          malformed requests (a PRD outside RAM, a table without EOT that
 *                          is too short, LBAs past the end by DMA with a 65536-sector count
 *                          and by PIO), each printed with the drive and bus-master status,
 *                          then a well-formed DMA write and read-back that must work.
 * The host checks the image file. A base for bench/ide.py.
 */
#include "guest.h"
#include "ide.h"
#include "io.h"

#define IDE_CMD 0x1f0
#define IDE_CTRL 0x3f6
#define PRD_TABLE 0x3000000ull
#define IDE_DATA 0x3100000ull
#define CHUNK 256u /* sectors per command: 128 KiB */
#define MULT 16u   /* sectors per PIO block */
#define SECTOR 512u

enum { BSY = 0x80, DRDY = 0x40, DRQ = 0x08, ERR = 0x01 };
enum { BM_START = 0x01, BM_TO_MEM = 0x08, BM_ACTIVE = 0x01, BM_ERROR = 0x02, BM_INTR = 0x04 };

static uint16_t bm;

/* The IDE function: bus mastering on, BMIBA remembered, interrupts masked at the drive. */
static bool ide_open(void)
{
    bm = piix_ide_open();
    if (!bm) {
        return false;
    }
    outb(IDE_CTRL, 0x02);
    return true;
}

static uint8_t ide_wait(void)
{
    return ide_wait_ctrl(IDE_CTRL);
}

/* LBA48 task file: the high-order bytes first, then the low-order ones. */
static void ide_taskfile(uint64_t lba, uint32_t count)
{
    outb(IDE_CMD + 6, 0xe0);
    outb(IDE_CMD + 2, count >> 8);
    outb(IDE_CMD + 3, lba >> 24);
    outb(IDE_CMD + 4, lba >> 32);
    outb(IDE_CMD + 5, lba >> 40);
    outb(IDE_CMD + 2, count);
    outb(IDE_CMD + 3, lba);
    outb(IDE_CMD + 4, lba >> 8);
    outb(IDE_CMD + 5, lba >> 16);
}

static void ide_lba48(uint8_t cmd, uint64_t lba, uint32_t count)
{
    ide_taskfile(lba, count);
    outb(IDE_CMD + 7, cmd);
}

static uint64_t ide_word(uint64_t sector, unsigned i)
{
    return (sector + i / (SECTOR / 8)) * 0x9e3779b97f4a7c15ull ^ i;
}

static void ide_fill(uint64_t sector)
{
    uint64_t *p = (uint64_t *)IDE_DATA;

    for (unsigned i = 0; i < CHUNK * SECTOR / 8; i++) {
        p[i] = ide_word(sector, i);
    }
}

static bool ide_check(uint64_t sector)
{
    const uint64_t *p = (const uint64_t *)IDE_DATA;

    for (unsigned i = 0; i < CHUNK * SECTOR / 8; i++) {
        if (p[i] != ide_word(sector, i)) {
            return false;
        }
    }
    return true;
}

static bool pio32;   /* the data port in dwords (the `pio32` mode) */

/* One 128 KiB command by PIO: 16-sector DRQ blocks through rep insw/outsw (insl/outsl). */
static bool ide_pio(bool write, uint64_t lba)
{
    uint8_t *buf = (uint8_t *)IDE_DATA;

    ide_lba48(write ? 0x39 : 0x29, lba, CHUNK);
    for (unsigned b = 0; b < CHUNK / MULT; b++) {
        if ((ide_wait() & (DRQ | ERR)) != DRQ) {
            return false;
        }
        uint8_t *blk = buf + b * MULT * SECTOR;
        if (write && pio32) {
            outsl(IDE_CMD, blk, MULT * SECTOR / 4);
        } else if (write) {
            outsw(IDE_CMD, blk, MULT * SECTOR / 2);
        } else if (pio32) {
            insl(IDE_CMD, blk, MULT * SECTOR / 4);
        } else {
            insw(IDE_CMD, blk, MULT * SECTOR / 2);
        }
    }
    return (ide_wait() & (DRQ | ERR | BSY)) == 0;
}

/* Start the engine on the table at PRD_TABLE; the bus-master status when it stopped. */
static uint8_t bm_run(uint8_t cmd, bool to_mem)
{
    uint8_t st = 0;

    outb(bm, 0);
    outb(bm + 2, BM_INTR | BM_ERROR);
    outl(bm + 4, PRD_TABLE);
    outb(IDE_CMD + 7, cmd);
    outb(bm, BM_START | (to_mem ? BM_TO_MEM : 0));
    for (uint64_t i = 0; i < IDE_SPIN_LIMIT; i++) {
        st = inb(bm + 2);
        if ((st & (BM_ACTIVE | BM_INTR)) != BM_ACTIVE) {
            break;
        }
    }
    outb(bm, 0);
    return st;
}

static void prd_set(unsigned i, uint32_t addr, uint32_t size)
{
    volatile uint32_t *t = (volatile uint32_t *)PRD_TABLE;

    t[2 * i] = addr;
    t[2 * i + 1] = size;
}

/* One 128 KiB command by DMA over two 64 KiB PRDs. */
static bool ide_dma(bool write, uint64_t lba)
{
    prd_set(0, IDE_DATA, 0); /* 0: 64 KiB */
    prd_set(1, IDE_DATA + 0x10000, 0x80000000u);
    ide_taskfile(lba, CHUNK);
    /* nIEN is set, so the Interrupt bit stays clear (as on QEMU): the engine stops. */
    if (bm_run(write ? 0x35 : 0x25, !write) & (BM_ACTIVE | BM_ERROR)) {
        return false;
    }
    return (ide_wait() & (DRQ | ERR | BSY)) == 0;
}

static bool ide_pass(bool write, bool dma, unsigned chunks)
{
    for (unsigned c = 0; c < chunks; c++) {
        uint64_t lba = (uint64_t)c * CHUNK;

        if (write) {
            ide_fill(lba);
        }
        if (!(dma ? ide_dma(write, lba) : ide_pio(write, lba))) {
            report_fail("%s %s failed at LBA %lu (status %02x, error %02x)", dma ? "DMA" : "PIO",
                        write ? "write" : "read", lba, inb(IDE_CTRL), inb(IDE_CMD + 1));
            return false;
        }
        if (!write && !ide_check(lba)) {
            report_fail("data mismatch in the 128 KiB at LBA %lu", lba);
            return false;
        }
    }
    return true;
}

static int ide_run(int argc, char **argv)
{
    const char *end = "";
    uint64_t size = argc > 1 ? strtou64(argv[1], &end) : 16;
    const char *mode = argc > 2 ? argv[2] : "pio";
    bool dma = !strcmp(mode, "dma");
    bool write_dma = dma || !strcmp(mode, "pioread"); /* PIO writes crawl on this host */

    pio32 = !strcmp(mode, "pio32");
    uint64_t bytes = size << (*end == 'k' ? 10 : 20);
    unsigned chunks = bytes / (CHUNK * SECTOR);
    uint64_t t0, t1, t2;

    if (!ide_open() || !chunks) {
        report_fail("no PIIX3 IDE function");
        return -1;
    }
    outb(IDE_CMD + 6, 0xa0);
    outb(IDE_CMD + 2, MULT);
    outb(IDE_CMD + 7, 0xc6); /* SET MULTIPLE MODE */
    if (ide_wait() & ERR) {
        report_fail("SET MULTIPLE MODE refused");
        return -1;
    }
    printf("IDE %s %lu KiB\n", mode, bytes >> 10);
    clock_calibrate(10);
    t0 = clock_ns();
    if (!ide_pass(true, write_dma, chunks)) {
        return -1;
    }
    outb(IDE_CMD + 7, 0xea); /* FLUSH CACHE EXT */
    if (ide_wait() & ERR) {
        report_fail("flush failed");
        return -1;
    }
    t1 = clock_ns();
    if (!ide_pass(false, dma, chunks)) {
        return -1;
    }
    t2 = clock_ns();
    /* KB/s: PIO writes run below 1 MB/s here (on QEMU too). */
    report_result("write", t1 > t0 ? bytes * 1000000 / (t1 - t0) : 0, "KB/s");
    report_result("read", t2 > t1 ? bytes * 1000000 / (t2 - t1) : 0, "KB/s");
    return 0;
}

SCENARIO(ide, ide_run);

/* Print a hostile case's outcome: drive status and error, bus-master status. */
static void hostile_report(const char *name, uint8_t bmst)
{
    uint8_t st = ide_wait();

    printf("HOSTILE %s status %02x error %02x bm %02x\n", name, st, inb(IDE_CMD + 1), bmst);
    inb(IDE_CMD + 7);
}

static int ide_hostile_run(int argc, char **argv)
{
    if (!ide_open()) {
        report_fail("no PIIX3 IDE function");
        return -1;
    }
    /* A PRD naming memory outside RAM (the PCI hole). */
    prd_set(0, 0xe0000000u, 0x80000000u | SECTOR);
    ide_taskfile(0, 1);
    hostile_report("prd-outside-ram", bm_run(0x25, true));
    /* 512 two-byte PRDs without EOT (1 KiB) for a 4-sector read: too short. */
    for (unsigned i = 0; i < 512; i++) {
        prd_set(i, IDE_DATA + 2 * i, 2);
    }
    ide_taskfile(0, 4);
    hostile_report("prd-no-eot-short", bm_run(0x25, true));
    /* LBAs past the end: by DMA (count 0 = 65536 sectors, a full table of 64 KiB PRDs
     * all on the same buffer) and by PIO. */
    for (unsigned i = 0; i < 512; i++) {
        prd_set(i, IDE_DATA, i == 511 ? 0x80000000u : 0);
    }
    ide_taskfile(0xfffffffff0ull, 0);
    hostile_report("dma-lba-past-end", bm_run(0x25, true));
    ide_lba48(0x24, 0xfffffffff0ull, 1);
    hostile_report("pio-lba-past-end", 0);
    /* Then a well-formed 128 KiB DMA write and read-back. */
    ide_fill(64);
    if (!ide_dma(true, 64)) {
        report_fail("the well-formed DMA write failed");
        return -1;
    }
    for (unsigned i = 0; i < CHUNK * SECTOR / 8; i++) {
        ((uint64_t *)IDE_DATA)[i] = 0;
    }
    if (!ide_dma(false, 64) || !ide_check(64)) {
        report_fail("the well-formed DMA read failed");
        return -1;
    }
    printf("HOSTILE then-well-formed ok\n");
    return 0;
}

SCENARIO(ide_hostile, ide_hostile_run);
