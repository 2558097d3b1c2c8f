/*
 * The PIIX3 IDE function, shared by the IDE and ATAPI scenarios (tests/guest/ide.h).
 */
#include "guest.h"
#include "ide.h"
#include "io.h"

uint16_t piix_ide_open(void)
{
    PCIDevice devs[32];
    int n = pci_enumerate(devs, 32);

    for (int i = 0; i < n; i++) {
        if (devs[i].vendor_id == 0x8086 && devs[i].device_id == 0x7010 && devs[i].bar[4].io) {
            uint32_t cmd = pci_config_readl(&devs[i], 0x04) & 0xffff;

            pci_config_writel(&devs[i], 0x04, cmd | 0x05);
            return devs[i].bar[4].addr;
        }
    }
    return 0;
}

uint8_t ide_wait_ctrl(uint16_t ctrl)
{
    for (uint64_t i = 0; i < IDE_SPIN_LIMIT; i++) {
        uint8_t st = inb(ctrl);
        if (!(st & 0x80)) {
            return st;
        }
    }
    return 0xff;
}
