/*
 * The LSI 53C895A as a PCI device: configuration space as QEMU 2.2 presents it (1000:0012,
 * class 0x0100, subsystem 0000:1000, latency timer 0xff, INTA), the register file in BAR0
 * (I/O, 256 bytes) and BAR1 (memory, 1 KiB), SCRIPTS RAM in BAR2 (memory, 8 KiB), its
 * interrupt line, resets, the SCSI bus "<id>.0" (else "scsi.0") and the bus callbacks that
 * hand chunks and completions to the SCRIPTS processor; "-device lsi53c895a" (alias "lsi")
 * and the adapters -drive if=scsi creates, and its hot-unplug. Not the register semantics
 * (lsi53c895a-regs.c) nor the SCRIPTS processor (lsi53c895a-scripts.c).
 */
#include <string.h>
#include "blockdev/blockdev.h"
#include "hw/lsi53c895a.h"

#define PCI_VENDOR_ID_LSI_LOGIC 0x1000
#define PCI_DEVICE_ID_LSI_53C895A 0x0012
#define PCI_DEVICE_ID_LSI_53C810 0x0001
#define PCI_CLASS_STORAGE_SCSI 0x0100

/* ---- Interrupts ---- */

void lsi_update_irq(LSIState *s)
{
    bool level = false;

    if (s->dstat) {
        level = s->dstat & s->dien;
        s->istat0 |= LSI_ISTAT0_DIP;
    } else {
        s->istat0 &= ~LSI_ISTAT0_DIP;
    }
    if (s->sist0 || s->sist1) {
        level |= (s->sist0 & s->sien0) || (s->sist1 & s->sien1);
        s->istat0 |= LSI_ISTAT0_SIP;
    } else {
        s->istat0 &= ~LSI_ISTAT0_SIP;
    }
    if (s->istat0 & LSI_ISTAT0_INTF) {
        level = true;
    }
    pci_set_irq(s->pci, level);
    /* Idle, nothing to report, reselection interrupts on: a target may come back now. */
    if (!s->current && !level && lsi_irq_on_rsl(s) && !(s->scntl1 & LSI_SCNTL1_CON)) {
        LSIRequest *p = lsi_pending_request(s);

        if (p) {
            lsi_reselect(s, p);
        }
    }
}

/* ---- Requests ---- */

static void lsi_request_free(LSIState *s, LSIRequest *p)
{
    if (p == s->current) {
        s->current = NULL;
    } else {
        g_queue_remove(&s->queue, p);
    }
    g_free(p);
}

/* ABORT and friends: the command goes, whether the target still works on it or not. */
void lsi_request_cancel(LSIState *s, LSIRequest *p)
{
    SCSIRequest *req = p->req;

    if (!req) { /* it ended while disconnected: only its status was left */
        lsi_request_free(s, p);
        return;
    }
    req->hba_private = NULL;
    lsi_request_free(s, p);
    scsi_req_cancel(req);
    scsi_req_unref(req);
}

/* A disconnected command has data: reselect now if the initiator lets us, else later. */
static bool lsi_queue_data(LSIState *s, LSIRequest *p, uint32_t len)
{
    p->pending = len;
    if (s->waiting == LSI_WAIT_RESELECT || (lsi_irq_on_rsl(s) && !(s->scntl1 & LSI_SCNTL1_CON) &&
                                            !(s->istat0 & (LSI_ISTAT0_SIP | LSI_ISTAT0_DIP)))) {
        if (!s->current && g_queue_find(&s->queue, p)) {
            lsi_reselect(s, p);
            return true;
        }
    }
    return false;
}

static void lsi_transfer_data(SCSIRequest *req, uint32_t len)
{
    LSIState *s = req->bus->opaque;
    LSIRequest *p = req->hba_private;

    if (!p) {
        return;
    }
    if (p != s->current || s->waiting == LSI_WAIT_RESELECT ||
        (lsi_irq_on_rsl(s) && !(s->scntl1 & LSI_SCNTL1_CON))) {
        if (!lsi_queue_data(s, p, len)) {
            return;
        }
    }
    p->dma_len = len;
    lsi_target_ready(s);
}

static void lsi_command_complete(SCSIRequest *req, uint8_t status, size_t resid)
{
    LSIState *s = req->bus->opaque;
    LSIRequest *p = req->hba_private;
    bool out = (s->sstat1 & LSI_PHASE_MASK) == LSI_PHASE_DO;

    if (p && p != s->current) {
        /* Disconnected: the status comes with a reselection. */
        req->hba_private = NULL;
        p->req = NULL;
        p->completed = true;
        p->status = status;
        scsi_req_unref(req);
        lsi_queue_data(s, p, 1);
        lsi_target_ready(s);
        return;
    }
    s->status = status;
    s->command_complete = true;
    if (s->in_data_move && s->dbc) {
        /* The target goes to STATUS before the move's count ran out. */
        lsi_bad_phase(s, out, LSI_PHASE_ST);
    } else {
        lsi_set_phase(s, LSI_PHASE_ST);
    }
    if (p) {
        req->hba_private = NULL;
        lsi_request_free(s, p);
        scsi_req_unref(req);
    }
    lsi_target_ready(s);
}

