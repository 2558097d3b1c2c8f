/*
 * Machine life cycle: the reset-handler list, reset/power-off/signal requests (which may come
 * from any thread and are acted on in the main loop), and the run state (running/paused).
 * Not the board: hw/i386/pc.c builds the devices.
 */
#include <glib.h>
#include "hw/kvm.h"
#include "hw/machine.h"
#include "util/error.h"
#include "util/main-loop.h"

MachineState *current_machine;

typedef struct ResetEntry {
    ResetHandler *fn;
    void *opaque;
} ResetEntry;

static GArray *reset_handlers;
static bool running;
static bool reset_scheduled;

void machine_register_reset(ResetHandler *fn, void *opaque)
{
    ResetEntry e = { fn, opaque };

    if (!reset_handlers) {
        reset_handlers = g_array_new(FALSE, FALSE, sizeof(ResetEntry));
    }
    g_array_append_val(reset_handlers, e);
}

void machine_run_reset_handlers(void)
{
    for (guint i = 0; reset_handlers && i < reset_handlers->len; i++) {
        ResetEntry *e = &g_array_index(reset_handlers, ResetEntry, i);
        e->fn(e->opaque);
    }
}

bool machine_is_running(void)
{
    return running;
}

void machine_stop(void)
{
    if (running) {
        kvm_pause_vcpus();
        running = false;
    }
}

void machine_cont(void)
{
    if (!running) {
        running = true;
        kvm_resume_vcpus();
    }
}

static void machine_do_reset(void *opaque)
{
    bool was_running = running;

    reset_scheduled = false;
    if (current_machine->no_reboot) {
        main_loop_quit(0);
        return;
    }
    kvm_pause_vcpus();
    running = false;
    machine_run_reset_handlers();
    kvm_reset_vcpus();
    if (was_running) {
        machine_cont();
    }
}

void machine_request_reset(void)
{
    if (!reset_scheduled) {
        reset_scheduled = true;
        main_loop_call(machine_do_reset, NULL);
    }
}

static void machine_do_poweroff(void *opaque)
{
    if (current_machine->no_shutdown) {
        machine_stop();
        return;
    }
    main_loop_quit(0);
}

void machine_request_poweroff(void)
{
    main_loop_call(machine_do_poweroff, NULL);
}

static void machine_do_signal(void *opaque)
{
    int sig = GPOINTER_TO_INT(opaque);

    error_report("terminating on signal %d", sig);
    main_loop_quit(0);
}

void machine_request_shutdown_signal(int sig)
{
    main_loop_call(machine_do_signal, GINT_TO_POINTER(sig));
}

void machine_start(void)
{
    machine_run_reset_handlers();
    running = false;
    kvm_start_vcpus();
}
