/*
 * vCPU threads. Each runs KVM_RUN in a loop and dispatches port-I/O and MMIO exits to the
 * device tables with the BQL held. Pausing sets a flag and kicks the threads out of
 * KVM_RUN with a signal (kvm_run->immediate_exit closes the race with entry); parked
 * threads wait on a condition variable tied to the BQL. A reset is applied by each vCPU
 * thread to itself from the power-on state saved at creation (for the BSP under direct
 * kernel boot, with the entry state kvm_set_bsp_entry() gave).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <glib.h>
#include "hw/ioport.h"
#include "hw/kvm.h"
#include "hw/kvm-internal.h"
#include "hw/loop-accel.h"
#include "hw/machine.h"
#include "hw/memory.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen-kvm.h"
#include "util/main-loop.h"

#define SIG_VCPU_KICK SIGUSR1

typedef struct VCPUInitState {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_lapic_state lapic;
    struct kvm_vcpu_events events;
    struct kvm_mp_state mp;
} VCPUInitState;

typedef struct VCPU {
    unsigned id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool parked;
    bool wait_reset;     /* after a triple fault: stay out of KVM_RUN until reset */
    bool reset_pending;  /* load the power-on state before the next KVM_RUN */
    bool sampling;       /* loop acceleration wanted (paging off since power-on) */
    bool has_timer;
    long timer_ns;       /* the sampling timer's period now, 0 if disarmed */
    unsigned misses;     /* samples in a row that found no loop */
    timer_t sample_timer;
    VCPUInitState init;
} VCPU;

static VCPU *vcpus;
static unsigned nr_vcpus;
static unsigned nr_parked;
static bool stop_requested = true;  /* threads start parked */
static bool quit_requested;
static bool loop_accel_enabled = true;
static GCond park_cond;
static __thread VCPU *current_vcpu;

static void vcpu_sample(VCPU *v);

static void vcpu_kick_handler(int sig)
{
    if (current_vcpu) {
        current_vcpu->run->immediate_exit = 1;
    }
}

static void vcpu_setup_cpuid(VCPU *v)
{
    struct kvm_cpuid2 *host = kvm_state.cpuid;
    g_autofree struct kvm_cpuid2 *c =
        g_malloc0(sizeof(*host) + (host->nent + XEN_KVM_CPUID_EXTRA) * sizeof(host->entries[0]));

    memcpy(c, host, sizeof(*host) + host->nent * sizeof(host->entries[0]));

    for (unsigned i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        if (e->function == 1) {
            e->ebx = (e->ebx & 0x0000ffff) | (MAX(nr_vcpus, 1u) << 16) | (v->id << 24);
        } else if (e->function == 0xb || e->function == 0x1f) {
            e->edx = v->id;
        }
    }
    if (xen_enabled()) {
        xen_kvm_cpuid(c, v->id);
    }
    if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
        error_report("KVM_SET_CPUID2: %s", g_strerror(errno));
    }
}

static void vcpu_save_init_state(VCPU *v)
{
    ioctl(v->fd, KVM_GET_REGS, &v->init.regs);
    ioctl(v->fd, KVM_GET_SREGS, &v->init.sregs);
    ioctl(v->fd, KVM_GET_FPU, &v->init.fpu);
    ioctl(v->fd, KVM_GET_LAPIC, &v->init.lapic);
    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &v->init.events);
    ioctl(v->fd, KVM_GET_MP_STATE, &v->init.mp);
}

/* kvmclock and friends write guest memory on their own: switch them off on reset. */
static void vcpu_reset_pv_msrs(VCPU *v)
{
    static const uint32_t msrs[] = { 0x11, 0x12, 0x4b564d00, 0x4b564d01, 0x4b564d02,
                                     0x4b564d03, 0x4b564d04 };
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[G_N_ELEMENTS(msrs)];
    } m = { .hdr.nmsrs = 1 };

    /* One at a time: a host without one of them rejects only that one. */
    for (unsigned i = 0; i < G_N_ELEMENTS(msrs); i++) {
        m.e[0] = (struct kvm_msr_entry){ .index = msrs[i] };
        ioctl(v->fd, KVM_SET_MSRS, &m);
    }
}

