/*
 * Scenario `reboot`: count boots in CMOS byte 0x41 (it survives a reset), print "BOOT n", and
 * reset the machine through the PIIX3 reset control register (0xcf9) on the first boot; pass
 * on the second. Checks that a reset restarts the same guest (firmware or kernel) again.
 */
#include "guest.h"
#include "io.h"

enum {
    CMOS_INDEX = 0x70,
    CMOS_DATA = 0x71,
    CMOS_BOOT_COUNT = 0x41,
    RESET_CONTROL = 0xcf9,
    RCR_SYS_RST = 0x02,
    RCR_RST_CPU = 0x04,
};

static uint8_t cmos_read(uint8_t index)
{
    outb(CMOS_INDEX, index);
    return inb(CMOS_DATA);
}

static void cmos_write(uint8_t index, uint8_t v)
{
    outb(CMOS_INDEX, index);
    outb(CMOS_DATA, v);
}

static int reboot_run(int argc, char **argv)
{
    uint8_t count = cmos_read(CMOS_BOOT_COUNT) + 1;
    cmos_write(CMOS_BOOT_COUNT, count);
    printf("BOOT %u\n", count);
    if (count < 2) {
        outb(RESET_CONTROL, RCR_SYS_RST);
        outb(RESET_CONTROL, RCR_SYS_RST | RCR_RST_CPU);
        for (;;) {
        }
    }
    cmos_write(CMOS_BOOT_COUNT, 0);
    return 0;
}

SCENARIO(reboot, reboot_run);
