/*
 * Unit tests for the PCI core (hw/pci/pci.c) and the chipset functions built on it: the
 * i440FX configuration mechanism, PIIX3 PIRQ routing and reset control, PIIX4 PM. Guest
 * accesses go through the same port/MMIO dispatch the vCPU exit handler uses.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "hw/ioport.h"
#include "hw/irq.h"
#include "hw/machine.h"
#include "hw/pc-chipset.h"
#include "hw/pci.h"
#include "util/main-loop.h"

#define PIO IO_SPACE_PIO
#define MMIO IO_SPACE_MMIO
#define TEST_PMBA 0xb000

static PCIBus *chipset_bus;
static bool irq_level[IRQ_NUM_GSI];
static int64_t fake_ns;

static void irq_observer(unsigned gsi, bool level)
{
    irq_level[gsi] = level;
}

static int64_t fake_clock(void)
{
    return fake_ns;
}

/* ---- a device with counting BARs ---- */

typedef struct TestDev {
    unsigned reads;
    uint64_t last_addr;
    unsigned resets;
} TestDev;

static uint64_t test_bar_read(void *opaque, uint64_t addr, unsigned size)
{
    TestDev *t = opaque;

    t->reads++;
    t->last_addr = addr;
    return 0x5a;
}

static void test_bar_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
}

static const IOOps test_bar_ops = { .read = test_bar_read, .write = test_bar_write };

static void test_dev_reset(PCIDevice *dev)
{
    TestDev *t = dev->opaque;

    t->resets++;
}

static const PCIDeviceInfo test_info = {
    .name = "test-dev",
    .vendor_id = 0x1af4,
    .device_id = 0x10f0,
    .class_code = 0x020000,
    .revision = 0x01,
    .subsystem_vendor_id = 0x1af4,
    .subsystem_id = 0x0001,
    .interrupt_pin = 1,
    .reset = test_dev_reset,
};

static PCIDevice *test_dev_new(PCIBus *bus, int devfn, TestDev *t)
{
    return pci_device_new(bus, devfn, &test_info, t, &error_abort);
}

static uint32_t cfg_read(PCIDevice *dev, unsigned addr, unsigned len)
{
    return pci_bus_config_read(dev->bus, dev->devfn, addr, len);
}

static void cfg_write(PCIDevice *dev, unsigned addr, uint32_t val, unsigned len)
{
    pci_bus_config_write(dev->bus, dev->devfn, addr, val, len);
}

/* ---- configuration space ---- */

static void test_absent_and_bad_access(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = test_dev_new(bus, PCI_DEVFN(2, 0), &t);

    g_assert_cmphex(pci_bus_config_read(bus, PCI_DEVFN(3, 0), 0, 4), ==, 0xffffffff);
    g_assert_cmphex(pci_bus_config_read(bus, PCI_DEVFN(3, 0), 2, 2), ==, 0xffff);
    g_assert_cmphex(pci_bus_config_read(bus, PCI_DEVFN(2, 1), 0, 1), ==, 0xff);
    g_assert_cmphex(pci_bus_config_read(bus, 0x1000, 0, 4), ==, 0xffffffff);
    pci_bus_config_write(bus, PCI_DEVFN(3, 0), PCI_COMMAND, 0xffff, 2);
    g_assert_null(pci_find_device(bus, PCI_DEVFN(3, 0)));

    g_assert_cmphex(cfg_read(dev, 0, 4), ==, 0x10f01af4);
    g_assert_cmphex(cfg_read(dev, 0xfe, 4), ==, 0xffffffff);  /* runs off the end */
    g_assert_cmphex(cfg_read(dev, 0x100, 1), ==, 0xff);
    g_assert_cmphex(cfg_read(dev, 0, 3), ==, 0xffffff);
    g_assert_cmphex(cfg_read(dev, 0, 0), ==, 0);
    cfg_write(dev, 0xfe, 0xffffffff, 4);
    cfg_write(dev, PCI_COMMAND, 0xffff, 3);
    g_assert_cmphex(cfg_read(dev, PCI_COMMAND, 2), ==, 0);
}

