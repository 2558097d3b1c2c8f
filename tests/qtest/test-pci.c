/*
 * PCI bus 0 of the pc machine through 0xcf8/0xcfc: which functions answer, their IDs, an
 * absent function reading all-ones, and the PIIX4 PM I/O block: PMBA plus PMREGMISC.PMIOSE
 * map it, and its 24-bit PM timer at PMBA + 8 counts at 3.579545 MHz of virtual time;
 * system_powerdown's power button in PM1_STS and its SCI.
 */
#include <linux/pci.h>
#include "libqpci.h"

#define DEVFN_I440FX PCI_DEVFN(0, 0)
#define DEVFN_PIIX3 PCI_DEVFN(1, 0)
#define DEVFN_PIIX3_IDE PCI_DEVFN(1, 1)
#define DEVFN_PIIX4_PM PCI_DEVFN(1, 3)

#define PIIX4_PMBA 0x40
#define PIIX4_PMREGMISC 0x80
#define PMREGMISC_PMIOSE 0x01
#define PM_BASE 0xb000
#define PM_TMR (PM_BASE + 8)
#define PM_TIMER_HZ 3579545

static void collect(QPCIDevice *dev, uint16_t vendor_id, uint16_t device_id, void *opaque)
{
    g_array_append_val((GArray *)opaque, dev->devfn);
}

static void test_enumerate(void)
{
    QTestState *qts = qtest_init("-m 128");
    g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(uint8_t));
    QPCIBus bus;
    GString *list = g_string_new(NULL);

    qpci_bus_init(&bus, qts);
    qpci_foreach(&bus, collect, found);
    for (guint i = 0; i < found->len; i++) {
        uint8_t devfn = g_array_index(found, uint8_t, i);
        g_string_append_printf(list, "%02x.%x ", PCI_SLOT(devfn), PCI_FUNC(devfn));
    }
    g_assert_cmpstr(list->str, ==, "00.0 01.0 01.1 01.3 ");
    g_string_free(list, TRUE);
    qtest_quit(qts);
}

static void check_ids(QPCIBus *bus, uint8_t devfn, uint16_t vendor, uint16_t device,
                      uint16_t class_id)
{
    QPCIDevice dev;

    g_assert_true(qpci_device_find(bus, devfn, &dev));
    g_assert_cmphex(qpci_config_readw(&dev, PCI_VENDOR_ID), ==, vendor);
    g_assert_cmphex(qpci_config_readw(&dev, PCI_DEVICE_ID), ==, device);
    g_assert_cmphex(qpci_config_readw(&dev, PCI_CLASS_DEVICE), ==, class_id);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_VENDOR_ID), ==, (uint32_t)device << 16 | vendor);
}

static void test_ids(void)
{
    QTestState *qts = qtest_init("-m 128");
    QPCIBus bus;
    QPCIDevice dev;

    qpci_bus_init(&bus, qts);
    check_ids(&bus, DEVFN_I440FX, 0x8086, 0x1237, 0x0600);
    check_ids(&bus, DEVFN_PIIX3, 0x8086, 0x7000, 0x0601);
    check_ids(&bus, DEVFN_PIIX4_PM, 0x8086, 0x7113, 0x0680);
    /* PIIX3 is a multi-function device. */
    g_assert_true(qpci_device_find(&bus, DEVFN_PIIX3, &dev));
    g_assert_cmphex(qpci_config_readb(&dev, PCI_HEADER_TYPE), ==, 0x80);
    qtest_quit(qts);
}

static void test_absent(void)
{
    QTestState *qts = qtest_init("-m 128");
    QPCIBus bus;
    QPCIDevice dev;

    qpci_bus_init(&bus, qts);
    g_assert_false(qpci_device_find(&bus, PCI_DEVFN(3, 0), &dev));
    g_assert_cmphex(qpci_config_readl(&dev, PCI_VENDOR_ID), ==, 0xffffffff);
    g_assert_cmphex(qpci_config_readb(&dev, PCI_HEADER_TYPE), ==, 0xff);
    /* Writes go nowhere. */
    qpci_config_writel(&dev, PCI_BASE_ADDRESS_0, 0);
    g_assert_cmphex(qpci_config_readl(&dev, PCI_BASE_ADDRESS_0), ==, 0xffffffff);
    qtest_quit(qts);
}

