/*
 * Scenarios `floppy` and `floppy_hostile`: the floppy controller at 0x3f0 and 8237 channel 2
 * driven from CPL3 by polling (no interrupts). `floppy [ROUNDS]` reads the whole 1.44M
 * diskette in A: (ROUNDS times, default once) one track (18 sectors) per READ DATA by DMA and
 * checks every 64-bit word against the pattern the host wrote (word w of the disk =
 * w * 0x9e3779b97f4a7c15); it reports KB/s.
 * `floppy_hostile` sends malformed command sequences and DMA programming (unknown commands,
 * cylinders, heads and sectors off the medium, EOT before R, huge N, DTL 0, a DMA block that
 * wraps its 64 KiB page, a buffer in the VGA hole, truncated commands cut by resets, reads
 * and writes in the wrong phase), checks that each ends in a status or is ignored, and that a
 * good track read afterwards still returns the right data.
 */
#include "guest.h"
#include "io.h"

#define FDC_DOR 0x3f2
#define FDC_MSR 0x3f4
#define FDC_DSR 0x3f4
#define FDC_FIFO 0x3f5
#define MSR_RQM 0x80
#define MSR_DIO 0x40
#define MSR_BUSY 0x10

#define FD_SECTORS 18
#define FD_TRACK_BYTES (FD_SECTORS * 512)
#define FD_CYLS 80
#define FD_BUF 0xc00000ull /* DMA buffer: page 0xc0, below 16 MiB */
#define PATTERN 0x9e3779b97f4a7c15ull
#define POLL_LIMIT 20000 /* each poll is an exit: about half a second */

static bool fdc_wait(uint8_t mask, uint8_t want)
{
    for (int i = 0; i < POLL_LIMIT; i++) {
        if ((inb(FDC_MSR) & mask) == want) {
            return true;
        }
    }
    return false;
}

static bool fdc_send(uint8_t b)
{
    if (!fdc_wait(MSR_RQM | MSR_DIO, MSR_RQM)) {
        return false;
    }
    outb(FDC_FIFO, b);
    return true;
}

/* Result bytes until the controller wants a command again; the count read, or -1. */
static int fdc_results(uint8_t *res, int max)
{
    int n = 0;

    for (;;) {
        if (!fdc_wait(MSR_RQM, MSR_RQM)) {
            return -1;
        }
        if (!(inb(FDC_MSR) & MSR_DIO)) {
            return n;
        }
        uint8_t b = inb(FDC_FIFO);
        if (n < max) {
            res[n] = b;
        }
        n++;
    }
}

static bool fdc_cmd(const uint8_t *bytes, int n)
{
    for (int i = 0; i < n; i++) {
        if (!fdc_send(bytes[i])) {
            return false;
        }
    }
    return true;
}

/* Reset through the DOR and take the four SENSE INTERRUPTs; SPECIFY with DMA. */
static bool fdc_reset(void)
{
    static const uint8_t specify[] = {0x03, 0xaf, 0x02};
    uint8_t res[2];

    outb(FDC_DOR, 0x08);
    outb(FDC_DOR, 0x1c); /* out of reset, DMA, motor A on, drive 0 */
    for (int i = 0; i < 4; i++) {
        if (!fdc_send(0x08) || fdc_results(res, 2) != 2 || res[0] != 0xc0 + i) {
            return false;
        }
    }
    outb(0x3f7, 0x00); /* 500 kbit/s: a 1.44M diskette */
    return fdc_cmd(specify, sizeof(specify));
}

static void dma_setup(uint8_t mode, uint32_t addr, uint32_t len)
{
    outb(0x0a, 0x06);
    outb(0x0c, 0x00);
    outb(0x0b, mode);
    outb(0x04, addr & 0xff);
    outb(0x04, (addr >> 8) & 0xff);
    outb(0x81, (addr >> 16) & 0xff);
    outb(0x05, (len - 1) & 0xff);
    outb(0x05, ((len - 1) >> 8) & 0xff);
    outb(0x0a, 0x02);
}

/* READ DATA of a whole track into FD_BUF by DMA; the 7 result bytes in res. */
static bool fdc_read_track(uint8_t c, uint8_t h, uint8_t res[7])
{
    uint8_t cmd[] = {0x46, (uint8_t)(h << 2), c, h, 1, 2, FD_SECTORS, 0x1b, 0xff};

    dma_setup(0x46, FD_BUF, FD_TRACK_BYTES);
    return fdc_cmd(cmd, sizeof(cmd)) && fdc_results(res, 7) == 7;
}

static bool track_ok(uint8_t c, uint8_t h)
{
    const uint64_t *p = (const uint64_t *)FD_BUF;
    uint64_t first = ((uint64_t)c * 2 + h) * FD_TRACK_BYTES / 8;

    for (unsigned i = 0; i < FD_TRACK_BYTES / 8; i++) {
        if (p[i] != (first + i) * PATTERN) {
            return false;
        }
    }
    return true;
}

static bool read_and_check(uint8_t c, uint8_t h)
{
    uint8_t res[7];

    memset((void *)FD_BUF, 0, FD_TRACK_BYTES);
    if (!fdc_read_track(c, h, res)) {
        report_fail("track %u/%u: controller not answering", c, h);
        return false;
    }
    if ((res[0] & 0xc0) || res[1] || res[2]) {
        report_fail("track %u/%u: ST0 %02x ST1 %02x ST2 %02x", c, h, res[0], res[1], res[2]);
        return false;
    }
    if (!track_ok(c, h)) {
        report_fail("track %u/%u: data mismatch", c, h);
        return false;
    }
    return true;
}