static void test_header_and_masks(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = test_dev_new(bus, PCI_DEVFN(2, 0), &t);

    g_assert_cmphex(cfg_read(dev, PCI_CLASS_REVISION, 4), ==, 0x02000001);
    g_assert_cmphex(cfg_read(dev, PCI_SUBSYSTEM_VENDOR_ID, 4), ==, 0x00011af4);
    g_assert_cmphex(cfg_read(dev, PCI_INTERRUPT_PIN, 1), ==, 1);

    /* Identity, class and pin are read-only. */
    cfg_write(dev, PCI_VENDOR_ID, 0, 4);
    cfg_write(dev, PCI_CLASS_REVISION, 0, 4);
    cfg_write(dev, PCI_INTERRUPT_PIN, 3, 1);
    g_assert_cmphex(cfg_read(dev, 0, 4), ==, 0x10f01af4);
    g_assert_cmphex(cfg_read(dev, PCI_CLASS_REVISION, 4), ==, 0x02000001);
    g_assert_cmphex(cfg_read(dev, PCI_INTERRUPT_PIN, 1), ==, 1);

    /* Only the implemented command bits stick. */
    cfg_write(dev, PCI_COMMAND, 0xffff, 2);
    g_assert_cmphex(cfg_read(dev, PCI_COMMAND, 2), ==,
                    PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                        PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
    cfg_write(dev, PCI_COMMAND, 0, 2);

    /* Status error bits are write-1-to-clear, the rest read-only. */
    pci_set_word(dev->config + PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT |
                                               PCI_STATUS_DETECTED_PARITY |
                                               PCI_STATUS_DEVSEL_MEDIUM);
    cfg_write(dev, PCI_STATUS, 0, 2);
    g_assert_cmphex(cfg_read(dev, PCI_STATUS, 2), ==,
                    PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DETECTED_PARITY |
                        PCI_STATUS_DEVSEL_MEDIUM);
    cfg_write(dev, PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DEVSEL_MASK, 2);
    g_assert_cmphex(cfg_read(dev, PCI_STATUS, 2), ==,
                    PCI_STATUS_DETECTED_PARITY | PCI_STATUS_DEVSEL_MEDIUM);
    /* A dword write to the command register clears status bits written as 1 too. */
    cfg_write(dev, PCI_COMMAND, (uint32_t)PCI_STATUS_DETECTED_PARITY << 16, 4);
    g_assert_cmphex(cfg_read(dev, PCI_STATUS, 2), ==, PCI_STATUS_DEVSEL_MEDIUM);

    cfg_write(dev, PCI_INTERRUPT_LINE, 11, 1);
    cfg_write(dev, PCI_CACHE_LINE_SIZE, 0x10, 1);
    g_assert_cmphex(cfg_read(dev, PCI_CACHE_LINE_SIZE, 1), ==, 0x10);
    g_assert_cmphex(cfg_read(dev, PCI_INTERRUPT_LINE, 1), ==, 11);
    /* Device-specific space is writable unless the device says otherwise. */
    cfg_write(dev, 0x80, 0xdeadbeef, 4);
    g_assert_cmphex(cfg_read(dev, 0x80, 4), ==, 0xdeadbeef);
    g_assert_cmphex(cfg_read(dev, 0x81, 2), ==, 0xadbe);
}

static void test_new_errors(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    Error *err = NULL;
    PCIDevice *dev;

    test_dev_new(bus, PCI_DEVFN(0, 0), &t);
    g_assert_null(pci_device_new(bus, PCI_DEVFN(0, 0), &test_info, &t, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), "slot 0 function 0 not available"));
    error_free(err);
    err = NULL;
    g_assert_null(pci_device_new(bus, PCI_DEVFN_MAX, &test_info, &t, &err));
    g_assert_nonnull(err);
    error_free(err);
    dev = pci_device_new(bus, -1, &test_info, &t, &error_abort);
    g_assert_cmpuint(dev->devfn, ==, PCI_DEVFN(1, 0));
    g_assert_true(pci_find_device(bus, PCI_DEVFN(1, 0)) == dev);
}

/* ---- BARs ---- */

static PCIDevice *bar_dev_new(PCIBus *bus, TestDev *t)
{
    PCIDevice *dev = test_dev_new(bus, PCI_DEVFN(3, 0), t);

    pci_register_bar(dev, 0, 0x40, PCI_BAR_IO, &test_bar_ops, t);
    pci_register_bar(dev, 1, 0x1000, PCI_BAR_MEM32, &test_bar_ops, t);
    pci_register_bar(dev, 2, 0x4000, PCI_BAR_MEM64 | PCI_BAR_PREFETCH, &test_bar_ops, t);
    return dev;
}

static uint32_t bar_size_probe(PCIDevice *dev, unsigned off)
{
    uint32_t old = cfg_read(dev, off, 4);
    uint32_t probe;

    cfg_write(dev, off, 0xffffffff, 4);
    probe = cfg_read(dev, off, 4);
    cfg_write(dev, off, old, 4);
    return probe;
}

