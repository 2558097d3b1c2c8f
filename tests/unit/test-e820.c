/* Unit tests for the PC RAM split and e820 table. */
#include <glib.h>
#include "hw/e820.h"

static void test_split(void)
{
    static const struct {
        uint64_t ram, below, above;
    } cases[] = {
        { 128ULL << 20, 128ULL << 20, 0 },
        { 1ULL << 30, 1ULL << 30, 0 },
        { 0xdfffffffULL, 0xdfffffffULL, 0 },
        { 0xe0000000ULL, 0xc0000000ULL, 0x20000000ULL },
        { 5ULL << 30, 0xc0000000ULL, 2ULL << 30 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t below, above;
        pc_split_ram(cases[i].ram, &below, &above);
        g_assert_cmphex(below, ==, cases[i].below);
        g_assert_cmphex(above, ==, cases[i].above);
    }
}

static void test_table_low_only(void)
{
    E820Entry t[E820_MAX_ENTRIES];
    unsigned n = pc_build_e820(128ULL << 20, 0, t);

    g_assert_cmpuint(n, ==, 2);
    g_assert_cmphex(t[0].addr, ==, 0);
    g_assert_cmphex(t[0].len, ==, 128ULL << 20);
    g_assert_cmpuint(t[0].type, ==, E820_RAM);
    g_assert_cmphex(t[1].addr, ==, 0xfeffc000ULL);
    g_assert_cmphex(t[1].len, ==, 0x4000);
    g_assert_cmpuint(t[1].type, ==, E820_RESERVED);
}

static void test_table_high(void)
{
    E820Entry t[E820_MAX_ENTRIES];
    uint64_t below, above;
    unsigned n;

    pc_split_ram(5ULL << 30, &below, &above);
    n = pc_build_e820(below, above, t);
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmphex(t[1].addr, ==, 0x100000000ULL);
    g_assert_cmphex(t[1].len, ==, 2ULL << 30);
    g_assert_cmpuint(sizeof(E820Entry), ==, 20);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/e820/split", test_split);
    g_test_add_func("/e820/table-low", test_table_low_only);
    g_test_add_func("/e820/table-high", test_table_high);
    return g_test_run();
}
