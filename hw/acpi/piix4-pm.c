/*
 * The PIIX4 power-management function (00:01.3), the ACPI hardware SeaBIOS builds its tables
 * for: PM1 event and control registers and the 24-bit PM timer in a 64-byte I/O block at
 * PMBA (decoded when PMREGMISC.PMIOSE is set), the GPE0 block at 0xafe0 where SeaBIOS's FADT
 * puts it, the APM ports 0xb2/0xb3 that the OS uses to switch to ACPI mode, and the SCI on
 * ISA IRQ 9, which the ACPI PCI hotplug registers (pci-hotplug.c) raise through GPE0 bit 1.
 * Sleep type 0 (S5) powers the machine off; other sleep states are ignored.
 * Not the SMBus controller (SMBBA and SMBHSTCFG are stored only) and not SMM: APMC writes
 * raise no SMI, the enable/disable commands act directly as the firmware's handler would.
 */
#include <string.h>
#include <glib.h>
#include "hw/acpi-pcihp.h"
#include "hw/irq.h"
#include "hw/machine.h"
#include "hw/pc-chipset.h"
#include "util/main-loop.h"

#define PIIX4_PM_IO_LEN 64
#define PIIX4_GPE0_BLK 0xafe0
#define PIIX4_GPE0_BLK_LEN 4
#define PIIX4_APM_PORT 0xb2
#define PM_TIMER_FREQUENCY 3579545ULL
#define PM_TIMER_MSB_SHIFT 23     /* TMROF_STS is set when bit 23 of the timer toggles */
#define ACPI_ENABLE 0xf1          /* APMC commands named in SeaBIOS's FADT */
#define ACPI_DISABLE 0xf0

enum PIIX4PMConfigRegs {
    PIIX4_PMBA = 0x40,
    PIIX4_DEVACTB = 0x58,
    PIIX4_PMREGMISC = 0x80,
    PIIX4_SMBBA = 0x90,
    PIIX4_SMBHSTCFG = 0xd2,
};

enum PIIX4PMIORegs {
    PIIX4_PMSTS = 0x00,
    PIIX4_PMEN = 0x02,
    PIIX4_PMCNTRL = 0x04,
    PIIX4_PMTMR = 0x08,
};

enum {
    PMBA_BASE_MASK = 0xffc0,
    PMBA_IO_SPACE = 0x01,
    SMBBA_BASE_MASK = 0xfff0,
    PMREGMISC_PMIOSE = 0x01,
    PIIX4_SMBUS_DEFAULT_BASE = 0xb100,
    DEVACTB_APMC_EN_BYTE3 = 0x02,   /* bit 25: SMM set up; stops SMM-enabled firmware */
    TMROF_STS = 1 << 0,
    GBL_STS = 1 << 5,
    PWRBTN_STS = 1 << 8,
    PWRBTN_EN = 1 << 8, /* PM1_EN: the same bit as its status */
    RTC_STS = 1 << 10,
    SCI_EN = 1 << 0,
    SUS_TYP_SHIFT = 10,
    SUS_TYP_MASK = 7,
    SUS_EN = 1 << 13,
};

typedef struct PIIX4PMState {
    PCIDevice *dev;
    IORegion *pm_io;
    unsigned sci_irq;
    bool sci_level;
    uint16_t pmsts;
    uint16_t pmen;
    uint16_t pmcntrl;
    uint64_t tmr_epoch;           /* PM timer >> 23 when TMROF_STS was last cleared */
    uint16_t gpe0_sts;
    uint16_t gpe0_en;
    uint8_t apmc;
    uint8_t apms;
    AcpiPciHpState *pcihp;
} PIIX4PMState;

/* size bytes at addr of a little-endian register image; bytes beyond it read 0. */
static uint64_t regs_read(const uint8_t *regs, size_t len, uint64_t addr, unsigned size)
{
    uint64_t val = 0;

    for (unsigned i = 0; i < size && addr + i < len; i++) {
        val |= (uint64_t)regs[addr + i] << (8 * i);
    }
    return val;
}

static uint64_t pm_timer_ticks(void)
{
    int64_t ns = clock_get_ns(CLOCK_VIRTUAL);

    return (unsigned __int128)MAX(ns, 0) * PM_TIMER_FREQUENCY / 1000000000ULL;
}

/* TMROF_STS is computed when looked at, so no timer runs for it; it raises no SCI. */
static void piix4_pm_update_tmrof(PIIX4PMState *s)
{
    if (pm_timer_ticks() >> PM_TIMER_MSB_SHIFT != s->tmr_epoch) {
        s->pmsts |= TMROF_STS;
    }
}

static void piix4_pm_update_sci(PIIX4PMState *s)
{
    bool level = (s->pmsts & s->pmen & (GBL_STS | PWRBTN_STS | RTC_STS)) ||
                 (s->gpe0_sts & s->gpe0_en);

    if (level != s->sci_level) {
        s->sci_level = level;
        irq_set_level(s->sci_irq, level);
    }
}