static void test_bar_sizing(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = bar_dev_new(bus, &t);

    g_assert_cmphex(cfg_read(dev, PCI_BASE_ADDRESS_0, 4), ==, PCI_BASE_ADDRESS_SPACE_IO);
    g_assert_cmphex(cfg_read(dev, PCI_BASE_ADDRESS_2, 4), ==,
                    PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
    g_assert_cmphex(bar_size_probe(dev, PCI_BASE_ADDRESS_0), ==, 0xffffffc1);
    g_assert_cmphex(bar_size_probe(dev, PCI_BASE_ADDRESS_1), ==, 0xfffff000);
    g_assert_cmphex(bar_size_probe(dev, PCI_BASE_ADDRESS_2), ==, 0xffffc00c);
    g_assert_cmphex(bar_size_probe(dev, PCI_BASE_ADDRESS_3), ==, 0xffffffff);
    g_assert_cmphex(bar_size_probe(dev, PCI_BASE_ADDRESS_4), ==, 0);
    g_assert_cmphex(bar_size_probe(dev, PCI_BASE_ADDRESS_5), ==, 0);
    /* No ROM: the expansion ROM BAR sizes to 0. */
    g_assert_cmphex(bar_size_probe(dev, PCI_ROM_ADDRESS), ==, 0);
    g_assert_cmphex(cfg_read(dev, PCI_BASE_ADDRESS_0, 4), ==, PCI_BASE_ADDRESS_SPACE_IO);
}

static void test_bar_register_refused(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = bar_dev_new(bus, &t);

    if (g_test_subprocess()) {
        /* The upper half of BAR2 is taken by the 64-bit BAR. */
        pci_register_bar(dev, 3, 0x1000, PCI_BAR_MEM32, &test_bar_ops, &t);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*pci_bar_args_ok*");
}

static void test_bar_io_mapping(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = bar_dev_new(bus, &t);

    cfg_write(dev, PCI_BASE_ADDRESS_0, 0xc040, 4);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, PCI_BAR_UNMAPPED);  /* IO decode off */
    g_assert_cmphex(io_dispatch_read(PIO, 0xc044, 1), ==, 0xff);
    cfg_write(dev, PCI_COMMAND, PCI_COMMAND_IO, 2);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, 0xc040);
    g_assert_cmphex(io_dispatch_read(PIO, 0xc044, 1), ==, 0x5a);
    g_assert_cmpuint(t.last_addr, ==, 4);
    /* The memory BARs stay off without MEMORY. */
    g_assert_cmphex(pci_bar_address(dev, 1), ==, PCI_BAR_UNMAPPED);

    /* Sizing while decoding: all ones is no address. */
    cfg_write(dev, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, PCI_BAR_UNMAPPED);
    cfg_write(dev, PCI_BASE_ADDRESS_0, 0xc081, 4);  /* low bits are masked */
    g_assert_cmphex(pci_bar_address(dev, 0), ==, 0xc080);
    cfg_write(dev, PCI_BASE_ADDRESS_0, 0, 4);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, PCI_BAR_UNMAPPED);
    /* Beyond the 64 KiB port space. */
    cfg_write(dev, PCI_BASE_ADDRESS_0, 0x10000, 4);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, PCI_BAR_UNMAPPED);
    cfg_write(dev, PCI_BASE_ADDRESS_0, 0xffc0, 4);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, 0xffc0);
    cfg_write(dev, PCI_COMMAND, 0, 2);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(io_dispatch_read(PIO, 0xffc0, 1), ==, 0xff);
}

