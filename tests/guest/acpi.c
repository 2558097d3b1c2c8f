/*
 * PIIX4 power management (00:01.3): enable its I/O space at PMBA 0x600, read the 24-bit
 * 3.579545 MHz PM timer, and power off through PM1a_CNT (SLP_EN, sleep type 0), which ends
 * minivmm and QEMU with exit status 0.
 */
#include "guest.h"
#include "io.h"

enum {
    PIIX4_PM_BDF = 0x0b,        /* 00:01.3 */
    PIIX4_PMBA = 0x40,
    PIIX4_PMREGMISC = 0x80,
    PM_BASE = 0x600,
    PM1A_CNT = PM_BASE + 0x04,
    PM_TMR = PM_BASE + 0x08,
    PM1_CNT_SLP_EN = 0x2000,
};

static void piix4_pm_config_writel(uint8_t off, uint32_t v)
{
    outl(0xcf8, 0x80000000u | PIIX4_PM_BDF << 8 | off);
    outl(0xcfc, v);
}

void acpi_pm_enable(void)
{
    piix4_pm_config_writel(PIIX4_PMBA, PM_BASE | 1);
    piix4_pm_config_writel(PIIX4_PMREGMISC, 1);
}

uint32_t acpi_pm_timer(void)
{
    return inl(PM_TMR) & 0xffffff;
}

void acpi_poweroff(void)
{
    outw(PM1A_CNT, PM1_CNT_SLP_EN);
    for (;;) {
    }
}
