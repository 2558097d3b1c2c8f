/*
 * Unit tests for -drive (blockdev/drive-*.c) and the throttle configuration checks: tables
 * of option strings and the drive they describe (interface, bus, unit, id, media, open flags,
 * policies, throttling) or QEMU 2.2's exact message, one per branch of its drive_new() and
 * blockdev_init(). The parse step runs against a fake world of taken slots and known
 * formats, so no image is opened here.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "block/throttle-config.h"
#include "util/qdict.h"

/* ---- A fake world: taken (type, bus, unit) slots and the known formats ---- */

typedef struct Slot {
    BlockInterfaceType type;
    int bus, unit;
} Slot;

static const Slot *taken_slots;

static bool fake_slot_taken(BlockInterfaceType type, int bus, int unit, void *opaque)
{
    for (const Slot *s = taken_slots; s && s->type != IF_COUNT; s++) {
        if (s->type == type && s->bus == bus && s->unit == unit) {
            return true;
        }
    }
    return false;
}

static bool fake_format_exists(const char *format, void *opaque)
{
    return !strcmp(format, "raw") || !strcmp(format, "qcow2") || !strcmp(format, "file");
}

static const DriveEnv fake_env = {IF_IDE, fake_slot_taken, fake_format_exists, NULL};

/* Parse optstr with slots taken; on failure return the message (g_free it), else NULL. */
static char *parse(const char *optstr, const Slot *taken, DriveConfig *cfg)
{
    Error *err = NULL;
    Opts *opts = drive_def(optstr, &err);
    char *msg = NULL;

    taken_slots = taken;
    if (opts && !drive_parse(opts, &fake_env, cfg, &err)) {
        opts = (opts_free(opts), NULL);
    }
    if (err) {
        msg = g_strdup(error_get_pretty(err));
        error_free(err);
    }
    opts_free(opts);
    taken_slots = NULL;
    return msg;
}

static void parse_ok(const char *optstr, const Slot *taken, DriveConfig *cfg)
{
    g_autofree char *msg = parse(optstr, taken, cfg);

    if (msg) {
        g_error("-drive %s: unexpected error: %s", optstr, msg);
    }
}

static const Slot ide_0_0[] = {{IF_IDE, 0, 0}, {IF_COUNT}};
static const Slot ide_bus0_full[] = {{IF_IDE, 0, 0}, {IF_IDE, 0, 1}, {IF_COUNT}};
static const Slot virtio_0[] = {{IF_VIRTIO, 0, 0}, {IF_COUNT}};

/* ---- Errors ---- */

