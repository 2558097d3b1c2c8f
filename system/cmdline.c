/*
 * Command-line parsing: one table entry per option, each handler filling the VMConfig.
 * Messages follow QEMU ("-foo: invalid option", "Invalid SMP CPUs 0. ..."), with the
 * option and its argument printed first as the location.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "config-host.h"
#include "blockdev/blockdev.h"
#include "hw/e820.h"
#include "hw/qdev.h"
#include "system/cmdline.h"
#include "util/cutils.h"
#include "util/iothread.h"
#include "util/opts.h"
#include "util/trace.h"

#define DEFAULT_RAM_SIZE (128ULL << 20)

/* The pc machine's interface for drives without if= (QEMU's block_default_type). */
#define PC_BLOCK_DEFAULT_TYPE IF_IDE

typedef bool OptionHandler(VMConfig *cfg, const char *arg, Error **errp);

typedef struct CmdOption {
    const char *name;
    bool has_arg;
    OptionHandler *handler;
    const char *help;
} CmdOption;

static const OptDesc memory_desc[] = {
    { "size", OPT_SIZE, "initial amount of guest memory" },
    { "slots", OPT_NUMBER, "number of hotplug slots (ignored)" },
    { "maxmem", OPT_SIZE, "maximum amount of guest memory (ignored)" },
    { NULL },
};
static const OptsList memory_opts = { "memory", "size", false, memory_desc };

static const OptDesc smp_desc[] = {
    { "cpus", OPT_NUMBER }, { "sockets", OPT_NUMBER }, { "cores", OPT_NUMBER },
    { "threads", OPT_NUMBER }, { "maxcpus", OPT_NUMBER }, { NULL },
};
static const OptsList smp_opts = { "smp-opts", "cpus", false, smp_desc };

static const OptDesc machine_desc[] = {
    { "type", OPT_STRING, "emulated machine" },
    { "accel", OPT_STRING, "accelerator list" },
    { "kernel_irqchip", OPT_BOOL, "use KVM in-kernel irqchip" },
    { "usb", OPT_BOOL, "Set on/off to enable/disable usb" },
    { "mem-merge", OPT_BOOL, "enable/disable memory merge support" },
    { "dump-guest-core", OPT_BOOL, "Include guest memory in  a core dump" },
    { "loop-accel", OPT_BOOL, "finish firmware memory loops in the VMM (minivmm)" },
    { NULL },
};
static const OptsList machine_opts = { "machine", "type", false, machine_desc };

static const OptDesc boot_desc[] = {
    { "order", OPT_STRING }, { "once", OPT_STRING }, { "menu", OPT_BOOL },
    { "splash", OPT_STRING }, { "splash-time", OPT_STRING },
    { "reboot-timeout", OPT_STRING }, { "strict", OPT_BOOL }, { NULL },
};
static const OptsList boot_opts = { "boot-opts", "order", false, boot_desc };

static const OptDesc fw_cfg_desc[] = {
    { "name", OPT_STRING, "Sets the fw_cfg name of the blob to be inserted" },
    { "file", OPT_STRING, "Sets the name of the file from which the fw_cfg blob will be "
                          "loaded" },
    { "string", OPT_STRING, "Sets content of the blob to be inserted from a string" },
    { NULL },
};
static const OptsList fw_cfg_opts = { "fw_cfg", NULL, false, fw_cfg_desc };

static const OptDesc name_desc[] = {
    { "guest", OPT_STRING }, { "process", OPT_STRING }, { "debug-threads", OPT_BOOL },
    { NULL },
};
static const OptsList name_opts = { "name", "guest", false, name_desc };

static bool opt_memory(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = opts_parse(&memory_opts, arg, true, errp);
    const char *size;
    uint64_t sz;

    if (!opts) {
        return false;
    }
    size = opts_get(opts, "size");
    if (size && parse_size_default_suffix(size, 'M', &sz, errp) < 0) {
        opts_free(opts);
        return false;
    }
    opts_free(opts);
    if (!size) {
        return true;
    }
    if (sz == 0) {
        sz = DEFAULT_RAM_SIZE;
    }
    if (sz < (2ULL << 20) || sz > (1ULL << 40)) {
        error_setg(errp, "ram size out of range (2M to 1T)");
        return false;
    }
    cfg->ms.ram_size = sz;
    return true;
}

