/*
 * Scenarios for the ATAPI CD-ROM on the secondary master (-cdrom), polled with nIEN set:
 *   `atapi [pio|dma]`  TEST UNIT READY until the drive is ready, READ CAPACITY, then READ(10)
 *                      of the whole medium, each 2048-byte sector checked against the pattern
 *                      the host wrote (cd_word): by PIO in 64 KiB commands (byte count limit
 *                      32 KiB: two DRQ blocks, each one `rep insw` of the size the cylinder
 *                      registers give) or by bus-master DMA in 1 MiB commands, 64 KiB PRDs;
 *                      then a tray cycle by START STOP UNIT with TEST UNIT READY and REQUEST
 *                      SENSE on the open tray. Reports the KB/s of the read.
 *   `atapi_change`     prints WAITING, then polls TEST UNIT READY (+ REQUEST SENSE) while the
 *                      host changes the medium through the monitor, printing each new state
 *                      (not present, unit attention, ready), then reads the new medium whole
 *                      by DMA and checks it.
 *   `atapi_hostile`    malformed packets (LBAs past the end or wrapping, huge counts, byte
 *                      count limits of 0, odd or 1, bad opcodes, a PRD outside RAM), each
 *                      printed with the drive status and the sense data, then well-formed
 *                      PIO and DMA reads that must work.
 * Not the ATA disk (scenario-ide.c).
 */
#include "guest.h"
#include "ide.h"
#include "io.h"

#define CD_CMD 0x170
#define CD_CTRL 0x376
#define PRD_TABLE 0x3000000ull
#define CD_DATA 0x3100000ull
#define CD_SECTOR 2048u
#define PIO_SECTORS 32u  /* per PIO command: 64 KiB */
#define DMA_SECTORS 512u /* per DMA command: 1 MiB, 16 PRDs of 64 KiB */
#define BCL_MAX 0xfffeu
#define BCL_READ 0x8000u /* a whole number of sectors per DRQ block */

enum { BSY = 0x80, DRQ = 0x08, ERR = 0x01 };
enum { BM_START = 0x01, BM_TO_MEM = 0x08, BM_ACTIVE = 0x01, BM_ERROR = 0x02, BM_INTR = 0x04 };
enum { REG_ERROR = 1, REG_NSECTOR = 2, REG_LCYL = 4, REG_HCYL = 5, REG_DEVICE = 6 };
enum { REG_STATUS = 7, REG_FEATURE = 1, REG_COMMAND = 7, CMD_PACKET = 0xa0 };

/* The outcome of one packet command. */
typedef struct AtapiResult {
    uint8_t status, error;
    uint32_t bytes;  /* data bytes moved by PIO */
    uint32_t blocks; /* DRQ blocks */
} AtapiResult;

static uint16_t bm; /* the secondary channel's bus-master registers */

/* The pattern: word i of CD sector s (tests/system/test_payload_ide.py builds the image). */
static uint64_t cd_word(uint64_t sector, unsigned i)
{
    return sector * 0x9e3779b97f4a7c15ull ^ (uint32_t)(i * 0x9e3779b9u);
}

/* The first sector of buf that differs from the pattern, or -1. */
static int64_t cd_check(const void *buf, uint64_t lba, unsigned sectors)
{
    const uint64_t *p = buf;

    for (unsigned s = 0; s < sectors; s++) {
        for (unsigned i = 0; i < CD_SECTOR / 8; i++) {
            if (p[s * CD_SECTOR / 8 + i] != cd_word(lba + s, i)) {
                return lba + s;
            }
        }
    }
    return -1;
}

static bool atapi_open(void)
{
    uint16_t bmiba = piix_ide_open();

    if (!bmiba) {
        return false;
    }
    bm = bmiba + 8;
    outb(CD_CTRL, 0x02);
    outb(CD_CMD + REG_DEVICE, 0xa0);
    return true;
}

static uint8_t atapi_wait(void)
{
    return ide_wait_ctrl(CD_CTRL);
}

