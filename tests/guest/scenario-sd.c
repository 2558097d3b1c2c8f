/*
 * Scenarios for an SD card behind sdhci-pci, driven by tests/guest/sdhci.c:
 *   `sd [MiB]`    writes MiB (default 8) of scenario lsi's pattern with CMD25 through
 *                 32-bit ADMA2 (256 KiB per command, eight 32 KiB descriptors, auto CMD12),
 *                 reads it back with CMD18 through SDMA and compares; then one block by
 *                 PIO each way. Prints the 64-bit sum of every word read back (the host sums
 *                 the image) and the card's size.
 *   `sd_hostile`  what a hostile guest does to the controller: an ADMA descriptor table and
 *                 ADMA data outside RAM, a descriptor linking to itself, SDMA into memory
 *                 outside RAM, a multi-block PIO read with a block count of 0, a block past
 *                 the card's end; each case's status, ADMA error and card status printed,
 *                 then the lines and the card recovered; then a well-formed round trip.
 */
#include "io.h"
#include "sdhci.h"

#define CHUNK_BLOCKS 512u /* 256 KiB per command */
#define CHUNK_BYTES (CHUNK_BLOCKS * SD_BLOCK)
#define OUTSIDE_RAM 0xd0000000u

static SDHCI sd;

static uint64_t sd_word(uint64_t sector, unsigned i)
{
    return (sector + i / (SD_BLOCK / 8)) * 0x9e3779b97f4a7c15ull ^ i;
}

static void sd_fill(uint64_t sector, unsigned bytes)
{
    uint64_t *p = (uint64_t *)SD_DATA;

    for (unsigned i = 0; i < bytes / 8; i++) {
        p[i] = sd_word(sector, i);
    }
}

static bool sd_check(uint64_t sector, unsigned bytes, uint64_t *sum)
{
    const uint64_t *p = (const uint64_t *)SD_DATA;
    bool ok = true;

    for (unsigned i = 0; i < bytes / 8; i++) {
        ok &= p[i] == sd_word(sector, i);
        *sum += p[i];
    }
    return ok;
}

static bool sd_pass(bool read, unsigned chunks, uint64_t *sum)
{
    for (unsigned c = 0; c < chunks; c++) {
        uint64_t sector = (uint64_t)c * CHUNK_BLOCKS;
        uint32_t st;

        if (!read) {
            sd_fill(sector, CHUNK_BYTES);
            sd_adma_table(SD_DATA, CHUNK_BYTES);
        }
        st = read ? sd_dma(&sd, 18, sector, CHUNK_BLOCKS, true, DMA_SDMA, SD_DATA)
                  : sd_dma(&sd, 25, sector, CHUNK_BLOCKS, false, DMA_ADMA2, 0);
        if ((st & (NIS_TRSCMP | NIS_ERR)) != NIS_TRSCMP) {
            report_fail("%s at block %lu: status %08x", read ? "SDMA read" : "ADMA2 write", sector,
                        st);
            return false;
        }
        if (read && !sd_check(sector, CHUNK_BYTES, sum)) {
            report_fail("data mismatch in blocks %lu..%lu", sector, sector + CHUNK_BLOCKS - 1);
            return false;
        }
    }
    return true;
}

/* One block by PIO through the buffer data port; false on a timeout or error. */
static bool sd_pio(bool read, uint32_t block, uint32_t *buf)
{
    uint32_t st;

    sd_wl(&sd, SD_BLKSIZE, SD_BLOCK | 1u << 16);
    st = sd_cmd(&sd, read ? 17 : 24, RSP_48_DATA, sd_block_arg(&sd, block), read ? TRN_READ : 0,
                NULL);
    if (st & NIS_ERR || !sd_wait(&sd, read ? NIS_RBUFRDY : NIS_WBUFRDY, SD_XFER_TIMEOUT_MS)) {
        return false;
    }
    for (unsigned i = 0; i < SD_BLOCK / 4; i++) {
        if (read) {
            buf[i] = sd_rl(&sd, SD_BDATA);
        } else {
            sd_wl(&sd, SD_BDATA, buf[i]);
        }
    }
    st = sd_wait(&sd, NIS_TRSCMP | NIS_ERR, SD_XFER_TIMEOUT_MS);
    sd_ack_all(&sd);
    return (st & (NIS_TRSCMP | NIS_ERR)) == NIS_TRSCMP;
}

static bool sd_pio_round_trip(uint32_t block)
{
    uint32_t out[SD_BLOCK / 4], in[SD_BLOCK / 4];

    for (unsigned i = 0; i < SD_BLOCK / 4; i++) {
        out[i] = block * 0x01000193u ^ i;
    }
    if (!sd_pio(false, block, out) || !sd_pio(true, block, in) || memcmp(in, out, SD_BLOCK)) {
        report_fail("PIO round trip at block %u", block);
        return false;
    }
    return true;
}

static bool sd_start(void)
{
    clock_calibrate(10);
    if (!sd_open(&sd)) {
        report_fail("no SD host controller (class 0805) found");
        return false;
    }
    if (!sd_init_card(&sd)) {
        report_fail("the card did not initialise (status %08x)", sd_status(&sd));
        return false;
    }
    printf("SD card %lu sectors, %s capacity\n", sd.sectors,
           sd.high_capacity ? "high" : "standard");
    return true;
}