static bool opt_smp(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = opts_parse(&smp_opts, arg, true, errp);
    uint64_t cpus, topo;

    if (!opts) {
        return false;
    }
    topo = opts_get_number(opts, "sockets", 1) * opts_get_number(opts, "cores", 1) *
           opts_get_number(opts, "threads", 1);
    cpus = opts_get_number(opts, "cpus", opts_has(opts, "cpus") ? 0 : topo);
    opts_free(opts);
    if (cpus < 1) {
        error_setg(errp, "Invalid SMP CPUs %" G_GUINT64_FORMAT ". The min CPUs supported "
                   "by machine 'pc' is 1", cpus);
        return false;
    }
    if (cpus > MACHINE_MAX_CPUS) {
        error_setg(errp, "Invalid SMP CPUs %" G_GUINT64_FORMAT ". The max CPUs supported "
                   "by machine 'pc' is %d", cpus, MACHINE_MAX_CPUS);
        return false;
    }
    cfg->ms.smp_cpus = cpus;
    return true;
}

static void print_machines(void)
{
    printf("Supported machines are:\n"
           "pc                   Standard PC (i440FX + PIIX, 1996) (default)\n"
           "pc-i440fx-2.2        Standard PC (i440FX + PIIX, 1996)\n");
}

static bool machine_type_ok(const char *type)
{
    return !strcmp(type, "pc") || g_str_has_prefix(type, "pc-i440fx-") ||
           !strcmp(type, "pc-1.0") || g_str_has_prefix(type, "pc-0.") ||
           g_str_has_prefix(type, "pc-1.");
}

/* "kvm" or "qtest" (QEMU's accel= takes a ':'-separated list: the first usable wins). */
static bool cmdline_set_accel(VMConfig *cfg, const char *list, Error **errp)
{
    g_auto(GStrv) names = g_strsplit(list, ":", -1);

    for (int i = 0; names[i]; i++) {
        if (!strcmp(names[i], "kvm") || !strcmp(names[i], "qtest")) {
            cfg->accel_qtest = !strcmp(names[i], "qtest");
            return true;
        }
    }
    error_setg(errp, "accelerator '%s' is not supported by minivmm (use kvm or qtest)", list);
    return false;
}

static const OptDesc accel_desc[] = {
    { "accel", OPT_STRING, "accelerator list" },
    { "xen-version", OPT_NUMBER, "Xen version to be emulated (in XENVER_version form e.g. "
                                 "0x4000a for 4.10)" },
    { "kernel-irqchip", OPT_STRING, "Configure KVM in-kernel irqchip" },
    { NULL },
};
static const OptsList accel_opts = { "accel", "accel", false, accel_desc };

/* QEMU's message for a property the accelerator does not have. */
static bool accel_props_known(const char *arg, Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(arg, ",", -1);
    const char *accel = parts[0] && g_str_has_prefix(parts[0], "accel=") ? parts[0] + 6
                                                                          : parts[0];

    for (int i = 1; parts[0] && parts[i]; i++) {
        g_autofree char *key = g_strndup(parts[i], strcspn(parts[i], "="));
        bool known = false;
        for (const OptDesc *d = accel_desc; d->name; d++) {
            known |= !strcmp(d->name, key);
        }
        if (*key && !known) {
            error_setg(errp, "Property '%s-accel.%s' not found", accel, key);
            return false;
        }
    }
    return true;
}

/* -accel kvm[,xen-version=N][,kernel-irqchip=on|split]: minivmm always uses KVM's
 * in-kernel irqchip, which its Xen emulation works with, so "split" changes nothing. */
