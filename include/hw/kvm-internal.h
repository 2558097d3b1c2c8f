/*
 * State shared between the KVM VM set-up (kvm.c) and the vCPU threads (vcpu.c).
 */
#ifndef HW_KVM_INTERNAL_H
#define HW_KVM_INTERNAL_H

#include <linux/kvm.h>
#include "util/error.h"

typedef struct KVMState {
    int kvm_fd;
    int vm_fd;
    int run_size;
    struct kvm_cpuid2 *cpuid;     /* what the host supports; vCPUs derive theirs */
    struct kvm_irqchip chips[3];  /* power-on PIC master, PIC slave, IOAPIC */
    struct kvm_pit_state2 pit;
} KVMState;

extern KVMState kvm_state;

bool kvm_create_vcpus(unsigned n, Error **errp);
void kvm_reset_chips(void);
/* vCPU id's file descriptor (-1 if none), and a kick out of KVM_RUN. */
int kvm_vcpu_fd(unsigned id);
void kvm_vcpu_kick(unsigned id);

#endif
