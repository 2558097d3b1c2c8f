/*
 * Scenarios for a scsi-hd at target 0 of the first LSI 53C895A, driven by tests/guest/lsi.c:
 *   `lsi [MiB]`   writes MiB (default 16) of scenario ide's pattern (from each sector's
 *                 number, per 128 KiB) with WRITE(10) in 128 KiB commands, SYNCHRONIZE
 *                 CACHE, reads it back with READ(10) and compares; prints the 64-bit sum of
 *                 every word read back (the host sums the image) and the KB/s of both passes.
 *   `lsi_hostile` what a hostile guest does: data moves to and from memory outside RAM
 *                 (and across its end), LBAs past the end, a MOVE shorter or longer than the
 *                 command's data both ways, a zero-length MOVE, MOVEs in the wrong
 *                 direction, COMMAND MOVEs shorter and longer than the CDB, an absent
 *                 target, an illegal SCRIPTS opcode and a SCRIPTS loop; each case's DSTAT,
 *                 SIST0/1, status byte and sense printed, the adapter reset after the ones
 *                 that leave the bus busy; then a well-formed write and read-back, and a
 *                 read into the adapter's SCRIPTS RAM.
 */
#include "io.h"
#include "lsi.h"

#define CHUNK 256u /* sectors per command: 128 KiB */
#define CHUNK_BYTES (CHUNK * LSI_SECTOR)
#define SCRATCH_LBA 4096u /* where the hostile cases may write */

static LSI lsi;

static uint64_t lsi_word(uint64_t sector, unsigned i)
{
    return (sector + i / (LSI_SECTOR / 8)) * 0x9e3779b97f4a7c15ull ^ i;
}

static void lsi_fill(uint64_t sector)
{
    uint64_t *p = (uint64_t *)LSI_DATA;

    for (unsigned i = 0; i < CHUNK_BYTES / 8; i++) {
        p[i] = lsi_word(sector, i);
    }
}

/* Compare the chunk read at sector with the pattern, adding its words to *sum. */
static bool lsi_check(uint64_t sector, uint64_t *sum)
{
    const uint64_t *p = (const uint64_t *)LSI_DATA;
    bool ok = true;

    for (unsigned i = 0; i < CHUNK_BYTES / 8; i++) {
        ok &= p[i] == lsi_word(sector, i);
        *sum += p[i];
    }
    return ok;
}

/* Print a command that did not complete GOOD, with its sense, as the reason of a FAIL. */
static void lsi_fail(const char *what, uint32_t lba, const LSIResult *r)
{
    int32_t sense = -1;

    if (lsi_done(r) && r->status == 0x02) {
        sense = lsi_sense(&lsi, 0);
    }
    report_fail("%s failed at LBA %u (status %02x, sense %x/%02x/%02x, dstat %02x, sist %02x%02x, "
                "phase %u, dsp +%x%s)",
                what, lba, r->status, sense < 0 ? 0xf : sense >> 16, (sense >> 8) & 0xff,
                sense & 0xff, r->dstat, r->sist0, r->sist1, lsi_rd(&lsi, LSI_SSTAT1) & 7,
                (unsigned)(lsi_rdl(&lsi, LSI_DSP) - LSI_SCRIPT), r->timeout ? ", timeout" : "");
}

static bool lsi_rw(bool write, uint32_t lba, uint16_t sectors)
{
    uint8_t cdb[10];
    LSIResult r;

    scsi_cdb10(cdb, write ? 0x2a : 0x28, lba, sectors);
    r = lsi_cmd(&lsi, 0, cdb, sizeof(cdb), write ? LSI_PH_DO : LSI_PH_DI, LSI_DATA,
                sectors * LSI_SECTOR);
    if (!lsi_done(&r) || r.status != 0) {
        lsi_fail(write ? "WRITE(10)" : "READ(10)", lba, &r);
        return false;
    }
    return true;
}

