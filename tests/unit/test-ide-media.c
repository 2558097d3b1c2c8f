/*
 * Unit tests for the IDE CD-ROM's removable medium as the monitor will drive it (the
 * BlockBackend device callbacks): a medium inserted into an empty drive is reported as
 * "not present" once, then as a unit attention until REQUEST SENSE; GET EVENT STATUS
 * NOTIFICATION shows the new medium and an eject request; the guest's lock and tray state
 * are what the backend reports (blk_dev_is_medium_locked/is_tray_open); a forced eject
 * request unlocks. The PIIX3 IDE function is built in-process on its own PCI bus and
 * driven through the port dispatch a vCPU uses; IRQ 15 is watched as qtest does.
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/ide.h"
#include "hw/ioport.h"
#include "hw/irq.h"
#include "util/main-loop.h"

#define CD_BASE 0x170
#define CD_IRQ 15
#define CD_SECTORS 32

static BlockBackend *cd;
static bool irq15;

static void watch_irq(unsigned gsi, bool level)
{
    if (gsi == CD_IRQ) {
        irq15 = level;
    }
}

static uint8_t inb(uint16_t port)
{
    return io_dispatch_read(IO_SPACE_PIO, port, 1);
}

static void outb(uint16_t port, uint8_t val)
{
    io_dispatch_write(IO_SPACE_PIO, port, val, 1);
}

/* Run a packet command by PIO (byte count limit 2048); the reply is copied to reply. */
static uint8_t atapi(const uint8_t cdb[12], uint8_t *reply, size_t *len)
{
    size_t got = 0;

    outb(CD_BASE + 6, 0xa0);
    outb(CD_BASE + 1, 0);
    outb(CD_BASE + 4, 0x00);
    outb(CD_BASE + 5, 0x08);
    outb(CD_BASE + 7, 0xa0);
    g_assert_cmphex(inb(CD_BASE + 7), ==, 0x58);
    for (int i = 0; i < 6; i++) {
        io_dispatch_write(IO_SPACE_PIO, CD_BASE, cdb[2 * i] | cdb[2 * i + 1] << 8, 2);
    }
    for (;;) {
        uint8_t st;

        blk_drain(cd);
        st = inb(CD_BASE + 7);
        if (!(st & 0x08)) {
            if (len) {
                *len = got;
            }
            return st;
        }
        for (unsigned n = inb(CD_BASE + 4) | inb(CD_BASE + 5) << 8; n; n -= 2, got += 2) {
            uint16_t w = io_dispatch_read(IO_SPACE_PIO, CD_BASE, 2);
            if (reply) {
                reply[got] = w;
                reply[got + 1] = w >> 8;
            }
        }
    }
}

static void check_sense(uint8_t key, uint8_t asc)
{
    static const uint8_t request_sense[12] = {0x03, 0, 0, 0, 18};
    uint8_t buf[64];
    size_t len;

    g_assert_cmphex(atapi(request_sense, buf, &len), ==, 0x50);
    g_assert_cmpuint(len, ==, 18);
    g_assert_cmphex(buf[2], ==, key);
    g_assert_cmphex(buf[12], ==, asc);
}

static const uint8_t tur[12] = {0x00};

static void check_tur_error(uint8_t key, uint8_t asc)
{
    g_assert_cmphex(atapi(tur, NULL, NULL), ==, 0x41);
    g_assert_cmphex(inb(CD_BASE + 1), ==, key << 4);
    check_sense(key, asc);
}

/* GET EVENT STATUS NOTIFICATION, media class: (event code, media status). */
static void gesn(uint8_t *event, uint8_t *media)
{
    static const uint8_t cdb[12] = {0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8};
    uint8_t buf[64];
    size_t len;

    g_assert_cmphex(atapi(cdb, buf, &len), ==, 0x50);
    g_assert_cmpuint(len, ==, 8);
    *event = buf[4];
    *media = buf[5];
}

static char *make_image(void)
{
    char *path = NULL;
    int fd = g_file_open_tmp("ide-media-XXXXXX.iso", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, CD_SECTORS * 2048), ==, 0);
    close(fd);
    return path;
}