/* floppy [ROUNDS]: read the whole disk ROUNDS times (default 1). */
static int floppy_run(int argc, char **argv)
{
    uint64_t rounds = argc > 1 ? strtou64(argv[1], NULL) : 1, tracks = rounds * FD_CYLS * 2;
    uint64_t t0, ns;

    if (!fdc_reset()) {
        report_fail("floppy controller reset failed");
        return -1;
    }
    clock_calibrate(10);
    t0 = clock_ns();
    for (uint64_t r = 0; r < rounds; r++) {
        for (unsigned c = 0; c < FD_CYLS; c++) {
            for (unsigned h = 0; h < 2; h++) {
                if (!read_and_check(c, h)) {
                    return -1;
                }
            }
        }
    }
    ns = clock_ns() - t0;
    printf("FLOPPY read %llu tracks\n", (unsigned long long)tracks);
    report_result("read", ns ? tracks * FD_TRACK_BYTES * 1000000 / ns : 0, "KB/s");
    return 0;
}

SCENARIO(floppy, floppy_run);

/* ---- floppy_hostile ---- */

/* A command that must end in a result phase with abnormal termination (ST0 bit 6). */
static bool expect_abnormal(const char *what, const uint8_t *cmd, int n)
{
    uint8_t res[7];
    int got;

    dma_setup(0x46, FD_BUF, FD_TRACK_BYTES);
    if (!fdc_cmd(cmd, n) || (got = fdc_results(res, 7)) != 7) {
        report_fail("%s: no result phase", what);
        return false;
    }
    if ((res[0] & 0xc0) != 0x40) {
        report_fail("%s: ST0 %02x", what, res[0]);
        return false;
    }
    return true;
}

static bool hostile_commands(void)
{
    static const struct {
        const char *what;
        uint8_t cmd[9];
    } bad[] = {
        {"cylinder 200", {0x46, 0, 200, 0, 1, 2, 18, 0x1b, 0xff}},
        {"sector 19", {0x46, 0, 0, 0, 19, 2, 19, 0x1b, 0xff}},
        {"EOT before R", {0x46, 0, 0, 0, 10, 2, 3, 0x1b, 0xff}},
        {"drive B: absent", {0x46, 1, 0, 0, 1, 2, 18, 0x1b, 0xff}},
    };
    uint8_t res[16];

    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        if (!expect_abnormal(bad[i].what, bad[i].cmd, 9)) {
            return false;
        }
    }
    /* Command bytes alone: unknown ones answer "invalid", real ones wait for parameters
     * or run with none; a reset ends whatever is left. */
    for (unsigned b = 0; b < 256; b += 7) {
        if (!fdc_send(b) || fdc_results(res, sizeof(res)) < 0 || !fdc_reset()) {
            report_fail("command byte %02x left the controller stuck", b);
            return false;
        }
    }
    return true;
}

/* Huge N with DTL, DTL 0 with N 0, and reads/writes in the wrong phase: bounded, then reset. */
static bool hostile_lengths(void)
{
    static const uint8_t huge_n[] = {0x46, 0, 0, 0, 1, 7, 18, 0x1b, 0xff};
    static const uint8_t dtl0[] = {0x46, 0, 0, 0, 1, 0, 18, 0x1b, 0x00};
    uint8_t res[7];

    dma_setup(0x46, FD_BUF, FD_TRACK_BYTES);
    if (!fdc_cmd(huge_n, sizeof(huge_n)) || fdc_results(res, 7) != 7) {
        report_fail("N=7 read did not end");
        return false;
    }
    dma_setup(0x46, FD_BUF, FD_TRACK_BYTES);
    if (!fdc_cmd(dtl0, sizeof(dtl0)) || fdc_results(res, 7) != 7) {
        report_fail("DTL 0 read did not end");
        return false;
    }
    for (int i = 0; i < 64; i++) {
        inb(FDC_FIFO);
        outb(FDC_FIFO, 0xff);
    }
    return fdc_reset();
}

/*
 * DMA a track to a block that wraps its 64 KiB page (the 8237 wraps, it does not carry into
 * the page register), to the VGA hole (no RAM), and with the channel masked until a reset.
 */
static bool hostile_dma(void)
{
    static const uint8_t cmd[] = {0x46, 0, 0, 0, 1, 2, 18, 0x1b, 0xff};
    uint8_t res[7];

    dma_setup(0x46, FD_BUF + 0xff00, FD_TRACK_BYTES);
    if (!fdc_cmd(cmd, sizeof(cmd)) || fdc_results(res, 7) != 7 || (res[0] & 0xc0)) {
        report_fail("page-wrapping DMA read failed");
        return false;
    }
    dma_setup(0x46, 0xa0000, FD_TRACK_BYTES);
    if (!fdc_cmd(cmd, sizeof(cmd)) || fdc_results(res, 7) != 7) {
        report_fail("DMA read into the VGA hole did not end");
        return false;
    }
    dma_setup(0x46, FD_BUF, FD_TRACK_BYTES);
    outb(0x0a, 0x06); /* masked: the controller waits for ever */
    if (!fdc_cmd(cmd, sizeof(cmd)) || fdc_wait(MSR_RQM, MSR_RQM)) {
        report_fail("masked DMA: the controller did not wait");
        return false;
    }
    outb(0x0d, 0); /* master clear of the 8237 */
    return fdc_reset();
}

static int floppy_hostile_run(int argc, char **argv)
{
    if (!fdc_reset()) {
        report_fail("floppy controller reset failed");
        return -1;
    }
    if (!hostile_commands() || !hostile_lengths() || !hostile_dma()) {
        return -1;
    }
    /* Whatever happened before, a good read works. */
    if (!read_and_check(0, 0) || !read_and_check(79, 1) || !read_and_check(40, 0)) {
        return -1;
    }
    printf("FLOPPY hostile done\n");
    return 0;
}

SCENARIO(floppy_hostile, floppy_hostile_run);