/* system_powerdown presses the power button: noted (and an SCI) only if the guest enabled
 * its event, as in QEMU. */
static void piix4_pm_powerdown(void *opaque)
{
    PIIX4PMState *s = opaque;

    if (s->pmen & PWRBTN_EN) {
        s->pmsts |= PWRBTN_STS;
        piix4_pm_update_sci(s);
    }
}

/* PCI hotplug (pci-hotplug.c) asks for an SCI through GPE0. */
static void piix4_pm_send_pcihp_gpe(void *opaque)
{
    PIIX4PMState *s = opaque;

    s->gpe0_sts |= ACPI_PCI_HOTPLUG_STATUS;
    piix4_pm_update_sci(s);
}

/* ---- PM I/O block at PMBA ---- */

static void piix4_pm_snapshot(PIIX4PMState *s, uint8_t regs[PIIX4_PM_IO_LEN])
{
    memset(regs, 0, PIIX4_PM_IO_LEN);
    piix4_pm_update_tmrof(s);
    pci_set_word(regs + PIIX4_PMSTS, s->pmsts);
    pci_set_word(regs + PIIX4_PMEN, s->pmen);
    pci_set_word(regs + PIIX4_PMCNTRL, s->pmcntrl);
    pci_set_long(regs + PIIX4_PMTMR, pm_timer_ticks() & 0xffffff);
}

static uint64_t piix4_pm_io_read(void *opaque, uint64_t addr, unsigned size)
{
    uint8_t regs[PIIX4_PM_IO_LEN];

    piix4_pm_snapshot(opaque, regs);
    return regs_read(regs, sizeof(regs), addr, size);
}

static void piix4_pm_cntrl_write(PIIX4PMState *s, uint16_t val)
{
    s->pmcntrl = val & ~SUS_EN;
    if ((val & SUS_EN) && ((val >> SUS_TYP_SHIFT) & SUS_TYP_MASK) == 0) {
        machine_request_poweroff();
    }
}

static void piix4_pm_io_write_byte(PIIX4PMState *s, uint64_t off, uint8_t b)
{
    unsigned shift = 8 * (off & 1);
    uint16_t bits = (uint16_t)b << shift;
    uint16_t keep = ~(0xff << shift);

    switch (off & ~1ULL) {
    case PIIX4_PMSTS:
        piix4_pm_update_tmrof(s);
        if (bits & TMROF_STS) {
            s->tmr_epoch = pm_timer_ticks() >> PM_TIMER_MSB_SHIFT;
        }
        s->pmsts &= ~bits;
        break;
    case PIIX4_PMEN:
        s->pmen = (s->pmen & keep) | bits;
        break;
    case PIIX4_PMCNTRL:
        piix4_pm_cntrl_write(s, (s->pmcntrl & keep) | bits);
        break;
    }
}

static void piix4_pm_io_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < size && addr + i < PIIX4_PM_IO_LEN; i++) {
        piix4_pm_io_write_byte(opaque, addr + i, val >> (8 * i));
    }
    piix4_pm_update_sci(opaque);
}

static const IOOps piix4_pm_io_ops = {
    .read = piix4_pm_io_read,
    .write = piix4_pm_io_write,
};

/* ---- GPE0 block: two status bytes (write 1 to clear), then two enable bytes ---- */

static uint64_t piix4_gpe_read(void *opaque, uint64_t addr, unsigned size)
{
    PIIX4PMState *s = opaque;
    uint8_t regs[PIIX4_GPE0_BLK_LEN];

    pci_set_word(regs, s->gpe0_sts);
    pci_set_word(regs + 2, s->gpe0_en);
    return regs_read(regs, sizeof(regs), addr, size);
}

static void piix4_gpe_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PIIX4PMState *s = opaque;

    for (unsigned i = 0; i < size && addr + i < PIIX4_GPE0_BLK_LEN; i++) {
        uint8_t b = val >> (8 * i);
        unsigned shift = 8 * ((addr + i) & 1);

        if (addr + i < 2) {
            s->gpe0_sts &= ~((uint16_t)b << shift);
        } else {
            s->gpe0_en = (s->gpe0_en & ~(0xff << shift)) | (uint16_t)b << shift;
        }
    }
    piix4_pm_update_sci(s);
}

static const IOOps piix4_gpe_ops = {
    .read = piix4_gpe_read,
    .write = piix4_gpe_write,
};

/* ---- APM control (APMC, 0xb2) and status (APMS, 0xb3) ---- */

static uint64_t piix4_apm_read(void *opaque, uint64_t addr, unsigned size)
{
    PIIX4PMState *s = opaque;
    uint8_t regs[2] = { s->apmc, s->apms };

    return regs_read(regs, sizeof(regs), addr, size);
}

/* What the chipset's SMI handler does for the FADT's ACPI_ENABLE/ACPI_DISABLE commands. */
static void piix4_apmc_write(PIIX4PMState *s, uint8_t cmd)
{
    s->apmc = cmd;
    if (cmd == ACPI_ENABLE) {
        s->pmcntrl |= SCI_EN;
    } else if (cmd == ACPI_DISABLE) {
        s->pmcntrl &= ~SCI_EN;
    }
}

