/*
 * The IDE qtest helpers declared in libqide.h.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "libqpci.h"
#include "libqide.h"

/* ---- Images ---- */

uint8_t pattern_byte(uint64_t sector, unsigned i, uint8_t seed)
{
    return (uint8_t)(sector * 7 + i * 13 + seed);
}

/* A raw image of the given size whose first sectors hold a pattern (sector 0 is not an
 * MBR, so the geometry is the size-based one). */
char *make_image(uint64_t sectors, unsigned patterned, unsigned sector_size)
{
    char *path = NULL;
    int fd = g_file_open_tmp("ide-test-XXXXXX.img", &path, NULL);
    g_autofree uint8_t *buf = g_malloc(sector_size);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, sectors * sector_size), ==, 0);
    for (unsigned s = 0; s < patterned; s++) {
        for (unsigned i = 0; i < sector_size; i++) {
            buf[i] = pattern_byte(s, i, 0x11);
        }
        g_assert_cmpint(pwrite(fd, buf, sector_size, (off_t)s * sector_size), ==, sector_size);
    }
    close(fd);
    return path;
}

void read_image(const char *path, uint64_t offset, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, offset), ==, (ssize_t)len);
    close(fd);
}

/* ---- Channels ---- */

/* Start the VMM with args, "@IMG@" standing for a fresh image of the given size. */
IDEChan *ide_start(const char *args, uint64_t sectors, unsigned sector_size, bool secondary)
{
    IDEChan *c = g_new0(IDEChan, 1);
    g_auto(GStrv) parts = g_strsplit(args, "@IMG@", -1);
    g_autofree char *full = NULL;

    c->image = sectors ? make_image(sectors, 64, sector_size) : NULL;
    full = g_strjoinv(c->image ? c->image : "", parts);
    c->qts = qtest_init(full);
    c->base = secondary ? 0x170 : 0x1f0;
    c->ctrl = secondary ? 0x376 : 0x3f6;
    c->irq = secondary ? 15 : 14;
    qtest_irq_intercept_in(c->qts, "ioapic");
    return c;
}

void ide_stop(IDEChan *c)
{
    qtest_quit(c->qts);
    if (c->image) {
        unlink(c->image);
        g_free(c->image);
    }
    g_free(c);
}

uint8_t ide_inb(IDEChan *c, unsigned reg)
{
    return qtest_inb(c->qts, c->base + reg);
}

void ide_outb(IDEChan *c, unsigned reg, uint8_t val)
{
    qtest_outb(c->qts, c->base + reg, val);
}

uint8_t ide_altstatus(IDEChan *c)
{
    return qtest_inb(c->qts, c->ctrl);
}

bool ide_irq(IDEChan *c)
{
    return qtest_get_irq(c->qts, c->irq);
}

/* Poll the alternate status (no side effects) until BSY is clear. */
uint8_t ide_wait(IDEChan *c)
{
    uint8_t st = 0;

    for (int i = 0; i < 100000; i++) {
        st = ide_altstatus(c);
        if (!(st & BSY)) {
            return st;
        }
    }
    g_assert_not_reached();
    return st;
}

/* The status register read clears the interrupt: check the line, then read it. */
void ide_check_done(IDEChan *c, uint8_t status, bool irq)
{
    g_assert_cmphex(ide_wait(c), ==, status);
    g_assert_cmpint(ide_irq(c), ==, irq);
    g_assert_cmphex(ide_inb(c, REG_STATUS), ==, status);
    g_assert_false(ide_irq(c));
}

void ide_set_lba28(IDEChan *c, unsigned dev, uint32_t lba, uint8_t count)
{
    ide_outb(c, REG_DEVICE, 0xa0 | dev << 4 | DEV_LBA | ((lba >> 24) & 0xf));
    ide_outb(c, REG_NSECTOR, count);
    ide_outb(c, REG_SECTOR, lba);
    ide_outb(c, REG_LCYL, lba >> 8);
    ide_outb(c, REG_HCYL, lba >> 16);
}