static bool opt_accel(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = accel_props_known(arg, errp) ? opts_parse(&accel_opts, arg, true, errp) : NULL;
    const char *accel, *irqchip;
    uint64_t xen_version;
    bool ok = false;

    if (!opts) {
        return false;
    }
    accel = opts_get(opts, "accel");
    irqchip = opts_get(opts, "kernel-irqchip");
    xen_version = opts_get_number(opts, "xen-version", 0);
    if (accel && !cmdline_set_accel(cfg, accel, errp)) {
        goto out;
    }
    if (irqchip && strcmp(irqchip, "on") && strcmp(irqchip, "split")) {
        if (!strcmp(irqchip, "off")) {
            error_setg(errp, "kernel-irqchip=off is not supported by minivmm");
        } else {
            error_setg(errp, "Parameter 'kernel-irqchip' does not accept value '%s'", irqchip);
        }
        goto out;
    }
    if (xen_version > UINT32_MAX) {
        error_setg(errp, "Parameter 'xen-version' expects uint32_t");
        goto out;
    }
    cfg->xen_version = (uint32_t)xen_version;
    ok = true;
out:
    opts_free(opts);
    return ok;
}

static bool opt_qtest(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->qtest_spec = arg;
    return true;
}

static bool opt_qtest_log(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->qtest_log = arg;
    return true;
}

static bool opt_machine(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts;
    const char *type, *accel;
    bool ok = true;

    if (opts_is_help(arg)) {
        print_machines();
        exit(0);
    }
    opts = opts_parse(&machine_opts, arg, true, errp);
    if (!opts) {
        return false;
    }
    type = opts_get(opts, "type");
    accel = opts_get(opts, "accel");
    cfg->no_loop_accel = !opts_get_bool(opts, "loop-accel", !cfg->no_loop_accel);
    if (type && !machine_type_ok(type)) {
        error_setg(errp, "unsupported machine type\nUse -machine help to list supported "
                   "machines!");
        ok = false;
    } else if (accel && !cmdline_set_accel(cfg, accel, errp)) {
        ok = false;
    }
    opts_free(opts);
    return ok;
}

static bool opt_bios(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->ms.bios = arg;
    return true;
}

static bool opt_kernel(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->pc.kernel = arg;
    return true;
}

static bool opt_initrd(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->pc.initrd = arg;
    return true;
}

static bool opt_append(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->pc.append = arg;
    return true;
}

static bool opt_bios_dir(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->bios_dir = arg;
    return true;
}

static bool opt_name(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = opts_parse(&name_opts, arg, true, errp);

    if (!opts) {
        return false;
    }
    cfg->ms.name = g_strdup(opts_get(opts, "guest"));
    opts_free(opts);
    return true;
}

static bool opt_serial(VMConfig *cfg, const char *arg, Error **errp)
{
    if (cfg->nr_serial >= MAX_SERIAL_PORTS) {
        error_setg(errp, "too many serial ports");
        return false;
    }
    cfg->serial_specs[cfg->nr_serial++] = arg;
    return true;
}

static bool opt_debugcon(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->debugcon_spec = arg;
    return true;
}

static bool opt_display(VMConfig *cfg, const char *arg, Error **errp)
{
    if (strcmp(arg, "none") != 0 && !g_str_has_prefix(arg, "none,")) {
        error_setg(errp, "Display '%s' is not available (minivmm has no display: use "
                   "-display none or -nographic)", arg);
        return false;
    }
    return true;
}

static bool opt_vga(VMConfig *cfg, const char *arg, Error **errp)
{
    if (strcmp(arg, "none") != 0) {
        error_setg(errp, "VGA '%s' is not available (minivmm has no VGA: use -vga none)",
                   arg);
        return false;
    }
    return true;
}

static bool opt_boot(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = opts_parse(&boot_opts, arg, true, errp);
    const char *order, *timeout;
    bool ok = true;

    if (!opts) {
        return false;
    }
    order = opts_get(opts, "order");
    if (order && strspn(order, "abcdnop") != strlen(order)) {
        error_setg(errp, "Invalid boot device for order: '%s'", order);
        ok = false;
    }
    if (order && ok) {
        cfg->ms.boot_order = g_strdup(order);
    }
    cfg->pc.boot_menu = opts_get_bool(opts, "menu", false);
    timeout = opts_get(opts, "reboot-timeout");
    if (timeout && ok) {
        char *end;
        long t = strtol(timeout, &end, 10);
        if (*end || t < -1 || t > 0xffff) {
            error_setg(errp, "reboot timeout is invalid, it should be a value between -1 "
                       "and 65535");
            ok = false;
        }
        cfg->pc.reboot_timeout = t;
    }
    opts_free(opts);
    return ok;
}

