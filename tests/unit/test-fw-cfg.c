/*
 * Unit tests for hw/nvram/fw_cfg.c: items read through the selector and data ports, the file
 * directory byte for byte and in name order, and DMA (select, read, skip, refused writes,
 * bad addresses) against a small guest RAM and ROM made of host buffers.
 */
#include <string.h>
#include <glib.h>
#include "hw/fw_cfg.h"
#include "hw/ioport.h"
#include "hw/machine.h"
#include "hw/memory.h"

#define PIO IO_SPACE_PIO
#define RAM_BASE 0x100000
#define RAM_SIZE 0x10000
#define ROM_BASE 0x200000
#define ROM_SIZE 0x1000
#define DESC (RAM_BASE + 0x100)
#define BUF (RAM_BASE + 0x1000)

static FWCfgState *fw;
static uint8_t *ram;
static uint8_t *rom;

static void select_key(uint16_t key)
{
    io_dispatch_write(PIO, FW_CFG_IO_BASE, key, 2);
}

static void read_data(void *buf, size_t len)
{
    uint8_t *p = buf;

    for (size_t i = 0; i < len; i++) {
        p[i] = io_dispatch_read(PIO, FW_CFG_IO_BASE + 1, 1);
    }
}

static void test_signature_and_id(void)
{
    char sig[6];
    uint8_t id[4];

    select_key(FW_CFG_SIGNATURE);
    read_data(sig, sizeof(sig));
    g_assert_cmpmem(sig, sizeof(sig), "QEMU\0\0", 6);
    select_key(FW_CFG_ID);
    read_data(id, sizeof(id));
    g_assert_cmpmem(id, sizeof(id), ((uint8_t[]){ 0x03, 0, 0, 0 }), 4);
    /* A byte read of the selector port reads data too; word reads of it do not. */
    select_key(FW_CFG_SIGNATURE);
    g_assert_cmphex(io_dispatch_read(PIO, FW_CFG_IO_BASE, 1), ==, 'Q');
    g_assert_cmphex(io_dispatch_read(PIO, FW_CFG_IO_BASE, 2), ==, 0);
    g_assert_cmphex(io_dispatch_read(PIO, FW_CFG_IO_BASE + 1, 1), ==, 'E');
    /* Data writes are ignored. */
    io_dispatch_write(PIO, FW_CFG_IO_BASE + 1, 0xaa, 1);
    g_assert_cmphex(io_dispatch_read(PIO, FW_CFG_IO_BASE + 1, 1), ==, 'M');
}

static void test_items_and_past_end(void)
{
    uint8_t buf[12];

    fw_cfg_add_i16(fw, FW_CFG_NB_CPUS, 0x0304);
    fw_cfg_add_i32(fw, FW_CFG_MACHINE_ID, 0x01020304);
    fw_cfg_add_i64(fw, FW_CFG_RAM_SIZE, 0x0102030405060708ULL);
    fw_cfg_add_string(fw, FW_CFG_KERNEL_CMDLINE, "hi");
    fw_cfg_add_bytes(fw, FW_CFG_E820_TABLE, "\x01\x02\x03", 3);

    select_key(FW_CFG_NB_CPUS);
    read_data(buf, 4);
    g_assert_cmpmem(buf, 4, ((uint8_t[]){ 0x04, 0x03, 0, 0 }), 4);
    select_key(FW_CFG_MACHINE_ID);
    read_data(buf, 4);
    g_assert_cmpmem(buf, 4, ((uint8_t[]){ 0x04, 0x03, 0x02, 0x01 }), 4);
    select_key(FW_CFG_RAM_SIZE);
    read_data(buf, 10);
    g_assert_cmpmem(buf, 10, ((uint8_t[]){ 8, 7, 6, 5, 4, 3, 2, 1, 0, 0 }), 10);
    select_key(FW_CFG_KERNEL_CMDLINE);
    read_data(buf, 4);
    g_assert_cmpmem(buf, 4, "hi\0\0", 4);
    select_key(FW_CFG_E820_TABLE);
    read_data(buf, 4);
    g_assert_cmpmem(buf, 4, "\x01\x02\x03\0", 4);
    /* The write-channel bit does not change which item is read. */
    select_key(FW_CFG_E820_TABLE | FW_CFG_WRITE_CHANNEL);
    read_data(buf, 1);
    g_assert_cmphex(buf[0], ==, 1);

    /* Replacing an item; selecting again restarts at offset 0. */
    fw_cfg_add_i16(fw, FW_CFG_NB_CPUS, 2);
    select_key(FW_CFG_NB_CPUS);
    read_data(buf, 2);
    g_assert_cmpmem(buf, 2, "\x02\0", 2);

    for (unsigned key = 0x1a; key < 0x20; key++) {
        select_key(key);
        read_data(buf, 4);
        g_assert_cmpmem(buf, 4, "\0\0\0\0", 4);
    }
    select_key(0x3fff);
    read_data(buf, 4);
    g_assert_cmpmem(buf, 4, "\0\0\0\0", 4);
    select_key(0xffff);
    read_data(buf, 4);
    g_assert_cmpmem(buf, 4, "\0\0\0\0", 4);
}