static const struct {
    const char *optstr;
    const Slot *taken;
    const char *error;
} error_cases[] = {
    /* drive_def */
    {"id=1abc,file=x", NULL, "Parameter 'id' expects an identifier"},
    /* legacy renames */
    {"iops=1,throttling.iops-total=2", NULL,
     "'throttling.iops-total' and its alias 'iops' can't be used at the same time"},
    {"bps_wr_max=1,throttling.bps-write-max=1", NULL,
     "'throttling.bps-write-max' and its alias 'bps_wr_max' can't be used at the same time"},
    {"iops_size=1,throttling.iops-size=1", NULL,
     "'throttling.iops-size' and its alias 'iops_size' can't be used at the same time"},
    {"readonly=on,read-only=off", NULL,
     "'read-only' and its alias 'readonly' can't be used at the same time"},
    /* cache= */
    {"cache=fast", NULL, "invalid cache option"},
    /* legacy option types */
    {"bus=one", NULL, "Parameter 'bus' expects a number"},
    {"index=1k", NULL, "Parameter 'index' expects a number"},
    {"boot=maybe", NULL, "Parameter 'boot' expects 'on' or 'off'"},
    {"readonly=maybe", NULL, "Parameter 'read-only' expects 'on' or 'off'"},
    {"copy-on-read=2", NULL, "Parameter 'copy-on-read' expects 'on' or 'off'"},
    /* media, interface */
    {"media=floppy", NULL, "'floppy' invalid media"},
    {"media=floppy,if=usb", NULL, "'floppy' invalid media"},
    {"if=usb", NULL, "unsupported bus type 'usb'"},
    {"if=IDE", NULL, "unsupported bus type 'IDE'"},
    /* geometry */
    {"heads=16,secs=63", NULL, "invalid physical cyls number"},
    {"cyls=100,secs=63", NULL, "invalid physical heads number"},
    {"cyls=100,heads=16", NULL, "invalid physical secs number"},
    {"cyls=4294967296,heads=16,secs=63", NULL, "invalid physical cyls number"},
    {"trans=lba", NULL, "'lba' trans must be used with cyls, heads and secs"},
    {"cyls=100,heads=16,secs=63,trans=chs", NULL, "'chs' invalid translation type"},
    {"media=cdrom,cyls=100,heads=16,secs=63", NULL, "CHS can't be set with media=cdrom"},
    /* bus, unit, index */
    {"index=1,bus=1", NULL, "index cannot be used with bus and unit"},
    {"index=1,unit=0", NULL, "index cannot be used with bus and unit"},
    {"if=ide,unit=2", NULL, "unit 2 too big (max is 1)"},
    {"if=scsi,bus=1,unit=7", NULL, "unit 7 too big (max is 6)"},
    {"if=ide,index=0", ide_0_0, "drive with bus=0, unit=0 (index=0) exists"},
    {"if=ide,unit=0", ide_0_0, "drive with bus=0, unit=0 (index=-1) exists"},
    {"if=virtio,index=0", virtio_0, "drive with bus=0, unit=0 (index=0) exists"},
    /* addr, werror, rerror per interface */
    {"if=ide,addr=05.0", NULL, "addr is not supported by this bus type"},
    {"addr=5", NULL, "addr is not supported by this bus type"},
    {"if=floppy,werror=stop", NULL, "werror is not supported by this bus type"},
    {"if=sd,rerror=stop", NULL, "rerror is not supported by this bus type"},
    {"if=pflash,werror=report,rerror=report", NULL, "werror is not supported by this bus type"},
    {"if=mtd,rerror=ignore", NULL, "rerror is not supported by this bus type"},
    {"if=xen,werror=ignore", NULL, "werror is not supported by this bus type"},
    /* common option types */
    {"snapshot=maybe", NULL, "Parameter 'snapshot' expects 'on' or 'off'"},
    {"cache.direct=2", NULL, "Parameter 'cache.direct' expects 'on' or 'off'"},
    {"throttling.bps-total=1k", NULL, "Parameter 'throttling.bps-total' expects a number"},
    {"iops_rd=x", NULL, "Parameter 'throttling.iops-read' expects a number"},
    /* blockdev_init */
    {"discard=trim", NULL, "invalid discard option"},
    {"discard=trim,aio=posix", NULL, "invalid discard option"},
    {"aio=posix", NULL, "invalid aio option"},
    {"format=vmdk", NULL, "'vmdk' invalid format"},
    {"format=vmdk,werror=bad", NULL, "'vmdk' invalid format"},
    {"bps=1,bps_rd=1", NULL,
     "bps/iops/max total values and read/write values cannot be used at the same time"},
    {"throttling.iops-total=1,throttling.iops-write=1", NULL,
     "bps/iops/max total values and read/write values cannot be used at the same time"},
    {"bps_max=1,bps_wr_max=1", NULL,
     "bps/iops/max total values and read/write values cannot be used at the same time"},
    {"iops_max=1,iops_rd_max=1", NULL,
     "bps/iops/max total values and read/write values cannot be used at the same time"},
    {"bps=-1", NULL, "bps/iops/maxs values must be 0 or greater"},
    {"iops_wr_max=-5", NULL, "bps/iops/maxs values must be 0 or greater"},
    {"werror=halt", NULL, "'halt' invalid write error action"},
    {"rerror=enospc", NULL, "'enospc' invalid read error action"},
    {"if=none,rerror=halt", NULL, "'halt' invalid read error action"},
    {"detect-zeroes=yes", NULL, "invalid parameter value: yes"},
    {"detect-zeroes=unmap", NULL,
     "setting detect-zeroes to unmap is not allowed without setting discard operation to "
     "unmap"},
    {"detect-zeroes=unmap,discard=ignore", NULL,
     "setting detect-zeroes to unmap is not allowed without setting discard operation to "
     "unmap"},
};

static void test_errors(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(error_cases); i++) {
        DriveConfig cfg;
        g_autofree char *msg = parse(error_cases[i].optstr, error_cases[i].taken, &cfg);

        if (g_strcmp0(msg, error_cases[i].error) != 0) {
            g_error("-drive %s: got \"%s\", expected \"%s\"", error_cases[i].optstr,
                    msg ? msg : "(no error)", error_cases[i].error);
        }
    }
}

/* ---- Interface, bus, unit, id, media ---- */

