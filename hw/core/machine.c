/*
 * Machine life cycle: the reset-handler list, reset/power-off/signal requests (which may come
 * from any thread and are acted on in the main loop, never inside another operation's
 * drain), and the run state (running/paused).
 * Not the board: hw/i386/pc.c builds the devices.
 */
#include <glib.h>
#include "block/block-backend.h"
#include "block/block.h"
#include "hw/kvm.h"
#include "hw/machine.h"
#include "monitor/monitor.h"
#include "util/error.h"
#include "util/main-loop.h"

MachineState *current_machine;

/* A registered callback; fn is cast back to its list's type before the call. */
typedef struct HandlerEntry {
    void (*fn)(void);
    void *opaque;
} HandlerEntry;

static GArray *reset_handlers;
static bool running; /* written in the main loop; read from any thread */
static bool reset_scheduled;
static RunState runstate = RUN_STATE_PRELAUNCH;

static const char *const runstate_names[RUN_STATE_MAX] = {
    "debug", "inmigrate", "internal-error", "io-error", "paused", "postmigrate",
    "prelaunch", "finish-migrate", "restore-vm", "running", "save-vm", "shutdown",
    "suspended", "watchdog", "guest-panicked",
};

RunState runstate_get(void)
{
    return runstate;
}

const char *runstate_name(RunState state)
{
    return state < RUN_STATE_MAX ? runstate_names[state] : "unknown";
}

bool runstate_needs_reset(void)
{
    return runstate == RUN_STATE_INTERNAL_ERROR || runstate == RUN_STATE_SHUTDOWN ||
           runstate == RUN_STATE_GUEST_PANICKED;
}

static void handler_add(GArray **list, void (*fn)(void), void *opaque)
{
    HandlerEntry e = { fn, opaque };

    if (!*list) {
        *list = g_array_new(FALSE, FALSE, sizeof(HandlerEntry));
    }
    g_array_append_val(*list, e);
}

static void handler_remove(GArray *list, void (*fn)(void), void *opaque)
{
    for (guint i = 0; list && i < list->len; i++) {
        HandlerEntry *e = &g_array_index(list, HandlerEntry, i);

        if (e->fn == fn && e->opaque == opaque) {
            g_array_remove_index(list, i);
            return;
        }
    }
}

void machine_register_reset(ResetHandler *fn, void *opaque)
{
    handler_add(&reset_handlers, (void (*)(void))fn, opaque);
}

void machine_run_reset_handlers(void)
{
    for (guint i = 0; reset_handlers && i < reset_handlers->len; i++) {
        HandlerEntry *e = &g_array_index(reset_handlers, HandlerEntry, i);
        ((ResetHandler *)e->fn)(e->opaque);
    }
}

bool machine_is_running(void)
{
    return __atomic_load_n(&running, __ATOMIC_ACQUIRE);
}

static void machine_set_running(bool on)
{
    __atomic_store_n(&running, on, __ATOMIC_RELEASE);
}

static GArray *run_state_handlers;

void machine_add_run_state_handler(RunStateHandler *fn, void *opaque)
{
    handler_add(&run_state_handlers, (void (*)(void))fn, opaque);
}

void machine_remove_run_state_handler(RunStateHandler *fn, void *opaque)
{
    handler_remove(run_state_handlers, (void (*)(void))fn, opaque);
}

static void machine_run_state_notify(bool on)
{
    for (guint i = 0; run_state_handlers && i < run_state_handlers->len; i++) {
        HandlerEntry *e = &g_array_index(run_state_handlers, HandlerEntry, i);

        ((RunStateHandler *)e->fn)(e->opaque, on);
    }
}

void machine_stop_state(RunState state)
{
    if (running) {
        kvm_pause_vcpus();
        machine_set_running(false);
        machine_run_state_notify(false);
        runstate = state;
        monitor_event("STOP", NULL);
    }
    bdrv_drain_all();
    /* A request a device took before it stopped may have been held back by that drain
     * (its submission reached the node inside the drained section): it runs now. */
    blk_drain_all();
    bdrv_flush_all();
}