static void test_build_dir(void)
{
    static const FWCfgDirEntry files[] = { { "bootorder", 0x12 }, { "etc/e820", 0x1234 } };
    uint8_t expect[4 + 2 * 64] = { 0, 0, 0, 2 };
    g_autofree uint8_t *dir = NULL;
    size_t len;

    memcpy(expect + 4, "\x00\x00\x00\x12\x00\x20\x00\x00" "bootorder", 17);
    memcpy(expect + 68, "\x00\x00\x12\x34\x00\x21\x00\x00" "etc/e820", 16);
    dir = fw_cfg_build_dir(files, 2, &len);
    g_assert_cmpmem(dir, len, expect, sizeof(expect));
    g_free(dir);
    dir = fw_cfg_build_dir(NULL, 0, &len);
    g_assert_cmpmem(dir, len, "\0\0\0\0", 4);
}

static char *read_dir_names(uint32_t *count)
{
    GString *names = g_string_new(NULL);
    uint8_t be[4];

    select_key(FW_CFG_FILE_DIR);
    read_data(be, 4);
    *count = be[0] << 24 | be[1] << 16 | be[2] << 8 | be[3];
    for (uint32_t i = 0; i < *count; i++) {
        uint8_t e[64];

        read_data(e, sizeof(e));
        g_assert_cmpuint(e[4] << 8 | e[5], ==, FW_CFG_FILE_FIRST + i);
        g_assert_cmpuint(e[6] | e[7], ==, 0);
        g_assert_cmpuint(e[63], ==, 0);
        g_string_append_printf(names, "%s:%u|", (char *)e + 8,
                               e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3]);
    }
    return g_string_free(names, FALSE);
}

/* The key the directory gives the file called name. */
static uint16_t file_key(const char *name)
{
    uint32_t count;
    g_autofree char *names = read_dir_names(&count);
    g_auto(GStrv) list = g_strsplit(names, "|", -1);
    g_autofree char *prefix = g_strdup_printf("%s:", name);

    for (uint32_t i = 0; i < count; i++) {
        if (g_str_has_prefix(list[i], prefix)) {
            return FW_CFG_FILE_FIRST + i;
        }
    }
    g_assert_not_reached();
}