static const struct {
    const char *optstr;
    const Slot *taken;
    BlockInterfaceType type;
    int bus, unit, index;
    const char *id;
    bool media_cd;
} address_cases[] = {
    {"file=a.img", NULL, IF_IDE, 0, 0, -1, "ide0-hd0", false},
    {"file=a.img", ide_0_0, IF_IDE, 0, 1, -1, "ide0-hd1", false},
    {"file=a.img", ide_bus0_full, IF_IDE, 1, 0, -1, "ide1-hd0", false},
    {"if=ide,bus=1", NULL, IF_IDE, 1, 0, -1, "ide1-hd0", false},
    {"if=ide,unit=1", NULL, IF_IDE, 0, 1, -1, "ide0-hd1", false},
    {"if=ide,index=3", NULL, IF_IDE, 1, 1, 3, "ide1-hd1", false},
    {"if=ide,index=2,media=cdrom", NULL, IF_IDE, 1, 0, 2, "ide1-cd0", true},
    {"index=-1", NULL, IF_IDE, 0, 0, -1, "ide0-hd0", false},
    {"media=disk", NULL, IF_IDE, 0, 0, -1, "ide0-hd0", false},
    {"if=scsi", NULL, IF_SCSI, 0, 0, -1, "scsi0-hd0", false},
    {"if=scsi,index=12", NULL, IF_SCSI, 1, 5, 12, "scsi1-hd5", false},
    {"if=scsi,bus=2,unit=6,media=cdrom", NULL, IF_SCSI, 2, 6, -1, "scsi2-cd6", true},
    {"if=virtio", NULL, IF_VIRTIO, 0, 0, -1, "virtio0", false},
    {"if=virtio", virtio_0, IF_VIRTIO, 0, 1, -1, "virtio1", false},
    {"if=virtio,index=9", NULL, IF_VIRTIO, 0, 9, 9, "virtio9", false},
    {"if=virtio,bus=3", NULL, IF_VIRTIO, 3, 0, -1, "virtio0", false},
    {"if=virtio,media=cdrom", NULL, IF_VIRTIO, 0, 0, -1, "virtio0", true},
    {"if=floppy", NULL, IF_FLOPPY, 0, 0, -1, "floppy0", false},
    {"if=floppy,index=1", NULL, IF_FLOPPY, 0, 1, 1, "floppy1", false},
    {"if=sd", NULL, IF_SD, 0, 0, -1, "sd0", false},
    {"if=pflash,unit=2", NULL, IF_PFLASH, 0, 2, -1, "pflash2", false},
    {"if=mtd", NULL, IF_MTD, 0, 0, -1, "mtd0", false},
    {"if=none", NULL, IF_NONE, 0, 0, -1, "none0", false},
    {"if=none,media=cdrom", NULL, IF_NONE, 0, 0, -1, "none0", true},
    {"if=xen", NULL, IF_XEN, 0, 0, -1, "xen0", false},
    {"if=none,id=disk1,file=x", NULL, IF_NONE, 0, 0, -1, "disk1", false},
    {"id=cd,media=cdrom,file=x", NULL, IF_IDE, 0, 0, -1, "cd", true},
};

static void test_address(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(address_cases); i++) {
        DriveConfig cfg;

        parse_ok(address_cases[i].optstr, address_cases[i].taken, &cfg);
        g_test_message("-drive %s", address_cases[i].optstr);
        g_assert_cmpint(cfg.type, ==, address_cases[i].type);
        g_assert_cmpint(cfg.bus, ==, address_cases[i].bus);
        g_assert_cmpint(cfg.unit, ==, address_cases[i].unit);
        g_assert_cmpint(cfg.index, ==, address_cases[i].index);
        g_assert_cmpstr(cfg.id, ==, address_cases[i].id);
        g_assert_cmpint(cfg.media_cd, ==, address_cases[i].media_cd);
        g_assert_cmpint(cfg.read_only, ==, address_cases[i].media_cd);
        drive_config_clear(&cfg);
    }
}

static void test_default_type(void)
{
    DriveEnv env = fake_env;
    DriveConfig cfg;
    Opts *opts = drive_def("file=x", &error_abort);

    env.default_type = IF_VIRTIO;
    g_assert_true(drive_parse(opts, &env, &cfg, &error_abort));
    g_assert_cmpint(cfg.type, ==, IF_VIRTIO);
    g_assert_cmpstr(cfg.id, ==, "virtio0");
    drive_config_clear(&cfg);
    opts_free(opts);
}

/* ---- Open flags ---- */

#define RW_WB (BDRV_O_RDWR | BDRV_O_CACHE_WB)