static void test_bar_mem_mapping(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = bar_dev_new(bus, &t);

    cfg_write(dev, PCI_BASE_ADDRESS_1, 0xfebf1000, 4);
    cfg_write(dev, PCI_BASE_ADDRESS_2, 0x23450000, 4);
    cfg_write(dev, PCI_BASE_ADDRESS_3, 0x1, 4);
    cfg_write(dev, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(pci_bar_address(dev, 1), ==, 0xfebf1000);
    g_assert_cmphex(pci_bar_address(dev, 2), ==, 0x123450000);
    g_assert_cmphex(cfg_read(dev, PCI_BASE_ADDRESS_2, 4), ==, 0x2345000c);
    t.reads = 0;
    g_assert_cmphex(io_dispatch_read(MMIO, 0xfebf1ff8, 4), ==, 0x5a);
    g_assert_cmphex(io_dispatch_read(MMIO, 0x123453ffc, 4), ==, 0x5a);
    g_assert_cmpuint(t.last_addr, ==, 0x3ffc);
    g_assert_cmpuint(t.reads, ==, 2);

    /* A 32-bit BAR may not end at 4 GiB - 1, where sizing puts it. */
    cfg_write(dev, PCI_BASE_ADDRESS_1, 0xfffff000, 4);
    g_assert_cmphex(pci_bar_address(dev, 1), ==, PCI_BAR_UNMAPPED);
    cfg_write(dev, PCI_BASE_ADDRESS_1, 0xfebf1000, 4);
    /* Both halves of a 64-bit BAR written with all ones: unmapped. */
    cfg_write(dev, PCI_BASE_ADDRESS_2, 0xffffffff, 4);
    cfg_write(dev, PCI_BASE_ADDRESS_3, 0xffffffff, 4);
    g_assert_cmphex(pci_bar_address(dev, 2), ==, PCI_BAR_UNMAPPED);

    cfg_write(dev, PCI_COMMAND, PCI_COMMAND_IO, 2);
    g_assert_cmphex(pci_bar_address(dev, 1), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(io_dispatch_read(MMIO, 0xfebf1ff8, 4), ==, 0xffffffff);
}

static void test_bar_rom(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = test_dev_new(bus, PCI_DEVFN(4, 0), &t);

    pci_register_bar(dev, PCI_ROM_SLOT, 0x8000, PCI_BAR_MEM32, &test_bar_ops, &t);
    g_assert_cmphex(bar_size_probe(dev, PCI_ROM_ADDRESS), ==, 0xffff8001);
    cfg_write(dev, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    cfg_write(dev, PCI_ROM_ADDRESS, 0xfeb80000, 4);
    g_assert_cmphex(pci_bar_address(dev, PCI_ROM_SLOT), ==, PCI_BAR_UNMAPPED);
    cfg_write(dev, PCI_ROM_ADDRESS, 0xfeb80000 | PCI_ROM_ADDRESS_ENABLE, 4);
    g_assert_cmphex(pci_bar_address(dev, PCI_ROM_SLOT), ==, 0xfeb80000);
    cfg_write(dev, PCI_COMMAND, 0, 2);
    g_assert_cmphex(pci_bar_address(dev, PCI_ROM_SLOT), ==, PCI_BAR_UNMAPPED);
}

static void test_reset(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = bar_dev_new(bus, &t);

    cfg_write(dev, PCI_BASE_ADDRESS_0, 0xc100, 4);
    cfg_write(dev, PCI_BASE_ADDRESS_2, 0xfe000000, 4);
    cfg_write(dev, PCI_BASE_ADDRESS_3, 0x2, 4);
    cfg_write(dev, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
    cfg_write(dev, PCI_INTERRUPT_LINE, 10, 1);
    cfg_write(dev, PCI_CACHE_LINE_SIZE, 0x10, 1);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, 0xc100);

    pci_device_reset_all(bus);
    g_assert_cmpuint(t.resets, ==, 1);
    g_assert_cmphex(cfg_read(dev, PCI_COMMAND, 2), ==, 0);
    g_assert_cmphex(cfg_read(dev, PCI_BASE_ADDRESS_0, 4), ==, PCI_BASE_ADDRESS_SPACE_IO);
    g_assert_cmphex(cfg_read(dev, PCI_BASE_ADDRESS_2, 4), ==, 0xc);
    g_assert_cmphex(cfg_read(dev, PCI_BASE_ADDRESS_3, 4), ==, 0);
    g_assert_cmphex(cfg_read(dev, PCI_INTERRUPT_LINE, 1), ==, 0);
    g_assert_cmphex(cfg_read(dev, PCI_CACHE_LINE_SIZE, 1), ==, 0);
    g_assert_cmphex(cfg_read(dev, PCI_INTERRUPT_PIN, 1), ==, 1);
    g_assert_cmphex(pci_bar_address(dev, 0), ==, PCI_BAR_UNMAPPED);
}

static void test_capability(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *dev = test_dev_new(bus, PCI_DEVFN(5, 0), &t);

    g_assert_cmphex(cfg_read(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, ==, 0);
    g_assert_cmpint(pci_add_capability(dev, 0x11, 0x50, 12), ==, 0x50);
    g_assert_cmpint(pci_add_capability(dev, 0x09, 0x40, 16), ==, 0x40);
    g_assert_cmpint(pci_add_capability(dev, 0x09, 0x58, 8), ==, -EBUSY);
    g_assert_cmpint(pci_add_capability(dev, 0x09, 0x3c, 4), ==, -EINVAL);
    g_assert_cmpint(pci_add_capability(dev, 0x09, 0x62, 4), ==, -EINVAL);
    g_assert_cmpint(pci_add_capability(dev, 0x09, 0xfc, 8), ==, -EINVAL);
    g_assert_cmphex(cfg_read(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, ==,
                    PCI_STATUS_CAP_LIST);
    g_assert_cmphex(cfg_read(dev, PCI_CAPABILITY_LIST, 1), ==, 0x40);
    g_assert_cmphex(cfg_read(dev, 0x40, 2), ==, 0x5009);
    g_assert_cmphex(cfg_read(dev, 0x50, 2), ==, 0x0011);
    /* Capability bytes are read-only until the device opens them up. */
    cfg_write(dev, 0x40, 0xffffffff, 4);
    cfg_write(dev, PCI_CAPABILITY_LIST, 0, 1);
    g_assert_cmphex(cfg_read(dev, 0x40, 4), ==, 0x5009);
    g_assert_cmphex(cfg_read(dev, PCI_CAPABILITY_LIST, 1), ==, 0x40);
}

/* ---- INTx ---- */

static void test_pirq_swizzle(void)
{
    g_assert_cmpuint(pci_slot_get_pirq(1, 1), ==, 0);
    g_assert_cmpuint(pci_slot_get_pirq(1, 2), ==, 1);
    g_assert_cmpuint(pci_slot_get_pirq(2, 1), ==, 1);
    g_assert_cmpuint(pci_slot_get_pirq(3, 1), ==, 2);
    g_assert_cmpuint(pci_slot_get_pirq(3, 4), ==, 1);
    g_assert_cmpuint(pci_slot_get_pirq(0, 1), ==, 3);
    for (unsigned slot = 0; slot < 32; slot++) {
        for (unsigned pin = 1; pin <= 4; pin++) {
            /* SeaBIOS: pci_irqs[(pin - 1 + slot - 1) & 3] */
            g_assert_cmpuint(pci_slot_get_pirq(slot, pin), ==, (pin - 1 + slot - 1) & 3);
        }
    }
}

static int test_routes[PCI_NUM_PINS];

static int test_router(void *opaque, unsigned pirq)
{
    return test_routes[pirq];
}

static void test_intx_routing(void)
{
    g_autoptr(PCIBus) bus = pci_bus_new();
    static TestDev t;
    PCIDevice *a = test_dev_new(bus, PCI_DEVFN(1, 0), &t);  /* PIRQA */
    PCIDevice *b = test_dev_new(bus, PCI_DEVFN(2, 0), &t);  /* PIRQB */
    PCIDevice *c = test_dev_new(bus, PCI_DEVFN(4, 0), &t);  /* PIRQD */

    memcpy(test_routes, (int[]){ 10, 10, 11, -1 }, sizeof(test_routes));
    pci_bus_set_irq_router(bus, test_router, NULL);
    pci_set_irq(a, true);
    g_assert_true(irq_level[10]);
    g_assert_cmphex(cfg_read(a, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, ==,
                    PCI_STATUS_INTERRUPT);
    pci_set_irq(b, true);
    pci_set_irq(a, false);
    g_assert_true(irq_level[10]);   /* shared line: b still holds it */
    pci_set_irq(b, false);
    g_assert_false(irq_level[10]);

    /* INTx Disable masks the output but not the status bit. */
    pci_set_irq(a, true);
    cfg_write(a, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
    g_assert_false(irq_level[10]);
    g_assert_cmphex(cfg_read(a, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, ==,
                    PCI_STATUS_INTERRUPT);
    cfg_write(a, PCI_COMMAND, 0, 2);
    g_assert_true(irq_level[10]);

    /* Rerouting moves an asserted line. */
    test_routes[0] = 11;
    pci_bus_irq_routing_changed(bus);
    g_assert_false(irq_level[10]);
    g_assert_true(irq_level[11]);

    /* An unrouted PIRQ drives nothing until it is routed; out-of-range answers are ignored. */
    pci_set_irq(c, true);
    test_routes[3] = 99;
    pci_bus_irq_routing_changed(bus);
    g_assert_false(irq_level[5]);
    test_routes[3] = 5;
    pci_bus_irq_routing_changed(bus);
    g_assert_true(irq_level[5]);

    pci_device_reset_all(bus);
    g_assert_false(irq_level[5]);
    g_assert_false(irq_level[11]);
    g_assert_cmphex(cfg_read(a, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, ==, 0);
}

/* ---- i440FX: configuration mechanism #1 ---- */

static void conf_address(unsigned bus, unsigned devfn, unsigned reg)
{
    io_dispatch_write(PIO, 0xcf8, 0x80000000u | bus << 16 | devfn << 8 | (reg & 0xfc), 4);
}

static uint32_t conf_read(unsigned devfn, unsigned reg, unsigned len)
{
    conf_address(0, devfn, reg);
    return io_dispatch_read(PIO, 0xcfc + (reg & 3), len);
}

static void conf_write(unsigned devfn, unsigned reg, uint32_t val, unsigned len)
{
    conf_address(0, devfn, reg);
    io_dispatch_write(PIO, 0xcfc + (reg & 3), val, len);
}

static void test_i440fx_config_mechanism(void)
{
    conf_address(0, 0, 0);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcf8, 4), ==, 0x80000000);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcfc, 4), ==, 0x12378086);
    /* Byte and word accesses to 0xcf8 are not CONFIG_ADDRESS. */
    io_dispatch_write(PIO, 0xcf8, 0x12, 1);
    io_dispatch_write(PIO, 0xcfa, 0x3456, 2);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcf8, 4), ==, 0x80000000);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcfa, 2), ==, 0xffff);

    g_assert_cmphex(conf_read(0, PCI_CLASS_REVISION, 4), ==, 0x06000002);
    g_assert_cmphex(conf_read(0, PCI_DEVICE_ID, 2), ==, 0x1237);
    g_assert_cmphex(conf_read(0, PCI_DEVICE_ID + 1, 1), ==, 0x12);
    g_assert_cmphex(conf_read(0, PCI_HEADER_TYPE, 1), ==, 0);
    g_assert_cmphex(conf_read(PCI_DEVFN(31, 7), 0, 4), ==, 0xffffffff);
    g_assert_cmphex(conf_read(PCI_DEVFN(31, 7), 2, 2), ==, 0xffff);

    /* Disabled, or a bus we do not have: all ones, writes dropped. */
    io_dispatch_write(PIO, 0xcf8, 0x00000000, 4);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcfc, 4), ==, 0xffffffff);
    conf_address(1, 0, 0);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcfc, 4), ==, 0xffffffff);
    io_dispatch_write(PIO, 0xcfc, 0, 4);
    g_assert_cmphex(conf_read(0, 0, 4), ==, 0x12378086);
}