static void test_pm_timer(void)
{
    QTestState *qts = qtest_init("-m 128");
    QPCIBus bus;
    QPCIDevice pm;
    uint32_t t0, t1;

    qpci_bus_init(&bus, qts);
    g_assert_true(qpci_device_find(&bus, DEVFN_PIIX4_PM, &pm));
    g_assert_cmphex(qtest_inl(qts, PM_TMR), ==, 0xffffffff);
    qpci_config_writel(&pm, PIIX4_PMBA, PM_BASE | PCI_BASE_ADDRESS_SPACE_IO);
    g_assert_cmphex(qpci_config_readl(&pm, PIIX4_PMBA), ==, PM_BASE | PCI_BASE_ADDRESS_SPACE_IO);
    /* Not decoded until PMIOSE is set. */
    g_assert_cmphex(qtest_inl(qts, PM_TMR), ==, 0xffffffff);
    qpci_config_writeb(&pm, PIIX4_PMREGMISC, PMREGMISC_PMIOSE);
    t0 = qtest_inl(qts, PM_TMR);
    g_assert_cmphex(t0 & 0xff000000, ==, 0);
    if (qtest_has_clock(qts)) {
        qtest_clock_step(qts, 1000000000);
        t1 = qtest_inl(qts, PM_TMR);
        g_assert_cmpuint((t1 - t0) & 0xffffff, ==, PM_TIMER_HZ);
        qtest_clock_step(qts, 1000); /* 1 us: 3.58 ticks */
        g_assert_cmpuint((qtest_inl(qts, PM_TMR) - t1) & 0xffffff, >=, 3);
    }
    /* Clearing PMIOSE unmaps it again. */
    qpci_config_writeb(&pm, PIIX4_PMREGMISC, 0);
    g_assert_cmphex(qtest_inl(qts, PM_TMR), ==, 0xffffffff);
    qtest_quit(qts);
}

#define PM1_STS PM_BASE
#define PM1_EN (PM_BASE + 2)
#define PM1_CNT (PM_BASE + 4)
#define PWRBTN (1 << 8) /* PM1_STS.PWRBTN_STS, PM1_EN.PWRBTN_EN */
#define SCI_IRQ 9

static void powerdown(QTestState *qts)
{
    json_node_unref(qtest_qmp(qts, "{\"execute\": \"system_powerdown\"}"));
    json_node_unref(qtest_qmp_eventwait(qts, "POWERDOWN"));
    /* A round trip: the button is pressed in the same main loop turn as the event. */
    json_node_unref(qtest_qmp(qts, "{\"execute\": \"query-status\"}"));
}

/*
 * system_powerdown: POWERDOWN, and the power button's status in PM1_STS only while the guest
 * enabled its event in PM1_EN, with an SCI on IRQ 9; writing 1 to the status clears both.
 * The machine itself keeps its state.
 */
static void test_pm_powerdown(void)
{
    QTestState *qts = qtest_init_unix("-m 128");
    QPCIBus bus;
    QPCIDevice pm;

    qpci_bus_init(&bus, qts);
    g_assert_true(qpci_device_find(&bus, DEVFN_PIIX4_PM, &pm));
    qpci_config_writel(&pm, PIIX4_PMBA, PM_BASE | PCI_BASE_ADDRESS_SPACE_IO);
    qpci_config_writeb(&pm, PIIX4_PMREGMISC, PMREGMISC_PMIOSE);
    qtest_irq_intercept_in(qts, "ioapic");

    powerdown(qts); /* not enabled: not noted */
    g_assert_cmphex(qtest_inw(qts, PM1_STS) & PWRBTN, ==, 0);
    g_assert_false(qtest_get_irq(qts, SCI_IRQ));

    qtest_outw(qts, PM1_EN, PWRBTN);
    qtest_outw(qts, PM1_CNT, qtest_inw(qts, PM1_CNT) | 1); /* SCI_EN */
    powerdown(qts);
    g_assert_cmphex(qtest_inw(qts, PM1_STS) & PWRBTN, ==, PWRBTN);
    g_assert_true(qtest_get_irq(qts, SCI_IRQ));
    qtest_outw(qts, PM1_STS, PWRBTN);
    g_assert_cmphex(qtest_inw(qts, PM1_STS) & PWRBTN, ==, 0);
    g_assert_false(qtest_get_irq(qts, SCI_IRQ));
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pci/enumerate", test_enumerate);
    g_test_add_func("/pci/ids", test_ids);
    g_test_add_func("/pci/absent", test_absent);
    g_test_add_func("/pci/pm-timer", test_pm_timer);
    g_test_add_func("/pci/pm-powerdown", test_pm_powerdown);
    return g_test_run();
}