void ide_set_lba48(IDEChan *c, uint64_t lba, uint16_t count)
{
    ide_outb(c, REG_DEVICE, 0xa0 | DEV_LBA);
    ide_outb(c, REG_NSECTOR, count >> 8);
    ide_outb(c, REG_SECTOR, lba >> 24);
    ide_outb(c, REG_LCYL, lba >> 32);
    ide_outb(c, REG_HCYL, lba >> 40);
    ide_outb(c, REG_NSECTOR, count);
    ide_outb(c, REG_SECTOR, lba);
    ide_outb(c, REG_LCYL, lba >> 8);
    ide_outb(c, REG_HCYL, lba >> 16);
}

void ide_pio_in(IDEChan *c, void *buf, size_t bytes)
{
    uint16_t *w = buf;

    for (size_t i = 0; i < bytes / 2; i++) {
        w[i] = qtest_inw(c->qts, c->base + REG_DATA);
    }
}

void ide_pio_out(IDEChan *c, const void *buf, size_t bytes)
{
    const uint16_t *w = buf;

    for (size_t i = 0; i < bytes / 2; i++) {
        qtest_outw(c->qts, c->base + REG_DATA, w[i]);
    }
}

void check_pattern(const uint8_t *buf, uint64_t first_sector, unsigned sectors,
                          unsigned sector_size, uint8_t seed)
{
    for (unsigned s = 0; s < sectors; s++) {
        for (unsigned i = 0; i < sector_size; i++) {
            if (buf[s * sector_size + i] != pattern_byte(first_sector + s, i, seed)) {
                g_error("sector %" G_GUINT64_FORMAT " byte %u: %#x, expected %#x", first_sector + s,
                        i, buf[s * sector_size + i], pattern_byte(first_sector + s, i, seed));
            }
        }
    }
}

void fill_pattern(uint8_t *buf, uint64_t first_sector, unsigned sectors, uint8_t seed)
{
    for (unsigned s = 0; s < sectors; s++) {
        for (unsigned i = 0; i < SECTOR; i++) {
            buf[s * SECTOR + i] = pattern_byte(first_sector + s, i, seed);
        }
    }
}

/* ---- PCI ---- */

/* ---- Bus-master DMA ---- */

void bm_map(IDEChan *c)
{
    QPCIBus bus;
    QPCIDevice dev;
    QPCIBar bar;

    qpci_bus_init(&bus, c->qts);
    g_assert_true(qpci_device_find(&bus, DEVFN_IDE, &dev));
    bar = qpci_iomap(&dev, 4);
    g_assert_true(bar.is_io);
    g_assert_cmpuint(bar.size, ==, 16);
    qpci_device_enable(&dev);
    c->bm = bar.addr + (c->base == 0x170 ? 8 : 0);
}

void bm_write_prds(IDEChan *c, const PRD *prds, int n)
{
    for (int i = 0; i < n; i++) {
        qtest_writel(c->qts, PRD_ADDR + 8 * i, prds[i].addr);
        qtest_writel(c->qts, PRD_ADDR + 8 * i + 4, prds[i].size);
    }
}

/* Program the engine, issue cmd, start; wait until the engine stopped or interrupted.
 * Returns the bus-master status. */
uint8_t bm_run(IDEChan *c, uint8_t cmd, bool to_mem)
{
    uint8_t st = 0;

    qtest_outb(c->qts, c->bm, 0);
    qtest_outb(c->qts, c->bm + 2, BM_STS_INTR | BM_STS_ERROR);
    qtest_outl(c->qts, c->bm + 4, PRD_ADDR);
    g_assert_cmphex(qtest_inl(c->qts, c->bm + 4), ==, PRD_ADDR);
    ide_outb(c, REG_COMMAND, cmd);
    qtest_outb(c->qts, c->bm, BM_CMD_START | (to_mem ? BM_CMD_TO_MEM : 0));
    for (int i = 0; i < 100000; i++) {
        st = qtest_inb(c->qts, c->bm + 2);
        if ((st & (BM_STS_ACTIVE | BM_STS_INTR)) != BM_STS_ACTIVE) {
            break;
        }
    }
    qtest_outb(c->qts, c->bm, 0);
    return st;
}

void check_ata_string(const uint16_t *words, int nwords, const char *expected)
{
    char s[80] = {0};

    for (int i = 0; i < nwords; i++) {
        s[2 * i] = words[i] >> 8;
        s[2 * i + 1] = words[i] & 0xff;
    }
    g_assert_cmpstr(g_strchomp(s), ==, expected);
}