static bool opt_fw_cfg(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = opts_parse(&fw_cfg_opts, arg, false, errp);
    const char *name, *file, *str;
    PCFwCfgItem *item;
    bool ok = false;

    if (!opts) {
        return false;
    }
    name = opts_get(opts, "name");
    file = opts_get(opts, "file");
    str = opts_get(opts, "string");
    item = g_new0(PCFwCfgItem, 1);
    if (!name || (!file && !str)) {
        error_setg(errp, "invalid argument(s)");
    } else if (file && str) {
        error_setg(errp, "file and string are mutually exclusive");
    } else if (strlen(name) > 55) {
        error_setg(errp, "name too long (max. 55 char)");
    } else if (file && !g_file_get_contents(file, (char **)&item->data, &item->len, NULL)) {
        error_setg(errp, "can't load %s", file);
    } else {
        if (!g_str_has_prefix(name, "opt/")) {
            warn_report("externally provided fw_cfg item names should be prefixed with "
                        "\"opt/\"");
        }
        if (str) {
            item->data = g_strdup(str);
            item->len = strlen(str);
        }
        item->name = g_strdup(name);
        g_ptr_array_add(cfg->pc.fw_cfg_user, item);
        ok = true;
    }
    if (!ok) {
        g_free(item);
    }
    opts_free(opts);
    return ok;
}

static bool opt_trace(VMConfig *cfg, const char *arg, Error **errp)
{
    return trace_parse_option(arg, errp);
}

/* The option being handled, as errors show it: "-drive if=foo". */
static const char *cmdline_loc;

/* Keep a drive for cmdline_create_drives(); ids are unique among drives (QEMU's drive list). */
static bool cmdline_add_drive(VMConfig *cfg, Opts *opts, Error **errp)
{
    const char *id = opts_id(opts);
    DriveArg *drive;

    for (guint i = 0; id && i < cfg->drives->len; i++) {
        DriveArg *other = g_ptr_array_index(cfg->drives, i);

        if (!g_strcmp0(opts_id(other->opts), id)) {
            error_setg(errp, "Duplicate ID '%s' for drive", id);
            opts_free(opts);
            return false;
        }
    }
    drive = g_new0(DriveArg, 1);
    drive->opts = opts;
    drive->loc = g_strdup(cmdline_loc);
    g_ptr_array_add(cfg->drives, drive);
    return true;
}

/* -hda, -cdrom, -fda ...: a -drive with if=, index= and file= filled in. */
static bool cmdline_add_drive_file(VMConfig *cfg, BlockInterfaceType type, int index,
                                   const char *file, const char *optstr, Error **errp)
{
    Opts *opts = drive_add(type, index, file, optstr, errp);

    return opts && cmdline_add_drive(cfg, opts, errp);
}

static bool opt_drive(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = drive_def(arg, errp);

    return opts && cmdline_add_drive(cfg, opts, errp);
}

/* -object iothread,id=ID: the thread starts at once, before any device can name it. */
static bool opt_object(VMConfig *cfg, const char *arg, Error **errp)
{
    return object_add_from_opts(arg, errp);
}

/* -device DRIVER[,prop=val...]: help is printed at once; devices are made after the board. */
static bool opt_device(VMConfig *cfg, const char *arg, Error **errp)
{
    Opts *opts = opts_parse(&qdev_device_opts, arg, true, errp);
    DriveArg *dev;

    if (!opts) {
        return false;
    }
    if (qdev_device_help(opts)) {
        exit(0);
    }
    for (guint i = 0; opts_id(opts) && i < cfg->devices->len; i++) {
        DriveArg *other = g_ptr_array_index(cfg->devices, i);

        if (!g_strcmp0(opts_id(other->opts), opts_id(opts))) {
            error_setg(errp, "Duplicate ID '%s' for device", opts_id(opts));
            opts_free(opts);
            return false;
        }
    }
    dev = g_new0(DriveArg, 1);
    dev->opts = opts;
    dev->loc = g_strdup(cmdline_loc);
    g_ptr_array_add(cfg->devices, dev);
    return true;
}

