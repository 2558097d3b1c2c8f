/*
 * Scenario `sd_bench MS [ROW...]`: a benchmark for bench/sd.py on the SD card behind the
 * first sdhci-pci (tests/guest/sdhci.c), one command at a time. Rows: seqwrite and seqread
 * (256 KiB CMD25/CMD18 by ADMA2 in order, wrapping at the end of the card), randread
 * (4 KiB CMD18 by ADMA2 at random 4 KiB-aligned offsets); default all three. Each runs for
 * MS milliseconds and reports "RESULT ROW-iops N IOPS" and "RESULT ROW-mbps N MB/s". The
 * data is not checked (scenario sd does that).
 */
#include "sdhci.h"

#define SEQ_BLOCKS 512u /* 256 KiB */
#define RAND_BLOCKS 8u  /* 4 KiB */

static SDHCI bench_sd;
static uint64_t bench_rng = 0x2545f4914f6cdd1dull;

static bool bench_row(const char *row, uint64_t ms)
{
    bool seq = strcmp(row, "randread") != 0, write = !strcmp(row, "seqwrite");
    uint32_t n = seq ? SEQ_BLOCKS : RAND_BLOCKS;
    uint64_t done = 0, next = 0, t0, t1, end;

    if (seq && !write && strcmp(row, "seqread")) {
        report_fail("unknown row '%s'", row);
        return false;
    }
    memset((void *)SD_DATA, 0x5a, n * SD_BLOCK);
    sd_adma_table(SD_DATA, n * SD_BLOCK);
    t0 = clock_ns();
    end = t0 + ms * 1000000;
    do {
        uint32_t block, st;
        if (seq) {
            block = next;
            next = next + 2 * n > bench_sd.sectors ? 0 : next + n;
        } else {
            block = xorshift64(&bench_rng) % (bench_sd.sectors / n) * n;
        }
        st = sd_dma(&bench_sd, write ? 25 : 18, block, n, !write, DMA_ADMA2, 0);
        if ((st & (NIS_TRSCMP | NIS_ERR)) != NIS_TRSCMP) {
            report_fail("%s at block %u: status %08x", row, block, st);
            return false;
        }
        done++;
        t1 = clock_ns();
    } while (t1 < end);
    printf("RESULT %s-iops %lu IOPS\n", row, done * 1000000000 / (t1 - t0));
    printf("RESULT %s-mbps %lu MB/s\n", row, done * n * SD_BLOCK * 1000 / (t1 - t0));
    return true;
}

static int sd_bench_run(int argc, char **argv)
{
    static char *default_rows[] = {"seqwrite", "seqread", "randread"};
    uint64_t ms = argc > 1 ? strtou64(argv[1], NULL) : 1000;
    char **rows = argc > 2 ? argv + 2 : default_rows;
    int nrows = argc > 2 ? argc - 2 : (int)ARRAY_SIZE(default_rows);

    clock_calibrate(10);
    if (!sd_open(&bench_sd) || !sd_init_card(&bench_sd) || bench_sd.sectors < 2 * SEQ_BLOCKS) {
        report_fail("no SD card ready, or too small");
        return -1;
    }
    for (int i = 0; i < nrows; i++) {
        if (!bench_row(rows[i], ms)) {
            return -1;
        }
    }
    return 0;
}

SCENARIO(sd_bench, sd_bench_run);
