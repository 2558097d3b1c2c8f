/*
 * The KVM accelerator: one VM with an in-kernel irqchip and PIT, and one thread per vCPU
 * that runs KVM_RUN and dispatches port-I/O and MMIO exits under the BQL.
 */
#ifndef HW_KVM_H
#define HW_KVM_H

#include <stdbool.h>
#include <stdint.h>
#include "util/error.h"

struct kvm_regs;
struct kvm_sregs;

bool kvm_init(unsigned smp_cpus, Error **errp);
/* Start the vCPU threads (parked if the machine starts stopped). */
void kvm_start_vcpus(void);
/* Park every vCPU outside KVM_RUN and wait until they are (BQL held; releases it while
 * waiting). */
void kvm_pause_vcpus(void);
void kvm_resume_vcpus(void);
/* Put every vCPU back to its power-on state (vCPUs must be paused). */
void kvm_reset_vcpus(void);
/* Called by a device from a vCPU thread when the guest asked for a reset or power-off (0xcf9,
 * port 0x92, PM control): that vCPU stays out of KVM_RUN until the next reset, as on real
 * hardware, instead of running on into whatever follows the port write (SeaBIOS puts an int3
 * there). No effect outside vCPU threads. */
void kvm_vcpu_hold_for_reset(void);
/*
 * Direct kernel boot: the BSP starts (and restarts at every reset) with these registers, and
 * with the segment, descriptor-table and control registers of sregs instead of the reset
 * vector; its APIC base and everything else keep their power-on values. After kvm_init().
 */
void kvm_set_bsp_entry(const struct kvm_regs *regs, const struct kvm_sregs *sregs);
/* Time a short CPL0 loop in a throw-away VM: true if KVM emulates guest kernel mode here
 * (a few ms on such hosts, well under a millisecond elsewhere). */
bool kvm_host_emulates_kernel_mode(void);
/* Make ISA IRQs level_irqs (bit n: IRQ n) level-triggered in the PIC's ELCR, now and after
 * every reset, as firmware would set them; no-op without KVM. */
void kvm_set_power_on_elcr(uint16_t level_irqs);
/* Firmware loop acceleration (include/hw/loop-accel.h), on unless switched off here before
 * the vCPUs start: -machine loop-accel=off. */
void kvm_set_loop_accel(bool on);
/* Stop the vCPU threads for good (exit path). */
void kvm_stop_vcpus(void);

#endif
