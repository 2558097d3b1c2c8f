/*
 * The PC board: RAM and firmware mapping, the chipset (i440FX, PIIX3, PIIX4 PM), the ISA
 * devices (RTC/CMOS, COM1, debug console, port 0x92, i8042) and what the firmware reads
 * from CMOS and fw_cfg. Devices know nothing of each other; this file wires them.
 */
#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <glib.h>
#include "blockdev/blockdev.h"
#include "hw/debugcon.h"
#include "hw/e820.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen-block.h"
#include "hw/fdc.h"
#include "hw/fw_cfg.h"
#include "hw/i8042.h"
#include "hw/ide.h"
#include "hw/isa-dma.h"
#include "hw/kernel-loader.h"
#include "hw/lsi53c895a.h"
#include "hw/pci-drive-hot-add.h"
#include "hw/pc-direct-boot.h"
#include "hw/pc-flash.h"
#include "hw/memory.h"
#include "hw/pc.h"
#include "hw/pc-chipset.h"
#include "hw/pci.h"
#include "hw/port92.h"
#include "hw/qdev.h"
#include "hw/rtc.h"
#include "hw/serial.h"
#include "hw/smbios.h"
#include "hw/virtio-blk.h"

#define PC_VGA_HOLE_START 0xa0000ULL
#define PC_VGA_HOLE_END   0xc0000ULL

#define FW_CFG_IO_BASE    0x510
#define FW_CFG_RAM_SIZE   0x03
#define FW_CFG_NOGRAPHIC  0x04
#define FW_CFG_NB_CPUS    0x05
#define FW_CFG_MACHINE_ID 0x06
#define FW_CFG_BOOT_MENU  0x0e
#define FW_CFG_MAX_CPUS   0x0f
#define FW_CFG_NUMA       0x0d

typedef struct PCBoard {
    MachineState *ms;
    uint8_t *ram;
    uint8_t *bios;
    size_t bios_size;
    RTCState *rtc;
    FWCfgState *fw_cfg;
    FDCtrl *fdc;
} PCBoard;

static PCBoard board;

/*
 * Guest RAM on a 2 MiB boundary with transparent huge pages where the host allows them, as
 * QEMU does: DMA into it (O_DIRECT reads, io_uring) pins a few huge pages instead of
 * hundreds of small ones per MiB.
 */