/* A stop request queued or running (atomic). */
static int stop_pending;

static void machine_do_stop(void *opaque)
{
    machine_stop_state(GPOINTER_TO_INT(opaque));
    g_atomic_int_set(&stop_pending, 0);
}

/*
 * Requests made until the requested stop has drained the drives are one stop, as QEMU's
 * single pending vmstop request: a request that fails while the first failure's stop drains
 * the I/O threads is kept for the retry at `cont` like the first, and must not stop the
 * machine again after that `cont`. A machine already stopped stays as it is (QEMU's vm_stop
 * then only drains): a request failing then is kept too, and `cont` drains before it
 * retries, so that request cannot stop the machine after the `cont` either.
 */
void machine_request_stop(RunState state)
{
    if (!machine_is_running()) {
        return;
    }
    if (g_atomic_int_compare_and_exchange(&stop_pending, 0, 1)) {
        main_loop_call_outer(machine_do_stop, GINT_TO_POINTER(state));
    }
}

void machine_stop(void)
{
    machine_stop_state(RUN_STATE_PAUSED);
}

void machine_cont(void)
{
    if (!running) {
        machine_set_running(true);
        runstate = RUN_STATE_RUNNING;
        machine_run_state_notify(true);
        kvm_resume_vcpus();
        monitor_event("RESUME", NULL);
    }
}

/* A shutdown request (power-off, -no-reboot reset): SHUTDOWN, then stop or exit. */
static void machine_shutdown(bool honour_no_shutdown)
{
    monitor_event("SHUTDOWN", NULL);
    if (honour_no_shutdown && current_machine->no_shutdown) {
        machine_stop_state(RUN_STATE_SHUTDOWN);
        return;
    }
    main_loop_quit(0);
}

static void machine_do_reset(void *opaque)
{
    bool was_running = running;

    reset_scheduled = false;
    if (current_machine->no_reboot) {
        machine_shutdown(true);
        return;
    }
    kvm_pause_vcpus();
    machine_run_reset_handlers();
    kvm_reset_vcpus();
    if (was_running) {
        kvm_resume_vcpus();
    }
    monitor_event("RESET", NULL);
    if (runstate_needs_reset()) {
        runstate = RUN_STATE_PAUSED;
    }
}

void machine_request_reset(void)
{
    kvm_vcpu_hold_for_reset();
    if (!reset_scheduled) {
        reset_scheduled = true;
        main_loop_call_outer(machine_do_reset, NULL);
    }
}

static void machine_do_poweroff(void *opaque)
{
    machine_shutdown(true);
}

void machine_request_poweroff(void)
{
    kvm_vcpu_hold_for_reset();
    main_loop_call_outer(machine_do_poweroff, NULL);
}

static void (*powerdown_fn)(void *opaque);
static void *powerdown_opaque;

void machine_set_powerdown_handler(void (*fn)(void *opaque), void *opaque)
{
    powerdown_fn = fn;
    powerdown_opaque = opaque;
}

static void machine_do_powerdown(void *opaque)
{
    monitor_event("POWERDOWN", NULL);
    if (powerdown_fn) {
        powerdown_fn(powerdown_opaque);
    }
}

/* From the main loop, as QEMU's request: the command's answer goes out before the event. */
void machine_request_powerdown(void)
{
    main_loop_call_outer(machine_do_powerdown, NULL);
}

static void machine_do_signal(void *opaque)
{
    int sig = GPOINTER_TO_INT(opaque);

    error_report("terminating on signal %d", sig);
    machine_shutdown(false);
}

void machine_request_shutdown_signal(int sig)
{
    main_loop_call_outer(machine_do_signal, GINT_TO_POINTER(sig));
}

static void machine_do_quit(void *opaque)
{
    machine_shutdown(false);
}

void machine_request_quit(void)
{
    main_loop_call_outer(machine_do_quit, NULL);
}

void machine_start(void)
{
    machine_run_reset_handlers();
    machine_set_running(false);
    runstate = RUN_STATE_PRELAUNCH;
    kvm_start_vcpus();
}