static void test_i440fx_pam_smram(void)
{
    g_assert_cmphex(conf_read(0, 0x72, 1), ==, 0x02);
    g_assert_cmphex(conf_read(0, 0x59, 1), ==, 0);
    conf_write(0, 0x59, 0xff, 1);
    conf_write(0, 0x5a, 0xffff, 2);
    conf_write(0, 0x5c, 0xffffffff, 4);
    conf_write(0, 0x72, 0xff, 1);
    g_assert_cmphex(conf_read(0, 0x59, 1), ==, 0x30);
    g_assert_cmphex(conf_read(0, 0x5a, 2), ==, 0x3333);
    g_assert_cmphex(conf_read(0, 0x5c, 4), ==, 0x33333333);
    g_assert_cmphex(conf_read(0, 0x72, 1), ==, 0x7a);
    machine_run_reset_handlers();
    g_assert_cmphex(io_dispatch_read(PIO, 0xcf8, 4), ==, 0);
    g_assert_cmphex(conf_read(0, 0x59, 1), ==, 0);
    g_assert_cmphex(conf_read(0, 0x72, 1), ==, 0x02);
}

/* ---- PIIX3 ---- */

static bool main_loop_has_request(void)
{
    bool pending = g_main_context_pending(NULL);

    while (g_main_context_iteration(NULL, FALSE)) {
    }
    return pending;
}

