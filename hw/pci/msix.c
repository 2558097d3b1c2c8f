/*
 * MSI-X: the capability (table size, function mask, enable), the vector table and the
 * pending-bit array in an exclusive 32-bit memory BAR laid out as QEMU lays it out (table at
 * 0, PBA at half of a 4 KiB BAR), masking with pending bits, and message delivery. The table
 * is guest-writable memory: every access is bounds-checked, and as in QEMU only aligned
 * 4-byte accesses (8-byte ones are split) reach it; narrower ones read 0 and are dropped.
 * Not the device's interrupt policy (which vector means what): that is the device's.
 */
#include <string.h>
#include <glib.h>
#include "hw/kvm-irq.h"
#include "hw/memory.h"
#include "hw/msix.h"

#define MSIX_CAP_LENGTH 12
#define MSIX_BAR_MIN 4096
#define MSIX_CTRL_HI (PCI_MSIX_FLAGS + 1) /* byte holding the mask-all and enable bits */
#define MSIX_CTRL_HI_BITS ((PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8)

struct MSIXState {
    unsigned nentries;
    uint8_t cap;
    uint64_t pba_offset;
    uint64_t pba_size;
    uint8_t *table;
    uint8_t *pba;
    bool *masked; /* each vector's effective mask as last reported */
    MSIXVectorNotifier *notifier;
};

static uint16_t msix_ctrl(PCIDevice *dev)
{
    return pci_get_word(dev->config + dev->msix->cap + PCI_MSIX_FLAGS);
}

bool msix_enabled(PCIDevice *dev)
{
    return dev->msix && (msix_ctrl(dev) & PCI_MSIX_FLAGS_ENABLE);
}

unsigned msix_nr_vectors(PCIDevice *dev)
{
    return dev->msix ? dev->msix->nentries : 0;
}

static bool msix_function_masked(PCIDevice *dev)
{
    uint16_t ctrl = msix_ctrl(dev);

    return !(ctrl & PCI_MSIX_FLAGS_ENABLE) || (ctrl & PCI_MSIX_FLAGS_MASKALL);
}

static uint8_t *msix_entry(MSIXState *s, unsigned vector)
{
    return s->table + (size_t)vector * MSIX_ENTRY_SIZE;
}

