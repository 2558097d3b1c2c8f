/*
 * fw_cfg through the guest's eyes: the selector/data ports (signature, ID, CPU count, RAM
 * size, the file directory and etc/e820) and DMA (a descriptor in guest memory, its address
 * written big-endian to 0x514/0x518; the control word reads 0 when done, or has the ERROR
 * bit when the transfer could not complete).
 */
#include <string.h>
#include "libqtest.h"

#define FW_CFG_CTL 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_DMA_HIGH 0x514
#define FW_CFG_DMA_LOW 0x518

enum {
    FW_CFG_SIGNATURE = 0x00,
    FW_CFG_ID = 0x01,
    FW_CFG_RAM_SIZE = 0x03,
    FW_CFG_NB_CPUS = 0x05,
    FW_CFG_FILE_DIR = 0x19,
};

enum {
    FW_CFG_DMA_CTL_ERROR = 0x01,
    FW_CFG_DMA_CTL_READ = 0x02,
    FW_CFG_DMA_CTL_SKIP = 0x04,
    FW_CFG_DMA_CTL_SELECT = 0x08,
    FW_CFG_DMA_CTL_WRITE = 0x10,
};

#define DESC_ADDR 0x1000
#define BUF_ADDR 0x2000
#define E820_RAM 1

typedef struct FwCfgFile {
    uint32_t size;
    uint16_t select;
} FwCfgFile;

static void fw_cfg_read(QTestState *qts, uint16_t key, void *buf, size_t len)
{
    uint8_t *p = buf;

    qtest_outw(qts, FW_CFG_CTL, key);
    for (size_t i = 0; i < len; i++) {
        p[i] = qtest_inb(qts, FW_CFG_DATA);
    }
}