static bool lsi_sync_cache(void)
{
    static const uint8_t cdb[10] = {0x35};
    LSIResult r = lsi_cmd(&lsi, 0, cdb, sizeof(cdb), LSI_NO_DATA, 0, 0);

    if (!lsi_done(&r) || r.status != 0) {
        lsi_fail("SYNCHRONIZE CACHE", 0, &r);
        return false;
    }
    return true;
}

/* The adapter, target 0 past its power-on unit attention, and the disk's size. */
static uint64_t lsi_setup(void)
{
    uint64_t sectors;

    if (!lsi_open(&lsi)) {
        report_fail("no LSI 53C895A");
        return 0;
    }
    if (!lsi_ready(&lsi, 0) || !(sectors = lsi_capacity(&lsi, 0))) {
        report_fail("target 0 not ready");
        return 0;
    }
    printf("LSI %02x.%x capacity %lu sectors\n", lsi.pci->dev, lsi.pci->fn, sectors);
    return sectors;
}

static int lsi_run_scenario(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtou64(argv[1], NULL) : 16;
    unsigned chunks = mib * 1024 * 1024 / CHUNK_BYTES;
    uint64_t sectors, sum = 0, t0, t1, t2;

    clock_calibrate(10);
    if (!(sectors = lsi_setup())) {
        return -1;
    }
    if (!chunks || (uint64_t)chunks * CHUNK > sectors) {
        report_fail("%lu MiB do not fit on the disk", mib);
        return -1;
    }
    t0 = clock_ns();
    for (unsigned c = 0; c < chunks; c++) {
        lsi_fill((uint64_t)c * CHUNK);
        if (!lsi_rw(true, c * CHUNK, CHUNK)) {
            return -1;
        }
    }
    if (!lsi_sync_cache()) {
        return -1;
    }
    t1 = clock_ns();
    for (unsigned c = 0; c < chunks; c++) {
        memset((void *)LSI_DATA, 0, CHUNK_BYTES);
        if (!lsi_rw(false, c * CHUNK, CHUNK)) {
            return -1;
        }
        if (!lsi_check((uint64_t)c * CHUNK, &sum)) {
            report_fail("data mismatch in the 128 KiB at LBA %u", c * CHUNK);
            return -1;
        }
    }
    t2 = clock_ns();
    printf("LSI wrote and read back %lu KiB\n", mib * 1024);
    printf("LSI sum %016lx\n", sum);
    report_result("write", t1 > t0 ? mib * 1024 * 1000000000 / (t1 - t0) : 0, "KB/s");
    report_result("read", t2 > t1 ? mib * 1024 * 1000000000 / (t2 - t1) : 0, "KB/s");
    return 0;
}

SCENARIO(lsi, lsi_run_scenario);

/* ---- lsi_hostile ---- */

/* Reset the adapter and get past the unit attention the reset leaves on the disk. */
static bool hostile_recover(const char *name)
{
    lsi_soft_reset(&lsi);
    if (!lsi_ready(&lsi, 0)) {
        report_fail("%s: target 0 not ready after a reset", name);
        return false;
    }
    return true;
}

/* One case's outcome; sense of a CHECK CONDITION; where SCRIPTS stopped otherwise. */
static void hostile_print(const char *name, const LSIResult *r)
{
    printf("HOSTILE %s dstat %02x sist %02x%02x", name, r->dstat, r->sist0, r->sist1);
    if (r->timeout) {
        printf(" timeout\n");
    } else if (lsi_done(r)) {
        int32_t sense = r->status == 0x02 ? lsi_sense(&lsi, 0) : 0;
        printf(" status %02x sense %x/%02x/%02x\n", r->status, (sense >> 16) & 0xff,
               (sense >> 8) & 0xff, sense & 0xff);
    } else {
        printf(" phase %u dbc %u\n", lsi_rd(&lsi, LSI_SSTAT1) & 7,
               lsi_rdl(&lsi, LSI_DBC) & 0xffffff);
    }
}

