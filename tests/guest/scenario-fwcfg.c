/* Scenario `fwcfg`: print the arguments as fw_cfg delivered them, and the etc/e820 table. */
#include "guest.h"

typedef struct E820Entry {
    uint64_t addr;
    uint64_t len;
    uint32_t type;
} __attribute__((packed)) E820Entry;

static int fwcfg_print_e820(void)
{
    uint16_t key;
    int64_t size = fw_cfg_find_file("etc/e820", &key);
    if (size < 0 || size % sizeof(E820Entry)) {
        report_fail("etc/e820 missing or of size %ld", size);
        return -1;
    }
    fw_cfg_select(key);
    for (int64_t i = 0; i < size / (int64_t)sizeof(E820Entry); i++) {
        E820Entry e;
        fw_cfg_read(&e, sizeof(e));
        printf("E820 0x%016lx 0x%016lx %u\n", e.addr, e.len, e.type);
    }
    return 0;
}

static int fwcfg_run(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        printf("ARG %d %s\n", i, argv[i]);
    }
    return fwcfg_print_e820();
}

SCENARIO(fwcfg, fwcfg_run);
