/*
 * The machine as a whole: its configuration from the command line, its life cycle
 * (reset, power-off, stop/cont) and the reset-handler list devices register into.
 */
#ifndef HW_MACHINE_H
#define HW_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#define MACHINE_MAX_CPUS 8

typedef struct MachineState {
    uint64_t ram_size;        /* -m */
    uint64_t below_4g_mem;    /* RAM mapped at 0 .. below_4g_mem */
    uint64_t above_4g_mem;    /* RAM mapped at 4 GiB .. 4 GiB + above_4g_mem */
    unsigned smp_cpus;        /* -smp */
    const char *bios;         /* -bios or the configured default */
    const char *name;         /* -name */
    bool nographic;
    bool no_reboot;
    bool no_shutdown;
    bool start_paused;        /* -S */
    bool nodefaults;
    const char *boot_order;   /* -boot order=..., default "cad" */
} MachineState;

extern MachineState *current_machine;

typedef void ResetHandler(void *opaque);
/* Handlers run in registration order on every system reset (and once before start). */
void machine_register_reset(ResetHandler *fn, void *opaque);
void machine_run_reset_handlers(void);

/* Requests from devices or vCPUs (any thread); acted on by the main loop. */
void machine_request_reset(void);     /* 0xcf9, port 0x92, i8042 0xfe, triple fault */
void machine_request_poweroff(void);  /* ACPI PM1a_CNT sleep type 0 */
void machine_request_shutdown_signal(int sig); /* SIGINT/SIGTERM */
/*
 * system_powerdown: POWERDOWN, then the board's power button (the ACPI PM device's
 * handler; only one). The machine itself goes on: the guest decides what to do.
 */
void machine_request_powerdown(void);
void machine_set_powerdown_handler(void (*fn)(void *opaque), void *opaque);

/* QEMU's RunState, in its QAPI order (query-status spells them runstate_name()). */
typedef enum RunState {
    RUN_STATE_DEBUG, RUN_STATE_INMIGRATE, RUN_STATE_INTERNAL_ERROR, RUN_STATE_IO_ERROR,
    RUN_STATE_PAUSED, RUN_STATE_POSTMIGRATE, RUN_STATE_PRELAUNCH, RUN_STATE_FINISH_MIGRATE,
    RUN_STATE_RESTORE_VM, RUN_STATE_RUNNING, RUN_STATE_SAVE_VM, RUN_STATE_SHUTDOWN,
    RUN_STATE_SUSPENDED, RUN_STATE_WATCHDOG, RUN_STATE_GUEST_PANICKED, RUN_STATE_MAX,
} RunState;

RunState runstate_get(void);
const char *runstate_name(RunState state);
/* internal-error, shutdown (with -no-shutdown), guest-panicked: cont needs a reset first. */
bool runstate_needs_reset(void);

/*
 * Run state: the vCPUs run or are parked (stop/cont, -S). Stopping a running machine parks
 * every vCPU, tells the run-state handlers, enters state and emits STOP; every stop then
 * drains and flushes every drive. machine_cont() from a stopped state tells the handlers,
 * runs the vCPUs and emits RESUME.
 */
bool machine_is_running(void);
void machine_stop(void);                 /* to "paused" */
void machine_stop_state(RunState state);
/*
 * The same from anywhere (an I/O completion with the error policy "stop", a vCPU thread):
 * done soon in the main loop, where draining cannot wait on the caller itself. Nothing
 * while the machine is stopped already (QEMU's vm_stop then only drains).
 */
void machine_request_stop(RunState state);
void machine_cont(void);
/*
 * Run-state handlers (QEMU's VM change state handlers), called in the main loop: with false
 * when the machine stops (after the vCPUs are parked, before the drives are drained), with
 * true when it runs again (before the vCPUs do). A device that serves guest requests on its
 * own, without a vCPU's register access (virtio's doorbells and polling), stops doing so.
 */
typedef void RunStateHandler(void *opaque, bool running);
void machine_add_run_state_handler(RunStateHandler *fn, void *opaque);
void machine_remove_run_state_handler(RunStateHandler *fn, void *opaque);
/* The monitor's quit: SHUTDOWN, then the main loop ends (drives are flushed by main). */
void machine_request_quit(void);
/* Run the reset handlers and start the vCPU threads, parked; machine_cont() runs them. */
void machine_start(void);

#endif
