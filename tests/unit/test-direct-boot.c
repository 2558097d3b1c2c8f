/*
 * Unit tests for what the VMM leaves behind when -kernel skips the firmware: PCI resource
 * assignment (hw/pci/pci-assign.c) and the MP table (hw/i386/mptable.c), checked through
 * configuration reads and by parsing the table bytes as an OS would.
 */
#include <string.h>
#include <glib.h>
#include "hw/mptable.h"
#include "hw/pci-assign.h"

static uint64_t dummy_read(void *opaque, uint64_t addr, unsigned size)
{
    return 0;
}

static void dummy_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
}

static const IOOps dummy_ops = { .read = dummy_read, .write = dummy_write };

static const PCIDeviceInfo dev_info = {
    .name = "assign-test",
    .vendor_id = 0x1af4,
    .device_id = 0x10f1,
    .interrupt_pin = 1,
};

static const PCIAssignConfig windows = {
    .io_start = 0xc000,
    .io_end = 0x10000,
    .mem_start = 0xe0000000,
    .mem_end = 0xfec00000,
    .pirq_irq = { 10, 10, 11, 11 },
};

static uint64_t bar_addr(PCIDevice *dev, int n)
{
    uint32_t lo = pci_bus_config_read(dev->bus, dev->devfn, PCI_BASE_ADDRESS_0 + 4 * n, 4);
    uint64_t addr = lo & (lo & PCI_BASE_ADDRESS_SPACE_IO ? ~0x3u : ~0xfu);

    if (dev->bars[n].flags & PCI_BAR_MEM64) {
        addr |= (uint64_t)pci_bus_config_read(dev->bus, dev->devfn,
                                              PCI_BASE_ADDRESS_0 + 4 * n + 4, 4) << 32;
    }
    return addr;
}

static PCIDevice *new_dev(PCIBus *bus, unsigned slot)
{
    return pci_device_new(bus, PCI_DEVFN(slot, 0), &dev_info, NULL, &error_abort);
}