static const struct {
    const char *optstr;
    int flags;
} flag_cases[] = {
    {"file=x", RW_WB},
    {"file=x,cache=writeback", RW_WB},
    {"file=x,cache=writethrough", BDRV_O_RDWR},
    {"file=x,cache=none", RW_WB | BDRV_O_NOCACHE},
    {"file=x,cache=off", RW_WB | BDRV_O_NOCACHE},
    {"file=x,cache=directsync", BDRV_O_RDWR | BDRV_O_NOCACHE},
    {"file=x,cache=unsafe", RW_WB | BDRV_O_NO_FLUSH},
    {"file=x,cache=none,cache.direct=off", RW_WB},
    {"file=x,cache.writeback=off,cache=unsafe", BDRV_O_RDWR | BDRV_O_NO_FLUSH},
    {"file=x,cache.direct=on", RW_WB | BDRV_O_NOCACHE},
    {"file=x,cache.no-flush=on", RW_WB | BDRV_O_NO_FLUSH},
    {"file=x,cache.writeback=off", BDRV_O_RDWR},
    {"file=x,snapshot=on,cache=directsync", RW_WB | BDRV_O_SNAPSHOT | BDRV_O_NO_FLUSH},
    {"file=x,snapshot", RW_WB | BDRV_O_SNAPSHOT | BDRV_O_NO_FLUSH},
    {"file=x,snapshot=off", RW_WB},
    {"file=x,aio=threads", RW_WB},
    {"file=x,aio=native,cache=none", RW_WB | BDRV_O_NOCACHE | BDRV_O_NATIVE_AIO},
    {"file=x,aio=native", RW_WB | BDRV_O_NATIVE_AIO},
    {"file=x,discard=unmap", RW_WB | BDRV_O_UNMAP},
    {"file=x,discard=on", RW_WB | BDRV_O_UNMAP},
    {"file=x,discard=off", RW_WB},
    {"file=x,discard=ignore", RW_WB},
    {"file=x,copy-on-read=on", RW_WB | BDRV_O_COPY_ON_READ},
    {"file=x,readonly=on", BDRV_O_CACHE_WB},
    {"file=x,read-only=on", BDRV_O_CACHE_WB},
    {"file=x,media=cdrom", BDRV_O_CACHE_WB},
    {"file=x,media=cdrom,read-only=off", BDRV_O_CACHE_WB},
};

static void test_flags(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(flag_cases); i++) {
        DriveConfig cfg;

        parse_ok(flag_cases[i].optstr, NULL, &cfg);
        if (cfg.flags != flag_cases[i].flags) {
            g_error("-drive %s: flags 0x%x, expected 0x%x", flag_cases[i].optstr, cfg.flags,
                    flag_cases[i].flags);
        }
        drive_config_clear(&cfg);
    }
}

/* ---- Policies: error actions, detect-zeroes, geometry, format ---- */

static void test_error_actions(void)
{
    static const struct {
        const char *optstr;
        BlockdevOnError rerror, werror;
    } cases[] = {
        {"file=x", BLOCKDEV_ON_ERROR_REPORT, BLOCKDEV_ON_ERROR_ENOSPC},
        {"werror=stop,rerror=ignore", BLOCKDEV_ON_ERROR_IGNORE, BLOCKDEV_ON_ERROR_STOP},
        {"if=virtio,werror=report,rerror=stop", BLOCKDEV_ON_ERROR_STOP, BLOCKDEV_ON_ERROR_REPORT},
        {"if=scsi,werror=ignore,rerror=report", BLOCKDEV_ON_ERROR_REPORT, BLOCKDEV_ON_ERROR_IGNORE},
        {"if=none,werror=enospc", BLOCKDEV_ON_ERROR_REPORT, BLOCKDEV_ON_ERROR_ENOSPC},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        DriveConfig cfg;

        parse_ok(cases[i].optstr, NULL, &cfg);
        g_assert_cmpint(cfg.on_read_error, ==, cases[i].rerror);
        g_assert_cmpint(cfg.on_write_error, ==, cases[i].werror);
        drive_config_clear(&cfg);
    }
}

static void test_detect_zeroes(void)
{
    static const struct {
        const char *optstr;
        BlockdevDetectZeroesOptions dz;
    } cases[] = {
        {"file=x", BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF},
        {"detect-zeroes=off", BLOCKDEV_DETECT_ZEROES_OPTIONS_OFF},
        {"detect-zeroes=on", BLOCKDEV_DETECT_ZEROES_OPTIONS_ON},
        {"detect-zeroes=unmap,discard=unmap", BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP},
        {"discard=on,detect-zeroes=unmap", BLOCKDEV_DETECT_ZEROES_OPTIONS_UNMAP},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        DriveConfig cfg;

        parse_ok(cases[i].optstr, NULL, &cfg);
        g_assert_cmpint(cfg.detect_zeroes, ==, cases[i].dz);
        drive_config_clear(&cfg);
    }
}