static void test_files_sorted(void)
{
    g_autofree char *names = NULL;
    g_autofree char *long_name = g_strnfill(70, 'x');
    uint32_t count;
    char buf[4];

    fw_cfg_add_file(fw, "etc/z", "zz", 2);
    fw_cfg_add_file(fw, "bootorder", "", 0);
    fw_cfg_add_file(fw, "etc/a", "aaa", 3);
    names = read_dir_names(&count);
    g_assert_cmpuint(count, ==, 3);
    g_assert_cmpstr(names, ==, "bootorder:0|etc/a:3|etc/z:2|");
    select_key(FW_CFG_FILE_FIRST + 1);
    read_data(buf, 4);
    g_assert_cmpmem(buf, 4, "aaa\0", 4);
    select_key(FW_CFG_FILE_FIRST + 2);
    read_data(buf, 3);
    g_assert_cmpmem(buf, 3, "zz\0", 3);

    fw_cfg_modify_file(fw, "etc/a", "A", 1);
    fw_cfg_modify_file(fw, "etc/m", "mmmm", 4);
    fw_cfg_add_file(fw, long_name, "L", 1);
    g_free(names);
    names = read_dir_names(&count);
    g_assert_cmpuint(count, ==, 5);
    g_assert_cmpstr(names, ==, "bootorder:0|etc/a:1|etc/m:4|etc/z:2|"
                               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx:1|");
    select_key(FW_CFG_FILE_FIRST + 3);   /* renumbered by etc/m */
    read_data(buf, 2);
    g_assert_cmpmem(buf, 2, "zz", 2);
    select_key(FW_CFG_FILE_FIRST + 5);
    read_data(buf, 1);
    g_assert_cmphex(buf[0], ==, 0);
}

static void test_reset(void)
{
    char buf[2];

    select_key(FW_CFG_ID);
    read_data(buf, 1);
    machine_run_reset_handlers();
    read_data(buf, 2);
    g_assert_cmpmem(buf, 2, "QE", 2);
}

/* ---- DMA ---- */

static void put_desc(uint32_t control, uint32_t length, uint64_t address)
{
    uint32_t c = GUINT32_TO_BE(control), l = GUINT32_TO_BE(length);
    uint64_t a = GUINT64_TO_BE(address);

    memcpy(ram + (DESC - RAM_BASE), &c, 4);
    memcpy(ram + (DESC - RAM_BASE) + 4, &l, 4);
    memcpy(ram + (DESC - RAM_BASE) + 8, &a, 8);
}

static void dma_kick(uint64_t desc)
{
    io_dispatch_write(PIO, FW_CFG_IO_BASE + 4, GUINT32_TO_BE(desc >> 32), 4);
    io_dispatch_write(PIO, FW_CFG_IO_BASE + 8, GUINT32_TO_BE((uint32_t)desc), 4);
}

static uint32_t desc_control(void)
{
    uint32_t c;

    memcpy(&c, ram + (DESC - RAM_BASE), 4);
    return GUINT32_FROM_BE(c);
}

static const uint8_t *buf_at(uint64_t gpa)
{
    return ram + (gpa - RAM_BASE);
}

static void test_dma_signature(void)
{
    g_assert_cmphex(io_dispatch_read(PIO, FW_CFG_IO_BASE + 4, 4), ==, 0x554d4551);  /* "QEMU" */
    g_assert_cmphex(io_dispatch_read(PIO, FW_CFG_IO_BASE + 8, 4), ==, 0x47464320);  /* " CFG" */
    g_assert_cmphex(io_dispatch_read(PIO, FW_CFG_IO_BASE + 5, 1), ==, 'E');
}

static void test_dma_read_select_skip(void)
{
    fw_cfg_add_file(fw, "etc/dma", "0123456789", 10);
    memset(ram + (BUF - RAM_BASE), 0xff, 32);

    put_desc(FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 8, BUF);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, 0);
    g_assert_cmpmem(buf_at(BUF), 9, "QEMU\0\0\0\0\xff", 9);

    memset(ram + (BUF - RAM_BASE), 0xff, 32);
    put_desc(file_key("etc/dma") << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP, 3, 0);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, 0);
    put_desc(FW_CFG_DMA_CTL_READ, 4, BUF);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, 0);
    g_assert_cmpmem(buf_at(BUF), 5, "3456\xff", 5);
    /* Past the end: the rest of the item, then zeros. */
    put_desc(FW_CFG_DMA_CTL_READ, 6, BUF + 8);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, 0);
    g_assert_cmpmem(buf_at(BUF + 8), 7, "789\0\0\0\xff", 7);
    /* Neither read, skip nor write: nothing moves, success. */
    put_desc(0, 4, BUF);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, 0);

    /* The port interface continues where DMA stopped: past the end now. */
    g_assert_cmphex(io_dispatch_read(PIO, FW_CFG_IO_BASE + 1, 1), ==, 0);
}