static uint64_t fw_cfg_read_le(QTestState *qts, uint16_t key, size_t len)
{
    uint8_t buf[8] = {0};
    uint64_t v = 0;

    fw_cfg_read(qts, key, buf, len);
    for (size_t i = 0; i < len; i++) {
        v |= (uint64_t)buf[i] << (8 * i);
    }
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Look name up in the file directory (read through the data port). */
static bool fw_cfg_find_file(QTestState *qts, const char *name, FwCfgFile *out)
{
    uint8_t count_be[4], entry[64];
    uint32_t count;

    fw_cfg_read(qts, FW_CFG_FILE_DIR, count_be, sizeof(count_be));
    count = be32(count_be);
    g_assert_cmpuint(count, <, 256);
    for (uint32_t i = 0; i < count; i++) {
        for (size_t j = 0; j < sizeof(entry); j++) {
            entry[j] = qtest_inb(qts, FW_CFG_DATA);
        }
        if (!strncmp((char *)entry + 8, name, 56)) {
            out->size = be32(entry);
            out->select = entry[4] << 8 | entry[5];
            return true;
        }
    }
    return false;
}

static void test_signature_and_id(void)
{
    QTestState *qts = qtest_init("-m 128");
    char sig[5] = {0};

    fw_cfg_read(qts, FW_CFG_SIGNATURE, sig, 4);
    g_assert_cmpstr(sig, ==, "QEMU");
    /* Traditional interface and DMA. */
    g_assert_cmphex(fw_cfg_read_le(qts, FW_CFG_ID, 4), ==, 3);
    /* The DMA register reads "QEMU CFG" in memory order. */
    g_assert_cmphex(qtest_inl(qts, FW_CFG_DMA_HIGH), ==, 0x554d4551);
    g_assert_cmphex(qtest_inl(qts, FW_CFG_DMA_LOW), ==, 0x47464320);
    qtest_quit(qts);
}

static void test_cpus_and_ram(void)
{
    QTestState *qts = qtest_init("-m 128 -smp 2");

    g_assert_cmpuint(fw_cfg_read_le(qts, FW_CFG_NB_CPUS, 2), ==, 2);
    g_assert_cmpuint(fw_cfg_read_le(qts, FW_CFG_RAM_SIZE, 8), ==, 128 << 20);
    /* Reading past an item's end yields zeros. */
    qtest_outw(qts, FW_CFG_CTL, FW_CFG_NB_CPUS);
    for (int i = 0; i < 2; i++) {
        qtest_inb(qts, FW_CFG_DATA);
    }
    g_assert_cmphex(qtest_inb(qts, FW_CFG_DATA), ==, 0);
    qtest_quit(qts);
}

/* The table has one RAM entry, 128 MiB at 0. Other entries differ: minivmm reserves KVM's
 * identity map page and TSS (0xfeffc000), QEMU under TCG with its AMD-vendor default CPU the
 * HyperTransport window below 1 TiB (0xfd00000000) instead. */
static void check_e820_ram(const uint8_t *e820, size_t len)
{
    unsigned ram = 0;

    g_assert_cmpuint(len % 20, ==, 0);
    for (size_t off = 0; off < len; off += 20) {
        uint64_t addr, size;
        uint32_t type;

        memcpy(&addr, e820 + off, 8);
        memcpy(&size, e820 + off + 8, 8);
        memcpy(&type, e820 + off + 16, 4);
        if (GUINT32_FROM_LE(type) == E820_RAM) {
            g_assert_cmphex(GUINT64_FROM_LE(addr), ==, 0);
            g_assert_cmphex(GUINT64_FROM_LE(size), ==, 128 << 20);
            ram++;
        }
    }
    g_assert_cmpuint(ram, ==, 1);
}

static void test_file_dir_e820(void)
{
    QTestState *qts = qtest_init("-m 128");
    FwCfgFile f;
    g_autofree uint8_t *e820 = NULL;

    g_assert_true(fw_cfg_find_file(qts, "etc/e820", &f));
    g_assert_cmpuint(f.select, >=, 0x20);
    e820 = g_malloc(f.size);
    fw_cfg_read(qts, f.select, e820, f.size);
    check_e820_ram(e820, f.size);
    g_assert_false(fw_cfg_find_file(qts, "etc/no-such-file", &f));
    qtest_quit(qts);
}

/* Write a descriptor at DESC_ADDR, start it, return its control word afterwards. */
static uint32_t fw_cfg_dma(QTestState *qts, uint32_t control, uint32_t len, uint64_t addr)
{
    uint8_t desc[16];
    uint32_t v;

    v = GUINT32_TO_BE(control);
    memcpy(desc, &v, 4);
    v = GUINT32_TO_BE(len);
    memcpy(desc + 4, &v, 4);
    addr = GUINT64_TO_BE(addr);
    memcpy(desc + 8, &addr, 8);
    qtest_memwrite(qts, DESC_ADDR, desc, sizeof(desc));
    qtest_outl(qts, FW_CFG_DMA_HIGH, 0);
    qtest_outl(qts, FW_CFG_DMA_LOW, GUINT32_TO_BE(DESC_ADDR));
    return GUINT32_FROM_BE(qtest_readl(qts, DESC_ADDR));
}

static void test_dma_read(void)
{
    QTestState *qts = qtest_init("-m 128");
    uint8_t buf[8];
    FwCfgFile f;
    g_autofree uint8_t *e820 = NULL;

    qtest_memset(qts, BUF_ADDR, 0xaa, 16);
    g_assert_cmphex(fw_cfg_dma(qts,
                               FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
                               4, BUF_ADDR),
                    ==, 0);
    qtest_memread(qts, BUF_ADDR, buf, sizeof(buf));
    g_assert_cmpmem(buf, 8, "QEMU\xaa\xaa\xaa\xaa", 8);

    /* Skip two bytes of the ID, then read the rest: the offset carries over. */
    g_assert_cmphex(
        fw_cfg_dma(qts, FW_CFG_ID << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP, 2, BUF_ADDR),
        ==, 0);
    g_assert_cmphex(fw_cfg_dma(qts, FW_CFG_DMA_CTL_READ, 2, BUF_ADDR + 8), ==, 0);
    g_assert_cmphex(qtest_readw(qts, BUF_ADDR + 8), ==, 0);

    g_assert_true(fw_cfg_find_file(qts, "etc/e820", &f));
    e820 = g_malloc(f.size);
    g_assert_cmphex(
        fw_cfg_dma(qts, (uint32_t)f.select << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
                   f.size, BUF_ADDR),
        ==, 0);
    qtest_bufread(qts, BUF_ADDR, e820, f.size);
    check_e820_ram(e820, f.size);

    /* Past the end of an item, DMA reads zeros. */
    qtest_memset(qts, BUF_ADDR, 0xaa, 16);
    g_assert_cmphex(fw_cfg_dma(qts,
                               FW_CFG_NB_CPUS << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
                               8, BUF_ADDR),
                    ==, 0);
    g_assert_cmphex(qtest_readq(qts, BUF_ADDR), ==, 1);
    qtest_quit(qts);
}

static void test_dma_errors(void)
{
    QTestState *qts = qtest_init("-m 128");

    /* fw_cfg is read-only: a DMA write fails. */
    g_assert_cmphex(
        fw_cfg_dma(qts, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 4,
                   BUF_ADDR),
        ==, FW_CFG_DMA_CTL_ERROR);
    /* A destination beyond the physical address space. */
    g_assert_cmphex(fw_cfg_dma(qts,
                               FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
                               4, 0xfff0000000000000ULL),
                    ==, FW_CFG_DMA_CTL_ERROR);
    /* A good transfer afterwards still works. */
    g_assert_cmphex(fw_cfg_dma(qts,
                               FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ,
                               4, BUF_ADDR),
                    ==, 0);
    g_assert_cmphex(qtest_readl(qts, BUF_ADDR), ==, 0x554d4551);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fw_cfg/signature-id", test_signature_and_id);
    g_test_add_func("/fw_cfg/cpus-ram", test_cpus_and_ram);
    g_test_add_func("/fw_cfg/file-dir-e820", test_file_dir_e820);
    g_test_add_func("/fw_cfg/dma-read", test_dma_read);
    g_test_add_func("/fw_cfg/dma-errors", test_dma_errors);
    return g_test_run();
}