static void test_assign_packs_largest_first(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    PCIDevice *a = new_dev(bus, 2), *b = new_dev(bus, 3);
    Error *err = NULL;

    pci_register_bar(a, 0, 0x40, PCI_BAR_IO, &dummy_ops, NULL);
    pci_register_bar(a, 1, 0x1000, PCI_BAR_MEM32, &dummy_ops, NULL);
    pci_register_bar(a, 2, 0x4000, PCI_BAR_MEM64 | PCI_BAR_PREFETCH, &dummy_ops, NULL);
    pci_register_bar(b, 0, 0x100, PCI_BAR_IO, &dummy_ops, NULL);
    pci_register_bar(b, 1, 0x100000, PCI_BAR_MEM32, &dummy_ops, NULL);
    g_assert_true(pci_assign_resources(bus, &windows, &err));
    g_assert_null(err);

    /* Largest first, each aligned to its size: no holes. */
    g_assert_cmphex(bar_addr(b, 1), ==, 0xe0000000);
    g_assert_cmphex(bar_addr(a, 2), ==, 0xe0100000);
    g_assert_cmphex(bar_addr(a, 1), ==, 0xe0104000);
    g_assert_cmphex(bar_addr(b, 0), ==, 0xc000);
    g_assert_cmphex(bar_addr(a, 0), ==, 0xc100);
    /* Decoding: the BARs are mapped where the registers say. */
    g_assert_cmphex(pci_bar_address(a, 2), ==, 0xe0100000);
    g_assert_cmphex(pci_bar_address(b, 0), ==, 0xc000);
    for (PCIDevice *d = a; d; d = d == a ? b : NULL) {
        g_assert_cmphex(pci_bus_config_read(bus, d->devfn, PCI_COMMAND, 2) &
                        (PCI_COMMAND_IO | PCI_COMMAND_MEMORY), ==,
                        PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    }
    /* INTA of slot 2 is PIRQB, of slot 3 PIRQC. */
    g_assert_cmpuint(pci_bus_config_read(bus, a->devfn, PCI_INTERRUPT_LINE, 1), ==, 10);
    g_assert_cmpuint(pci_bus_config_read(bus, b->devfn, PCI_INTERRUPT_LINE, 1), ==, 11);
}

static void test_assign_window_too_small(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    PCIDevice *a = new_dev(bus, 4);
    PCIAssignConfig small = windows;
    Error *err = NULL;

    small.mem_end = small.mem_start + 0x2000;
    pci_register_bar(a, 0, 0x40, PCI_BAR_IO, &dummy_ops, NULL);
    pci_register_bar(a, 1, 0x4000, PCI_BAR_MEM32, &dummy_ops, NULL);
    g_assert_false(pci_assign_resources(bus, &small, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "PCI 04.0 BAR 1 (0x4000 bytes) does not fit in the memory window");
    error_free(err);
    /* The I/O BAR decodes; memory decoding stays off rather than answering at 0. */
    g_assert_cmphex(bar_addr(a, 0), ==, 0xc000);
    g_assert_cmphex(pci_bus_config_read(bus, a->devfn, PCI_COMMAND, 2) &
                    (PCI_COMMAND_IO | PCI_COMMAND_MEMORY), ==, PCI_COMMAND_IO);
    g_assert_cmphex(pci_bar_address(a, 1), ==, PCI_BAR_UNMAPPED);
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
    uint8_t s = 0;

    while (len--) {
        s += *p++;
    }
    return s;
}

static void test_mptable(void)
{
    static const MPTablePCIIRQ pci[] = { { PCI_DEVFN(1, 3), 1, 9 }, { PCI_DEVFN(5, 0), 2, 11 } };
    MPTableConfig c = { .cpus = 2, .cpu_signature = 0x663, .cpu_features = 0x201,
                        .ioapic_id = 0, .ioapic_addr = 0xfec00000, .pci = pci, .n_pci = 2 };
    g_autoptr(GByteArray) t = mptable_build(&c, 0x9fc00);
    const uint8_t *fp = t->data, *h = t->data + 16, *e;
    unsigned cpus = 0, bsp = 0, isa = 0, local = 0, pci_found = 0, entries = 0;

    g_assert_cmpmem(fp, 4, "_MP_", 4);
    g_assert_cmpuint(sum8(fp, 16), ==, 0);
    g_assert_cmpuint(fp[4] | fp[5] << 8 | fp[6] << 16 | fp[7] << 24, ==, 0x9fc10);
    g_assert_cmpuint(fp[8], ==, 1);
    g_assert_cmpuint(fp[11], ==, 0);           /* a configuration table follows */
    g_assert_cmpmem(h, 4, "PCMP", 4);
    g_assert_cmpuint(h[4] | h[5] << 8, ==, t->len - 16);
    g_assert_cmpuint(sum8(h, t->len - 16), ==, 0);
    g_assert_cmphex(h[36] | h[37] << 8 | h[38] << 16 | (uint32_t)h[39] << 24, ==, 0xfee00000);
    for (e = h + 44; e < t->data + t->len; e += e[0] == 0 ? 20 : 8, entries++) {
        if (e[0] == 0) {
            g_assert_cmpuint(e[1], ==, cpus);
            cpus++;
            bsp += (e[3] & 2) != 0;
            g_assert_cmphex(e[4] | e[5] << 8, ==, 0x663);
        } else if (e[0] == 3 && e[4] == 1) {
            /* ISA: IRQ n on pin n, never the cascade or the SCI the PM function uses. */
            g_assert_cmpuint(e[5], ==, e[7]);
            g_assert_true(e[5] != 2 && e[5] != 9 && e[5] != 11);
            isa++;
        } else if (e[0] == 3 && e[4] == 0) {
            g_assert_cmphex(e[2], ==, 0x0d);   /* level, active high */
            g_assert_true((e[5] == (1 << 2 | 0) && e[7] == 9) ||
                          (e[5] == (5 << 2 | 1) && e[7] == 11));
            pci_found++;
        } else if (e[0] == 4) {
            g_assert_cmpuint(e[6], ==, 0xff);
            g_assert_cmpuint(e[7], ==, local);
            g_assert_cmpuint(e[1], ==, local ? 1 : 3);  /* LINT0 ExtINT, LINT1 NMI */
            local++;
        }
    }
    g_assert_true(e == t->data + t->len);
    g_assert_cmpuint(h[34] | h[35] << 8, ==, entries);
    g_assert_cmpuint(cpus, ==, 2);
    g_assert_cmpuint(bsp, ==, 1);
    g_assert_cmpuint(isa, ==, 13);
    g_assert_cmpuint(pci_found, ==, 2);
    g_assert_cmpuint(local, ==, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/direct-boot/pci-assign/largest-first", test_assign_packs_largest_first);
    g_test_add_func("/direct-boot/pci-assign/window-too-small", test_assign_window_too_small);
    g_test_add_func("/direct-boot/mptable", test_mptable);
    return g_test_run();
}