static void vcpu_load_init_state(VCPU *v)
{
    ioctl(v->fd, KVM_SET_REGS, &v->init.regs);
    ioctl(v->fd, KVM_SET_SREGS, &v->init.sregs);
    ioctl(v->fd, KVM_SET_FPU, &v->init.fpu);
    ioctl(v->fd, KVM_SET_LAPIC, &v->init.lapic);
    ioctl(v->fd, KVM_SET_VCPU_EVENTS, &v->init.events);
    vcpu_reset_pv_msrs(v);
    ioctl(v->fd, KVM_SET_MP_STATE, &v->init.mp);
}

static bool vcpu_create(VCPU *v, unsigned id, Error **errp)
{
    v->id = id;
    v->fd = ioctl(kvm_state.vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (v->fd < 0) {
        error_setg_errno(errp, errno, "kvm_init_vcpu failed");
        return false;
    }
    v->run = mmap(NULL, kvm_state.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) {
        error_setg_errno(errp, errno, "mmap of kvm_run failed");
        return false;
    }
    vcpu_setup_cpuid(v);
    vcpu_save_init_state(v);
    return true;
}

bool kvm_create_vcpus(unsigned n, Error **errp)
{
    /* SA_RESTART: the kicks (pause, loop-accel sampling) must not fail a read() or write() a
     * device model makes on the vCPU thread; KVM_RUN itself still returns EINTR. */
    struct sigaction sa = { .sa_handler = vcpu_kick_handler, .sa_flags = SA_RESTART };

    sigaction(SIG_VCPU_KICK, &sa, NULL);
    nr_vcpus = n;
    vcpus = g_new0(VCPU, n);
    for (unsigned i = 0; i < n; i++) {
        if (!vcpu_create(&vcpus[i], i, errp)) {
            return false;
        }
    }
    return true;
}

static void vcpu_handle_io(VCPU *v)
{
    struct kvm_run *run = v->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    unsigned size = run->io.size;

    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        if (run->io.direction == KVM_EXIT_IO_OUT) {
            uint64_t val = 0;
            memcpy(&val, data, size);
            io_dispatch_write(IO_SPACE_PIO, run->io.port, val, size);
        } else {
            uint64_t val = io_dispatch_read(IO_SPACE_PIO, run->io.port, size);
            memcpy(data, &val, size);
        }
    }
}

static void vcpu_handle_mmio(VCPU *v)
{
    struct kvm_run *run = v->run;
    unsigned len = MIN(run->mmio.len, 8u);
    uint64_t val = 0;

    if (run->mmio.is_write) {
        memcpy(&val, run->mmio.data, len);
        io_dispatch_write(IO_SPACE_MMIO, run->mmio.phys_addr, val, len);
    } else {
        val = io_dispatch_read(IO_SPACE_MMIO, run->mmio.phys_addr, len);
        memcpy(run->mmio.data, &val, len);
    }
}

static void vcpu_report_internal_error(VCPU *v)
{
    struct kvm_regs regs;

    error_report("KVM internal error. Suberror: %u", v->run->internal.suberror);
    if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0) {
        error_report("vCPU %u: RIP=%016llx RSP=%016llx RAX=%016llx", v->id,
                     (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
                     (unsigned long long)regs.rax);
    }
}

static void vcpu_quit_failed(void *opaque)
{
    main_loop_quit(1);
}

/* Handle one exit with the BQL held. */
static void vcpu_handle_exit(VCPU *v)
{
    switch (v->run->exit_reason) {
    case KVM_EXIT_IO:
        vcpu_handle_io(v);
        break;
    case KVM_EXIT_MMIO:
        vcpu_handle_mmio(v);
        break;
    case KVM_EXIT_SHUTDOWN:  /* triple fault */
        v->wait_reset = true;
        machine_request_reset();
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        v->wait_reset = true;
        if (v->run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
            machine_request_reset();
        } else {
            machine_request_poweroff();
        }
        break;
    case KVM_EXIT_INTR:
        vcpu_sample(v);
        break;
    case KVM_EXIT_XEN:
        xen_kvm_handle_exit(v->fd, v->id, &v->run->xen);
        break;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_HLT:
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        vcpu_report_internal_error(v);
        v->wait_reset = true;
        main_loop_call(vcpu_quit_failed, NULL);
        break;
    default:
        error_report("vCPU %u: unhandled KVM exit reason %u", v->id, v->run->exit_reason);
        v->wait_reset = true;
        main_loop_call(vcpu_quit_failed, NULL);
        break;
    }
}

