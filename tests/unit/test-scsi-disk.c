/*
 * Unit tests for the SCSI bus and the scsi-hd/scsi-cd/scsi-disk models without an HBA: a
 * fake HBA (the SCSIBusOps of include/hw/scsi.h) copies each chunk to or from a buffer
 * and records status, resid and autosense; drives are raw images in the temporary
 * directory. Covers the data path byte for byte against the file, the command set, the
 * sense after CHECK CONDITION, unit attentions, LUNs without a device, realize errors and
 * hostile CDBs.
 */
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <glib.h>
#include "block/error-policy.h"
#include "blockdev/blockdev.h"
#include "hw/scsi.h"
#include "util/main-loop.h"
#include "util/bswap.h"
#include "qdev-test-util.h"

#define DISK_BLOCKS 2048 /* 1 MiB of 512-byte blocks */

/* ---- The fake HBA ---- */

typedef struct Cmd {
    bool out;      /* data-out: data is sent to the device */
    uint8_t *data; /* data-in lands here, data-out comes from here */
    size_t cap;
    size_t pos;      /* bytes moved */
    unsigned chunks; /* transfer_data calls */
    bool done, cancelled;
    uint8_t status;
    size_t resid;
    uint8_t sense[SCSI_SENSE_LEN];
    uint8_t sense_len;
    bool unaligned; /* a data chunk was not in a page-aligned buffer */
} Cmd;

static bool hba_double_continue; /* a confused HBA: scsi_req_continue twice per chunk */

static void hba_transfer_data(SCSIRequest *req, uint32_t len)
{
    Cmd *c = req->hba_private;
    uint8_t *buf = scsi_req_buf(req);
    size_t n = c->pos < c->cap ? MIN((size_t)len, c->cap - c->pos) : 0;

    g_assert_nonnull(buf);
    c->unaligned |= (uintptr_t)buf % 4096 != 0;
    if (c->out) {
        memset(buf, 0, len);
        memcpy(buf, c->data + c->pos, n);
    } else {
        memcpy(c->data + c->pos, buf, n);
    }
    c->pos += len;
    c->chunks++;
    scsi_req_continue(req);
    if (hba_double_continue) {
        scsi_req_continue(req);
    }
}

static void hba_complete(SCSIRequest *req, uint8_t status, size_t resid)
{
    Cmd *c = req->hba_private;

    g_assert_false(c->done);
    c->done = true;
    c->status = status;
    c->resid = resid;
    c->sense_len = req->sense_len;
    memcpy(c->sense, req->sense, sizeof(c->sense));
}

static void hba_cancel(SCSIRequest *req)
{
    ((Cmd *)req->hba_private)->cancelled = true;
}

static const SCSIBusOps hba_ops = {
    .transfer_data = hba_transfer_data,
    .complete = hba_complete,
    .cancel = hba_cancel,
};

static SCSIBus bus;

static void wait_done(Cmd *c)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!c->done && !c->cancelled) {
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_usleep(100);
        }
    }
}

/* Run one command to completion; returns the status. */
static uint8_t run_cdb_len(uint32_t id, uint32_t lun, const uint8_t *cdb, unsigned cdb_len,
                           bool out, void *data, size_t cap, Cmd *c)
{
    SCSIRequest *req;

    memset(c, 0, sizeof(*c));
    c->out = out;
    c->data = data;
    c->cap = cap;
    req = scsi_req_new(&bus, id, lun, 0x42, cdb, cdb_len, c);
    scsi_req_enqueue(req);
    wait_done(c);
    scsi_req_unref(req);
    return c->status;
}

static uint8_t run_in(uint32_t id, const uint8_t *cdb, void *data, size_t cap, Cmd *c)
{
    return run_cdb_len(id, 0, cdb, 16, false, data, cap, c);
}

static uint8_t run_out(uint32_t id, const uint8_t *cdb, const void *data, size_t cap, Cmd *c)
{
    return run_cdb_len(id, 0, cdb, 16, true, (void *)data, cap, c);
}

static uint8_t run_nodata(uint32_t id, const uint8_t *cdb)
{
    Cmd c;

    return run_in(id, cdb, NULL, 0, &c);
}

static void assert_sense(const Cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
    g_assert_cmpuint(c->status, ==, SCSI_STATUS_CHECK_CONDITION);
    g_assert_cmpuint(c->sense_len, ==, SCSI_SENSE_LEN);
    g_assert_cmphex(c->sense[0], ==, 0x70);
    g_assert_cmphex(c->sense[2] & 0xf, ==, key);
    g_assert_cmphex(c->sense[12], ==, asc);
    g_assert_cmphex(c->sense[13], ==, ascq);
}

/* The command fails with this sense, and REQUEST SENSE then reports it too. */
static void expect_check(uint32_t id, const uint8_t *cdb, uint8_t key, uint8_t asc, uint8_t ascq)
{
    static const uint8_t request_sense[16] = {0x03, 0, 0, 0, 18, 0};
    uint8_t buf[4096], sense[SCSI_SENSE_LEN];
    Cmd c;

    run_in(id, cdb, buf, sizeof(buf), &c);
    assert_sense(&c, key, asc, ascq);
    g_assert_cmpuint(run_in(id, request_sense, sense, sizeof(sense), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 18);
    g_assert_cmphex(sense[2], ==, key);
    g_assert_cmphex(sense[12], ==, asc);
    g_assert_cmphex(sense[13], ==, ascq);
}

static void clear_ua(uint32_t id)
{
    static const uint8_t tur[16] = {0};

    if (run_nodata(id, tur) == SCSI_STATUS_CHECK_CONDITION) {
        g_assert_cmpuint(run_nodata(id, tur), ==, SCSI_STATUS_GOOD);
    }
}

/* ---- Drives and devices ---- */

static GPtrArray *images; /* paths to unlink when the tests end */

static char *make_image(size_t size)
{
    char *path = NULL;
    int fd = g_file_open_tmp("scsi-disk-XXXXXX.img", &path, NULL);
    g_autofree uint8_t *buf = g_malloc(size);

    g_assert_cmpint(fd, >=, 0);
    for (size_t i = 0; i < size; i++) {
        buf[i] = (i * 7 + i / 512) & 0xff;
    }
    g_assert_cmpint(write(fd, buf, size), ==, (ssize_t)size);
    close(fd);
    g_ptr_array_add(images, g_strdup(path));
    return path;
}

static void remove_images(void)
{
    for (guint i = 0; i < images->len; i++) {
        unlink(images->pdata[i]);
    }
    g_ptr_array_free(images, true);
}

static void new_drive(const char *optstr)
{
    Opts *opts = drive_def(optstr, &error_abort);

    g_assert_nonnull(drive_new(opts, IF_NONE, &error_abort));
    opts_free(opts);
}

/* -device DEVSTR on the bus; NULL and *err set when realize fails. */
static DeviceState *add_device(const char *devstr, char **err)
{
    g_autofree char *full = g_strdup_printf("%s,bus=scsi0.0", devstr);

    return test_device_add(full, false, err);
}

/* A raw image of size bytes as drive `id` (with extra -drive options) under device devstr. */
static DeviceState *new_disk(const char *id, size_t size, const char *drive_opts,
                             const char *devstr, char **path_out)
{
    g_autofree char *path = make_image(size);
    g_autofree char *dopts = g_strdup_printf("if=none,id=%s,file=%s,format=raw%s%s", id, path,
                                             drive_opts ? "," : "", drive_opts ? drive_opts : "");
    g_autofree char *dev = g_strdup_printf("%s,drive=%s", devstr, id);

    new_drive(dopts);
    if (path_out) {
        *path_out = g_strdup(path);
    }
    return add_device(dev, NULL);
}

static void del_device(DeviceState *dev)
{
    qdev_device_delete(dev);
}

static void read_file(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, off), ==, (ssize_t)len);
    close(fd);
}