static void *pc_alloc_host(uint64_t size, Error **errp)
{
    const uint64_t align = 2 << 20;
    uint8_t *p = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint8_t *aligned;

    if (p == MAP_FAILED) {
        error_setg_errno(errp, errno, "cannot set up guest memory 'pc.ram'");
        return NULL;
    }
    aligned = (uint8_t *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    if (aligned > p) {
        munmap(p, aligned - p);
    }
    munmap(aligned + size, p + align - aligned);
    madvise(aligned, size, MADV_HUGEPAGE);
    return aligned;
}

static bool pc_map_ram(PCBoard *b, Error **errp)
{
    MachineState *ms = b->ms;

    b->ram = pc_alloc_host(ms->ram_size, errp);
    if (!b->ram) {
        return false;
    }
    madvise(b->ram, ms->ram_size, MADV_MERGEABLE);
    /* 0xa0000-0xbffff is the legacy VGA window: not RAM on a PC. */
    guest_mem_add(0, PC_VGA_HOLE_START, b->ram, false, "pc.ram-low");
    guest_mem_add(PC_VGA_HOLE_END, ms->below_4g_mem - PC_VGA_HOLE_END,
                  b->ram + PC_VGA_HOLE_END, false, "pc.ram");
    if (ms->above_4g_mem) {
        guest_mem_add(PC_4G, ms->above_4g_mem, b->ram + ms->below_4g_mem, false,
                      "pc.ram-high");
    }
    return true;
}

static bool pc_load_bios(PCBoard *b, Error **errp)
{
    g_autofree char *data = NULL;
    gsize size;

    if (pc_system_flash_present()) {
        return pc_system_flash_init(&b->bios, &b->bios_size, errp);
    }
    if (!g_file_get_contents(b->ms->bios, &data, &size, NULL) || size == 0 ||
        size % 65536 || size > 16 * 1024 * 1024) {
        error_setg(errp, "could not load PC BIOS '%s'", b->ms->bios);
        return false;
    }
    b->bios = pc_alloc_host(size, errp);
    if (!b->bios) {
        return false;
    }
    memcpy(b->bios, data, size);
    b->bios_size = size;
    /* Read-only at the top of 4 GiB: the pristine copy a reboot restores from. */
    guest_mem_add(PC_4G - size, size, b->bios, true, "pc.bios");
    return true;
}

/* At every reset the low BIOS alias (0xe0000-0xfffff) gets the pristine image back. */
static void pc_reset_bios_alias(void *opaque)
{
    PCBoard *b = opaque;
    size_t n = MIN(b->bios_size, PC_ISA_BIOS_SIZE);

    memcpy(b->ram + 0x100000 - n, b->bios + b->bios_size - n, n);
}

static void pc_cmos_set_word(RTCState *rtc, unsigned addr, unsigned val)
{
    rtc_set_memory(rtc, addr, val & 0xff);
    rtc_set_memory(rtc, addr + 1, (val >> 8) & 0xff);
}

static unsigned pc_boot_nibble(char c)
{
    switch (c) {
    case 'a':
    case 'b':
        return 1;  /* floppy */
    case 'c':
        return 2;  /* hard disk */
    case 'd':
        return 3;  /* CD-ROM */
    default:
        return 0;
    }
}

/* Floppy types (0x10: A: in the high nibble) and the drive count in the equipment byte. */
static void pc_cmos_init_floppy(PCBoard *b)
{
    FloppyDriveType a = fdc_get_drive_type(b->fdc, 0), bt = fdc_get_drive_type(b->fdc, 1);
    unsigned nb = (a != FLOPPY_DRIVE_TYPE_NONE) + (bt != FLOPPY_DRIVE_TYPE_NONE);
    uint8_t equipment = rtc_get_memory(b->rtc, 0x14);

    rtc_set_memory(b->rtc, 0x10, (fdc_cmos_drive_type(a) << 4) | fdc_cmos_drive_type(bt));
    if (nb) {
        equipment |= 0x01 | (nb == 2 ? 0x40 : 0); /* drives present, count - 1 in bits 6-7 */
    }
    rtc_set_memory(b->rtc, 0x14, equipment);
}

static void pc_cmos_init(PCBoard *b)
{
    MachineState *ms = b->ms;
    RTCState *rtc = b->rtc;
    const char *order = ms->boot_order ? ms->boot_order : "cad";
    uint64_t ext_kb = (ms->below_4g_mem - 0x100000) / 1024;
    uint64_t above_16m = ms->below_4g_mem > (16 << 20) ? ms->below_4g_mem - (16 << 20) : 0;
    uint64_t high = ms->above_4g_mem / 65536;
    unsigned boot[3] = { 0 };

    pc_cmos_set_word(rtc, 0x15, 640);                    /* base memory in KiB */
    pc_cmos_set_word(rtc, 0x17, MIN(ext_kb, 65535));     /* extended memory in KiB */
    pc_cmos_set_word(rtc, 0x30, MIN(ext_kb, 65535));
    pc_cmos_set_word(rtc, 0x34, MIN(above_16m / 65536, 65535)); /* 64 KiB units */
    rtc_set_memory(rtc, 0x5b, high & 0xff);
    rtc_set_memory(rtc, 0x5c, (high >> 8) & 0xff);
    rtc_set_memory(rtc, 0x5d, (high >> 16) & 0xff);
    rtc_set_memory(rtc, 0x5f, ms->smp_cpus - 1);
    rtc_set_memory(rtc, 0x14, 0x06);  /* equipment: FPU present, no display adapter BIOS */
    for (unsigned i = 0; i < 3 && order[i]; i++) {
        boot[i] = pc_boot_nibble(order[i]);
    }
    rtc_set_memory(rtc, 0x3d, (boot[1] << 4) | boot[0]);
    rtc_set_memory(rtc, 0x38, boot[2] << 4);
    pc_cmos_init_floppy(b);
}

/* QEMU's SMBIOS tables, so SeaBIOS copies them instead of building its own (slow here). */
static void pc_smbios_init(PCBoard *b, FWCfgState *fw)
{
    SmbiosConfig c = {
        .cpus = b->ms->smp_cpus,
        .below_4g_mem = b->ms->below_4g_mem,
        .above_4g_mem = b->ms->above_4g_mem,
        .version = "pc-i440fx-2.2",
    };
    GByteArray *anchor, *tables;
    unsigned ebx, ecx;

    __get_cpuid(1, &c.cpuid_eax, &ebx, &ecx, &c.cpuid_edx);
    smbios_build(&c, &anchor, &tables);
    fw_cfg_add_file(fw, "etc/smbios/smbios-anchor", anchor->data, anchor->len);
    fw_cfg_add_file(fw, "etc/smbios/smbios-tables", tables->data, tables->len);
    g_byte_array_unref(anchor);
    g_byte_array_unref(tables);
}

static void pc_fw_cfg_init(PCBoard *b, PCConfig *cfg)
{
    MachineState *ms = b->ms;
    FWCfgState *fw = fw_cfg_init_io(FW_CFG_IO_BASE, true);
    E820Entry e820[E820_MAX_ENTRIES];
    unsigned n = pc_build_e820(ms->below_4g_mem, ms->above_4g_mem, e820);
    uint32_t reboot_wait;

    fw_cfg_add_i64(fw, FW_CFG_RAM_SIZE, ms->ram_size);
    fw_cfg_add_i16(fw, FW_CFG_NOGRAPHIC, ms->nographic);
    fw_cfg_add_i16(fw, FW_CFG_NB_CPUS, ms->smp_cpus);
    fw_cfg_add_i16(fw, FW_CFG_MAX_CPUS, ms->smp_cpus);
    fw_cfg_add_i32(fw, FW_CFG_MACHINE_ID, 0);
    fw_cfg_add_i16(fw, FW_CFG_BOOT_MENU, cfg->boot_menu);
    fw_cfg_add_i64(fw, FW_CFG_NUMA, 0);
    fw_cfg_add_file(fw, "etc/e820", e820, n * sizeof(E820Entry));
    fw_cfg_add_file(fw, "bootorder", "", 0);
    /* Always present, as in QEMU: -1 (the default) makes SeaBIOS wait forever. */
    reboot_wait = GUINT32_TO_LE((uint32_t)cfg->reboot_timeout);
    fw_cfg_add_file(fw, "etc/boot-fail-wait", &reboot_wait, sizeof(reboot_wait));
    pc_smbios_init(b, fw);
    for (guint i = 0; cfg->fw_cfg_user && i < cfg->fw_cfg_user->len; i++) {
        PCFwCfgItem *it = g_ptr_array_index(cfg->fw_cfg_user, i);
        fw_cfg_add_file(fw, it->name, it->data, it->len);
    }
    b->fw_cfg = fw;
}

/* -kernel: the loader puts the kernel in RAM and sets the BSP's entry state. */
static bool pc_load_kernel(PCBoard *b, PCConfig *cfg, Error **errp)
{
    E820Entry e820[E820_MAX_ENTRIES];
    KernelLoaderArgs a = {
        .kernel_filename = cfg->kernel,
        .initrd_filename = cfg->initrd,
        .cmdline = cfg->append ? cfg->append : "",
        .below_4g_mem = b->ms->below_4g_mem,
        .above_4g_mem = b->ms->above_4g_mem,
        .e820 = e820,
        .e820_entries = pc_build_e820(b->ms->below_4g_mem, b->ms->above_4g_mem, e820),
    };
    return kernel_load(&a, b->ram, errp);
}

static void pc_isa_init(PCBoard *b, PCConfig *cfg)
{
    b->rtc = rtc_init(8);
    if (cfg->serial) {
        serial_init(0x3f8, 4, cfg->serial);
    }
    if (cfg->debugcon) {
        debugcon_init(0x402, cfg->debugcon);
    }
    port92_init();
    i8042_init(1, 12);
    isa_dma_init();
}

/* The floppy controller, always there as on QEMU's pc, with -fda/-fdb/if=floppy drives. */
static bool pc_fdc_init(PCBoard *b, Error **errp)
{
    DriveInfo *fds[FDC_MAX_DRIVES];

    for (int i = 0; i < FDC_MAX_DRIVES; i++) {
        fds[i] = drive_get(IF_FLOPPY, 0, i);
    }
    b->fdc = fdc_init_isa(FDC_ISA_IOBASE, FDC_ISA_IRQ, FDC_ISA_DMA, fds, errp);
    return b->fdc != NULL;
}

/* Xen HVM emulation: the hypervisor's state, xenstore and a PV disk per -drive if=xen. */
static bool pc_xen_init(Error **errp)
{
    xen_emu_init();
    return qdev_create_on_bus("xen-platform", qbus_find("pci.0"), errp, NULL) &&
           xen_block_create_drives(errp);
}

/* "pci.0", the bus -device puts PCI devices on; they may come and go (device_del). */
static void pc_pci_qbus_init(PCIBus *bus)
{
    BusState *qbus = qbus_new(QBUS_TYPE_PCI, "pci.0", NULL, 0, bus);

    qbus->hotplug = true;
    qbus_set_fw_path(qbus, "/pci@i0cf8");
}

void pc_machine_done(void)
{
    size_t len;
    g_autofree char *order = NULL;

    /* -drive if=virtio devices come after every -device, as QEMU creates them. */
    virtio_blk_pci_create_drives(&error_fatal);
    order = qdev_get_boot_order(&len);

    fw_cfg_modify_file(board.fw_cfg, "bootorder", order, len);
    ide_cmos_init(board.rtc);
    qdev_machine_creation_done(); /* device_add from now on: hot-added, announced by ACPI */
}

bool pc_init(MachineState *ms, PCConfig *cfg, Error **errp)
{
    PCBoard *b = &board;
    PCIBus *bus;

    b->ms = ms;
    if (!pc_map_ram(b, errp) || !pc_load_bios(b, errp)) {
        return false;
    }
    machine_register_reset(pc_reset_bios_alias, b);
    bus = i440fx_init();
    pc_pci_qbus_init(bus);
    drive_set_hot_add(pci_drive_hot_add, bus); /* HMP drive_add if=scsi */
    piix3_init(bus, PIIX3_DEVFN);
    if (!piix3_ide_init(bus, PIIX3_IDE_DEVFN, errp)) {
        return false;
    }
    piix4_pm_init(bus, PIIX4_PM_DEVFN, PIIX4_PM_SCI_IRQ);
    /* -drive if=scsi: QEMU 2.2's pc_pci_device_init, at the first free slots. */
    if (!lsi53c895a_create_drives(errp)) {
        return false;
    }
    pc_isa_init(b, cfg);
    if (!pc_fdc_init(b, errp)) {
        return false;
    }
    if (xen_enabled() && !pc_xen_init(errp)) {
        return false;
    }
    pc_cmos_init(b);
    pc_fw_cfg_init(b, cfg);
    if (!cfg->kernel) {
        return true;
    }
    pc_direct_boot_init(bus, b->ram, ms->smp_cpus);
    return pc_load_kernel(b, cfg, errp);
}
