/*
 * minivmm's entry point: parse the command line, set up KVM, the drives and the PC board,
 * open the chardevs, start the vCPUs and run the main loop until quit, power-off or a signal.
 */
#include <signal.h>
#include <stdlib.h>
#include <glib.h>
#include <glib-unix.h>
#include "block/blockjob.h"
#include "blockdev/blockdev.h"
#include "blockdev/qmp-passwd.h"
#include "hw/kvm.h"
#include "hw/pc.h"
#include "monitor/monitor.h"
#include "system/cmdline.h"
#include "system/qtest.h"
#include "util/chardev.h"
#include "util/error.h"
#include "hw/xen/xen.h"
#include "util/iothread.h"
#include "util/main-loop.h"
#include "util/trace.h"

static gboolean main_on_signal(gpointer data)
{
    machine_request_shutdown_signal(GPOINTER_TO_INT(data));
    return G_SOURCE_CONTINUE;
}

static Chardev *main_open_chardev(const char *label, const char *opt, const char *spec)
{
    Error *err = NULL;
    Chardev *chr = chr_new_from_spec(label, spec, &err);

    if (!chr) {
        g_autofree char *loc = g_strdup_printf("%s %s", opt, spec);
        error_set_location(loc);
        error_report_err(err);
        exit(1);
    }
    if (g_str_has_prefix(spec, "mon:")) {
        monitor_new(chr, MONITOR_MODE_READLINE, false);  /* the device, attached later, has focus */
    }
    return chr;
}

static void main_open_chardevs(VMConfig *cfg)
{
    /* COM1 only for now; further -serial ports are accepted and wired when they land. */
    if (cfg->nr_serial > 0 && g_strcmp0(cfg->serial_specs[0], "none") != 0) {
        cfg->pc.serial = main_open_chardev("serial0", "-serial", cfg->serial_specs[0]);
    }
    if (cfg->debugcon_spec) {
        cfg->pc.debugcon = main_open_chardev("debugcon", "-debugcon", cfg->debugcon_spec);
    }
}

/* Once per start-up (about 25 ms here): warn where guest kernels would crawl. */
static void main_check_host(VMConfig *cfg)
{
    if (!cfg->accel_qtest && !cfg->no_kvm_check && kvm_host_emulates_kernel_mode()) {
        warn_report("this host's KVM emulates guest kernel mode; guest operating systems "
                    "will be very slow");
    }
}

static void main_start_qtest(VMConfig *cfg)
{
    Chardev *chr = main_open_chardev("qtest", "-qtest", cfg->qtest_spec);

    if (!qtest_server_init(chr, cfg->qtest_log, &error_fatal)) {
        exit(1);
    }
}

int main(int argc, char **argv)
{
    VMConfig cfg;
    int status;

    error_set_progname("minivmm");
    cmdline_parse(argc, argv, &cfg);
    current_machine = &cfg.ms;
    main_loop_init();
    cmdline_create_monitors(&cfg);
    main_open_chardevs(&cfg);
    xen_set_version(cfg.xen_version);
    if (cfg.accel_qtest) {
        qtest_enable_accel();
    } else if (!kvm_init(cfg.ms.smp_cpus, &error_fatal)) {
        return 1;
    } else {
        kvm_set_loop_accel(!cfg.no_loop_accel);
    }
    if (cfg.qtest_spec) {
        main_start_qtest(&cfg);
    }
    cmdline_create_drives(&cfg);
    if (!pc_init(&cfg.ms, &cfg.pc, &error_fatal)) {
        return 1;
    }
    cmdline_create_devices(&cfg);
    pc_machine_done();
    drive_check_orphans();
    main_check_host(&cfg);  /* after every configuration error: those come first */
    g_unix_signal_add(SIGINT, main_on_signal, GINT_TO_POINTER(SIGINT));
    g_unix_signal_add(SIGTERM, main_on_signal, GINT_TO_POINTER(SIGTERM));
    g_unix_signal_add(SIGHUP, main_on_signal, GINT_TO_POINTER(SIGHUP));
    machine_start();
    /* QEMU 2.2: a drive opened without its key keeps the guest in prelaunch, as -S does. */
    if (!cfg.ms.start_paused && !blockdev_find_key_missing()) {
        machine_cont();
    }
    status = main_loop_run();
    kvm_stop_vcpus();
    block_job_cancel_all_sync();
    bdrv_quiesce_for_exit();
    iothread_destroy_all();
    chr_flush_all(1000);  /* the last responses and SHUTDOWN reach the monitors' clients */
    chr_restore_terminal();
    return status;
}