static void test_piix3_pirq(void)
{
    static TestDev t;
    PCIDevice *dev = pci_find_device(chipset_bus, PCI_DEVFN(3, 0));  /* PIRQC */

    if (!dev) {
        dev = test_dev_new(chipset_bus, PCI_DEVFN(3, 0), &t);
    }
    g_assert_cmphex(conf_read(PIIX3_DEVFN, 0, 4), ==, 0x70008086);
    g_assert_cmphex(conf_read(PIIX3_DEVFN, PCI_CLASS_DEVICE, 2), ==, 0x0601);
    g_assert_cmphex(conf_read(PIIX3_DEVFN, PCI_HEADER_TYPE, 1), ==, 0x80);
    g_assert_cmphex(conf_read(PIIX3_DEVFN, 0x60, 4), ==, 0x80808080);

    pci_set_irq(dev, true);
    g_assert_false(irq_level[11]);
    conf_write(PIIX3_DEVFN, 0x60, 0x0b0b0a0a, 4);   /* as SeaBIOS: 10, 10, 11, 11 */
    g_assert_true(irq_level[11]);
    conf_write(PIIX3_DEVFN, 0x62, 0x8b, 1);
    g_assert_false(irq_level[11]);
    conf_write(PIIX3_DEVFN, 0x62, 0x02, 1);          /* IRQ 2 cannot be a PIRQ target */
    g_assert_false(irq_level[2]);
    conf_write(PIIX3_DEVFN, 0x62, 0x0d, 1);          /* nor IRQ 13 */
    g_assert_false(irq_level[13]);
    conf_write(PIIX3_DEVFN, 0x62, 0x05, 1);
    g_assert_true(irq_level[5]);
    conf_write(PIIX3_DEVFN, 0x62, 0xff, 1);
    g_assert_cmphex(conf_read(PIIX3_DEVFN, 0x62, 1), ==, 0x8f);
    g_assert_false(irq_level[5]);
    conf_write(PIIX3_DEVFN, 0x62, 0x0b, 1);
    g_assert_true(irq_level[11]);

    machine_run_reset_handlers();
    g_assert_cmphex(conf_read(PIIX3_DEVFN, 0x60, 4), ==, 0x80808080);
    g_assert_cmphex(conf_read(PIIX3_DEVFN, PCI_COMMAND, 2), ==, 0x0000);  /* as on QEMU's pc */
    g_assert_false(irq_level[11]);
}