void kvm_set_loop_accel(bool on)
{
    loop_accel_enabled = on;
}

/* Arm or disarm the timer that kicks this vCPU out of KVM_RUN for sampling; it runs only
 * while the vCPU does and sampling is wanted, and slowly after a run of fruitless samples
 * (a guest idling or staying in real mode). */
static void vcpu_sample_timer(VCPU *v, bool run)
{
    long ns = !run || !v->sampling ? 0
              : v->misses >= LOOP_ACCEL_IDLE_SAMPLES ? LOOP_ACCEL_IDLE_PERIOD_NS
              : LOOP_ACCEL_PERIOD_NS;
    struct itimerspec its = { .it_interval.tv_nsec = ns, .it_value.tv_nsec = ns };

    if (v->timer_ns == ns) {
        return;
    }
    if (!v->has_timer) {
        struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIG_VCPU_KICK };
        sev._sigev_un._tid = gettid();   /* glibc 2.36 has no sigev_notify_thread_id */
        if (ns == 0 || timer_create(CLOCK_MONOTONIC, &sev, &v->sample_timer) < 0) {
            return;
        }
        v->has_timer = true;
    }
    if (timer_settime(v->sample_timer, 0, &its, NULL) == 0) {
        v->timer_ns = ns;
    }
}

static uint8_t *vcpu_accel_ram(uint64_t gpa, uint64_t len, bool write, void *opaque)
{
    return write ? guest_ram_ptr_rw(gpa, len) : guest_ram_ptr(gpa, len);
}

/* After a kick: finish the firmware loop the vCPU stands in, if any (include/hw/loop-accel.h).
 * Sampling ends for good (until reset) once the guest turns paging on. */
static void vcpu_sample(VCPU *v)
{
    static const LoopAccelMem mem = { .ram = vcpu_accel_ram };
    struct kvm_sregs sregs;
    struct kvm_regs regs;

    if (!v->sampling || ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
        return;
    }
    if (!loop_accel_applies(&sregs)) {
        v->sampling = false;
        vcpu_sample_timer(v, false);
        return;
    }
    if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0 && loop_accel_try(&regs, &sregs, &mem)) {
        ioctl(v->fd, KVM_SET_REGS, &regs);
        v->misses = 0;
    } else if (v->misses < LOOP_ACCEL_IDLE_SAMPLES) {
        v->misses++;
    }
    vcpu_sample_timer(v, true);
}

/* Park while the machine is stopped; returns false when the thread must end. */
static bool vcpu_wait_runnable(VCPU *v)
{
    if (stop_requested || quit_requested || v->wait_reset) {
        vcpu_sample_timer(v, false);
    }
    while (stop_requested || quit_requested || v->wait_reset) {
        if (quit_requested) {
            return false;
        }
        if (!v->parked) {
            v->parked = true;
            nr_parked++;
            g_cond_broadcast(&park_cond);
        }
        g_cond_wait(&park_cond, bql_mutex());
    }
    if (v->parked) {
        v->parked = false;
        nr_parked--;
    }
    if (v->reset_pending) {
        vcpu_load_init_state(v);
        v->reset_pending = false;
        v->sampling = loop_accel_enabled;
        v->misses = 0;
    }
    vcpu_sample_timer(v, true);
    return true;
}

