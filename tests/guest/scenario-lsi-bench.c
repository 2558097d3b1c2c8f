/*
 * Scenario `lsi_bench MS [ROW...]`: a benchmark for bench/scsi.py on a scsi-hd at target 0
 * of the first LSI 53C895A (tests/guest/lsi.c), one command at a time (queue depth 1).
 * Rows: seqwrite and seqread (128 KiB WRITE(10)/READ(10) in order, wrapping at the end of
 * the disk), randread (4 KiB READ(10) at random 4 KiB-aligned offsets); default all three.
 * Each runs for MS milliseconds and reports "RESULT ROW-iops N IOPS" and
 * "RESULT ROW-mbps N MB/s"; seqwrite ends with SYNCHRONIZE CACHE after its clock stops. The
 * data is not checked (scenario lsi does that).
 */
#include "lsi.h"

#define SEQ_SECTORS 256u /* 128 KiB */
#define RAND_SECTORS 8u  /* 4 KiB */

static LSI bench_lsi;
static uint64_t bench_rng = 0x2545f4914f6cdd1dull;

static bool bench_cmd(uint8_t op, uint32_t lba, uint16_t sectors)
{
    uint8_t cdb[10];
    LSIResult r;

    scsi_cdb10(cdb, op, lba, sectors);
    r = lsi_cmd(&bench_lsi, 0, cdb, sizeof(cdb), op == 0x2a ? LSI_PH_DO : LSI_PH_DI, LSI_DATA,
                sectors * LSI_SECTOR);
    if (!lsi_done(&r) || r.status != 0) {
        report_fail("command %02x at LBA %u: status %02x dstat %02x sist %02x%02x", op, lba,
                    r.status, r.dstat, r.sist0, r.sist1);
        return false;
    }
    return true;
}

static bool bench_row(const char *row, uint64_t ms, uint64_t sectors)
{
    bool seq = strcmp(row, "randread") != 0;
    uint8_t op = strcmp(row, "seqwrite") ? 0x28 : 0x2a;
    uint32_t n = seq ? SEQ_SECTORS : RAND_SECTORS;
    uint64_t done = 0, next = 0, t0, t1, end;

    if (!seq && strcmp(row, "randread")) {
        report_fail("unknown row '%s'", row);
        return false;
    }
    if (op == 0x2a) {
        memset((void *)LSI_DATA, 0x5a, n * LSI_SECTOR);
    }
    t0 = clock_ns();
    end = t0 + ms * 1000000;
    do {
        uint32_t lba;
        if (seq) {
            lba = next;
            next = next + 2 * n > sectors ? 0 : next + n;
        } else {
            lba = xorshift64(&bench_rng) % (sectors / n) * n;
        }
        if (!bench_cmd(op, lba, n)) {
            return false;
        }
        done++;
        t1 = clock_ns();
    } while (t1 < end);
    printf("RESULT %s-iops %lu IOPS\n", row, done * 1000000000 / (t1 - t0));
    printf("RESULT %s-mbps %lu MB/s\n", row, done * n * LSI_SECTOR * 1000 / (t1 - t0));
    if (op == 0x2a) {
        static const uint8_t sync[10] = {0x35};
        LSIResult r = lsi_cmd(&bench_lsi, 0, sync, sizeof(sync), LSI_NO_DATA, 0, 0);
        if (!lsi_done(&r) || r.status != 0) {
            report_fail("SYNCHRONIZE CACHE failed");
            return false;
        }
    }
    return true;
}

static int lsi_bench_run(int argc, char **argv)
{
    static char *default_rows[] = {"seqwrite", "seqread", "randread"};
    uint64_t ms = argc > 1 ? strtou64(argv[1], NULL) : 1000, sectors;
    char **rows = argc > 2 ? argv + 2 : default_rows;
    int nrows = argc > 2 ? argc - 2 : (int)ARRAY_SIZE(default_rows);

    clock_calibrate(10);
    if (!lsi_open(&bench_lsi)) {
        report_fail("no LSI 53C895A");
        return -1;
    }
    if (!lsi_ready(&bench_lsi, 0) || (sectors = lsi_capacity(&bench_lsi, 0)) < 2 * SEQ_SECTORS) {
        report_fail("target 0 not ready or too small");
        return -1;
    }
    for (int i = 0; i < nrows; i++) {
        if (!bench_row(rows[i], ms, sectors)) {
            return -1;
        }
    }
    return 0;
}

SCENARIO(lsi_bench, lsi_bench_run);
