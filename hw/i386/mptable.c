/*
 * The MP table (Intel MultiProcessor Specification 1.4): a 16-byte floating pointer that the
 * OS finds by scanning low memory, then the configuration table it points to: one entry per
 * CPU, the PCI and ISA buses, the I/O APIC, one I/O interrupt entry per interrupt source and
 * the local APICs' LINT0/LINT1 wiring. ISA IRQ n reaches I/O APIC pin n, as KVM's default GSI
 * routing has it (no IRQ0 override); PCI interrupts are level-triggered, active high, on the
 * pin their PIRQ line is steered to. Only builds the bytes; where they go is the board's.
 */
#include <string.h>
#include "hw/mptable.h"

enum {
    MP_FLOAT_SIZE = 16,
    MP_HEADER_SIZE = 44,
    MP_SPEC_REV = 4,
    MP_ENTRY_CPU = 0,
    MP_ENTRY_BUS = 1,
    MP_ENTRY_IOAPIC = 2,
    MP_ENTRY_IOINT = 3,
    MP_ENTRY_LOCALINT = 4,
    MP_CPU_EN = 1,
    MP_CPU_BP = 2,
    MP_LAPIC_VERSION = 0x14,
    MP_IOAPIC_VERSION = 0x11,
    MP_INT = 0,
    MP_NMI = 1,
    MP_EXTINT = 3,
    MP_IRQ_CONFORMING = 0,
    MP_IRQ_HIGH_LEVEL = 0x1 | 0x3 << 2,  /* polarity active high, trigger level */
    MP_BUS_PCI = 0,
    MP_BUS_ISA = 1,
    MP_ALL_LAPICS = 0xff,
    MP_LAPIC_ADDR = 0xfee00000,
    ISA_IRQS = 16,
    ISA_IRQ_CASCADE = 2,
};

static void mp_put16(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static void mp_put32(uint8_t *p, uint32_t v)
{
    mp_put16(p, v);
    mp_put16(p + 2, v >> 16);
}

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;

    while (len--) {
        sum += *p++;
    }
    return -sum;
}

static void mp_append(GByteArray *t, const uint8_t *entry, unsigned len, unsigned *count)
{
    g_byte_array_append(t, entry, len);
    (*count)++;
}

static void mp_add_cpus(GByteArray *t, const MPTableConfig *c, unsigned *count)
{
    for (unsigned i = 0; i < c->cpus; i++) {
        uint8_t e[20] = { MP_ENTRY_CPU, i, MP_LAPIC_VERSION, MP_CPU_EN | (i ? 0 : MP_CPU_BP) };

        mp_put32(e + 4, c->cpu_signature);
        mp_put32(e + 8, c->cpu_features);
        mp_append(t, e, sizeof(e), count);
    }
}

static void mp_add_buses(GByteArray *t, const MPTableConfig *c, unsigned *count)
{
    uint8_t pci[8] = { MP_ENTRY_BUS, MP_BUS_PCI, 'P', 'C', 'I', ' ', ' ', ' ' };
    uint8_t isa[8] = { MP_ENTRY_BUS, MP_BUS_ISA, 'I', 'S', 'A', ' ', ' ', ' ' };
    uint8_t ioapic[8] = { MP_ENTRY_IOAPIC, c->ioapic_id, MP_IOAPIC_VERSION, 1 };

    mp_append(t, pci, sizeof(pci), count);
    mp_append(t, isa, sizeof(isa), count);
    mp_put32(ioapic + 4, c->ioapic_addr);
    mp_append(t, ioapic, sizeof(ioapic), count);
}

static void mp_add_int(GByteArray *t, uint8_t type, uint8_t kind, uint16_t flags, uint8_t bus,
                       uint8_t bus_irq, uint8_t dest, uint8_t pin, unsigned *count)
{
    uint8_t e[8] = { type, kind, 0, 0, bus, bus_irq, dest, pin };

    mp_put16(e + 2, flags);
    mp_append(t, e, sizeof(e), count);
}

/* PCI sources first; an ISA IRQ a PCI line is routed to gets no (edge) ISA entry. */
static void mp_add_irqs(GByteArray *t, const MPTableConfig *c, unsigned *count)
{
    uint16_t pci_irqs = 0;

    for (unsigned i = 0; i < c->n_pci; i++) {
        const MPTablePCIIRQ *p = &c->pci[i];
        uint8_t src = (p->devfn >> 3) << 2 | (p->pin - 1);

        mp_add_int(t, MP_ENTRY_IOINT, MP_INT, MP_IRQ_HIGH_LEVEL, MP_BUS_PCI, src, c->ioapic_id,
                   p->irq, count);
        pci_irqs |= p->irq < ISA_IRQS ? 1u << p->irq : 0;
    }
    for (unsigned irq = 0; irq < ISA_IRQS; irq++) {
        if (irq != ISA_IRQ_CASCADE && !(pci_irqs & 1u << irq)) {
            mp_add_int(t, MP_ENTRY_IOINT, MP_INT, MP_IRQ_CONFORMING, MP_BUS_ISA, irq,
                       c->ioapic_id, irq, count);
        }
    }
    mp_add_int(t, MP_ENTRY_LOCALINT, MP_EXTINT, MP_IRQ_CONFORMING, MP_BUS_ISA, 0, MP_ALL_LAPICS,
               0, count);
    mp_add_int(t, MP_ENTRY_LOCALINT, MP_NMI, MP_IRQ_CONFORMING, MP_BUS_ISA, 0, MP_ALL_LAPICS, 1,
               count);
}

GByteArray *mptable_build(const MPTableConfig *c, uint32_t addr)
{
    GByteArray *t = g_byte_array_new();
    uint8_t head[MP_FLOAT_SIZE + MP_HEADER_SIZE] = { 0 };
    uint8_t *fp, *hdr;
    unsigned count = 0;

    g_byte_array_append(t, head, sizeof(head));
    mp_add_cpus(t, c, &count);
    mp_add_buses(t, c, &count);
    mp_add_irqs(t, c, &count);

    fp = t->data;
    hdr = t->data + MP_FLOAT_SIZE;
    memcpy(fp, "_MP_", 4);
    mp_put32(fp + 4, addr + MP_FLOAT_SIZE);
    fp[8] = MP_FLOAT_SIZE / 16;
    fp[9] = MP_SPEC_REV;
    fp[10] = mp_checksum(fp, MP_FLOAT_SIZE);
    memcpy(hdr, "PCMP", 4);
    mp_put16(hdr + 4, t->len - MP_FLOAT_SIZE);
    hdr[6] = MP_SPEC_REV;
    memcpy(hdr + 8, "MINIVMM ", 8);
    memcpy(hdr + 16, "PC          ", 12);
    mp_put16(hdr + 34, count);
    mp_put32(hdr + 36, MP_LAPIC_ADDR);
    hdr[7] = mp_checksum(hdr, t->len - MP_FLOAT_SIZE);
    return t;
}