static bool opt_hda(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_DEFAULT, 0, arg, "media=disk", errp);
}

static bool opt_hdb(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_DEFAULT, 1, arg, "media=disk", errp);
}

static bool opt_hdc(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_DEFAULT, 2, arg, "media=disk", errp);
}

static bool opt_hdd(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_DEFAULT, 3, arg, "media=disk", errp);
}

static bool opt_cdrom(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_DEFAULT, 2, arg, "media=cdrom", errp);
}

static bool opt_fda(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_FLOPPY, 0, arg, "", errp);
}

static bool opt_fdb(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_FLOPPY, 1, arg, "", errp);
}

static bool opt_sd(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_SD, -1, arg, "", errp);
}

static bool opt_pflash(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_PFLASH, -1, arg, "", errp);
}

static bool opt_mtdblock(VMConfig *cfg, const char *arg, Error **errp)
{
    return cmdline_add_drive_file(cfg, IF_MTD, -1, arg, "", errp);
}

static bool opt_flag_snapshot(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->snapshot = true;
    return true;
}

static bool opt_flag_paused(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->ms.start_paused = true;
    return true;
}

static bool opt_flag_no_reboot(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->ms.no_reboot = true;
    return true;
}

static bool opt_flag_no_shutdown(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->ms.no_shutdown = true;
    return true;
}

static bool opt_flag_nodefaults(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->ms.nodefaults = true;
    return true;
}

static bool opt_flag_no_kvm_check(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->no_kvm_check = true;
    return true;
}

static bool opt_flag_nographic(VMConfig *cfg, const char *arg, Error **errp)
{
    cfg->ms.nographic = true;
    return true;
}

static bool opt_flag_ignored(VMConfig *cfg, const char *arg, Error **errp)
{
    return true;
}

static bool opt_version(VMConfig *cfg, const char *arg, Error **errp);
static bool opt_help(VMConfig *cfg, const char *arg, Error **errp);