/* What the monitor's change does once the tray is open: a medium goes in. */
static void insert_medium(const char *path)
{
    JsonObject *opts = json_object_new();
    BlockDriverState *bs;

    json_object_set_string_member(opts, "driver", "raw");
    bs = bdrv_open(path, opts, 0, &error_abort);
    blk_insert_bs(cd, bs);
    bdrv_unref(bs);
    irq15 = false;
    blk_dev_change_media_cb(cd, true);
}

static void test_media_change(void)
{
    g_autofree char *path = make_image();
    uint8_t event, media;

    check_tur_error(2, 0x3a); /* empty */
    gesn(&event, &media);
    g_assert_cmpuint(media, ==, 0);

    insert_medium(path);
    g_assert_true(irq15);
    g_assert_false(blk_dev_is_tray_open(cd));
    gesn(&event, &media);
    g_assert_cmpuint(event, ==, 2); /* new media */
    g_assert_cmpuint(media, ==, 2);
    gesn(&event, &media);
    g_assert_cmpuint(event, ==, 0); /* reported once */
    /* First "not present", then the unit attention, which holds until REQUEST SENSE. */
    check_tur_error(2, 0x3a);
    g_assert_cmphex(atapi(tur, NULL, NULL), ==, 0x41);
    g_assert_cmphex(inb(CD_BASE + 1), ==, 0x60);
    g_assert_cmphex(atapi(tur, NULL, NULL), ==, 0x01); /* CHECK CONDITION, no DRDY */
    g_assert_cmphex(inb(CD_BASE + 1), ==, 0x60 | 0x20);
    check_sense(6, 0x28);
    g_assert_cmphex(atapi(tur, NULL, NULL), ==, 0x50);
    unlink(path);
}

static void test_lock_and_eject_request(void)
{
    static const uint8_t lock[12] = {0x1e, 0, 0, 0, 1};
    static const uint8_t eject[12] = {0x1b, 0, 0, 0, 2};
    static const uint8_t load[12] = {0x1b, 0, 0, 0, 3};
    uint8_t event, media;

    g_assert_cmphex(atapi(lock, NULL, NULL), ==, 0x50);
    g_assert_true(blk_dev_is_medium_locked(cd));
    g_assert_cmphex(atapi(eject, NULL, NULL), ==, 0x41);
    check_sense(2, 0x53);
    g_assert_false(blk_dev_is_tray_open(cd));
    /* The monitor asks; the guest sees the request and may ignore it. */
    irq15 = false;
    blk_dev_eject_request(cd, false);
    g_assert_true(irq15);
    gesn(&event, &media);
    g_assert_cmpuint(event, ==, 1); /* eject requested */
    g_assert_true(blk_dev_is_medium_locked(cd));
    /* eject -f: the lock is broken; then the guest's own eject opens the tray. */
    blk_dev_eject_request(cd, true);
    g_assert_false(blk_dev_is_medium_locked(cd));
    g_assert_cmphex(atapi(eject, NULL, NULL), ==, 0x50);
    g_assert_true(blk_dev_is_tray_open(cd));
    gesn(&event, &media);
    g_assert_cmpuint(media, ==, 1); /* tray open */
    check_tur_error(2, 0x3a);
    g_assert_cmphex(atapi(load, NULL, NULL), ==, 0x50);
    g_assert_false(blk_dev_is_tray_open(cd));
    g_assert_cmphex(atapi(tur, NULL, NULL), ==, 0x50);
}

int main(int argc, char **argv)
{
    g_autoptr(PCIBus) bus = NULL;
    DriveInfo *dinfo = g_new0(DriveInfo, 1);

    g_test_init(&argc, &argv, NULL);
    main_loop_init();
    irq_set_observer(watch_irq);
    cd = blk_new("ide1-cd0", &error_abort);
    dinfo->type = IF_IDE;
    dinfo->bus = 1;
    dinfo->media_cd = true;
    blk_set_legacy_dinfo(cd, dinfo);
    bus = pci_bus_new();
    g_assert_true(piix3_ide_init(bus, PIIX3_IDE_DEVFN, &error_abort));
    g_assert_true(blk_get_attached_dev(cd) != NULL);
    g_assert_true(blk_dev_has_removable_media(cd));
    g_test_add_func("/ide-media/change", test_media_change);
    g_test_add_func("/ide-media/lock-and-eject-request", test_lock_and_eject_request);
    return g_test_run();
}