static void test_piix3_rcr(void)
{
    main_loop_has_request();
    g_assert_cmphex(io_dispatch_read(PIO, 0xcf9, 1), ==, 0);
    io_dispatch_write(PIO, 0xcf9, 0x02, 1);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcf9, 1), ==, 0x02);
    g_assert_false(main_loop_has_request());
    /* CONFIG_ADDRESS still owns dword accesses at 0xcf8. */
    conf_address(0, PIIX3_DEVFN, 0);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcf8, 4), ==, 0x80000800);
    g_assert_cmphex(io_dispatch_read(PIO, 0xcf9, 1), ==, 0x02);
    io_dispatch_write(PIO, 0xcf9, 0x06, 1);
    g_assert_true(main_loop_has_request());
    g_assert_cmphex(io_dispatch_read(PIO, 0xcf9, 1), ==, 0x02);  /* RCPU is not latched */
}

/* ---- PIIX4 PM ---- */

static void piix4_pm_enable_io(void)
{
    conf_write(PIIX4_PM_DEVFN, 0x40, TEST_PMBA | 1, 4);
    conf_write(PIIX4_PM_DEVFN, 0x80, 0x01, 1);
}

static void test_piix4_pm_config(void)
{
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, 0, 4), ==, 0x71138086);
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, PCI_CLASS_REVISION, 4), ==, 0x06800003);
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, PCI_INTERRUPT_PIN, 1), ==, 1);
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, 0x40, 4), ==, 1);
    conf_write(PIIX4_PM_DEVFN, 0x40, 0xffffffff, 4);
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, 0x40, 4), ==, 0xffc1);
    conf_write(PIIX4_PM_DEVFN, 0x40, TEST_PMBA, 4);
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, 0x40, 4), ==, TEST_PMBA | 1);
    conf_write(PIIX4_PM_DEVFN, 0x90, 0xb101, 4);
    conf_write(PIIX4_PM_DEVFN, 0xd2, 0x09, 1);
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, 0x90, 4), ==, 0xb101);
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, 0xd2, 1), ==, 0x09);

    /* PM I/O decodes only with PMIOSE. */
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 4, 2), ==, 0xffff);
    conf_write(PIIX4_PM_DEVFN, 0x80, 0xff, 1);
    g_assert_cmphex(conf_read(PIIX4_PM_DEVFN, 0x80, 1), ==, 0x01);
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 4, 2), ==, 0);
    conf_write(PIIX4_PM_DEVFN, 0x40, 0xc001, 4);
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 4, 2), ==, 0xffff);
    g_assert_cmphex(io_dispatch_read(PIO, 0xc004, 2), ==, 0);
    conf_write(PIIX4_PM_DEVFN, 0x80, 0, 1);
    g_assert_cmphex(io_dispatch_read(PIO, 0xc004, 2), ==, 0xffff);
}

static void test_piix4_pm_timer(void)
{
    piix4_pm_enable_io();
    fake_ns = 1000000000;
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 8, 4), ==, 3579545);
    fake_ns += 1000;   /* 3.58 ticks */
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 8, 4), ==, 3579548);
    /* 24 bits wide: 0x1000005 ticks read as 5. */
    fake_ns = (int64_t)(0x1000005 * 1000000000.0 / 3579545.0) + 1;
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 8, 4), ==, 5);
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 8, 1), ==, 5);
    /* Read-only. */
    io_dispatch_write(PIO, TEST_PMBA + 8, 0, 4);
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 8, 4), ==, 5);

    /* TMROF_STS: set once bit 23 has toggled, write 1 to clear. */
    machine_run_reset_handlers();
    piix4_pm_enable_io();
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA, 2) & 1, ==, 0);
    fake_ns += 2400000000LL;   /* > 2^23 ticks */
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA, 2) & 1, ==, 1);
    io_dispatch_write(PIO, TEST_PMBA, 1, 2);
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA, 2) & 1, ==, 0);
}