static const CmdOption options[] = {
    { "m", true, opt_memory, "[size=]megs  configure guest RAM (default 128M)" },
    { "smp", true, opt_smp, "[cpus=]n  number of vCPUs (1-8)" },
    { "machine", true, opt_machine, "[type=]pc[,accel=kvm|qtest]  select the machine" },
    { "accel", true, opt_accel, "kvm|qtest  select the accelerator" },
    { "qtest", true, opt_qtest, "dev  serve the qtest protocol on a chardev" },
    { "qtest-log", true, opt_qtest_log, "file  log the qtest protocol" },
    { "M", true, opt_machine, "same as -machine" },
    { "enable-kvm", false, opt_flag_ignored, "accepted: KVM is always used" },
    { "bios", true, opt_bios, "file  firmware image (default: SeaBIOS)" },
    { "L", true, opt_bios_dir, "path  directory searched for -bios" },
    { "kernel", true, opt_kernel, "file  boot this Multiboot kernel or Linux bzImage directly" },
    { "initrd", true, opt_initrd, "file  initial ram disk (Multiboot: 'file args,...' modules)" },
    { "append", true, opt_append, "cmdline  the kernel's command line" },
    { "name", true, opt_name, "string  name of the guest" },
    { "S", false, opt_flag_paused, "do not start the CPUs (use 'cont' in the monitor)" },
    { "no-reboot", false, opt_flag_no_reboot, "exit instead of rebooting" },
    { "no-shutdown", false, opt_flag_no_shutdown, "stop instead of exiting on power-off" },
    { "nodefaults", false, opt_flag_nodefaults, "create no default devices" },
    { "no-kvm-check", false, opt_flag_no_kvm_check,
      "skip the check whether KVM emulates guest kernel mode (minivmm only)" },
    { "nographic", false, opt_flag_nographic, "serial port and monitor on stdio" },
    { "display", true, opt_display, "none  (no display)" },
    { "vga", true, opt_vga, "none  (no VGA)" },
    { "serial", true, opt_serial, "dev  stdio|file:PATH|unix:PATH[,server,nowait]|none|"
                                  "mon:stdio" },
    { "debugcon", true, opt_debugcon, "dev  debug console at port 0x402" },
    { "chardev", true, cmdline_opt_chardev, "backend,id=id[,...]  socket (path=|host=,port="
                                            "[,server][,nowait][,telnet]), stdio, file, null" },
    { "mon", true, cmdline_opt_mon, "chardev=id[,mode=readline|control][,pretty=on|off]" },
    { "qmp", true, cmdline_opt_qmp, "dev  QMP monitor on dev (unix:P,server,nowait, tcp:..., "
                                    "stdio)" },
    { "monitor", true, cmdline_opt_monitor, "dev  HMP monitor on dev, or none" },
    { "boot", true, opt_boot, "[order=drives][,menu=on|off][,reboot-timeout=ms]" },
    { "drive", true, opt_drive, "[file=FILE][,if=TYPE][,index=N][,media=d][,format=F]...  "
                                "a drive (format=help lists the formats)" },
    { "device", true, opt_device, "driver[,prop=value][,...]  add a device (help lists "
                                  "them; driver,help its properties)" },
    { "object", true, opt_object, "iothread,id=ID  create an I/O thread (help lists the types)" },
    { "hda", true, opt_hda, "file  IDE hard disk 0 (also: a bare FILE operand)" },
    { "hdb", true, opt_hdb, "file  IDE hard disk 1" },
    { "hdc", true, opt_hdc, "file  IDE hard disk 2" },
    { "hdd", true, opt_hdd, "file  IDE hard disk 3" },
    { "cdrom", true, opt_cdrom, "file  IDE CD-ROM (index 2)" },
    { "fda", true, opt_fda, "file  floppy disk 0" },
    { "fdb", true, opt_fdb, "file  floppy disk 1" },
    { "sd", true, opt_sd, "file  SD card image" },
    { "pflash", true, opt_pflash, "file  parallel flash image" },
    { "mtdblock", true, opt_mtdblock, "file  on-board flash memory image" },
    { "snapshot", false, opt_flag_snapshot, "write to temporary files instead of disk images" },
    { "fw_cfg", true, opt_fw_cfg, "name=NAME,file=FILE|string=STR  add a fw_cfg file" },
    { "trace", true, opt_trace, "[enable=]PATTERN|events=FILE|file=FILE  trace events" },
    { "version", false, opt_version, "print the version and exit" },
    { "h", false, opt_help, "print this help and exit" },
    { "help", false, opt_help, "print this help and exit" },
    { NULL },
};

static bool opt_version(VMConfig *cfg, const char *arg, Error **errp)
{
    printf("minivmm version " MINIVMM_VERSION
           ", a QEMU 2.2-compatible command line on KVM\n");
    exit(0);
}

static bool opt_help(VMConfig *cfg, const char *arg, Error **errp)
{
    printf("usage: minivmm [options]\n\n");
    for (const CmdOption *o = options; o->name; o++) {
        printf("-%-12s %s\n", o->name, o->help);
    }
    exit(0);
}

static const CmdOption *cmdline_find(const char *name)
{
    for (const CmdOption *o = options; o->name; o++) {
        if (!strcmp(o->name, name)) {
            return o;
        }
    }
    return NULL;
}

static void cmdline_defaults(VMConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ms.ram_size = DEFAULT_RAM_SIZE;
    cfg->ms.smp_cpus = 1;
    cfg->ms.bios = CONFIG_BIOS;
    cfg->pc.reboot_timeout = -1;
    cfg->pc.fw_cfg_user = g_ptr_array_new();
    cfg->drives = g_ptr_array_new();
    cfg->devices = g_ptr_array_new();
}