static void piix4_apm_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PIIX4PMState *s = opaque;

    for (unsigned i = 0; i < size && addr + i < 2; i++) {
        if (addr + i == 0) {
            piix4_apmc_write(s, val >> (8 * i));
        } else {
            s->apms = val >> (8 * i);
        }
    }
}

static const IOOps piix4_apm_ops = {
    .read = piix4_apm_read,
    .write = piix4_apm_write,
};

/* ---- configuration space ---- */

static void piix4_pm_update_io(PIIX4PMState *s)
{
    const uint8_t *cfg = s->dev->config;
    uint64_t base = pci_get_long(cfg + PIIX4_PMBA) & PMBA_BASE_MASK;
    uint64_t want = (cfg[PIIX4_PMREGMISC] & PMREGMISC_PMIOSE) && base ? base : UINT64_MAX;
    uint64_t now = io_region_mapped(s->pm_io) ? io_region_base(s->pm_io) : UINT64_MAX;

    if (want != now) {
        io_region_move(s->pm_io, want);
    }
}

static void piix4_pm_config_write(PCIDevice *dev, unsigned addr, uint32_t val, unsigned len)
{
    if ((addr < PIIX4_PMBA + 4 && PIIX4_PMBA < addr + len) ||
        (addr <= PIIX4_PMREGMISC && PIIX4_PMREGMISC < addr + len)) {
        piix4_pm_update_io(dev->opaque);
    }
}

static void piix4_pm_reset(PCIDevice *dev)
{
    PIIX4PMState *s = dev->opaque;

    memset(dev->config + PCI_STD_HEADER_SIZEOF, 0, PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF);
    dev->config[PIIX4_PMBA] = PMBA_IO_SPACE;
    /* QEMU's reset values: SMBus base 0xb100 with host enable, DEVRESD/DEVRESE decode. */
    pci_set_word(dev->config + PIIX4_SMBBA, PIIX4_SMBUS_DEFAULT_BASE | PMBA_IO_SPACE);
    dev->config[PIIX4_SMBHSTCFG] = 0x09;
    dev->config[0x5f] = 0x10;
    dev->config[0x63] = 0x60;
    dev->config[PIIX4_DEVACTB + 3] = DEVACTB_APMC_EN_BYTE3;
    s->pmsts = s->pmen = s->pmcntrl = 0;
    s->gpe0_sts = s->gpe0_en = 0;
    s->apmc = s->apms = 0;
    s->tmr_epoch = pm_timer_ticks() >> PM_TIMER_MSB_SHIFT;
    piix4_pm_update_io(s);
    piix4_pm_update_sci(s);
    if (s->pcihp) {
        acpi_pcihp_reset(s->pcihp);
    }
}

static const PCIDeviceInfo piix4_pm_info = {
    .name = "PIIX4_PM",
    .vendor_id = PCI_VENDOR_ID_INTEL,
    .device_id = 0x7113,
    .class_code = PCI_CLASS_BRIDGE_OTHER << 8,
    .revision = 0x03,
    .header_type = PCI_HEADER_TYPE_NORMAL,
    .interrupt_pin = 1,
    .config_write = piix4_pm_config_write,
    .reset = piix4_pm_reset,
};

static void piix4_pm_init_config(PCIDevice *dev)
{
    pci_set_word(dev->config + PCI_STATUS, PCI_STATUS_FAST_BACK | PCI_STATUS_DEVSEL_MEDIUM);
    pci_set_long(dev->wmask + PIIX4_PMBA, PMBA_BASE_MASK);
    dev->wmask[PIIX4_PMREGMISC] = PMREGMISC_PMIOSE;
    pci_set_long(dev->wmask + PIIX4_SMBBA, SMBBA_BASE_MASK);
}

void piix4_pm_init(PCIBus *bus, int devfn, unsigned sci_irq)
{
    PIIX4PMState *s = g_new0(PIIX4PMState, 1);
    BusState *qbus;

    s->sci_irq = sci_irq;
    s->dev = pci_device_new(bus, devfn, &piix4_pm_info, s, &error_abort);
    s->pm_io = io_region_add(IO_SPACE_PIO, UINT64_MAX, PIIX4_PM_IO_LEN, &piix4_pm_io_ops, s,
                             "piix4-pm");
    piix4_pm_init_config(s->dev);
    qbus = qbus_find("pci.0");
    s->pcihp = acpi_pcihp_init(bus, qbus && qbus->opaque == bus ? qbus : NULL,
                               piix4_pm_send_pcihp_gpe, s);
    piix4_pm_reset(s->dev);
    portio_add(PIIX4_GPE0_BLK, PIIX4_GPE0_BLK_LEN, &piix4_gpe_ops, s, "acpi-gpe0");
    portio_add(PIIX4_APM_PORT, 2, &piix4_apm_ops, s, "apm-io");
    machine_set_powerdown_handler(piix4_pm_powerdown, s);
}