/* PACKET with the byte count limit, then the 12-byte CDB once the drive asks for it. */
static bool atapi_packet(const uint8_t *cdb, uint16_t bcl, bool dma)
{
    outb(CD_CMD + REG_DEVICE, 0xa0);
    outb(CD_CMD + REG_FEATURE, dma ? 1 : 0);
    outb(CD_CMD + REG_LCYL, bcl);
    outb(CD_CMD + REG_HCYL, bcl >> 8);
    outb(CD_CMD + REG_COMMAND, CMD_PACKET);
    if ((atapi_wait() & (DRQ | ERR)) != DRQ || inb(CD_CMD + REG_NSECTOR) != 1) {
        return false;
    }
    outsw(CD_CMD, cdb, 6);
    return true;
}

/* The PIO data phase: each DRQ block's size from the cylinder registers, at most max bytes
 * in all (a block that does not fit ends the phase; the caller sees DRQ still set). */
static AtapiResult atapi_pio_in(void *buf, uint32_t max)
{
    AtapiResult r = {0};
    uint8_t *p = buf;

    for (;;) {
        uint32_t n;

        r.status = atapi_wait();
        if ((r.status & (DRQ | BSY)) != DRQ) {
            break;
        }
        n = inb(CD_CMD + REG_LCYL) | inb(CD_CMD + REG_HCYL) << 8;
        if (n == 0 || r.bytes + n > max) {
            break;
        }
        insw(CD_CMD, p + r.bytes, (n + 1) / 2);
        r.bytes += n;
        r.blocks++;
    }
    r.error = inb(CD_CMD + REG_ERROR);
    return r;
}

static AtapiResult atapi_cmd_pio(const uint8_t *cdb, uint16_t bcl, void *buf, uint32_t max)
{
    if (!atapi_packet(cdb, bcl, false)) {
        AtapiResult r = {atapi_wait(), inb(CD_CMD + REG_ERROR), 0, 0};
        return r;
    }
    return atapi_pio_in(buf, max);
}

static void prd_set(unsigned i, uint32_t addr, uint32_t size)
{
    volatile uint32_t *t = (volatile uint32_t *)PRD_TABLE;

    t[2 * i] = addr;
    t[2 * i + 1] = size;
}

/* A packet by DMA over the table at PRD_TABLE; the bus-master status in *bmst. */
static AtapiResult atapi_cmd_dma(const uint8_t *cdb, uint8_t *bmst)
{
    AtapiResult r = {0};
    uint8_t st = 0;

    outb(bm, 0);
    outb(bm + 2, BM_INTR | BM_ERROR);
    outl(bm + 4, PRD_TABLE);
    if (atapi_packet(cdb, 0, true)) {
        outb(bm, BM_START | BM_TO_MEM);
        for (uint64_t i = 0; i < IDE_SPIN_LIMIT; i++) {
            st = inb(bm + 2);
            if ((st & (BM_ACTIVE | BM_INTR)) != BM_ACTIVE) {
                break;
            }
        }
        outb(bm, 0);
    }
    *bmst = st;
    r.status = atapi_wait();
    r.error = inb(CD_CMD + REG_ERROR);
    return r;
}

/* READ(10) as a 12-byte ATAPI packet. */
static void cdb_read10(uint8_t *cdb, uint32_t lba, uint16_t count)
{
    scsi_cdb10(cdb, 0x28, lba, count);
    cdb[10] = cdb[11] = 0;
}

/* REQUEST SENSE: key << 8 | ASC, or -1. */
static int atapi_sense(void)
{
    static const uint8_t cdb[12] = {0x03, 0, 0, 0, 18};
    uint8_t sense[18];
    AtapiResult r = atapi_cmd_pio(cdb, 18, sense, sizeof(sense));

    if (r.bytes != 18 || (r.status & (ERR | DRQ))) {
        return -1;
    }
    return (sense[2] & 0x0f) << 8 | sense[12];
}