static void *vcpu_thread(void *opaque)
{
    VCPU *v = opaque;
    sigset_t set;

    current_vcpu = v;
    sigemptyset(&set);
    sigaddset(&set, SIG_VCPU_KICK);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    bql_lock();
    v->sampling = loop_accel_enabled;
    while (vcpu_wait_runnable(v)) {
        bql_unlock();
        int r = ioctl(v->fd, KVM_RUN, 0);
        int err = errno;
        bql_lock();
        if (r < 0) {
            v->run->immediate_exit = 0;
            if (err == EINTR) {
                vcpu_sample(v);
            } else if (err != EAGAIN) {
                error_report("KVM_RUN failed: %s", g_strerror(err));
                v->wait_reset = true;
                main_loop_call(vcpu_quit_failed, NULL);
            }
            continue;
        }
        vcpu_handle_exit(v);
        if (xen_enabled()) {
            xen_kvm_vcpu_exited();
        }
    }
    bql_unlock();
    return NULL;
}

void kvm_start_vcpus(void)
{
    sigset_t set, old;

    /* Threads start with the kick signal blocked and unblock it once current_vcpu is set. */
    sigemptyset(&set);
    sigaddset(&set, SIG_VCPU_KICK);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    for (unsigned i = 0; i < nr_vcpus; i++) {
        char name[24]; /* fits: the kernel takes 15 characters, "CPU 255/KVM" is 11 */

        pthread_create(&vcpus[i].thread, NULL, vcpu_thread, &vcpus[i]);
        /* QEMU's name for it (with -name debug-threads=on), for top -H, taskset, benches. */
        snprintf(name, sizeof(name), "CPU %u/KVM", i);
        pthread_setname_np(vcpus[i].thread, name);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int kvm_vcpu_fd(unsigned id)
{
    return id < nr_vcpus ? vcpus[id].fd : -1;
}

void kvm_vcpu_kick(unsigned id)
{
    if (id < nr_vcpus && vcpus[id].thread) {
        pthread_kill(vcpus[id].thread, SIG_VCPU_KICK);
    }
}

static void kvm_kick_all(void)
{
    for (unsigned i = 0; i < nr_vcpus; i++) {
        pthread_kill(vcpus[i].thread, SIG_VCPU_KICK);
    }
}

static void kvm_wait_parked(void)
{
    while (nr_parked < nr_vcpus) {
        kvm_kick_all();
        gint64 deadline = g_get_monotonic_time() + 10000;
        g_cond_wait_until(&park_cond, bql_mutex(), deadline);
    }
}

void kvm_pause_vcpus(void)
{
    stop_requested = true;
    kvm_wait_parked();
}

void kvm_resume_vcpus(void)
{
    stop_requested = false;
    g_cond_broadcast(&park_cond);
}

void kvm_set_bsp_entry(const struct kvm_regs *regs, const struct kvm_sregs *sregs)
{
    struct kvm_sregs *s;

    if (!nr_vcpus) {
        return;  /* no accelerator VM (qtest) */
    }
    s = &vcpus[0].init.sregs;
    vcpus[0].init.regs = *regs;
    s->cs = sregs->cs;
    s->ds = sregs->ds;
    s->es = sregs->es;
    s->fs = sregs->fs;
    s->gs = sregs->gs;
    s->ss = sregs->ss;
    s->gdt = sregs->gdt;
    s->idt = sregs->idt;
    s->cr0 = sregs->cr0;
    s->cr3 = sregs->cr3;
    s->cr4 = sregs->cr4;
    s->efer = sregs->efer;
    vcpus[0].reset_pending = true;
}

void kvm_reset_vcpus(void)
{
    if (!nr_vcpus) {
        return;  /* no accelerator VM (qtest) */
    }
    for (unsigned i = 0; i < nr_vcpus; i++) {
        vcpus[i].wait_reset = false;
        vcpus[i].reset_pending = true;
    }
    kvm_reset_chips();
}

void kvm_vcpu_hold_for_reset(void)
{
    if (current_vcpu) {
        current_vcpu->wait_reset = true;
    }
}

void kvm_stop_vcpus(void)
{
    quit_requested = true;
    g_cond_broadcast(&park_cond);
    kvm_kick_all();
    bql_unlock();
    for (unsigned i = 0; i < nr_vcpus; i++) {
        pthread_join(vcpus[i].thread, NULL);
    }
    bql_lock();
}