static void test_geometry(void)
{
    static const struct {
        const char *optstr;
        int cyls, heads, secs;
        BiosAtaTranslation trans;
    } cases[] = {
        {"file=x", 0, 0, 0, BIOS_ATA_TRANSLATION_AUTO},
        {"cyls=1024,heads=16,secs=63", 1024, 16, 63, BIOS_ATA_TRANSLATION_AUTO},
        {"cyls=100,heads=16,secs=63,trans=none", 100, 16, 63, BIOS_ATA_TRANSLATION_NONE},
        {"cyls=100,heads=16,secs=63,trans=lba", 100, 16, 63, BIOS_ATA_TRANSLATION_LBA},
        {"cyls=100,heads=16,secs=63,trans=large", 100, 16, 63, BIOS_ATA_TRANSLATION_LARGE},
        {"cyls=100,heads=16,secs=63,trans=rechs", 100, 16, 63, BIOS_ATA_TRANSLATION_RECHS},
        {"cyls=100,heads=16,secs=63,trans=auto", 100, 16, 63, BIOS_ATA_TRANSLATION_AUTO},
        /* 2.2 leaves the ranges to the device model. */
        {"cyls=70000,heads=300,secs=0x100", 70000, 300, 256, BIOS_ATA_TRANSLATION_AUTO},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        DriveConfig cfg;

        parse_ok(cases[i].optstr, NULL, &cfg);
        g_assert_cmpint(cfg.cyls, ==, cases[i].cyls);
        g_assert_cmpint(cfg.heads, ==, cases[i].heads);
        g_assert_cmpint(cfg.secs, ==, cases[i].secs);
        g_assert_cmpint(cfg.trans, ==, cases[i].trans);
        drive_config_clear(&cfg);
    }
}

static void test_names(void)
{
    DriveConfig cfg;

    parse_ok("if=virtio,file=a,,b.img,serial=QM0001,addr=06.0,format=qcow2", NULL, &cfg);
    g_assert_cmpstr(cfg.file, ==, "a,b.img");
    g_assert_cmpstr(cfg.serial, ==, "QM0001");
    g_assert_cmpstr(cfg.devaddr, ==, "06.0");
    g_assert_cmpstr(cfg.format, ==, "qcow2");
    g_assert_false(cfg.format_help);
    drive_config_clear(&cfg);

    parse_ok("format=help", NULL, &cfg);
    g_assert_true(cfg.format_help);
    drive_config_clear(&cfg);
    parse_ok("format=?", NULL, &cfg);
    g_assert_true(cfg.format_help);
    drive_config_clear(&cfg);
}

/* ---- Throttling ---- */

static void test_throttle(void)
{
    DriveConfig cfg;
    const ThrottleBucketConfig *b;

    parse_ok("file=x,iops=100,bps_rd=10,bps_wr=20,iops_max=200,bps_rd_max=30,"
             "throttling.bps-write-max=40,iops_size=4096",
             NULL, &cfg);
    b = cfg.throttle.buckets;
    g_assert_cmpuint(b[THROTTLE_OPS_TOTAL].avg, ==, 100);
    g_assert_cmpuint(b[THROTTLE_OPS_TOTAL].max, ==, 200);
    g_assert_cmpuint(b[THROTTLE_BPS_READ].avg, ==, 10);
    g_assert_cmpuint(b[THROTTLE_BPS_READ].max, ==, 30);
    g_assert_cmpuint(b[THROTTLE_BPS_WRITE].avg, ==, 20);
    g_assert_cmpuint(b[THROTTLE_BPS_WRITE].max, ==, 40);
    g_assert_cmpuint(b[THROTTLE_BPS_TOTAL].avg, ==, 0);
    g_assert_cmpuint(b[THROTTLE_OPS_READ].avg, ==, 0);
    for (int i = 0; i < THROTTLE_BUCKET_MAX; i++) {
        g_assert_cmpuint(b[i].burst_length, ==, 1);
    }
    g_assert_cmpuint(cfg.throttle.op_size, ==, 4096);
    g_assert_true(throttle_enabled(&cfg.throttle));
    g_assert_false(dict_has(cfg.driver_opts, "iops"));
    drive_config_clear(&cfg);

    parse_ok("file=x", NULL, &cfg);
    g_assert_false(throttle_enabled(&cfg.throttle));
    drive_config_clear(&cfg);
}