static int sd_run(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtou64(argv[1], NULL) : 8, sum = 0, t0, t1, t2;
    unsigned chunks;

    if (!sd_start()) {
        return 1;
    }
    chunks = mib * (1u << 20) / CHUNK_BYTES;
    if ((uint64_t)chunks * CHUNK_BLOCKS > sd.sectors - 1) {
        report_fail("%lu MiB do not fit on the card", mib);
        return 1;
    }
    t0 = clock_ns();
    if (!sd_pass(false, chunks, NULL)) {
        return 1;
    }
    t1 = clock_ns();
    if (!sd_pass(true, chunks, &sum)) {
        return 1;
    }
    t2 = clock_ns();
    if (!sd_pio_round_trip(chunks * CHUNK_BLOCKS)) {
        return 1;
    }
    printf("SUM %016lx\n", sum);
    report_result("sd_write", mib * 1024 * 1000000000ull / (t1 - t0 + 1), "KB/s");
    report_result("sd_read", mib * 1024 * 1000000000ull / (t2 - t1 + 1), "KB/s");
    report_pass();
    return 0;
}
SCENARIO(sd, sd_run);

/* ---- Hostile ---- */

/* Stop whatever the card does, clear the controller's lines, and say where things stand. */
static void sd_report(const char *name, uint32_t st)
{
    uint8_t admaerr = sd_rl(&sd, SD_ADMAERR);
    uint32_t prn = sd_rl(&sd, SD_PRNSTS);

    sd_reset_lines(&sd);
    sd_cmd(&sd, 12, RSP_48_BUSY | 0xc0, 0, 0, NULL); /* an abort command */
    sd_ack_all(&sd);
    printf("HOSTILE %s status %08x admaerr %02x prnsts %08x card %08x\n", name, st, admaerr, prn,
           sd_status(&sd));
}

static void sd_hostile_adma(void)
{
    volatile uint32_t *t = (volatile uint32_t *)SD_ADMA_TABLE;

    sd_wl(&sd, SD_ADMAERR, 0);
    sd_wb(&sd, SD_HOSTCTL, DMA_ADMA2 << 3);
    sd_wl(&sd, SD_ADMASYSADDR, OUTSIDE_RAM);
    sd_wl(&sd, SD_BLKSIZE, SD_BLOCK | 2u << 16);
    sd_cmd(&sd, 18, RSP_48_DATA, 0, TRN_DMA | TRN_BLKCNT | TRN_MULTI | TRN_READ, NULL);
    sd_report("adma-table-outside-ram", sd_wait(&sd, NIS_TRSCMP | NIS_ERR, 50));

    sd_wl(&sd, SD_ADMAERR, 0);
    t[0] = 1024u << 16 | ADMA_TRAN | ADMA_END | ADMA_VALID;
    t[1] = OUTSIDE_RAM;
    sd_report("adma-data-outside-ram", sd_dma(&sd, 18, 0, 2, true, DMA_ADMA2, 0));

    sd_wl(&sd, SD_ADMAERR, 0);
    t[0] = ADMA_LINK | ADMA_VALID;
    t[1] = (uint32_t)SD_ADMA_TABLE;
    sd_wb(&sd, SD_HOSTCTL, DMA_ADMA2 << 3);
    sd_wl(&sd, SD_ADMASYSADDR, (uint32_t)SD_ADMA_TABLE);
    sd_wl(&sd, SD_BLKSIZE, SD_BLOCK | 2u << 16);
    sd_cmd(&sd, 18, RSP_48_DATA, 0, TRN_DMA | TRN_BLKCNT | TRN_MULTI | TRN_READ, NULL);
    sd_report("adma-link-loop", sd_wait(&sd, NIS_TRSCMP | NIS_ERR, 50));
}

static void sd_hostile_other(void)
{
    uint32_t buf[SD_BLOCK / 4];

    sd_report("sdma-outside-ram", sd_dma(&sd, 18, 0, 4, true, DMA_SDMA, OUTSIDE_RAM));

    sd_wl(&sd, SD_BLKSIZE, SD_BLOCK);
    sd_cmd(&sd, 18, RSP_48_DATA, 0, TRN_BLKCNT | TRN_MULTI | TRN_READ, NULL);
    sd_report("pio-block-count-0", sd_wait(&sd, NIS_RBUFRDY | NIS_TRSCMP | NIS_ERR, 50));

    sd_report("pio-past-the-end", sd_pio(true, sd.sectors, buf) ? 1 : 0);
}

static int sd_run_hostile(int argc, char **argv)
{
    uint64_t sum = 0;

    if (!sd_start()) {
        return 1;
    }
    sd_hostile_adma();
    sd_hostile_other();
    sd_fill(64, 4 * SD_BLOCK);
    sd_adma_table(SD_DATA, 4 * SD_BLOCK);
    if ((sd_dma(&sd, 25, 64, 4, false, DMA_ADMA2, 0) & (NIS_TRSCMP | NIS_ERR)) != NIS_TRSCMP) {
        report_fail("the write after the hostile cases failed");
        return 1;
    }
    memset((void *)SD_DATA, 0, 4 * SD_BLOCK);
    if ((sd_dma(&sd, 18, 64, 4, true, DMA_SDMA, SD_DATA) & (NIS_TRSCMP | NIS_ERR)) != NIS_TRSCMP ||
        !sd_check(64, 4 * SD_BLOCK, &sum) || !sd_pio_round_trip(128)) {
        report_fail("the round trip after the hostile cases failed");
        return 1;
    }
    report_pass();
    return 0;
}
SCENARIO(sd_hostile, sd_run_hostile);