/* A READ(10) or WRITE(10) whose data MOVE is (addr, count), printed. */
static LSIResult hostile_rw(const char *name, uint8_t op, uint32_t lba, uint16_t sectors,
                            uint64_t addr, uint32_t count)
{
    uint8_t cdb[10];
    LSIResult r;

    scsi_cdb10(cdb, op, lba, sectors);
    r = lsi_cmd_raw(&lsi, 0, cdb, sizeof(cdb), op == 0x2a ? LSI_PH_DO : LSI_PH_DI, addr, count);
    hostile_print(name, &r);
    return r;
}

/* The same, and a reset afterwards unless it completed. */
static bool hostile_cmd(const char *name, uint8_t op, uint32_t lba, uint16_t sectors, uint64_t addr,
                        uint32_t count)
{
    LSIResult r = hostile_rw(name, op, lba, sectors, addr, count);

    return lsi_done(&r) || hostile_recover(name);
}

/* One sector by READ(10) or WRITE(10) with the data MOVE in phase and a COMMAND MOVE of
 * cdb_len bytes; reset afterwards unless it completed. */
static bool hostile_phase(const char *name, uint8_t op, unsigned phase, unsigned cdb_len)
{
    uint8_t cdb[16] = {0};
    LSIResult r;

    scsi_cdb10(cdb, op, SCRATCH_LBA, 1);
    r = lsi_cmd_raw(&lsi, 0, cdb, cdb_len, phase, LSI_DATA, LSI_SECTOR);
    hostile_print(name, &r);
    return lsi_done(&r) || hostile_recover(name);
}

/*
 * A MOVE longer than the command's data: the target goes to STATUS with bytes left, a phase
 * mismatch (SIST0.MA) stops SCRIPTS; the driver takes the status and message itself.
 */
static bool hostile_long_move(const char *name, uint8_t op, uint32_t lba)
{
    LSIResult r = hostile_rw(name, op, lba, 1, LSI_DATA, 8 * LSI_SECTOR);

    if (lsi_done(&r)) {
        return true;
    }
    r = lsi_take_status(&lsi);
    printf("HOSTILE %s then status %02x msgin %02x\n", name, r.status, r.msgin);
    return lsi_done(&r) || hostile_recover(name);
}

/* A SCRIPTS program alone (no command): what stopped it within 100 ms. */
static LSIResult hostile_script(uint32_t insn, uint32_t addr)
{
    LSIScript s = {0};

    lsi_emit(&s, insn, addr);
    lsi_emit(&s, 0x98080000u, LSI_INT_DONE);
    return lsi_run(&lsi, 100);
}