static void test_throttle_config(void)
{
    ThrottleConfig cfg;
    Error *err = NULL;

    throttle_config_init(&cfg);
    g_assert_false(throttle_enabled(&cfg));
    g_assert_false(throttle_conflicting(&cfg, &error_abort));
    g_assert_true(throttle_is_valid(&cfg, &error_abort));

    /* A burst alone does not enable throttling in 2.2; a burst below avg is valid. */
    cfg.buckets[THROTTLE_BPS_TOTAL].max = 10;
    g_assert_false(throttle_enabled(&cfg));
    cfg.buckets[THROTTLE_BPS_TOTAL].avg = 100;
    g_assert_true(throttle_enabled(&cfg));
    g_assert_true(throttle_is_valid(&cfg, &error_abort));

    /* Kinds do not conflict with each other. */
    cfg.buckets[THROTTLE_OPS_READ].avg = 5;
    cfg.buckets[THROTTLE_OPS_WRITE].max = 5;
    g_assert_false(throttle_conflicting(&cfg, &error_abort));
    cfg.buckets[THROTTLE_BPS_WRITE].avg = 1;
    g_assert_true(throttle_conflicting(&cfg, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "bps/iops/max total values and read/write "
                    "values cannot be used at the same time");
    error_free(err);
    err = NULL;

    cfg.buckets[THROTTLE_OPS_READ].max = (uint64_t)INT64_MAX + 1;
    g_assert_false(throttle_is_valid(&cfg, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "bps/iops/maxs values must be 0 or greater");
    error_free(err);
    cfg.buckets[THROTTLE_OPS_READ].max = INT64_MAX;
    g_assert_true(throttle_is_valid(&cfg, NULL));
}

/* ---- Empty drives and the options passed to the driver ---- */

static void test_driver_opts(void)
{
    static const struct {
        const char *optstr;
        bool empty;
        const char *driver_keys; /* sorted, comma-separated */
    } cases[] = {
        {"if=ide", true, ""},
        {"media=cdrom,if=ide,index=2", true, ""},
        {"file=", true, ""},
        {"file=x,cache=none,aio=native,bps=5,werror=stop,snapshot=on,serial=s", false, ""},
        {"file=x,format=raw,detect-zeroes=on,discard=unmap,copy-on-read=on", false, ""},
        {"file.filename=x", false, "file.filename"},
        {"file=,driver=raw", false, "driver"},
        {"file=x,driver=qcow2,lazy-refcounts=on,backing.file.filename=b", false,
         "backing.file.filename,driver,lazy-refcounts"},
        {"file=x,node-name=n1,file.driver=file", false, "file.driver,node-name"},
        {"id=d0,if=none", true, ""},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        DriveConfig cfg;
        g_auto(GStrv) keys = NULL;
        g_autofree char *joined = NULL;

        parse_ok(cases[i].optstr, NULL, &cfg);
        keys = dict_keys_sorted(cfg.driver_opts);
        joined = g_strjoinv(",", keys);
        g_test_message("-drive %s", cases[i].optstr);
        g_assert_cmpint(cfg.empty, ==, cases[i].empty);
        g_assert_cmpstr(joined, ==, cases[i].driver_keys);
        drive_config_clear(&cfg);
    }
}

/* DriveInfo.opts keeps what was given, after the renames and cache= expansion. */
static void test_all_opts(void)
{
    DriveConfig cfg;

    parse_ok("file=x,readonly=on,cache=none,cache.writeback=off,bps=7", NULL, &cfg);
    g_assert_cmpstr(dict_get_str(cfg.opts, "file"), ==, "x");
    g_assert_cmpstr(dict_get_str(cfg.opts, "read-only"), ==, "on");
    g_assert_cmpstr(dict_get_str(cfg.opts, "cache.direct"), ==, "on");
    g_assert_cmpstr(dict_get_str(cfg.opts, "cache.writeback"), ==, "off");
    g_assert_cmpstr(dict_get_str(cfg.opts, "cache.no-flush"), ==, "off");
    g_assert_cmpstr(dict_get_str(cfg.opts, "throttling.bps-total"), ==, "7");
    g_assert_false(dict_has(cfg.opts, "cache"));
    g_assert_false(dict_has(cfg.opts, "readonly"));
    g_assert_cmpint(cfg.flags, ==, BDRV_O_NOCACHE);
    drive_config_clear(&cfg);
}

/* ---- -hda, -cdrom, -fda ..., -snapshot ---- */

static void test_drive_add(void)
{
    DriveConfig cfg;
    Opts *opts;

    opts = drive_add(IF_DEFAULT, 2, "cd,1.iso", "media=cdrom", &error_abort);
    g_assert_true(drive_parse(opts, &fake_env, &cfg, &error_abort));
    g_assert_cmpstr(cfg.id, ==, "ide1-cd0");
    g_assert_cmpstr(cfg.file, ==, "cd,1.iso");
    g_assert_true(cfg.read_only);
    drive_config_clear(&cfg);
    opts_free(opts);

    opts = drive_add(IF_FLOPPY, 1, "fd.img", "", &error_abort);
    drive_enable_snapshot(opts);
    g_assert_true(drive_parse(opts, &fake_env, &cfg, &error_abort));
    g_assert_cmpint(cfg.type, ==, IF_FLOPPY);
    g_assert_cmpstr(cfg.id, ==, "floppy1");
    g_assert_true(cfg.snapshot);
    drive_config_clear(&cfg);
    opts_free(opts);

    opts = drive_add(IF_SD, -1, NULL, "snapshot=off", &error_abort);
    drive_enable_snapshot(opts);
    g_assert_cmpstr(opts_get(opts, "snapshot"), ==, "off");
    g_assert_false(opts_has(opts, "index"));
    g_assert_false(opts_has(opts, "file"));
    g_assert_cmpstr(opts_get(opts, "if"), ==, "sd");
    opts_free(opts);

    g_assert_null(drive_add(IF_IDE, 0, "x", "id=9", NULL));
}

static void test_tables(void)
{
    static const char *const names[IF_COUNT] = {
        "none", "ide", "scsi", "floppy", "pflash", "mtd", "sd", "virtio", "xen",
    };

    for (int t = 0; t < IF_COUNT; t++) {
        g_assert_cmpstr(drive_if_name(t), ==, names[t]);
        g_assert_cmpint(drive_get_max_devs(t), ==, t == IF_IDE ? 2 : t == IF_SCSI ? 7 : 0);
    }
}

/* ---- Warnings (printed, the drive still parses) ---- */

static void test_warnings(void)
{
    if (g_test_subprocess()) {
        DriveConfig cfg;

        parse_ok("file=x,boot=on", NULL, &cfg);
        drive_config_clear(&cfg);
        parse_ok("file=x,copy-on-read=on,media=cdrom", NULL, &cfg);
        g_assert_false(cfg.copy_on_read);
        g_assert_cmpint(cfg.flags & BDRV_O_COPY_ON_READ, ==, 0);
        drive_config_clear(&cfg);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("minivmm: boot=on|off is deprecated and will be ignored. Future "
                              "versions will reject this parameter. Please update your "
                              "scripts.\n*minivmm: warning: disabling copy-on-read on "
                              "read-only drive\n");
}

/* ---- drive_new(): backends, lookups, defaults, orphans ---- */

static BlockBackend *new_drive(const char *optstr, Error **errp)
{
    Opts *opts = drive_def(optstr, &error_abort);
    BlockBackend *blk = drive_new(opts, IF_IDE, errp);

    opts_free(opts);
    return blk;
}

static char *new_drive_error(const char *optstr)
{
    Error *err = NULL;
    char *msg;

    g_assert_null(new_drive(optstr, &err));
    g_assert_nonnull(err);
    msg = g_strdup(error_get_pretty(err));
    error_free(err);
    return msg;
}

static void drop_all_drives(void)
{
    BlockBackend *blk;

    while ((blk = blk_next(NULL))) {
        blk_unref(blk);
    }
}

static void test_new_lookup(void)
{
    BlockBackend *cd = new_drive("if=ide,index=2,media=cdrom,serial=S1", &error_abort);
    BlockBackend *hd = new_drive("if=ide", &error_abort);
    BlockBackend *hd2 = new_drive("if=ide,cyls=10,heads=2,secs=4,trans=lba", &error_abort);
    DriveInfo *dinfo = blk_legacy_dinfo(cd);

    g_assert_cmpstr(blk_name(cd), ==, "ide1-cd0");
    g_assert_false(blk_is_inserted(cd));
    g_assert_true(dinfo->media_cd);
    g_assert_cmpstr(dinfo->serial, ==, "S1");
    g_assert_false(dinfo->is_default);
    g_assert_true(drive_get(IF_IDE, 1, 0) == dinfo);
    g_assert_true(drive_get_by_index(IF_IDE, 2) == dinfo);
    g_assert_true(drive_get_blk(dinfo) == cd);
    g_assert_cmpstr(blk_name(hd), ==, "ide0-hd0");
    g_assert_cmpstr(blk_name(hd2), ==, "ide0-hd1");
    g_assert_cmpint(blk_legacy_dinfo(hd2)->cyls, ==, 10);
    g_assert_cmpint(blk_legacy_dinfo(hd2)->trans, ==, BIOS_ATA_TRANSLATION_LBA);
    g_assert_cmpint(drive_get_max_bus(IF_IDE), ==, 1);
    g_assert_cmpint(drive_get_max_bus(IF_SCSI), ==, -1);
    g_assert_null(drive_get(IF_SCSI, 0, 0));
    drop_all_drives();
}

static void test_new_errors(void)
{
    g_autofree char *open_failed = NULL, *dup = NULL, *taken = NULL;
    BlockBackend *blk = new_drive("if=none,id=d1", &error_abort);
    BlockBackend *hd = new_drive("if=ide,index=0", &error_abort);

    open_failed = new_drive_error("file=/nonexistent/x.img");
    g_assert_cmpstr(open_failed, ==, "could not open disk image /nonexistent/x.img: Could not "
                                     "open '/nonexistent/x.img': No such file or directory");
    dup = new_drive_error("if=none,id=d1");
    g_assert_cmpstr(dup, ==, "Device with id 'd1' already exists");
    taken = new_drive_error("if=ide,bus=0,unit=0");
    g_assert_cmpstr(taken, ==, "drive with bus=0, unit=0 (index=-1) exists");
    g_assert_nonnull(blk);
    g_assert_nonnull(hd);
    drop_all_drives();
}

static void test_new_format_help(void)
{
    if (g_test_subprocess()) {
        Error *err = NULL;

        g_assert_null(new_drive("format=help", &err));
        g_assert_null(err);
        g_assert_null(blk_next(NULL));
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("Supported formats:* file* raw*\n");
}

static void test_defaults(void)
{
    BlockBackend *fd = new_drive("if=floppy,file=", &error_abort);

    g_assert_true(drive_add_defaults(IF_IDE, true, &error_abort));
    g_assert_true(drive_add_defaults(IF_IDE, false, &error_abort));
    g_assert_true(blk_next(blk_next(blk_next(NULL))) != NULL);
    g_assert_null(blk_next(blk_next(blk_next(blk_next(NULL)))));
    g_assert_true(drive_get(IF_IDE, 1, 0)->is_default);
    g_assert_true(drive_get(IF_IDE, 1, 0)->media_cd);
    g_assert_true(drive_get(IF_SD, 0, 0)->is_default);
    g_assert_false(blk_legacy_dinfo(fd)->is_default);
    g_assert_nonnull(blk_by_name("ide1-cd0"));
    g_assert_nonnull(blk_by_name("sd0"));
    g_assert_true(blk_by_name("floppy0") == fd);
    drop_all_drives();
}

static void test_orphans(void)
{
    if (g_test_subprocess()) {
        static int dev;
        BlockBackend *virtio;

        g_assert_true(drive_add_defaults(IF_IDE, false, &error_abort));
        new_drive("if=none,id=spare", &error_abort);
        virtio = new_drive("if=virtio,serial=x", &error_abort);
        new_drive("if=scsi,unit=3", &error_abort);
        g_assert_true(drive_check_orphans());
        g_assert_true(drive_claim(blk_legacy_dinfo(virtio), &dev) == virtio);
        g_assert_null(drive_claim(blk_legacy_dinfo(virtio), &dev));
        g_assert_true(drive_get_next(IF_VIRTIO) == blk_legacy_dinfo(virtio));
        g_assert_null(drive_get_next(IF_VIRTIO));
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("Warning: Orphaned drive without device: id=virtio0,file=,"
                              "if=virtio,bus=0,unit=0\nWarning: Orphaned drive without "
                              "device: id=scsi0-hd3,file=,if=scsi,bus=0,unit=3\n");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/drive/errors", test_errors);
    g_test_add_func("/drive/address", test_address);
    g_test_add_func("/drive/default-type", test_default_type);
    g_test_add_func("/drive/flags", test_flags);
    g_test_add_func("/drive/error-actions", test_error_actions);
    g_test_add_func("/drive/detect-zeroes", test_detect_zeroes);
    g_test_add_func("/drive/geometry", test_geometry);
    g_test_add_func("/drive/names", test_names);
    g_test_add_func("/drive/throttle", test_throttle);
    g_test_add_func("/drive/driver-opts", test_driver_opts);
    g_test_add_func("/drive/all-opts", test_all_opts);
    g_test_add_func("/drive/drive-add", test_drive_add);
    g_test_add_func("/drive/tables", test_tables);
    g_test_add_func("/drive/warnings", test_warnings);
    g_test_add_func("/drive-new/lookup", test_new_lookup);
    g_test_add_func("/drive-new/errors", test_new_errors);
    g_test_add_func("/drive-new/format-help", test_new_format_help);
    g_test_add_func("/drive-new/defaults", test_defaults);
    g_test_add_func("/drive-new/orphans", test_orphans);
    g_test_add_func("/throttle-config/checks", test_throttle_config);
    return g_test_run();
}