static void lsi_request_cancelled(SCSIRequest *req)
{
    LSIState *s = req->bus->opaque;
    LSIRequest *p = req->hba_private;

    if (p) {
        req->hba_private = NULL;
        lsi_request_free(s, p);
        scsi_req_unref(req);
    }
}

static const SCSIBusOps lsi_scsi_ops = {
    .transfer_data = lsi_transfer_data,
    .complete = lsi_command_complete,
    .cancel = lsi_request_cancelled,
};

/* ---- Resets ---- */

static void lsi_soft_reset(LSIState *s)
{
    s->carry = false;
    s->msg_action = LSI_MSG_ACTION_COMMAND;
    s->msg_len = 0;
    s->waiting = LSI_NOWAIT;
    timer_del(s->scripts_timer);
    s->pause_ns = LSI_SCRIPTS_PAUSE_NS;
    s->in_data_move = false;
    s->command_complete = false;
    s->disc_allowed = false;
    s->dsa = s->temp = s->dnad = s->dbc = s->dsp = s->dsps = s->adder = 0;
    memset(s->scratch, 0, sizeof(s->scratch));
    s->istat0 = s->istat1 = 0;
    s->dcmd = 0x40;
    s->dstat = s->dien = s->sist0 = s->sist1 = s->sien0 = s->sien1 = 0;
    s->mbox0 = s->mbox1 = s->dfifo = 0;
    s->ctest2 = LSI_CTEST2_DACK;
    s->ctest3 = s->ctest4 = s->ctest5 = 0;
    s->ccntl0 = s->ccntl1 = 0;
    s->dmode = s->dcntl = 0;
    s->scntl0 = 0xc0;
    s->scntl1 = s->scntl2 = s->scntl3 = 0;
    s->sstat0 = s->sstat1 = 0;
    s->scid = 7;
    s->sxfer = s->socl = s->sdid = s->ssid = s->sbcl = s->sfbr = 0;
    s->stest1 = s->stest2 = s->stest3 = s->sidl = s->stime0 = 0;
    s->respid0 = 0x80;
    s->respid1 = 0;
    s->mmrs = s->mmws = s->sfs = s->drs = s->sbms = s->dbms = s->dnad64 = 0;
    s->pmjad1 = s->pmjad2 = s->rbc = s->ua = s->ia = s->sbc = s->csbc = 0;
    s->sbr = 0;
    lsi_update_irq(s);
}

/* ISTAT0 SRST and system reset: the targets' commands go, then the registers. */
void lsi_device_reset(LSIState *s)
{
    scsi_bus_reset(&s->bus);
    while (s->current || !g_queue_is_empty(&s->queue)) {
        /* What the bus did not cancel: requests that ended while disconnected. */
        lsi_request_cancel(s, s->current ? s->current : g_queue_peek_head(&s->queue));
    }
    lsi_soft_reset(s);
}

static void lsi_pci_reset(PCIDevice *dev)
{
    LSIState *s = dev->opaque;

    dev->config[PCI_LATENCY_TIMER] = 0xff;
    lsi_device_reset(s);
}

/* ---- BARs ---- */

static uint64_t lsi_regs_read(void *opaque, uint64_t addr, unsigned size)
{
    uint64_t val = 0;

    for (unsigned i = 0; i < size; i++) {
        val |= (uint64_t)lsi_reg_readb(opaque, (addr + i) & 0xff) << (8 * i);
    }
    return val;
}

static void lsi_regs_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        lsi_reg_writeb(opaque, (addr + i) & 0xff, val >> (8 * i));
    }
}

static const IOOps lsi_regs_ops = {
    .read = lsi_regs_read,
    .write = lsi_regs_write,
};

static uint64_t lsi_ram_read(void *opaque, uint64_t addr, unsigned size)
{
    LSIState *s = opaque;
    uint64_t val = 0;

    for (unsigned i = 0; i < size && addr + i < LSI_SCRIPTS_RAM_SIZE; i++) {
        val |= (uint64_t)s->scripts_ram[addr + i] << (8 * i);
    }
    return val;
}

static void lsi_ram_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    LSIState *s = opaque;

    for (unsigned i = 0; i < size && addr + i < LSI_SCRIPTS_RAM_SIZE; i++) {
        s->scripts_ram[addr + i] = val >> (8 * i);
    }
}

static const IOOps lsi_ram_ops = {
    .read = lsi_ram_read,
    .write = lsi_ram_write,
};

/* ---- The device ---- */

static const PCIDeviceInfo lsi895a_pci_info = {
    .name = "lsi53c895a",
    .vendor_id = PCI_VENDOR_ID_LSI_LOGIC,
    .device_id = PCI_DEVICE_ID_LSI_53C895A,
    .class_code = PCI_CLASS_STORAGE_SCSI << 8,
    .subsystem_vendor_id = 0, /* QEMU's: vendor 0 beside the LSI subsystem ID */
    .subsystem_id = 0x1000,
    .header_type = PCI_HEADER_TYPE_NORMAL,
    .interrupt_pin = 1,
    .reset = lsi_pci_reset,
};