static void cmdline_check_kernel(VMConfig *cfg)
{
    if (!cfg->pc.kernel && cfg->pc.append && *cfg->pc.append) {
        error_report("-append only allowed with -kernel option");
        exit(1);
    }
    if (!cfg->pc.kernel && cfg->pc.initrd) {
        error_report("-initrd only allowed with -kernel option");
        exit(1);
    }
}

static void cmdline_finish(VMConfig *cfg)
{
    if (cfg->bios_dir && !g_path_is_absolute(cfg->ms.bios) &&
        strchr(cfg->ms.bios, '/') == NULL) {
        cfg->ms.bios = g_build_filename(cfg->bios_dir, cfg->ms.bios, NULL);
    }
    pc_split_ram(cfg->ms.ram_size, &cfg->ms.below_4g_mem, &cfg->ms.above_4g_mem);
    cmdline_check_kernel(cfg);
    if (cfg->nr_serial == 0 && !cfg->ms.nodefaults) {
        /* QEMU: -nographic puts the default monitor on the serial port's stdio. */
        bool mon = !cfg->no_default_monitor;

        cfg->serial_specs[cfg->nr_serial++] = cfg->ms.nographic ? (mon ? "mon:stdio" : "stdio")
                                                                : "null";
    }
}

void cmdline_parse(int argc, char **argv, VMConfig *cfg)
{
    Error *err = NULL;

    cmdline_defaults(cfg);
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        const CmdOption *o;
        const char *arg = NULL;

        if (name[0] != '-') {
            /* An image file operand is -hda, as in QEMU. */
            error_set_location(NULL);
            if (!cmdline_add_drive_file(cfg, IF_DEFAULT, 0, name, "media=disk", &err)) {
                error_report_err(err);
                exit(1);
            }
            continue;
        }
        name += name[1] == '-' ? 2 : 1;
        o = cmdline_find(name);
        if (!o) {
            error_set_location(argv[i]);
            error_report("invalid option");
            exit(1);
        }
        if (o->has_arg) {
            if (i + 1 >= argc) {
                error_set_location(argv[i]);
                error_report("requires an argument");
                exit(1);
            }
            arg = argv[++i];
        }
        {
            g_autofree char *loc = arg ? g_strdup_printf("%s %s", argv[i - 1], arg)
                                       : g_strdup(argv[i]);
            error_set_location(loc);
            cmdline_loc = loc;
            if (!o->handler(cfg, arg, &err)) {
                error_report_err(err);
                exit(1);
            }
            cmdline_loc = NULL;
        }
        error_set_location(NULL);
    }
    cmdline_finish(cfg);
}

static void cmdline_drive_failed(Error *err)
{
    /* No error: format=help printed the list, and QEMU 2.2 exits with status 1. */
    if (err) {
        error_report_err(err);
    }
    exit(1);
}

void cmdline_create_drives(VMConfig *cfg)
{
    Error *err = NULL;

    for (guint i = 0; i < cfg->drives->len; i++) {
        DriveArg *drive = g_ptr_array_index(cfg->drives, i);

        if (cfg->snapshot) {
            drive_enable_snapshot(drive->opts);
        }
        error_set_location(drive->loc);
        if (!drive_new(drive->opts, PC_BLOCK_DEFAULT_TYPE, &err)) {
            cmdline_drive_failed(err);
        }
    }
    error_set_location(NULL);
    if (!cfg->ms.nodefaults &&
        !drive_add_defaults(PC_BLOCK_DEFAULT_TYPE, cfg->snapshot, &err)) {
        cmdline_drive_failed(err);
    }
}

void cmdline_create_devices(VMConfig *cfg)
{
    Error *err = NULL;

    for (guint i = 0; i < cfg->devices->len; i++) {
        DriveArg *dev = g_ptr_array_index(cfg->devices, i);

        error_set_location(dev->loc);
        if (!qdev_device_add(dev->opts, &err)) {
            error_report_err(err);
            exit(1);
        }
    }
    error_set_location(NULL);
}