static bool atapi_ok(AtapiResult r)
{
    return (r.status & (BSY | DRQ | ERR)) == 0;
}

/* TEST UNIT READY until it passes (a new medium is reported once or twice first). */
static bool atapi_ready(void)
{
    static const uint8_t tur[12] = {0x00};

    for (int i = 0; i < 8; i++) {
        if (atapi_ok(atapi_cmd_pio(tur, 0, NULL, 0))) {
            return true;
        }
        atapi_sense();
    }
    return false;
}

/* READ CAPACITY: the number of 2048-byte sectors (0 on failure). */
static uint32_t atapi_capacity(void)
{
    static const uint8_t cdb[12] = {0x25};
    uint8_t b[8];
    AtapiResult r = atapi_cmd_pio(cdb, 8, b, sizeof(b));

    if (!atapi_ok(r) || r.bytes != 8) {
        return 0;
    }
    return ((uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) + 1;
}

/* count sectors from lba into CD_DATA by PIO, in DRQ blocks of BCL_READ bytes. */
static bool atapi_read_pio(uint32_t lba, uint16_t count)
{
    uint32_t bytes = count * CD_SECTOR;
    uint8_t cdb[12];
    AtapiResult r;

    cdb_read10(cdb, lba, count);
    r = atapi_cmd_pio(cdb, BCL_READ, (void *)CD_DATA, bytes);
    return atapi_ok(r) && r.bytes == bytes && r.blocks == (bytes + BCL_READ - 1) / BCL_READ;
}

/* count sectors (at most DMA_SECTORS) from lba into CD_DATA by DMA. */
static bool atapi_read_dma(uint32_t lba, uint16_t count)
{
    uint32_t bytes = count * CD_SECTOR;
    unsigned n = (bytes + 0xffff) / 0x10000;
    uint8_t cdb[12], bmst;

    for (unsigned i = 0; i < n; i++) {
        uint32_t len = i == n - 1 ? bytes - i * 0x10000 : 0x10000;
        prd_set(i, CD_DATA + i * 0x10000, (i == n - 1 ? 0x80000000u : 0) | (len & 0xffff));
    }
    cdb_read10(cdb, lba, count);
    AtapiResult r = atapi_cmd_dma(cdb, &bmst);
    return atapi_ok(r) && !(bmst & (BM_ACTIVE | BM_ERROR));
}

static bool atapi_read_all(uint32_t sectors, bool dma)
{
    uint32_t step = dma ? DMA_SECTORS : PIO_SECTORS;

    for (uint32_t lba = 0; lba < sectors; lba += step) {
        uint16_t n = sectors - lba < step ? sectors - lba : step;
        int64_t bad;

        memset((void *)CD_DATA, 0, n * CD_SECTOR);
        if (!(dma ? atapi_read_dma(lba, n) : atapi_read_pio(lba, n))) {
            report_fail("READ(10) at LBA %u failed (status %02x, error %02x, sense %x)", lba,
                        inb(CD_CTRL), inb(CD_CMD + REG_ERROR), atapi_sense());
            return false;
        }
        bad = cd_check((void *)CD_DATA, lba, n);
        if (bad >= 0) {
            report_fail("data mismatch in CD sector %ld", bad);
            return false;
        }
    }
    return true;
}

/* Open the tray, see the drive not ready, close it, see it ready. */
static bool atapi_tray_cycle(void)
{
    static const uint8_t eject[12] = {0x1b, 0, 0, 0, 2};
    static const uint8_t load[12] = {0x1b, 0, 0, 0, 3};
    static const uint8_t tur[12] = {0x00};
    AtapiResult r;

    if (!atapi_ok(atapi_cmd_pio(eject, 0, NULL, 0))) {
        report_fail("START STOP UNIT (eject) failed");
        return false;
    }
    r = atapi_cmd_pio(tur, 0, NULL, 0);
    printf("TRAY open: TEST UNIT READY status %02x error %02x", r.status, r.error);
    printf(" sense %04x\n", atapi_sense());
    r = atapi_cmd_pio(load, 0, NULL, 0);
    printf("TRAY load: status %02x\n", r.status);
    r = atapi_cmd_pio(tur, 0, NULL, 0);
    printf("TRAY closed: TEST UNIT READY status %02x sense %04x\n", r.status, atapi_sense());
    return true;
}

static int atapi_run(int argc, char **argv)
{
    bool dma = argc > 1 && !strcmp(argv[1], "dma");
    uint32_t sectors;
    uint64_t t0, t1;

    if (!atapi_open() || !atapi_ready()) {
        report_fail("no ready ATAPI drive on the secondary master");
        return -1;
    }
    sectors = atapi_capacity();
    if (!sectors) {
        report_fail("READ CAPACITY failed");
        return -1;
    }
    printf("ATAPI %s capacity %u sectors\n", dma ? "dma" : "pio", sectors);
    clock_calibrate(10);
    t0 = clock_ns();
    if (!atapi_read_all(sectors, dma)) {
        return -1;
    }
    t1 = clock_ns();
    printf("ATAPI read %u KiB verified\n", sectors * 2);
    report_result("read", t1 > t0 ? (uint64_t)sectors * CD_SECTOR * 1000000 / (t1 - t0) : 0,
                  "KB/s");
    return atapi_tray_cycle() ? 0 : -1;
}

SCENARIO(atapi, atapi_run);

/* ---- atapi_change ---- */

/* TEST UNIT READY with its sense: 0 when ready, else key << 8 | ASC. */
static int atapi_unit_state(void)
{
    static const uint8_t tur[12] = {0x00};

    return atapi_ok(atapi_cmd_pio(tur, 0, NULL, 0)) ? 0 : atapi_sense();
}

/* Poll until the drive is ready again after having been not ready; print each new state. */
static bool atapi_wait_change(void)
{
    int last = 0;
    bool changed = false;

    for (int i = 0; i < 200000; i++) { /* 20 s */
        int st = atapi_unit_state();

        if (st != last) {
            printf("CHANGE unit %04x\n", st);
            last = st;
        }
        changed |= st != 0;
        if (changed && st == 0) {
            return true;
        }
        clock_delay_us(100);
    }
    return false;
}

static int atapi_change_run(int argc, char **argv)
{
    uint32_t sectors;

    if (!atapi_open() || !atapi_ready() || !atapi_capacity()) {
        report_fail("no ready ATAPI drive on the secondary master");
        return -1;
    }
    clock_calibrate(10);
    printf("WAITING for a new medium\n");
    if (!atapi_wait_change()) {
        report_fail("no media change seen");
        return -1;
    }
    sectors = atapi_capacity();
    printf("CHANGE capacity %u sectors\n", sectors);
    if (!sectors || !atapi_read_all(sectors, true)) {
        return -1;
    }
    printf("CHANGE new medium verified\n");
    return 0;
}

SCENARIO(atapi_change, atapi_change_run);

/* ---- atapi_hostile ---- */

/* DEVICE RESET: what a driver does with a drive stuck in a data phase. */
static void atapi_device_reset(const char *after)
{
    uint8_t st;

    outb(CD_CMD + REG_COMMAND, 0x08);
    st = atapi_wait();
    printf("HOSTILE device-reset after %s status %02x signature %02x%02x\n", after, st,
           inb(CD_CMD + REG_HCYL), inb(CD_CMD + REG_LCYL));
}

static void hostile_report(const char *name, AtapiResult r)
{
    printf("HOSTILE %s status %02x error %02x", name, r.status, r.error);
    printf(" bytes %u sense %04x\n", r.bytes, atapi_sense());
}

/* READ(10)/(12) outside the medium and opcodes the drive does not have. */
static void hostile_packets(uint32_t sectors)
{
    static const uint8_t wrap[12] = {0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff};
    static const uint8_t huge12[12] = {0xa8, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t bad_opcode[12] = {0xff};
    static const uint8_t mode_sense6[12] = {0x1a, 0, 0x2a, 0, 30};
    static const uint8_t dvd_structure[12] = {0xad, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x04};
    uint8_t cdb[12];
    void *buf = (void *)CD_DATA;

    cdb_read10(cdb, sectors, 1);
    hostile_report("read10-past-end", atapi_cmd_pio(cdb, BCL_MAX, buf, CD_SECTOR));
    cdb_read10(cdb, sectors - 1, 2);
    hostile_report("read10-straddling-end", atapi_cmd_pio(cdb, BCL_MAX, buf, 2 * CD_SECTOR));
    hostile_report("read10-wrap", atapi_cmd_pio(wrap, BCL_MAX, buf, CD_SECTOR));
    hostile_report("read12-huge-count", atapi_cmd_pio(huge12, BCL_MAX, buf, CD_SECTOR));
    hostile_report("bad-opcode", atapi_cmd_pio(bad_opcode, BCL_MAX, buf, CD_SECTOR));
    hostile_report("mode-sense6", atapi_cmd_pio(mode_sense6, BCL_MAX, buf, CD_SECTOR));
    hostile_report("dvd-structure-on-cd", atapi_cmd_pio(dvd_structure, BCL_MAX, buf, 4096));
}

/* Byte count limits: 0 for a data command (an ATA abort), odd (blocks of the even size
 * below it), 1 (nothing can move). */
static void hostile_byte_counts(void)
{
    uint8_t cdb[12];
    void *buf = (void *)CD_DATA;
    AtapiResult r;

    cdb_read10(cdb, 5, 1);
    hostile_report("bcl-zero", atapi_cmd_pio(cdb, 0, buf, CD_SECTOR));
    memset(buf, 0, CD_SECTOR);
    r = atapi_cmd_pio(cdb, 1001, buf, CD_SECTOR);
    printf("HOSTILE bcl-odd blocks %u data %s\n", r.blocks,
           cd_check(buf, 5, 1) < 0 ? "ok" : "wrong");
    hostile_report("bcl-odd", r);
    hostile_report("bcl-one", atapi_cmd_pio(cdb, 1, buf, CD_SECTOR));
    atapi_device_reset("bcl-one");
}

/* A DMA read whose only PRD lies outside RAM. */
static void hostile_dma(void)
{
    uint8_t cdb[12], bmst;
    AtapiResult r;

    prd_set(0, 0xe0000000u, 0x80000000u | CD_SECTOR);
    cdb_read10(cdb, 0, 1);
    r = atapi_cmd_dma(cdb, &bmst);
    printf("HOSTILE dma-prd-outside-ram bm %02x\n", bmst & (BM_ACTIVE | BM_ERROR));
    hostile_report("dma-prd-outside-ram", r);
}

static int atapi_hostile_run(int argc, char **argv)
{
    uint32_t sectors;

    if (!atapi_open() || !atapi_ready() || !(sectors = atapi_capacity())) {
        report_fail("no ready ATAPI drive on the secondary master");
        return -1;
    }
    hostile_packets(sectors);
    hostile_byte_counts();
    hostile_dma();
    memset((void *)CD_DATA, 0, 16 * CD_SECTOR);
    if (!atapi_read_pio(sectors - 16, 16) || cd_check((void *)CD_DATA, sectors - 16, 16) >= 0) {
        report_fail("the well-formed PIO read failed");
        return -1;
    }
    memset((void *)CD_DATA, 0, 64 * CD_SECTOR);
    if (!atapi_read_dma(100, 64) || cd_check((void *)CD_DATA, 100, 64) >= 0) {
        report_fail("the well-formed DMA read failed");
        return -1;
    }
    printf("HOSTILE then-well-formed ok\n");
    return 0;
}

SCENARIO(atapi_hostile, atapi_hostile_run);