static int lsi_hostile_run(int argc, char **argv)
{
    static const uint8_t tur[6] = {0};
    uint64_t sectors;
    uint32_t end;
    LSIResult r;

    clock_calibrate(10);
    if (!(sectors = lsi_setup())) {
        return -1;
    }
    end = sectors;
    /* Data phases with memory outside RAM (-m 256: 1 GiB - 1 MiB is nothing). */
    if (!hostile_cmd("read-outside-ram", 0x28, 0, 8, 0x3ff00000u, 8 * LSI_SECTOR) ||
        !hostile_cmd("write-outside-ram", 0x2a, SCRATCH_LBA, 8, 0x3ff00000u, 8 * LSI_SECTOR)) {
        return -1;
    }
    /* A read straddling the end of RAM (256 MiB). */
    if (!hostile_cmd("read-straddling-ram-end", 0x28, 0, 8, 0x10000000u - 2048, 8 * LSI_SECTOR)) {
        return -1;
    }
    /* LBAs past the end and straddling it. */
    if (!hostile_cmd("read-past-end", 0x28, end, 8, LSI_DATA, 8 * LSI_SECTOR) ||
        !hostile_cmd("read-straddling-end", 0x28, end - 1, 2, LSI_DATA, 2 * LSI_SECTOR) ||
        !hostile_cmd("write-past-end", 0x2a, end, 1, LSI_DATA, LSI_SECTOR) ||
        !hostile_cmd("read-lba-ffffffff", 0x28, 0xffffffffu, 1, LSI_DATA, LSI_SECTOR)) {
        return -1;
    }
    /* MOVE counts that differ from the command's transfer length. */
    if (!hostile_cmd("read-short-move", 0x28, 0, 8, LSI_DATA, 2 * LSI_SECTOR) ||
        !hostile_long_move("read-long-move", 0x28, 0) ||
        !hostile_cmd("write-short-move", 0x2a, SCRATCH_LBA, 8, LSI_DATA, 2 * LSI_SECTOR) ||
        !hostile_long_move("write-long-move", 0x2a, SCRATCH_LBA)) {
        return -1;
    }
    /* A zero-length MOVE for 4 KiB of data; a MOVE in the wrong direction. */
    if (!hostile_cmd("read-zero-move", 0x28, 0, 8, LSI_DATA, 0) ||
        !hostile_phase("write-data-in-move", 0x2a, LSI_PH_DI, 10) ||
        !hostile_phase("read-data-out-move", 0x28, LSI_PH_DO, 10)) {
        return -1;
    }
    /* CDBs shorter and longer than their group code says, moved by the COMMAND MOVE. */
    if (!hostile_phase("cdb-short-move", 0x28, LSI_PH_DI, 6) ||
        !hostile_phase("cdb-long-move", 0x28, LSI_PH_DI, 16)) {
        return -1;
    }
    /* A target nobody answers for. */
    r = lsi_cmd(&lsi, 5, tur, sizeof(tur), LSI_NO_DATA, 0, 0);
    hostile_print("absent-target", &r);
    if (!lsi_ready(&lsi, 0)) {
        report_fail("target 0 not ready after the selection timeout");
        return -1;
    }
    /* Transfer control opcode 4 does not exist. */
    r = hostile_script(0xa0080000u, 0);
    hostile_print("illegal-opcode", &r);
    /* A JUMP to itself: the VMM keeps running; a software reset stops it. */
    r = hostile_script(0x80080000u, LSI_SCRIPT);
    printf("HOSTILE scripts-loop %s istat %02x srun %u\n", r.timeout ? "running" : "stopped",
           r.istat, !!(lsi_rd(&lsi, LSI_ISTAT1) & ISTAT1_SRUN));
    if (!hostile_recover("scripts-loop")) {
        return -1;
    }
    printf("HOSTILE scripts-loop after reset istat %02x srun %u\n", lsi_rd(&lsi, LSI_ISTAT0),
           !!(lsi_rd(&lsi, LSI_ISTAT1) & ISTAT1_SRUN));
    /* Then a well-formed 128 KiB write and read-back. */
    lsi_fill(64);
    if (!lsi_rw(true, 64, CHUNK)) {
        return -1;
    }
    memset((void *)LSI_DATA, 0, CHUNK_BYTES);
    uint64_t sum = 0;
    if (!lsi_rw(false, 64, CHUNK) || !lsi_check(64, &sum)) {
        report_fail("the well-formed read-back failed");
        return -1;
    }
    printf("HOSTILE then-well-formed ok\n");
    /* Data phases also reach the adapter's own SCRIPTS RAM (BAR2, 8 KiB). */
    if (!hostile_cmd("read-into-scripts-ram", 0x28, 64, 16, lsi.pci->bar[2].addr,
                     16 * LSI_SECTOR)) {
        return -1;
    }
    printf("HOSTILE read-into-scripts-ram data %s\n",
           memcmp((void *)lsi.pci->bar[2].addr, (void *)LSI_DATA, 16 * LSI_SECTOR) ? "differs"
                                                                                   : "ok");
    return 0;
}

SCENARIO(lsi_hostile, lsi_hostile_run);
