/*
 * Scenario `fwsetup`: what the firmware (or, under -kernel, a VMM standing in for it) left
 * for the OS on PCI bus 0 and in the MP table, checked without changing anything. Every BAR
 * has an address aligned to its size, I/O ones at or above 0x1000 and memory ones in the
 * 32-bit PCI hole, no two overlap, and the command register decodes them. Each function with
 * an interrupt pin has INTERRUPT_LINE equal to where the PIIX3 steers its PIRQ line (the PIIX4
 * PM function: IRQ 9, its SCI, wired past the router), and the MP table (checksums valid)
 * routes that pin to the same I/O APIC input. Output lists only
 * what the OS relies on, so it is the same under minivmm and QEMU with SeaBIOS.
 */
#include "guest.h"
#include "io.h"

#define FW_MAX_FUNCTIONS 64
#define PIIX3_PIRQRC 0x60
#define MP_PCI_IRQ_NONE 0xff
#define PIIX4_PM_DEV 1
#define PIIX4_PM_FN 3
#define PIIX4_PM_SCI_IRQ 9

typedef struct MPFound {
    const uint8_t *table;
    uint16_t len, count;
    int pci_bus;                /* bus id of the "PCI" bus entry, -1 when absent */
    unsigned cpus, ioapics;
} MPFound;

static PCIDevice fw_devices[FW_MAX_FUNCTIONS];

static uint8_t sum8(const uint8_t *p, unsigned len)
{
    uint8_t s = 0;
    while (len--) {
        s += *p++;
    }
    return s;
}

static uint8_t pci_config_readb(const PCIDevice *d, uint8_t off)
{
    return pci_config_readl(d, off & ~3) >> 8 * (off & 3);
}

static bool bars_overlap(const PCIBar *a, const PCIBar *b)
{
    return a->io == b->io && a->addr < b->addr + b->size && b->addr < a->addr + a->size;
}

static bool fw_check_bar(const PCIDevice *d, int n, uint16_t cmd)
{
    const PCIBar *b = &d->bar[n];
    bool placed = b->io ? b->addr >= 0x1000 && b->addr + b->size <= 0x10000
                        : b->addr >= 0x80000000ull && b->addr + b->size <= 0xfec00000ull;

    if (!placed || (b->addr & (b->size - 1))) {
        report_fail("%02x.%x BAR%d at 0x%lx size 0x%lx", d->dev, d->fn, n, b->addr, b->size);
        return false;
    }
    if (!(cmd & (b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY))) {
        report_fail("%02x.%x BAR%d does not decode (command %04x)", d->dev, d->fn, n, cmd);
        return false;
    }
    return true;
}

static bool fw_check_bars(int nfn)
{
    unsigned bars = 0;

    for (int i = 0; i < nfn; i++) {
        const PCIDevice *d = &fw_devices[i];
        uint16_t cmd = pci_config_readl(d, PCI_COMMAND) & 0xffff;
        for (int n = 0; n < PCI_MAX_BARS; n++) {
            if (!d->bar[n].size) {
                continue;
            }
            if (!fw_check_bar(d, n, cmd)) {
                return false;
            }
            bars++;
            for (int j = 0; j <= i; j++) {
                for (int m = 0; m < PCI_MAX_BARS; m++) {
                    const PCIBar *o = &fw_devices[j].bar[m];
                    if ((j != i || m < n) && o->size && bars_overlap(&d->bar[n], o)) {
                        report_fail("%02x.%x BAR%d overlaps %02x.%x BAR%d", d->dev, d->fn, n,
                                    fw_devices[j].dev, fw_devices[j].fn, m);
                        return false;
                    }
                }
            }
        }
    }
    printf("BARS %u assigned, aligned, decoding, disjoint\n", bars);
    return true;
}

/* A pointer to physical address a (identity-mapped), hidden from the compiler's bounds
 * tracking: low memory is not an object it knows. */
static const uint8_t *phys(uint64_t a)
{
    __asm__("" : "+r"(a));
    return (const uint8_t *)a;
}

static const uint8_t *mp_scan(uint64_t start, uint64_t len)
{
    for (uint64_t a = start; a + 16 <= start + len; a += 16) {
        const uint8_t *p = phys(a);
        if (!memcmp(p, "_MP_", 4) && p[8] == 1 && sum8(p, 16) == 0) {
            return p;
        }
    }
    return NULL;
}