/* QEMU's name for the adapter's bus: "<id>.0", or after a counter of adapters without id=
 * ("scsi.0", "scsi.1", ...). */
static char *lsi_bus_name(LSIState *s)
{
    static unsigned auto_ids;

    if (s->qdev.id) {
        return g_strdup_printf("%s.0", s->qdev.id);
    }
    return g_strdup_printf("scsi.%u", auto_ids++);
}

static bool lsi_realize(DeviceState *qdev, Error **errp)
{
    LSIState *s = (LSIState *)qdev;
    g_autofree char *fw = NULL;
    g_autofree char *bus_name = NULL;

    /* QEMU's lsi53c810 is the same model under the older chip's device ID. */
    s->pci_info = lsi895a_pci_info;
    if (!strcmp(qdev->dc->name, "lsi53c810")) {
        s->pci_info.name = "lsi53c810";
        s->pci_info.device_id = PCI_DEVICE_ID_LSI_53C810;
    }
    s->pci = pci_device_new(qdev->parent_bus->opaque, s->addr, &s->pci_info, s, errp);
    if (!s->pci) {
        return false;
    }
    s->pci->qdev = qdev;
    g_queue_init(&s->queue);
    s->scripts_timer = timer_new(CLOCK_VIRTUAL, lsi_scripts_timer, s);
    pci_register_bar(s->pci, 0, LSI_REGS_SIZE, PCI_BAR_IO, &lsi_regs_ops, s);
    pci_register_bar(s->pci, 1, 0x400, PCI_BAR_MEM32, &lsi_regs_ops, s);
    pci_register_bar(s->pci, 2, LSI_SCRIPTS_RAM_SIZE, PCI_BAR_MEM32, &lsi_ram_ops, s);
    bus_name = lsi_bus_name(s);
    scsi_bus_init(&s->bus, qdev, bus_name, LSI_MAX_TARGETS, 1, &lsi_scsi_ops, s);
    /* QEMU's OpenFirmware path for the bus: SeaBIOS matches "/pci@i0cf8/ *@SLOT/ *@0/". */
    if (PCI_FUNC(s->pci->devfn)) {
        fw = g_strdup_printf("/pci@i0cf8/scsi@%x,%x/channel@0", PCI_SLOT(s->pci->devfn),
                             PCI_FUNC(s->pci->devfn));
    } else {
        fw = g_strdup_printf("/pci@i0cf8/scsi@%x/channel@0", PCI_SLOT(s->pci->devfn));
    }
    qbus_set_fw_path(s->bus.qbus, fw);
    lsi_pci_reset(s->pci);
    return true;
}

/* device_del (after the guest's eject): its disks are gone by now (qdev-unplug.c), so
 * what is left are the bus's own requests and the statuses of disconnected commands. */
static void lsi_unrealize(DeviceState *qdev)
{
    LSIState *s = (LSIState *)qdev;

    lsi_device_reset(s);
    timer_del(s->scripts_timer);
    pci_device_unplug(s->pci);
}

static void lsi_finalize(DeviceState *qdev)
{
    LSIState *s = (LSIState *)qdev;

    timer_free(s->scripts_timer);
    s->scripts_timer = NULL;
    pci_device_free(s->pci);
    s->pci = NULL;
}

static const Property lsi_props[] = {
    DEFINE_PROP_PCI_DEVFN("addr", LSIState, addr, -1),
    DEFINE_PROP_END,
};

static const DeviceClass lsi_class = {
    .name = "lsi53c895a",
    .alias = "lsi",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_PCI,
    .instance_size = sizeof(LSIState),
    .props = lsi_props,
    .realize = lsi_realize,
    .unrealize = lsi_unrealize,
    .finalize = lsi_finalize,
    .hotpluggable = true,
};

static const DeviceClass lsi810_class = {
    .name = "lsi53c810",
    .category = DEVICE_CATEGORY_STORAGE,
    .bus_type = QBUS_TYPE_PCI,
    .instance_size = sizeof(LSIState),
    .props = lsi_props,
    .realize = lsi_realize,
    .unrealize = lsi_unrealize,
    .finalize = lsi_finalize,
    .hotpluggable = true,
};

static void __attribute__((constructor)) lsi_register(void)
{
    qdev_register(&lsi_class);
    qdev_register(&lsi810_class);
}

/* ---- -drive if=scsi ---- */

bool lsi53c895a_create_drives(Error **errp)
{
    BusState *pci = qbus_find("pci.0");
    int max_bus = drive_get_max_bus(IF_SCSI);

    for (int b = 0; b <= max_bus; b++) {
        DeviceState *dev = qdev_create_on_bus("lsi53c895a", pci, errp, NULL);

        if (!dev || !scsi_bus_legacy_handle_cmdline(&((LSIState *)dev)->bus, b, errp)) {
            return false;
        }
    }
    return true;
}