static void test_piix4_pm_acpi_enable(void)
{
    piix4_pm_enable_io();
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 4, 2), ==, 0);
    io_dispatch_write(PIO, 0xb2, 0xf1, 1);
    g_assert_cmphex(io_dispatch_read(PIO, 0xb2, 1), ==, 0xf1);
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 4, 2), ==, 1);
    io_dispatch_write(PIO, 0xb3, 0x5a, 1);
    g_assert_cmphex(io_dispatch_read(PIO, 0xb2, 2), ==, 0x5af1);
    io_dispatch_write(PIO, 0xb2, 0xf0, 1);
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 4, 2), ==, 0);

    io_dispatch_write(PIO, TEST_PMBA + 2, 0x0521, 2);
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA, 4), ==, 0x05210000);
    io_dispatch_write(PIO, 0xafe2, 0xffff, 2);
    g_assert_cmphex(io_dispatch_read(PIO, 0xafe0, 4), ==, 0xffff0000);
    g_assert_false(irq_level[PIIX4_PM_SCI_IRQ]);
    machine_run_reset_handlers();
    g_assert_cmphex(io_dispatch_read(PIO, 0xafe0, 4), ==, 0);
    g_assert_cmphex(io_dispatch_read(PIO, 0xb2, 1), ==, 0);
}

static void test_piix4_pm_poweroff(void)
{
    piix4_pm_enable_io();
    main_loop_has_request();
    /* S3-style sleep types are ignored; SUS_EN never reads back. */
    io_dispatch_write(PIO, TEST_PMBA + 4, (1 << 13) | (1 << 10) | 1, 2);
    g_assert_false(main_loop_has_request());
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 4, 2), ==, (1 << 10) | 1);
    /* A byte write of the high half completes the register: type 0 with SUS_EN. */
    io_dispatch_write(PIO, TEST_PMBA + 5, 0x20, 1);
    g_assert_true(main_loop_has_request());
    g_assert_cmphex(io_dispatch_read(PIO, TEST_PMBA + 4, 2), ==, 1);
}

int main(int argc, char **argv)
{
    static MachineState ms = { .no_reboot = true, .smp_cpus = 1 };

    g_test_init(&argc, &argv, NULL);
    current_machine = &ms;
    main_loop_init();
    clock_set_virtual_source(fake_clock);
    irq_set_observer(irq_observer);
    chipset_bus = i440fx_init();
    piix3_init(chipset_bus, PIIX3_DEVFN);
    piix4_pm_init(chipset_bus, PIIX4_PM_DEVFN, PIIX4_PM_SCI_IRQ);

    g_test_add_func("/pci/config/absent-and-bad-access", test_absent_and_bad_access);
    g_test_add_func("/pci/config/header-and-masks", test_header_and_masks);
    g_test_add_func("/pci/new/errors", test_new_errors);
    g_test_add_func("/pci/bar/sizing", test_bar_sizing);
    g_test_add_func("/pci/bar/register-refused", test_bar_register_refused);
    g_test_add_func("/pci/bar/io-mapping", test_bar_io_mapping);
    g_test_add_func("/pci/bar/mem-mapping", test_bar_mem_mapping);
    g_test_add_func("/pci/bar/rom", test_bar_rom);
    g_test_add_func("/pci/reset", test_reset);
    g_test_add_func("/pci/capability", test_capability);
    g_test_add_func("/pci/intx/pirq-swizzle", test_pirq_swizzle);
    g_test_add_func("/pci/intx/routing", test_intx_routing);
    g_test_add_func("/i440fx/config-mechanism", test_i440fx_config_mechanism);
    g_test_add_func("/i440fx/pam-smram", test_i440fx_pam_smram);
    g_test_add_func("/piix3/pirq", test_piix3_pirq);
    g_test_add_func("/piix3/rcr", test_piix3_rcr);
    g_test_add_func("/piix4-pm/config", test_piix4_pm_config);
    g_test_add_func("/piix4-pm/timer", test_piix4_pm_timer);
    g_test_add_func("/piix4-pm/acpi-enable", test_piix4_pm_acpi_enable);
    g_test_add_func("/piix4-pm/poweroff", test_piix4_pm_poweroff);
    return g_test_run();
}
