/* Unit tests for the qtest protocol: reply formats (as QEMU's), memory and port access,
 * the virtual clock, and FAIL (never a crash) for malformed lines. */
#include <string.h>
#include <glib.h>
#include "hw/ioport.h"
#include "hw/memory.h"
#include "system/qtest.h"
#include "util/main-loop.h"

static uint8_t ram[64 * 1024];
static uint64_t port_last_write;
static unsigned port_last_size;

static uint64_t test_port_read(void *opaque, uint64_t addr, unsigned size)
{
    return 0x51525354ULL >> (8 * (4 - size)) & ((1ULL << (8 * size)) - 1);
}

static void test_port_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    port_last_write = val;
    port_last_size = size;
}

static const IOOps test_port_ops = { test_port_read, test_port_write };

static void check(const char *line, const char *expected)
{
    g_autofree char *reply = qtest_process_line(line);

    g_assert_cmpstr(reply, ==, expected);
}

static void test_memory(void)
{
    check("writeq 0x1000 0x1122334455667788", "OK");
    check("read 0x1000 8", "OK 0x8877665544332211");
    check("b64read 0x1000 8", "OK iHdmVUQzIhE=");
    check("readb 0x1000", "OK 0x0000000000000088");
    check("readl 0x1000", "OK 0x0000000055667788");
    check("write 0x2000 3 0xaabbcc", "OK");
    check("read 0x2000 4", "OK 0xaabbcc00");
    check("memset 0x2000 2 0x55", "OK");
    check("read 0x2000 4", "OK 0x5555cc00");
    check("b64write 0x2000 2 qrs=", "OK");
    check("read 0x2000 2", "OK 0xaabb");
    g_assert_cmpuint(ram[0x2000], ==, 0xaa);
}

static void test_ports(void)
{
    check("outw 0x600 0x1234", "OK");
    g_assert_cmphex(port_last_write, ==, 0x1234);
    g_assert_cmpuint(port_last_size, ==, 2);
    check("inb 0x600", "OK 0x0051");
    check("inl 0x600", "OK 0x51525354");
    check("inb 0x700", "OK 0x00ff");
}

static int fired;

static void test_timer_cb(void *opaque)
{
    fired++;
}

static void test_clock(void)
{
    Timer *t = timer_new(CLOCK_VIRTUAL, test_timer_cb, NULL);

    /* The qtest clock starts at 0 and only moves when told to. */
    check("clock_step 0", "OK 0");
    timer_mod(t, 1000);
    check("clock_step", "OK 1000");  /* no argument: to the next deadline */
    g_assert_cmpint(fired, ==, 1);
    timer_mod(t, 5000);
    check("clock_step 3000", "OK 4000");
    g_assert_cmpint(fired, ==, 1);
    check("clock_set 10000", "OK 10000");
    g_assert_cmpint(fired, ==, 2);
    check("clock_set 20", "OK 10000");  /* never backwards */
    timer_free(t);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "outb", "outb 0x80", "inb", "readl", "read 0x1000", "write 0x1000 4",
        "write 0x1000 4 zz", "write 0x1000 2 0xgg", "memset 0x1000 2", "b64read x 1",
        "outb 0x10000 1", "read 0x1000 99999999999", "clock_set", "clock_set -1",
        "irq_intercept_in", "",
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *reply = qtest_process_line(bad[i]);
        g_assert_true(g_str_has_prefix(reply, "FAIL"));
    }
    check("foo bar", "FAIL Unknown command 'foo'");
    check("endianness", "OK little");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    guest_mem_add(0, sizeof(ram), ram, false, "test-ram");
    portio_add(0x600, 4, &test_port_ops, NULL, "test-port");
    qtest_enable_accel();
    g_test_add_func("/qtest/memory", test_memory);
    g_test_add_func("/qtest/ports", test_ports);
    g_test_add_func("/qtest/clock", test_clock);
    g_test_add_func("/qtest/malformed", test_malformed);
    return g_test_run();
}