/* ---- CDB builders ---- */

static void cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t nb)
{
    memset(cdb, 0, 16);
    cdb[0] = op;
    stl_be_p(cdb + 2, lba);
    stw_be_p(cdb + 7, nb);
}

static void cdb16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t nb)
{
    memset(cdb, 0, 16);
    cdb[0] = op;
    for (int i = 0; i < 8; i++) {
        cdb[2 + i] = lba >> (56 - 8 * i);
    }
    for (int i = 0; i < 4; i++) {
        cdb[10 + i] = nb >> (24 - 8 * i);
    }
}

/* ---- Tests ---- */

static void test_inquiry(void)
{
    DeviceState *d = new_disk("inq", 64 * 1024, NULL, "scsi-hd,scsi-id=0,serial=SN123", NULL);
    uint8_t cdb[16] = {0x12, 0, 0, 0, 36}, buf[512];
    Cmd c;

    /* INQUIRY is answered with a unit attention pending; it stays pending. */
    g_assert_cmpuint(run_in(0, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 36);
    g_assert_cmpuint(c.resid, ==, 0);
    g_assert_cmphex(buf[0], ==, 0x00);
    g_assert_cmphex(buf[1], ==, 0x00);
    g_assert_cmphex(buf[2], ==, 5);
    g_assert_cmphex(buf[4], ==, 31);
    g_assert_true(!memcmp(buf + 8, "QEMU    QEMU HARDDISK   2.5+", 28));
    clear_ua(0);

    /* As QEMU: up to 256 bytes when asked, zero after the data. */
    cdb[3] = 0xff;
    cdb[4] = 0xff;
    memset(buf, 0xaa, sizeof(buf));
    g_assert_cmpuint(run_in(0, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 256);
    g_assert_cmphex(buf[4], ==, 251);
    g_assert_cmphex(buf[100], ==, 0);
    g_assert_cmphex(buf[256], ==, 0xaa);

    /* VPD: the page list, the serial, the device identification, block limits. */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x12;
    cdb[1] = 1;
    cdb[4] = 0xff;
    g_assert_cmpuint(run_in(0, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 4 + 6);
    g_assert_true(!memcmp(buf, "\x00\x00\x00\x06\x00\x80\x83\xb0\xb1\xb2", 10));
    cdb[2] = 0x80;
    g_assert_cmpuint(run_in(0, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 4 + 5);
    g_assert_true(!memcmp(buf, "\x00\x80\x00\x05SN123", 9));
    cdb[2] = 0x83;
    g_assert_cmpuint(run_in(0, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_true(!memcmp(buf, "\x00\x83\x00\x09\x02\x00\x00\x05SN123", 13));
    cdb[2] = 0xb0;
    g_assert_cmpuint(run_in(0, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 4 + 0x3c);
    g_assert_cmphex(buf[4], ==, 1);
    cdb[2] = 0x99;
    expect_check(0, cdb, 0x5, 0x24, 0x00);
    cdb[1] = 0; /* a page code without EVPD */
    expect_check(0, cdb, 0x5, 0x24, 0x00);
    del_device(d);

    /* Device identification from a 250-character drive name (cut to 247) and a WWN. */
    g_autofree char *name = g_strnfill(250, 'd');
    g_autofree char *dev = g_strdup_printf("scsi-hd,scsi-id=0,wwn=0x5000c50015ea71ac");
    d = new_disk(name, 64 * 1024, NULL, dev, NULL);
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x12;
    cdb[1] = 1;
    cdb[2] = 0x83;
    cdb[3] = 0x01;
    cdb[4] = 0xff;
    g_assert_cmpuint(run_in(0, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 4 + 4 + 247 + 12);
    g_assert_cmpuint(buf[2] << 8 | buf[3], ==, 4 + 247 + 12);
    g_assert_cmphex(buf[7], ==, 247);
    g_assert_true(!memcmp(buf + 4 + 4 + 247, "\x01\x03\x00\x08\x50\x00\xc5\x00", 8));
    del_device(d);
}

static void test_unit_attention(void)
{
    DeviceState *d = new_disk("ua", 64 * 1024, NULL, "scsi-hd,scsi-id=1", NULL);
    static const uint8_t tur[16] = {0};
    static const uint8_t report_luns[16] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64};
    static const uint8_t request_sense[16] = {0x03, 0, 0, 0, 18};
    uint8_t buf[64];
    Cmd c;

    /* Power on: reported once, then the sense is there for REQUEST SENSE. */
    expect_check(1, tur, 0x6, 0x29, 0x00);
    g_assert_cmpuint(run_nodata(1, tur), ==, SCSI_STATUS_GOOD);

    /* Bus reset: INQUIRY and REPORT LUNS do not see it, TEST UNIT READY does, once. */
    scsi_bus_reset(&bus);
    g_assert_cmpuint(run_in(1, report_luns, buf, sizeof(buf), &c), ==, 0);
    run_in(1, tur, NULL, 0, &c);
    assert_sense(&c, 0x6, 0x29, 0x00);
    g_assert_cmpuint(run_nodata(1, tur), ==, SCSI_STATUS_GOOD);

    /* REQUEST SENSE reports a pending unit attention with GOOD status, and clears it. */
    scsi_bus_reset(&bus);
    g_assert_cmpuint(run_in(1, request_sense, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[2], ==, 0x6);
    g_assert_cmphex(buf[12], ==, 0x29);
    g_assert_cmpuint(run_nodata(1, tur), ==, SCSI_STATUS_GOOD);
    /* Descriptor format on request. */
    scsi_bus_reset(&bus);
    uint8_t rs_desc[16] = {0x03, 1, 0, 0, 18};
    g_assert_cmpuint(run_in(1, rs_desc, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 8);
    g_assert_true(!memcmp(buf, "\x72\x06\x29\x00\x00\x00\x00\x00", 8));
    /* FORMAT UNIT, with and without a parameter list header. */
    uint8_t fu[16] = {0x04};
    g_assert_cmpuint(run_nodata(1, fu), ==, SCSI_STATUS_GOOD);
    fu[1] = 0x10;
    g_assert_cmpuint(run_out(1, fu, buf, 4, &c), ==, SCSI_STATUS_GOOD);
    g_assert_cmpuint(c.pos, ==, 4);
    /* Nothing left: NO SENSE. */
    g_assert_cmpuint(run_in(1, request_sense, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[2], ==, 0x0);
    g_assert_cmphex(buf[12], ==, 0x0);
    del_device(d);
}

static void test_read_write(void)
{
    g_autofree char *path = NULL;
    DeviceState *d = new_disk("rw", DISK_BLOCKS * 512, NULL, "scsi-hd,scsi-id=2", &path);
    g_autofree uint8_t *out = g_malloc(300 * 1024);
    g_autofree uint8_t *in = g_malloc(300 * 1024);
    g_autofree uint8_t *file = g_malloc(300 * 1024);
    uint8_t cdb[16];
    Cmd c;

    clear_ua(2);
    for (size_t i = 0; i < 300 * 1024; i++) {
        out[i] = g_random_int();
    }
    /* WRITE(10) of 8 blocks, READ(10) and READ(16) back, the file checked. */
    cdb10(cdb, 0x2a, 3, 8);
    g_assert_cmpuint(run_out(2, cdb, out, 4096, &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 4096);
    g_assert_cmpuint(c.resid, ==, 0);
    g_assert_false(c.unaligned); /* cache=none writes it without a bounce buffer */
    read_file(path, 3 * 512, file, 4096);
    g_assert_true(!memcmp(file, out, 4096));
    cdb10(cdb, 0x28, 3, 8);
    g_assert_cmpuint(run_in(2, cdb, in, 4096, &c), ==, 0);
    g_assert_false(c.unaligned);
    g_assert_true(!memcmp(in, out, 4096));
    cdb16(cdb, 0x88, 4, 2);
    g_assert_cmpuint(run_in(2, cdb, in, 1024, &c), ==, 0);
    g_assert_true(!memcmp(in, out + 512, 1024));

    /* 600 blocks: several chunks each way, WRITE(16) with FUA, READ(12). */
    cdb16(cdb, 0x8a, 1000, 600);
    cdb[1] = 0x08;
    g_assert_cmpuint(run_out(2, cdb, out, 600 * 512, &c), ==, 0);
    g_assert_cmpuint(c.chunks, >, 1);
    read_file(path, 1000 * 512, file, 600 * 512);
    g_assert_true(!memcmp(file, out, 600 * 512));
    memset(cdb, 0, 16);
    cdb[0] = 0xa8;
    cdb[4] = 1000 >> 8;
    cdb[5] = 1000 & 0xff;
    cdb[9] = 600 & 0xff;
    cdb[8] = 600 >> 8;
    memset(in, 0, 600 * 512);
    g_assert_cmpuint(run_in(2, cdb, in, 600 * 512, &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 600 * 512);
    g_assert_true(!memcmp(in, out, 600 * 512));

    /* A second scsi_req_continue per chunk changes nothing, either way. */
    hba_double_continue = true;
    cdb16(cdb, 0x8a, 1200, 300);
    g_assert_cmpuint(run_out(2, cdb, out + 1, 300 * 512, &c), ==, 0);
    memset(in, 0, 300 * 512);
    cdb16(cdb, 0x88, 1200, 300);
    g_assert_cmpuint(run_in(2, cdb, in, 300 * 512, &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 300 * 512);
    g_assert_true(!memcmp(in, out + 1, 300 * 512));
    hba_double_continue = false;

    /* READ(6)/WRITE(6): 21-bit LBA, 0 blocks means 256. */
    memset(cdb, 0, 16);
    cdb[0] = 0x0a;
    cdb[3] = 10;
    cdb[4] = 1;
    g_assert_cmpuint(run_out(2, cdb, out + 7, 512, &c), ==, 0);
    cdb[0] = 0x08;
    cdb[4] = 0;
    g_assert_cmpuint(run_in(2, cdb, in, 256 * 512, &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 256 * 512);
    g_assert_true(!memcmp(in, out + 7, 512));
    read_file(path, 11 * 512, file, 512);
    g_assert_true(!memcmp(in + 512, file, 512));

    /* READ(10) of 0 blocks: nothing moves. */
    cdb10(cdb, 0x28, 5, 0);
    g_assert_cmpuint(run_in(2, cdb, in, 512, &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 0);
    g_assert_cmpuint(c.chunks, ==, 0);

    /* WRITE AND VERIFY(10); VERIFY(10) without BYTCHK (with it: refused, as QEMU). */
    cdb10(cdb, 0x2e, 20, 2);
    g_assert_cmpuint(run_out(2, cdb, out, 1024, &c), ==, 0);
    read_file(path, 20 * 512, file, 1024);
    g_assert_true(!memcmp(file, out, 1024));
    cdb10(cdb, 0x2f, 20, 2);
    g_assert_cmpuint(run_out(2, cdb, NULL, 0, &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 0);
    cdb[1] = 0x02;
    expect_check(2, cdb, 0x5, 0x24, 0x00);
    cdb10(cdb, 0x2f, DISK_BLOCKS, 1);
    expect_check(2, cdb, 0x5, 0x21, 0x00);
    /* Protection information is not supported. */
    cdb10(cdb, 0x28, 0, 1);
    cdb[1] = 0x20;
    expect_check(2, cdb, 0x5, 0x24, 0x00);
    del_device(d);
}

static void test_out_of_range(void)
{
    DeviceState *d = new_disk("oor", DISK_BLOCKS * 512, NULL, "scsi-hd,scsi-id=3", NULL);
    uint8_t cdb[16], buf[1024];
    Cmd c;

    clear_ua(3);
    cdb10(cdb, 0x28, DISK_BLOCKS - 1, 2);
    expect_check(3, cdb, 0x5, 0x21, 0x00);
    cdb10(cdb, 0x28, DISK_BLOCKS - 1, 1);
    g_assert_cmpuint(run_in(3, cdb, buf, sizeof(buf), &c), ==, 0);
    cdb10(cdb, 0x28, DISK_BLOCKS, 0); /* the end, no blocks: fine */
    g_assert_cmpuint(run_in(3, cdb, buf, sizeof(buf), &c), ==, 0);
    cdb10(cdb, 0x2a, DISK_BLOCKS, 1);
    expect_check(3, cdb, 0x5, 0x21, 0x00);
    /* LBA + length wrapping around 2^64 */
    cdb16(cdb, 0x88, UINT64_MAX, 2);
    expect_check(3, cdb, 0x5, 0x21, 0x00);
    cdb16(cdb, 0x8a, UINT64_MAX - 1, 4);
    expect_check(3, cdb, 0x5, 0x21, 0x00);
    /* SEEK(10): the last block is fine, the capacity is out of range (QEMU's rule). */
    cdb10(cdb, 0x2b, DISK_BLOCKS - 1, 0);
    g_assert_cmpuint(run_nodata(3, cdb), ==, SCSI_STATUS_GOOD);
    cdb10(cdb, 0x2b, DISK_BLOCKS, 0);
    expect_check(3, cdb, 0x5, 0x21, 0x00);
    /* MMC opcodes on a disk, as QEMU: READ TOC with the disk's size, the others refused. */
    memset(cdb, 0, 16);
    cdb[0] = 0x43;
    cdb[8] = 0xff;
    g_assert_cmpuint(run_in(3, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 20);
    g_assert_cmpuint(ldl_be_p(buf + 16), ==, DISK_BLOCKS);
    cdb[0] = 0x46;
    expect_check(3, cdb, 0x5, 0x24, 0x00);
    del_device(d);
}

static void test_invalid_opcode(void)
{
    DeviceState *d = new_disk("inv", 64 * 1024, NULL, "scsi-hd,scsi-id=4", NULL);
    uint8_t cdb[16] = {0x02};

    clear_ua(4);
    expect_check(4, cdb, 0x5, 0x20, 0x00);
    cdb[0] = 0xff; /* vendor-specific group */
    expect_check(4, cdb, 0x5, 0x20, 0x00);
    cdb[0] = 0x7f; /* variable length */
    expect_check(4, cdb, 0x5, 0x20, 0x00);
    del_device(d);
}

static void test_missing_lun(void)
{
    DeviceState *d0 = new_disk("lun0", 64 * 1024, NULL, "scsi-hd,scsi-id=5,lun=0", NULL);
    DeviceState *d2 = new_disk("lun2", 64 * 1024, NULL, "scsi-hd,scsi-id=5,lun=2", NULL);
    uint8_t inquiry[16] = {0x12, 0, 0, 0, 36};
    static const uint8_t report_luns[16] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    static const uint8_t request_sense[16] = {0x03, 0, 0, 0, 18};
    static const uint8_t tur[16] = {0};
    uint8_t buf[256];
    Cmd c;

    g_assert_true(scsi_target_exists(&bus, 5));
    g_assert_false(scsi_target_exists(&bus, 6));
    g_assert_nonnull(scsi_device_find(&bus, 5, 2));
    g_assert_null(scsi_device_find(&bus, 5, 1));

    memset(buf, 0xee, sizeof(buf));
    g_assert_cmpuint(run_cdb_len(5, 1, inquiry, 6, false, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 36);
    g_assert_cmphex(buf[0], ==, 0x7f);
    g_assert_cmphex(buf[8], ==, 0);
    inquiry[1] = 1;
    g_assert_cmpuint(run_cdb_len(5, 1, inquiry, 6, false, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[0], ==, 0x7f);

    run_cdb_len(5, 1, tur, 6, false, NULL, 0, &c);
    assert_sense(&c, 0x5, 0x25, 0x00);
    g_assert_cmpuint(run_cdb_len(5, 1, request_sense, 6, false, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[2], ==, 0x5);
    g_assert_cmphex(buf[12], ==, 0x25);

    /* REPORT LUNS from any LUN: 0 and 2. */
    memset(buf, 0xee, sizeof(buf));
    g_assert_cmpuint(run_cdb_len(5, 1, report_luns, 12, false, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 24);
    g_assert_cmpuint(ldl_be_p(buf), ==, 16);
    g_assert_true(!memcmp(buf + 8, "\0\0\0\0\0\0\0\0\0\x02\0\0\0\0\0\0", 16));
    del_device(d2);
    del_device(d0);

    /* A target with LUN 2 only: LUN 0 is "not connected" and answers TEST UNIT READY. */
    d2 = new_disk("lun2b", 64 * 1024, NULL, "scsi-hd,scsi-id=5,lun=2", NULL);
    inquiry[1] = 0;
    g_assert_cmpuint(run_cdb_len(5, 0, inquiry, 6, false, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[0], ==, 0x3f);
    g_assert_true(!memcmp(buf + 8, "QEMU    QEMU TARGET     ", 24));
    g_assert_cmpuint(run_cdb_len(5, 0, tur, 6, false, NULL, 0, &c), ==, 0);
    run_cdb_len(5, 0, request_sense + 0, 6, false, buf, sizeof(buf), &c);
    g_assert_cmphex(buf[2], ==, 0x0);
    del_device(d2);
}

static void test_mode_sense_select(void)
{
    DeviceState *d = new_disk("ms", DISK_BLOCKS * 512, NULL, "scsi-hd,scsi-id=6", NULL);
    uint8_t ms6[16] = {0x1a, 0, 0x08, 0, 0xff}, buf[512], param[64];
    BlockBackend *blk = blk_by_name("ms");
    Cmd c;

    clear_ua(6);
    g_assert_true(blk_enable_write_cache(blk));
    g_assert_cmpuint(run_in(6, ms6, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 4 + 8 + 20);
    g_assert_cmpuint(buf[0], ==, c.pos - 1);
    g_assert_cmphex(buf[2], ==, 0x00); /* not write-protected */
    g_assert_cmpuint(buf[3], ==, 8);
    g_assert_cmpuint(ldl_be_p(buf + 4) & 0xffffff, ==, DISK_BLOCKS);
    g_assert_cmpuint(ldl_be_p(buf + 8), ==, 512);
    g_assert_cmphex(buf[12], ==, 0x08);
    g_assert_cmphex(buf[13], ==, 0x12);
    g_assert_cmphex(buf[14] & 0x04, ==, 0x04); /* WCE */

    /* MODE SELECT(6) turns the write cache off (header, no descriptor, page 8). */
    memset(param, 0, sizeof(param));
    param[4] = 0x08;
    param[5] = 0x12;
    uint8_t sel[16] = {0x15, 0x10, 0, 0, 4 + 20};
    g_assert_cmpuint(run_out(6, sel, param, 24, &c), ==, 0);
    g_assert_false(blk_enable_write_cache(blk));
    ms6[1] = 0x08; /* DBD */
    g_assert_cmpuint(run_in(6, ms6, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 4 + 20);
    g_assert_cmpuint(buf[3], ==, 0);
    g_assert_cmphex(buf[6] & 0x04, ==, 0);
    param[6] = 0x04;
    g_assert_cmpuint(run_out(6, sel, param, 24, &c), ==, 0);
    g_assert_true(blk_enable_write_cache(blk));
    /* An unknown page in the list, SP set: refused. */
    param[4] = 0x33;
    expect_check(6, sel, 0x5, 0x26, 0x00);
    sel[1] = 0x11;
    expect_check(6, sel, 0x5, 0x24, 0x00);

    /* All pages, MODE SENSE(10); saved values; an unknown page. */
    uint8_t ms10[16] = {0x5a, 0, 0x3f, 0, 0, 0, 0, 0x01, 0x00};
    g_assert_cmpuint(run_in(6, ms10, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 8 + 8 + 12 + 24 + 32 + 20);
    g_assert_cmpuint((buf[0] << 8 | buf[1]), ==, c.pos - 2);
    g_assert_cmphex(buf[16], ==, 0x01);
    ms10[2] = 0xc8;
    expect_check(6, ms10, 0x5, 0x39, 0x00);
    ms10[2] = 0x2a; /* a CD page */
    expect_check(6, ms10, 0x5, 0x24, 0x00);
    /* A short allocation length gets the start only. */
    ms6[1] = 0;
    ms6[4] = 6;
    g_assert_cmpuint(run_in(6, ms6, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 6);
    del_device(d);

    /* cache=writethrough: WCE clear; readonly: write-protected, writes refused. */
    d = new_disk("ms2", DISK_BLOCKS * 512, "cache=writethrough,readonly=on", "scsi-hd,scsi-id=6",
                 NULL);
    clear_ua(6);
    ms6[1] = 0;
    ms6[4] = 0xff;
    g_assert_cmpuint(run_in(6, ms6, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[2], ==, 0x80);
    g_assert_cmphex(buf[14] & 0x04, ==, 0);
    uint8_t w10[16];
    cdb10(w10, 0x2a, 0, 1);
    expect_check(6, w10, 0x7, 0x27, 0x00);
    del_device(d);
}

static void test_read_capacity(void)
{
    DeviceState *d = new_disk("rc", DISK_BLOCKS * 512, NULL, "scsi-hd,scsi-id=0", NULL);
    uint8_t rc10[16] = {0x25}, rc16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32};
    uint8_t buf[64];
    Cmd c;

    clear_ua(0);
    g_assert_cmpuint(run_in(0, rc10, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 8);
    g_assert_cmpuint(ldl_be_p(buf), ==, DISK_BLOCKS - 1);
    g_assert_cmpuint(ldl_be_p(buf + 4), ==, 512);
    g_assert_cmpuint(run_in(0, rc16, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 32);
    g_assert_cmpuint(ldl_be_p(buf), ==, 0);
    g_assert_cmpuint(ldl_be_p(buf + 4), ==, DISK_BLOCKS - 1);
    g_assert_cmpuint(ldl_be_p(buf + 8), ==, 512);
    g_assert_cmphex(buf[13], ==, 0);
    g_assert_cmphex(buf[14], ==, 0x80); /* LBPME */
    rc10[5] = 1;                        /* an LBA without PMI */
    expect_check(0, rc10, 0x5, 0x24, 0x00);
    rc16[1] = 0x11; /* another service action */
    expect_check(0, rc16, 0x5, 0x24, 0x00);
    del_device(d);

    d = new_disk("rc4k", DISK_BLOCKS * 512, NULL, "scsi-hd,scsi-id=0,logical_block_size=4096",
                 NULL);
    clear_ua(0);
    rc10[5] = 0;
    rc16[1] = 0x10;
    g_assert_cmpuint(run_in(0, rc10, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(ldl_be_p(buf), ==, DISK_BLOCKS / 8 - 1);
    g_assert_cmpuint(ldl_be_p(buf + 4), ==, 4096);
    g_assert_cmpuint(run_in(0, rc16, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(ldl_be_p(buf + 4), ==, DISK_BLOCKS / 8 - 1);
    g_assert_cmpuint(ldl_be_p(buf + 8), ==, 4096);
    /* 4096-byte blocks: READ(10) of block 1 is bytes 4096..8191 of the file. */
    uint8_t r10[16], data[4096], expect[4096];
    cdb10(r10, 0x28, 1, 1);
    g_assert_cmpuint(run_in(0, r10, data, sizeof(data), &c), ==, 0);
    for (size_t i = 0; i < sizeof(expect); i++) {
        size_t off = 4096 + i;
        expect[i] = (off * 7 + off / 512) & 0xff;
    }
    g_assert_true(!memcmp(data, expect, sizeof(data)));
    del_device(d);

    /* 512-byte blocks on 4 KiB physical ones, no discard, DPO/FUA announced. */
    d = new_disk("rcp", DISK_BLOCKS * 512, NULL,
                 "scsi-hd,scsi-id=0,physical_block_size=4096,discard_granularity=0,dpofua=on",
                 NULL);
    clear_ua(0);
    g_assert_cmpuint(run_in(0, rc16, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[13], ==, 3);
    g_assert_cmphex(buf[14], ==, 0);
    uint8_t ms6[16] = {0x1a, 0x08, 0x08, 0, 0xff}, vpd[16] = {0x12, 1, 0xb2, 0, 0xff};
    g_assert_cmpuint(run_in(0, ms6, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[2], ==, 0x10);
    g_assert_cmpuint(run_in(0, vpd, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[6], ==, 1);
    del_device(d);
}

static void test_cd_no_medium(void)
{
    uint8_t inquiry[16] = {0x12, 0, 0, 0, 36}, buf[64];
    static const uint8_t tur[16] = {0}, rc10[16] = {0x25};
    DeviceState *d;
    Cmd c;

    new_drive("if=none,id=cd0,media=cdrom");
    d = add_device("scsi-cd,drive=cd0,scsi-id=1", NULL);
    g_assert_cmpuint(run_in(1, inquiry, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[0], ==, 0x05);
    g_assert_cmphex(buf[1], ==, 0x80);
    g_assert_true(!memcmp(buf + 16, "QEMU CD-ROM     ", 16));
    run_in(1, tur, NULL, 0, &c); /* power-on unit attention */
    assert_sense(&c, 0x6, 0x29, 0x00);
    expect_check(1, tur, 0x2, 0x3a, 0x00);
    expect_check(1, rc10, 0x2, 0x3a, 0x00);
    del_device(d);
}

/* block_resize: a disk reports CAPACITY DATA HAS CHANGED once, then the new size. */
static void test_resize(void)
{
    DeviceState *d = new_disk("rs", 64 * 1024, NULL, "scsi-hd,scsi-id=2", NULL);
    BlockBackend *blk = blk_by_name("rs");
    static const uint8_t tur[16] = {0}, rc10[16] = {0x25};
    uint8_t buf[8];
    Cmd c;

    clear_ua(2);
    g_assert_true(blk_truncate(blk, 128 * 1024, PREALLOC_MODE_OFF, &error_abort) == 0);
    blk_dev_resize_cb(blk);
    expect_check(2, tur, 0x6, 0x2a, 0x09);
    g_assert_cmpuint(run_in(2, rc10, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(ldl_be_p(buf), ==, 255);
    /* A reset's unit attention takes precedence over a resize's. */
    scsi_bus_reset(&bus);
    blk_dev_resize_cb(blk);
    expect_check(2, tur, 0x6, 0x29, 0x00);
    g_assert_cmpuint(run_nodata(2, tur), ==, SCSI_STATUS_GOOD);
    del_device(d);
}

static void test_sync_cache(void)
{
    DeviceState *d = new_disk("sc", 64 * 1024, NULL, "scsi-hd,scsi-id=2", NULL);
    uint8_t cdb[16] = {0x35};

    clear_ua(2);
    g_assert_cmpuint(run_nodata(2, cdb), ==, SCSI_STATUS_GOOD);
    cdb[0] = 0x91;
    g_assert_cmpuint(run_nodata(2, cdb), ==, SCSI_STATUS_GOOD);
    del_device(d);
}

static void test_hostile(void)
{
    DeviceState *d = new_disk("bad", DISK_BLOCKS * 512, NULL, "scsi-hd,scsi-id=3", NULL);
    uint8_t cdb[16], buf[1024];
    Cmd c;

    clear_ua(3);
    /* A READ(10) CDB cut to 6 bytes. */
    cdb10(cdb, 0x28, 0, 1);
    run_cdb_len(3, 0, cdb, 6, false, buf, sizeof(buf), &c);
    assert_sense(&c, 0x5, 0x20, 0x00);
    run_cdb_len(3, 0, cdb, 0, false, buf, sizeof(buf), &c);
    assert_sense(&c, 0x5, 0x20, 0x00);
    /* READ(16) of 2^32-1 blocks from 0: more than an HBA transfer (2 GiB - 1), as QEMU. */
    cdb16(cdb, 0x88, 0, UINT32_MAX);
    expect_check(3, cdb, 0x5, 0x24, 0x00);
    /* REPORT LUNS with an allocation length under 16. */
    memset(cdb, 0, 16);
    cdb[0] = 0xa0;
    cdb[9] = 8;
    expect_check(3, cdb, 0x5, 0x24, 0x00);
    /* Allocation lengths larger than the data: the data only. */
    cdb[8] = 0xff;
    cdb[9] = 0xff;
    cdb[6] = 0xff;
    g_assert_cmpuint(run_in(3, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 16);
    memset(cdb, 0, 16);
    cdb[0] = 0x03;
    cdb[4] = 0xff;
    g_assert_cmpuint(run_in(3, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 18);
    /* MODE SELECT with a parameter list shorter than its header, or lying about it. */
    uint8_t sel[16] = {0x55, 0x10, 0, 0, 0, 0, 0, 0, 4}, param[16] = {0};
    g_assert_cmpuint(run_out(3, sel, param, 4, &c), ==, SCSI_STATUS_CHECK_CONDITION);
    assert_sense(&c, 0x5, 0x1a, 0x00);
    sel[8] = 16;
    param[8] = 0x08;
    param[9] = 0xff;
    g_assert_cmpuint(run_out(3, sel, param, 16, &c), ==, SCSI_STATUS_CHECK_CONDITION);
    assert_sense(&c, 0x5, 0x1a, 0x00);
    param[9] = 6; /* the caching page is 0x12 bytes long */
    g_assert_cmpuint(run_out(3, sel, param, 16, &c), ==, SCSI_STATUS_CHECK_CONDITION);
    assert_sense(&c, 0x5, 0x26, 0x00);
    /* UNMAP with a descriptor length that is not a multiple of 16, then past the end. */
    uint8_t unmap[16] = {0x42, 0, 0, 0, 0, 0, 0, 0, 24}, list[24] = {0, 22, 0, 15};
    g_assert_cmpuint(run_out(3, unmap, list, 24, &c), ==, SCSI_STATUS_CHECK_CONDITION);
    assert_sense(&c, 0x5, 0x1a, 0x00);
    list[3] = 16;
    memset(list + 8, 0xff, 8);
    list[19] = 1;
    g_assert_cmpuint(run_out(3, unmap, list, 24, &c), ==, SCSI_STATUS_CHECK_CONDITION);
    assert_sense(&c, 0x5, 0x21, 0x00);
    del_device(d);
}

static void test_write_same_unmap(void)
{
    g_autofree char *path = NULL;
    DeviceState *d = new_disk("ws", DISK_BLOCKS * 512, "discard=unmap", "scsi-hd,scsi-id=4", &path);
    uint8_t cdb[16], block[512], file[512 * 300];
    Cmd c;

    clear_ua(4);
    memset(block, 0x5a, sizeof(block));
    cdb10(cdb, 0x41, 10, 300);
    g_assert_cmpuint(run_out(4, cdb, block, 512, &c), ==, 0);
    read_file(path, 10 * 512, file, sizeof(file));
    for (size_t i = 0; i < sizeof(file); i++) {
        g_assert_cmphex(file[i], ==, 0x5a);
    }
    /* Zeroes with UNMAP, WRITE SAME(16). */
    memset(block, 0, sizeof(block));
    cdb16(cdb, 0x93, 10, 300);
    cdb[1] = 0x08;
    g_assert_cmpuint(run_out(4, cdb, block, 512, &c), ==, 0);
    read_file(path, 10 * 512, file, sizeof(file));
    for (size_t i = 0; i < sizeof(file); i++) {
        g_assert_cmphex(file[i], ==, 0);
    }
    /* NDOB: zeroes without a data-out block. */
    memset(block, 0x77, sizeof(block));
    cdb10(cdb, 0x41, 40, 1);
    g_assert_cmpuint(run_out(4, cdb, block, 512, &c), ==, 0);
    cdb16(cdb, 0x93, 40, 1);
    cdb[1] = 0x01;
    g_assert_cmpuint(run_out(4, cdb, NULL, 0, &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 0);
    read_file(path, 40 * 512, file, 512);
    for (size_t i = 0; i < 512; i++) {
        g_assert_cmphex(file[i], ==, 0);
    }
    cdb16(cdb, 0x93, 10, 0); /* WSNZ */
    expect_check(4, cdb, 0x5, 0x24, 0x00);
    cdb16(cdb, 0x93, DISK_BLOCKS - 1, 2);
    expect_check(4, cdb, 0x5, 0x21, 0x00);

    /* UNMAP of 8 blocks at 100: reads back as zeroes. */
    uint8_t unmap[16] = {0x42, 0, 0, 0, 0, 0, 0, 0, 24};
    uint8_t list[24] = {0, 22, 0, 16};
    list[8 + 7] = 100;
    list[8 + 11] = 8;
    g_assert_cmpuint(run_out(4, unmap, list, 24, &c), ==, 0);
    read_file(path, 100 * 512, file, 8 * 512);
    for (size_t i = 0; i < 8 * 512; i++) {
        g_assert_cmphex(file[i], ==, 0);
    }
    del_device(d);
}

static void test_realize_errors(void)
{
    g_autofree char *path = make_image(64 * 1024);
    g_autofree char *dopts = g_strdup_printf("if=none,id=re,file=%s,format=raw", path);
    DeviceState *d;
    char *err;

    g_assert_null(add_device("scsi-hd,scsi-id=0", &err));
    g_assert_cmpstr(err, ==, "drive property not set");
    g_free(err);
    g_assert_null(add_device("scsi-cd,scsi-id=9", &err)); /* the bus's check first */
    g_assert_cmpstr(err, ==, "bad scsi device id: 9");
    g_free(err);
    g_assert_null(add_device("scsi-hd,lun=8", &err));
    g_assert_cmpstr(err, ==, "bad scsi device lun: 8");
    g_free(err);
    new_drive(dopts);
    g_assert_null(add_device("scsi-hd,drive=re,scsi-id=7", &err));
    g_assert_cmpstr(err, ==, "bad scsi device id: 7");
    g_free(err);
    g_assert_null(add_device("scsi-hd,drive=re,channel=1", &err));
    g_assert_cmpstr(err, ==, "bad scsi channel id: 1");
    g_free(err);
    g_assert_null(add_device("scsi-hd,drive=re,logical_block_size=1000", &err));
    g_assert_cmpstr(err, ==,
                    "Property .logical_block_size doesn't take value '1000', "
                    "it's not a power of 2");
    g_free(err);
    d = add_device("scsi-hd,drive=re,id=first", NULL);
    g_assert_cmpuint(((SCSIDevice *)d)->id, ==, 0);
    new_drive("if=none,id=re2,media=cdrom");
    g_assert_null(add_device("scsi-cd,drive=re2,scsi-id=0,lun=0", &err));
    g_assert_cmpstr(err, ==, "lun already used by 'first'");
    g_free(err);
    new_drive("if=none,id=re3");
    g_assert_null(add_device("scsi-hd,drive=re3", &err));
    g_assert_cmpstr(err, ==, "Device needs media, but drive is empty");
    g_free(err);
    blk_unref(blk_by_name("re2"));
    blk_unref(blk_by_name("re3"));
    del_device(d);
}

static void test_legacy_cmdline(void)
{
    g_autofree char *path = make_image(64 * 1024);
    g_autofree char *hd = g_strdup_printf("if=scsi,bus=0,unit=2,file=%s,format=raw", path);
    g_autofree char *cd = g_strdup_printf("if=scsi,bus=0,unit=4,file=%s,media=cdrom", path);
    uint8_t inquiry[16] = {0x12, 0, 0, 0, 36}, buf[64];
    Cmd c;

    new_drive(hd);
    new_drive(cd);
    g_assert_true(scsi_bus_legacy_handle_cmdline(&bus, 0, &error_abort));
    g_assert_nonnull(scsi_device_find(&bus, 2, 0));
    g_assert_nonnull(scsi_device_find(&bus, 4, 0));
    g_assert_cmpuint(run_in(2, inquiry, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[0], ==, 0x00);
    g_assert_cmpuint(run_in(4, inquiry, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[0], ==, 0x05);
    del_device(&scsi_device_find(&bus, 2, 0)->qdev);
    del_device(&scsi_device_find(&bus, 4, 0)->qdev);
}

static void test_cd_medium(void)
{
    g_autofree char *path = make_image(600 * 2048);
    g_autofree char *dopts = g_strdup_printf("if=none,id=cd1,file=%s,format=raw,media=cdrom", path);
    static const uint8_t tur[16] = {0}, rc10[16] = {0x25};
    uint8_t toc[16] = {0x43, 0, 0, 0, 0, 0, 0, 0, 0xff}, buf[2048 * 2];
    uint8_t gesn[16] = {0x4a, 1, 0, 0, 0x10, 0, 0, 0, 0xff};
    uint8_t conf[16] = {0x46, 0, 0, 0, 0, 0, 0, 0, 0xff};
    uint8_t ssu[16] = {0x1b}, pamr[16] = {0x1e}, cdb[16];
    BlockBackend *blk;
    DeviceState *d;
    Cmd c;

    new_drive(dopts);
    d = add_device("scsi-cd,drive=cd1,scsi-id=1", NULL);
    blk = blk_by_name("cd1");
    clear_ua(1);
    g_assert_cmpuint(run_in(1, rc10, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(ldl_be_p(buf), ==, 599);
    g_assert_cmpuint(ldl_be_p(buf + 4), ==, 2048);
    cdb10(cdb, 0x28, 2, 2);
    g_assert_cmpuint(run_in(1, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 4096);
    g_assert_cmphex(buf[0], ==, (2 * 2048 * 7 + 2 * 4) & 0xff);
    cdb10(cdb, 0x2a, 2, 1); /* a CD is read-only */
    expect_check(1, cdb, 0x7, 0x27, 0x00);

    /* READ TOC format 0: track 1 at 0, lead-out at 600; MSF; format 1. */
    g_assert_cmpuint(run_in(1, toc, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 20);
    g_assert_true(!memcmp(buf,
                          "\x00\x12\x01\x01\x00\x14\x01\x00\x00\x00\x00\x00"
                          "\x00\x16\xaa\x00\x00\x00\x02\x58",
                          20));
    toc[1] = 2;
    g_assert_cmpuint(run_in(1, toc, buf, sizeof(buf), &c), ==, 0);
    g_assert_true(!memcmp(buf + 16, "\x00\x00\x0a\x00", 4)); /* 600 + 150 = 0:10:00 */
    toc[2] = 1;
    g_assert_cmpuint(run_in(1, toc, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 12);
    toc[2] = 5;
    expect_check(1, toc, 0x5, 0x24, 0x00);

    g_assert_cmpuint(run_in(1, conf, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 40);
    g_assert_cmphex(buf[7], ==, 0x08); /* current profile: CD-ROM */
    g_assert_cmphex(buf[18], ==, 1);

    /* The monitor's eject with the tray locked: an eject request; START STOP refused. */
    pamr[4] = 1;
    g_assert_cmpuint(run_nodata(1, pamr), ==, 0);
    g_assert_true(blk_dev_is_medium_locked(blk));
    blk_dev_eject_request(blk, false);
    g_assert_cmpuint(run_in(1, gesn, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 8);
    g_assert_cmphex(buf[4], ==, 1); /* eject requested */
    g_assert_cmphex(buf[5], ==, 2); /* medium present */
    ssu[4] = 2;                     /* LoEj, stop: eject */
    expect_check(1, ssu, 0x5, 0x53, 0x02);
    pamr[4] = 0;
    g_assert_cmpuint(run_nodata(1, pamr), ==, 0);
    g_assert_cmpuint(run_nodata(1, ssu), ==, 0);
    g_assert_true(blk_dev_is_tray_open(blk));
    ssu[4] = 3; /* load */
    g_assert_cmpuint(run_nodata(1, ssu), ==, 0);
    g_assert_false(blk_dev_is_tray_open(blk));

    /* A medium change: NO MEDIUM once, then MEDIUM CHANGED once, then ready; GESN says
     * new medium. */
    blk_dev_change_media_cb(blk, true);
    run_in(1, tur, NULL, 0, &c);
    assert_sense(&c, 0x6, 0x3a, 0x00);
    run_in(1, tur, NULL, 0, &c);
    assert_sense(&c, 0x6, 0x28, 0x00);
    g_assert_cmpuint(run_nodata(1, tur), ==, 0);
    g_assert_cmpuint(run_in(1, gesn, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[4], ==, 2);
    g_assert_cmpuint(run_in(1, gesn, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmphex(buf[4], ==, 0);
    /* With REQUEST SENSE after each CHECK CONDITION (an HBA without autosense): the kept
     * sense first, then MEDIUM CHANGED on the next command. */
    blk_dev_change_media_cb(blk, true);
    expect_check(1, tur, 0x6, 0x3a, 0x00);
    expect_check(1, tur, 0x6, 0x28, 0x00);
    g_assert_cmpuint(run_nodata(1, tur), ==, 0);
    gesn[1] = 0; /* asynchronous notification is not supported */
    expect_check(1, gesn, 0x5, 0x24, 0x00);

    /* Disc information, mechanism status, DVD structure of a CD. */
    uint8_t di[16] = {0x51, 0, 0, 0, 0, 0, 0, 0, 0xff};
    g_assert_cmpuint(run_in(1, di, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 34);
    g_assert_cmphex(buf[2], ==, 0x0e);
    uint8_t ms[16] = {0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff};
    g_assert_cmpuint(run_in(1, ms, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 8);
    uint8_t dvd[16] = {0xad, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x04};
    expect_check(1, dvd, 0x5, 0x30, 0x00);
    /* Mode page 2Ah, and the CD's INQUIRY VPD list (no block limits). */
    uint8_t ms10[16] = {0x5a, 0x08, 0x2a, 0, 0, 0, 0, 0, 0xff};
    g_assert_cmpuint(run_in(1, ms10, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 8 + 22);
    g_assert_cmphex(buf[8], ==, 0x2a);
    g_assert_cmphex(buf[9], ==, 0x14);
    uint8_t vpd[16] = {0x12, 1, 0xb0, 0, 0xff};
    expect_check(1, vpd, 0x5, 0x24, 0x00);
    del_device(d);
}

/* A blkdebug drive failing reads of sector 8 (EIO) and writes of sector 16 (ENOSPC). */
static DeviceState *new_failing_disk(const char *id, const char *policy, bool once, char **img_out)
{
    g_autofree char *img = make_image(64 * 1024);
    g_autofree char *rules = NULL;
    g_autofree char *conf = g_strdup_printf("[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\n"
                                            "sector = \"8\"\nonce = \"%s\"\n\n"
                                            "[inject-error]\nevent = \"write_aio\"\n"
                                            "errno = \"28\"\nsector = \"16\"\nonce = \"%s\"\n",
                                            once ? "on" : "off", once ? "on" : "off");
    int fd = g_file_open_tmp("scsi-blkdebug-XXXXXX.conf", &rules, NULL);
    g_autofree char *dopts = NULL;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, conf, strlen(conf)), ==, (ssize_t)strlen(conf));
    close(fd);
    dopts =
        g_strdup_printf("if=none,id=%s,file=blkdebug:%s:%s,format=raw,%s", id, rules, img, policy);
    new_drive(dopts);
    unlink(rules);
    if (img_out) {
        *img_out = g_strdup(img);
    }
    g_autofree char *dev = g_strdup_printf("scsi-hd,drive=%s,scsi-id=2", id);
    return add_device(dev, NULL);
}

static void test_error_report_ignore(void)
{
    DeviceState *d = new_failing_disk("ep", "rerror=report,werror=report", false, NULL);
    uint8_t cdb[16], buf[4096] = {0};
    Cmd c;

    clear_ua(2);
    cdb10(cdb, 0x28, 6, 4);
    expect_check(2, cdb, 0xb, 0x00, 0x06); /* I/O process terminated, as QEMU */
    cdb10(cdb, 0x2a, 16, 1);
    g_assert_cmpuint(run_out(2, cdb, buf, 512, &c), ==, SCSI_STATUS_CHECK_CONDITION);
    assert_sense(&c, 0x7, 0x27, 0x07); /* space allocation failed */
    cdb10(cdb, 0x28, 0, 4);            /* elsewhere: fine */
    g_assert_cmpuint(run_in(2, cdb, buf, sizeof(buf), &c), ==, 0);
    del_device(d);

    d = new_failing_disk("ep2", "rerror=ignore,werror=ignore", false, NULL);
    clear_ua(2);
    cdb10(cdb, 0x28, 8, 1);
    g_assert_cmpuint(run_in(2, cdb, buf, sizeof(buf), &c), ==, 0);
    g_assert_cmpuint(c.pos, ==, 512);
    cdb10(cdb, 0x2a, 16, 1);
    g_assert_cmpuint(run_out(2, cdb, buf, 512, &c), ==, 0);
    del_device(d);
}

static void test_error_stop_retry(void)
{
    g_autofree char *img = NULL;
    DeviceState *d = new_failing_disk("es", "rerror=stop,werror=stop", true, &img);
    BlockBackend *blk = blk_by_name("es");
    uint8_t cdb[16], out[1024], file[1024];
    SCSIRequest *req;
    Cmd c = {0};

    clear_ua(2);
    memset(out, 0x3c, sizeof(out));
    cdb10(cdb, 0x2a, 15, 2);
    c.out = true;
    c.data = out;
    c.cap = sizeof(out);
    req = scsi_req_new(&bus, 2, 0, 1, cdb, 10, &c);
    g_assert_cmpint(scsi_req_enqueue(req), ==, -1024);
    for (int i = 0; i < 200 && blk_iostatus(blk) == BLOCK_DEVICE_IO_STATUS_OK; i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    /* Kept, not completed; `cont` retries it. */
    g_assert_cmpint(blk_iostatus(blk), ==, BLOCK_DEVICE_IO_STATUS_NOSPACE);
    g_assert_false(c.done);
    blk_iostatus_reset(blk);
    blk_dev_retry_requests(blk);
    wait_done(&c);
    g_assert_cmpuint(c.status, ==, 0);
    scsi_req_unref(req);
    read_file(img, 15 * 512, file, sizeof(file));
    g_assert_true(!memcmp(file, out, sizeof(file)));

    /* A request kept by stop and then cancelled by a bus reset goes quietly. */
    cdb10(cdb, 0x28, 8, 1);
    memset(&c, 0, sizeof(c));
    c.data = file;
    c.cap = sizeof(file);
    req = scsi_req_new(&bus, 2, 0, 2, cdb, 10, &c);
    g_assert_cmpint(scsi_req_enqueue(req), ==, 512);
    for (int i = 0; i < 200 && blk_iostatus(blk) == BLOCK_DEVICE_IO_STATUS_OK; i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_cmpint(blk_iostatus(blk), ==, BLOCK_DEVICE_IO_STATUS_FAILED);
    scsi_bus_reset(&bus);
    g_assert_true(c.cancelled);
    g_assert_false(c.done);
    scsi_req_unref(req);
    blk_iostatus_reset(blk);
    blk_dev_retry_requests(blk);
    del_device(d);
}

/* A bus reset while a read is in the drive: cancelled, its completion dropped. */
static void test_cancel_in_flight(void)
{
    DeviceState *d = new_disk("cn", DISK_BLOCKS * 512, NULL, "scsi-hd,scsi-id=3", NULL);
    g_autofree uint8_t *buf = g_malloc(DISK_BLOCKS * 512);
    uint8_t cdb[16];
    SCSIRequest *req;
    Cmd c = {0};

    clear_ua(3);
    c.data = buf;
    c.cap = DISK_BLOCKS * 512;
    cdb10(cdb, 0x28, 0, DISK_BLOCKS);
    req = scsi_req_new(&bus, 3, 0, 3, cdb, 10, &c);
    g_assert_cmpint(scsi_req_enqueue(req), ==, DISK_BLOCKS * 512);
    scsi_req_cancel(req);
    g_assert_true(c.cancelled);
    scsi_req_unref(req);
    blk_drain(blk_by_name("cn"));
    g_assert_false(c.done);
    g_assert_cmpuint(c.chunks, ==, 0);
    clear_ua(3);
    del_device(d);
}

/* Random CDBs, half of them with a known opcode, to a disk and a CD: every one completes
 * (or moves its data and completes), nothing is read or written outside the buffers. */
static void test_random_cdbs(void)
{
    static const uint8_t ops[] = {0x00, 0x03, 0x08, 0x0a, 0x12, 0x15, 0x1a, 0x1b, 0x1e,
                                  0x25, 0x28, 0x2a, 0x2b, 0x2e, 0x2f, 0x35, 0x41, 0x42,
                                  0x43, 0x46, 0x4a, 0x51, 0x55, 0x5a, 0x88, 0x8a, 0x93,
                                  0x9e, 0xa0, 0xa8, 0xaa, 0xad, 0xbd, 0x91, 0x16, 0x56};
    g_autofree char *cdpath = make_image(64 * 2048);
    g_autofree char *cdopts =
        g_strdup_printf("if=none,id=rcd,file=%s,format=raw,media=cdrom", cdpath);
    g_autofree uint8_t *buf = g_malloc(256 * 1024);
    DeviceState *hd = new_disk("rnd", 256 * 1024, "discard=unmap", "scsi-hd,scsi-id=0", NULL);
    DeviceState *cd;
    GRand *rand = g_rand_new_with_seed(42);
    unsigned good = 0, moved = 0;
    Cmd c;

    new_drive(cdopts);
    cd = add_device("scsi-cd,drive=rcd,scsi-id=1", NULL);
    for (int i = 0; i < 20000; i++) {
        uint8_t cdb[16];
        unsigned len = g_rand_int_range(rand, 0, 4) ? 16 : g_rand_int_range(rand, 0, 17);
        uint32_t id = g_rand_boolean(rand);
        uint32_t lun = g_rand_int_range(rand, 0, 8) == 0 ? 1 : 0;
        bool out = g_rand_boolean(rand);

        for (int j = 0; j < 16; j++) {
            cdb[j] = g_rand_int(rand);
        }
        if (g_rand_boolean(rand)) {
            cdb[0] = ops[g_rand_int_range(rand, 0, G_N_ELEMENTS(ops))];
            cdb[2] = cdb[3] = cdb[4] = cdb[5] = 0; /* small LBAs reach the medium */
            if (g_rand_boolean(rand)) {
                cdb[6] = cdb[7] = 0;
            }
            if (g_rand_boolean(rand)) {
                cdb[1] &= 0x09; /* no protection or reserved bits, maybe FUA, EVPD, NDOB */
            }
        }
        for (size_t j = 0; j < 4096; j++) {
            buf[j] = g_rand_int(rand);
        }
        run_cdb_len(id, lun, cdb, len, out, buf, 256 * 1024, &c);
        g_assert_true(c.done);
        g_assert_true(c.status == SCSI_STATUS_GOOD || c.status == SCSI_STATUS_CHECK_CONDITION);
        good += c.status == SCSI_STATUS_GOOD;
        moved += c.pos > 0;
    }
    g_test_message("%u GOOD, %u moved data", good, moved);
    g_assert_cmpuint(good, >, 1000);
    g_rand_free(rand);
    del_device(cd);
    del_device(hd);
}

/* device_add and device_del of a scsi-hd after start-up, the latter with a read in the
 * drive: the request is cancelled, the drive from -drive goes with the device. */
static void test_hot_unplug(void)
{
    g_autofree uint8_t *buf = g_malloc(DISK_BLOCKS * 512);
    g_autofree char *path = make_image(DISK_BLOCKS * 512);
    g_autofree char *dopts = g_strdup_printf("if=none,id=hot,file=%s,format=raw", path);
    uint8_t cdb[16];
    SCSIRequest *req;
    Error *err = NULL;
    Cmd c = {0};

    qdev_machine_creation_done();
    new_drive(dopts);
    g_assert_nonnull(add_device("scsi-hd,drive=hot,scsi-id=6,id=hotdisk", NULL));
    clear_ua(6);
    c.data = buf;
    c.cap = DISK_BLOCKS * 512;
    cdb10(cdb, 0x28, 0, DISK_BLOCKS);
    req = scsi_req_new(&bus, 6, 0, 9, cdb, 10, &c);
    g_assert_cmpint(scsi_req_enqueue(req), ==, DISK_BLOCKS * 512);
    g_assert_true(qdev_unplug("hotdisk", &err));
    g_assert_null(err);
    g_assert_true(c.cancelled);
    g_assert_false(c.done);
    scsi_req_unref(req);
    g_assert_null(qdev_find("hotdisk"));
    g_assert_null(blk_by_name("hot"));
    g_assert_false(scsi_target_exists(&bus, 6));
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    scsi_bus_init(&bus, NULL, "scsi0.0", 7, 8, &hba_ops, NULL);
    g_test_add_func("/scsi-disk/inquiry", test_inquiry);
    g_test_add_func("/scsi-disk/unit-attention", test_unit_attention);
    g_test_add_func("/scsi-disk/read-write", test_read_write);
    g_test_add_func("/scsi-disk/out-of-range", test_out_of_range);
    g_test_add_func("/scsi-disk/invalid-opcode", test_invalid_opcode);
    g_test_add_func("/scsi-disk/missing-lun", test_missing_lun);
    g_test_add_func("/scsi-disk/mode-sense-select", test_mode_sense_select);
    g_test_add_func("/scsi-disk/read-capacity", test_read_capacity);
    g_test_add_func("/scsi-disk/cd-no-medium", test_cd_no_medium);
    g_test_add_func("/scsi-disk/sync-cache", test_sync_cache);
    g_test_add_func("/scsi-disk/resize", test_resize);
    g_test_add_func("/scsi-disk/hostile", test_hostile);
    g_test_add_func("/scsi-disk/write-same-unmap", test_write_same_unmap);
    g_test_add_func("/scsi-disk/realize-errors", test_realize_errors);
    g_test_add_func("/scsi-disk/legacy-cmdline", test_legacy_cmdline);
    g_test_add_func("/scsi-disk/cd-medium", test_cd_medium);
    g_test_add_func("/scsi-disk/error-report-ignore", test_error_report_ignore);
    g_test_add_func("/scsi-disk/error-stop-retry", test_error_stop_retry);
    g_test_add_func("/scsi-disk/cancel-in-flight", test_cancel_in_flight);
    g_test_add_func("/scsi-disk/random-cdbs", test_random_cdbs);
    g_test_add_func("/scsi-disk/hot-unplug", test_hot_unplug); /* last: start-up is over */
    images = g_ptr_array_new_with_free_func(g_free);
    ret = g_test_run();
    remove_images();
    return ret;
}