bool msix_is_masked(PCIDevice *dev, unsigned vector)
{
    MSIXState *s = dev->msix;

    if (!s || vector >= s->nentries) {
        return true;
    }
    return msix_function_masked(dev) ||
           (pci_get_long(msix_entry(s, vector) + PCI_MSIX_ENTRY_VECTOR_CTRL) &
            PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

MSIMessage msix_get_message(PCIDevice *dev, unsigned vector)
{
    MSIXState *s = dev->msix;
    const uint8_t *e;

    if (!s || vector >= s->nentries) {
        return (MSIMessage){0};
    }
    e = msix_entry(s, vector);
    return (MSIMessage){
        .address = pci_get_quad(e + PCI_MSIX_ENTRY_LOWER_ADDR),
        .data = pci_get_long(e + PCI_MSIX_ENTRY_DATA),
    };
}

void msi_send_message(MSIMessage msg)
{
    uint8_t data[4];

    if (msg.address >= MSIX_APIC_WINDOW && msg.address < MSIX_APIC_WINDOW + MSIX_APIC_WINDOW_SIZE) {
        kvm_irqchip_send_msi(msg.address, msg.data);
        return;
    }
    /* Not an interrupt: a DMA write like any other, which only RAM accepts here. */
    pci_set_long(data, msg.data);
    guest_mem_write(msg.address, data, sizeof(data));
}

static bool msix_pending(MSIXState *s, unsigned vector)
{
    return s->pba[vector / 8] & (1u << (vector % 8));
}

static void msix_set_pending(MSIXState *s, unsigned vector, bool on)
{
    if (on) {
        s->pba[vector / 8] |= 1u << (vector % 8);
    } else {
        s->pba[vector / 8] &= ~(1u << (vector % 8));
    }
}

void msix_notify(PCIDevice *dev, unsigned vector)
{
    MSIXState *s = dev->msix;

    if (!s || vector >= s->nentries) {
        return;
    }
    if (msix_is_masked(dev, vector)) {
        msix_set_pending(s, vector, true);
        return;
    }
    msi_send_message(msix_get_message(dev, vector));
}

/* A vector's mask or message may have changed: deliver what was pending, tell the device. */
static void msix_vector_update(PCIDevice *dev, unsigned vector, bool message_changed)
{
    MSIXState *s = dev->msix;
    bool masked = msix_is_masked(dev, vector);

    if (s->notifier && (masked != s->masked[vector] || message_changed)) {
        s->notifier(dev, vector, msix_get_message(dev, vector), masked);
    }
    s->masked[vector] = masked;
    if (!masked && msix_pending(s, vector)) {
        msix_set_pending(s, vector, false);
        msi_send_message(msix_get_message(dev, vector));
    }
}

static void msix_update_all(PCIDevice *dev)
{
    for (unsigned v = 0; v < dev->msix->nentries; v++) {
        msix_vector_update(dev, v, false);
    }
}

void msix_config_write(PCIDevice *dev, unsigned addr, uint32_t val, unsigned len)
{
    MSIXState *s = dev->msix;
    unsigned ctrl_hi = s ? s->cap + MSIX_CTRL_HI : 0;

    if (!s || addr > ctrl_hi || addr + len <= ctrl_hi) {
        return;
    }
    if (msix_enabled(dev)) {
        /* With MSI-X on, the function signals no INTx. */
        pci_set_irq(dev, false);
    }
    msix_update_all(dev);
}

void msix_set_vector_notifier(PCIDevice *dev, MSIXVectorNotifier *fn)
{
    if (dev->msix) {
        dev->msix->notifier = fn;
    }
}

/* ---- the BAR: table and PBA ---- */

static uint32_t msix_read32(PCIDevice *dev, uint64_t addr)
{
    MSIXState *s = dev->msix;
    uint64_t table_size = (uint64_t)s->nentries * MSIX_ENTRY_SIZE;

    if (addr + 4 <= table_size) {
        return pci_get_long(s->table + addr);
    }
    if (addr >= s->pba_offset && addr - s->pba_offset + 4 <= s->pba_size) {
        return pci_get_long(s->pba + (addr - s->pba_offset));
    }
    return 0;
}

static void msix_write32(PCIDevice *dev, uint64_t addr, uint32_t val)
{
    MSIXState *s = dev->msix;
    uint64_t table_size = (uint64_t)s->nentries * MSIX_ENTRY_SIZE;
    unsigned vector = addr / MSIX_ENTRY_SIZE;
    uint32_t old;

    if (addr + 4 > table_size) {
        return; /* the PBA is read-only */
    }
    old = pci_get_long(s->table + addr);
    pci_set_long(s->table + addr, val);
    msix_vector_update(dev, vector,
                       addr % MSIX_ENTRY_SIZE != PCI_MSIX_ENTRY_VECTOR_CTRL && old != val);
}

static uint64_t msix_bar_read(void *opaque, uint64_t addr, unsigned size)
{
    PCIDevice *dev = opaque;

    if (addr % 4) {
        return 0;
    }
    if (size == 8) {
        return msix_read32(dev, addr) | (uint64_t)msix_read32(dev, addr + 4) << 32;
    }
    return size == 4 ? msix_read32(dev, addr) : 0;
}

static void msix_bar_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    PCIDevice *dev = opaque;

    if (addr % 4 || (size != 4 && size != 8)) {
        return;
    }
    msix_write32(dev, addr, (uint32_t)val);
    if (size == 8) {
        msix_write32(dev, addr + 4, val >> 32);
    }
}

static const IOOps msix_bar_ops = {
    .read = msix_bar_read,
    .write = msix_bar_write,
};

/* ---- set-up and reset ---- */

static uint64_t msix_pow2ceil(uint64_t v)
{
    uint64_t p = 1;

    while (p < v) {
        p <<= 1;
    }
    return p;
}

bool msix_init_exclusive_bar(PCIDevice *dev, unsigned nentries, int bar_nr, uint8_t cap_pos,
                             Error **errp)
{
    uint64_t table_size = (uint64_t)nentries * MSIX_ENTRY_SIZE;
    uint64_t pba_size = (nentries + 63) / 64 * 8;
    uint64_t pba_offset = MAX(MSIX_BAR_MIN / 2, table_size);
    uint64_t bar_size = msix_pow2ceil(MAX(MSIX_BAR_MIN, pba_offset + pba_size));
    uint8_t *cap = dev->config + cap_pos;
    MSIXState *s;

    if (nentries == 0 || nentries > MSIX_MAX_ENTRIES || dev->msix || bar_nr < 0 ||
        bar_nr >= PCI_STD_NUM_BARS || dev->bars[bar_nr].size) {
        error_setg(errp, "%s: cannot set up %u MSI-X vectors in BAR %d", dev->info->name, nentries,
                   bar_nr);
        return false;
    }
    if (pci_add_capability(dev, PCI_CAP_ID_MSIX, cap_pos, MSIX_CAP_LENGTH) < 0) {
        error_setg(errp, "%s: no room for the MSI-X capability at %#x", dev->info->name, cap_pos);
        return false;
    }
    s = g_new0(MSIXState, 1);
    s->nentries = nentries;
    s->cap = cap_pos;
    s->pba_offset = pba_offset;
    s->pba_size = pba_size;
    s->table = g_malloc0(table_size);
    s->pba = g_malloc0(pba_size);
    s->masked = g_new0(bool, nentries);
    dev->msix = s;
    pci_set_word(cap + PCI_MSIX_FLAGS, nentries - 1);
    pci_set_long(cap + PCI_MSIX_TABLE, bar_nr);
    pci_set_long(cap + PCI_MSIX_PBA, pba_offset | bar_nr);
    dev->wmask[cap_pos + MSIX_CTRL_HI] = MSIX_CTRL_HI_BITS;
    pci_register_bar(dev, bar_nr, bar_size, PCI_BAR_MEM32, &msix_bar_ops, dev);
    msix_reset(dev);
    return true;
}

void msix_reset(PCIDevice *dev)
{
    MSIXState *s = dev->msix;

    if (!s) {
        return;
    }
    dev->config[s->cap + MSIX_CTRL_HI] &= ~MSIX_CTRL_HI_BITS;
    memset(s->table, 0, (size_t)s->nentries * MSIX_ENTRY_SIZE);
    memset(s->pba, 0, s->pba_size);
    for (unsigned v = 0; v < s->nentries; v++) {
        pci_set_long(msix_entry(s, v) + PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    }
    msix_update_all(dev);
}

void msix_free(PCIDevice *dev)
{
    MSIXState *s = dev->msix;

    if (s) {
        g_free(s->table);
        g_free(s->pba);
        g_free(s->masked);
        g_free(s);
        dev->msix = NULL;
    }
}