static const uint8_t *mp_find_float(void)
{
    const uint8_t *bda = phys(0x400);
    uint64_t ebda = (uint64_t)(bda[0x0e] | bda[0x0f] << 8) << 4;
    const uint8_t *fp = ebda ? mp_scan(ebda, 1024) : NULL;

    fp = fp ? fp : mp_scan(0x9fc00, 1024);
    return fp ? fp : mp_scan(0xf0000, 0x10000);
}

static unsigned mp_entry_len(uint8_t type)
{
    return type == 0 ? 20 : 8;
}

static bool mp_open(MPFound *mp)
{
    const uint8_t *fp = mp_find_float();
    const uint8_t *t;

    memset(mp, 0, sizeof(*mp));
    mp->pci_bus = -1;
    if (!fp) {
        report_fail("no MP floating pointer");
        return false;
    }
    t = phys(fp[4] | fp[5] << 8 | fp[6] << 16 | (uint32_t)fp[7] << 24);
    mp->len = t[4] | t[5] << 8;
    mp->count = t[34] | t[35] << 8;
    if (memcmp(t, "PCMP", 4) || mp->len < 44 || sum8(t, mp->len) != 0) {
        report_fail("MP configuration table missing or bad checksum");
        return false;
    }
    mp->table = t;
    for (const uint8_t *e = t + 44; e < t + mp->len; e += mp_entry_len(e[0])) {
        mp->cpus += e[0] == 0 && (e[3] & 1);
        mp->ioapics += e[0] == 2 && (e[3] & 1);
        if (e[0] == 1 && !memcmp(e + 2, "PCI", 3)) {
            mp->pci_bus = e[1];
        }
    }
    return true;
}

/* The I/O APIC input the MP table gives PCI device dev's pin (1..4). */
static unsigned mp_pci_irq(const MPFound *mp, unsigned dev, unsigned pin)
{
    const uint8_t *t = mp->table;

    for (const uint8_t *e = t + 44; e < t + mp->len; e += mp_entry_len(e[0])) {
        if (e[0] == 3 && e[4] == mp->pci_bus && e[5] == (dev << 2 | (pin - 1))) {
            return e[7];
        }
    }
    return MP_PCI_IRQ_NONE;
}

static bool fw_check_irqs(int nfn, const MPFound *mp)
{
    const PCIDevice piix3 = { .dev = 1, .fn = 0 };

    for (int i = 0; i < nfn; i++) {
        const PCIDevice *d = &fw_devices[i];
        uint8_t pin = pci_config_readb(d, PCI_INTERRUPT_PIN);
        uint8_t line = pci_config_readb(d, PCI_INTERRUPT_LINE);
        if (!pin) {
            continue;
        }
        uint8_t route = pci_config_readb(&piix3, PIIX3_PIRQRC + ((pin - 1 + d->dev - 1) & 3));
        unsigned mp_irq = mp_pci_irq(mp, d->dev, pin);
        printf("IRQ %02x.%x pin %c line %u pirq-route %u mp %u\n", d->dev, d->fn, 'A' + pin - 1,
               line, route, mp_irq);
        bool pm = d->dev == PIIX4_PM_DEV && d->fn == PIIX4_PM_FN;
        if (line != (pm ? PIIX4_PM_SCI_IRQ : route) || mp_irq != line) {
            report_fail("%02x.%x: INTERRUPT_LINE, PIRQ route and MP table disagree", d->dev,
                        d->fn);
            return false;
        }
    }
    return true;
}

static int fwsetup_run(int argc, char **argv)
{
    int n = pci_scan(fw_devices, FW_MAX_FUNCTIONS);
    MPFound mp;

    if (!fw_check_bars(n) || !mp_open(&mp)) {
        return -1;
    }
    printf("MP cpus %u ioapics %u pci-bus %s\n", mp.cpus, mp.ioapics,
           mp.pci_bus >= 0 ? "yes" : "no");
    printf("ELCR %04x\n", inb(0x4d0) | inb(0x4d1) << 8);
    return fw_check_irqs(n, &mp) ? 0 : -1;
}

SCENARIO(fwsetup, fwsetup_run);