static void test_dma_errors(void)
{
    /* Writes are refused, except for nothing. */
    put_desc(FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 4, BUF);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, FW_CFG_DMA_CTL_ERROR);
    put_desc(FW_CFG_DMA_CTL_WRITE, 0, BUF);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, 0);

    /* Targets outside RAM, in ROM, or straddling RAM's end. */
    put_desc(FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 4,
             0xfffffffffffffffeULL);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, FW_CFG_DMA_CTL_ERROR);
    put_desc(FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 4,
             ROM_BASE);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, FW_CFG_DMA_CTL_ERROR);
    g_assert_cmphex(rom[0], ==, 0);
    put_desc(FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 8,
             RAM_BASE + RAM_SIZE - 2);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, FW_CFG_DMA_CTL_ERROR);

    /* A 4 GiB zero-fill past the item: refused without touching or allocating anything. */
    memset(ram + (BUF - RAM_BASE), 0xff, 16);
    put_desc(FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 0xffffffff,
             BUF);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, FW_CFG_DMA_CTL_ERROR);
    g_assert_cmpmem(buf_at(BUF), 5, "QEMU\xff", 5);
    /* A huge skip is fine: it only moves the offset. */
    put_desc(FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_SKIP, 0xffffffff,
             0);
    dma_kick(DESC);
    g_assert_cmphex(desc_control(), ==, 0);

    /* A descriptor outside RAM or straddling its end cannot be read: no crash, and the
     * error lands where its control word would be only if that is RAM. */
    dma_kick(0xfffffffffffffff8ULL);
    dma_kick(RAM_BASE + RAM_SIZE - 8);
    dma_kick(ROM_BASE);
    g_assert_cmphex(rom[0], ==, 0);
    /* A descriptor in ROM can be read but not completed. */
    rom[3] = FW_CFG_DMA_CTL_SKIP;
    dma_kick(ROM_BASE);
    g_assert_cmphex(rom[3], ==, FW_CFG_DMA_CTL_SKIP);

    /* Only 32-bit accesses at 0/4 (or 64-bit at 0) move the address register. */
    put_desc(FW_CFG_DMA_CTL_SKIP, 0, 0);
    io_dispatch_write(PIO, FW_CFG_IO_BASE + 8, 0x12, 1);
    io_dispatch_write(PIO, FW_CFG_IO_BASE + 6, 0x1234, 2);
    g_assert_cmphex(desc_control(), ==, FW_CFG_DMA_CTL_SKIP);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ram = g_malloc0(RAM_SIZE);
    rom = g_malloc0(ROM_SIZE);
    guest_mem_add(RAM_BASE, RAM_SIZE, ram, false, "ram");
    guest_mem_add(ROM_BASE, ROM_SIZE, rom, true, "rom");
    fw = fw_cfg_init_io(FW_CFG_IO_BASE, true);

    g_test_add_func("/fw_cfg/signature-and-id", test_signature_and_id);
    g_test_add_func("/fw_cfg/items-and-past-end", test_items_and_past_end);
    g_test_add_func("/fw_cfg/build-dir", test_build_dir);
    g_test_add_func("/fw_cfg/files-sorted", test_files_sorted);
    g_test_add_func("/fw_cfg/reset", test_reset);
    g_test_add_func("/fw_cfg/dma/signature", test_dma_signature);
    g_test_add_func("/fw_cfg/dma/read-select-skip", test_dma_read_select_skip);
    g_test_add_func("/fw_cfg/dma/errors", test_dma_errors);
    return g_test_run();
}
