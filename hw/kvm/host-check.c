/*
 * Does this host's KVM run guest kernel mode natively? Some hosts (PVM, no VMX/SVM) run guest
 * user mode natively but put every kernel-mode instruction through KVM's emulator, about
 * 1000x slower: guest operating systems then crawl. A throw-away VM times a short 32-bit CPL0
 * `loop` (a few thousand instructions; a few ms where emulated, microseconds elsewhere). This
 * only measures; the caller decides what to tell the user.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "hw/kvm.h"

enum {
    CHECK_CODE_ADDR = 0x1000,
    CHECK_ITERATIONS = 2000,
    EMULATED_NS_PER_ITERATION = 50,  /* native: a few ns; emulated: hundreds */
};

typedef struct HostCheckVM {
    int kvm, vm, vcpu;
    struct kvm_run *run;
    size_t run_size;
    void *mem;
} HostCheckVM;

static const uint8_t check_code[] = { 0xe2, 0xfe, 0xf4 };  /* 1: loop 1b; hlt */

static struct kvm_segment check_flat_segment(uint8_t type)
{
    return (struct kvm_segment){ .limit = 0xffffffff, .type = type, .present = 1, .s = 1,
                                 .db = 1, .g = 1, .selector = type == 0xb ? 0x8 : 0x10 };
}

static bool check_vm_create(HostCheckVM *c)
{
    struct kvm_userspace_memory_region slot = { .guest_phys_addr = CHECK_CODE_ADDR,
                                                .memory_size = 4096 };

    c->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    c->vm = c->kvm < 0 ? -1 : ioctl(c->kvm, KVM_CREATE_VM, 0);
    if (c->vm < 0) {
        return false;
    }
    c->mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c->mem == MAP_FAILED) {
        c->mem = NULL;
        return false;
    }
    memcpy(c->mem, check_code, sizeof(check_code));
    slot.userspace_addr = (uintptr_t)c->mem;
    c->run_size = ioctl(c->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (ioctl(c->vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0 ||
        ioctl(c->vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0 ||
        (c->vcpu = ioctl(c->vm, KVM_CREATE_VCPU, 0)) < 0) {
        return false;
    }
    c->run = mmap(NULL, c->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->vcpu, 0);
    return c->run != MAP_FAILED;
}

static void check_vm_destroy(HostCheckVM *c)
{
    if (c->run && c->run != MAP_FAILED) {
        munmap(c->run, c->run_size);
    }
    if (c->mem) {
        munmap(c->mem, 4096);
    }
    for (int *fd = &c->kvm; fd <= &c->vcpu; fd++) {
        if (*fd >= 0) {
            close(*fd);
        }
    }
}

static int64_t check_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Run the loop in 32-bit CPL0 with ECX = n; its wall time in ns, or -1. */
static int64_t check_run_loop(HostCheckVM *c, unsigned n)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs = { .rip = CHECK_CODE_ADDR, .rcx = n, .rflags = 0x2 };

    if (ioctl(c->vcpu, KVM_GET_SREGS, &sregs) < 0) {
        return -1;
    }
    sregs.cs = check_flat_segment(0xb);
    sregs.ds = sregs.es = sregs.ss = check_flat_segment(0x3);
    sregs.cr0 = 0x11;
    if (ioctl(c->vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(c->vcpu, KVM_SET_REGS, &regs) < 0) {
        return -1;
    }
    int64_t start = check_now_ns();
    while (ioctl(c->vcpu, KVM_RUN, 0) == 0 || errno == EINTR) {
        if (c->run->exit_reason == KVM_EXIT_HLT) {
            return check_now_ns() - start;
        }
        if (c->run->exit_reason != KVM_EXIT_INTR) {
            return -1;
        }
    }
    return -1;
}

bool kvm_host_emulates_kernel_mode(void)
{
    HostCheckVM c = { .kvm = -1, .vm = -1, .vcpu = -1 };
    bool emulated = false;

    if (check_vm_create(&c)) {
        int64_t base = check_run_loop(&c, 1);
        int64_t loop = check_run_loop(&c, CHECK_ITERATIONS + 1);
        emulated = base >= 0 && loop >= 0 &&
                   loop - base > (int64_t)CHECK_ITERATIONS * EMULATED_NS_PER_ITERATION;
    }
    check_vm_destroy(&c);
    return emulated;
}
