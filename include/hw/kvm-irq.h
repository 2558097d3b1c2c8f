/*
 * KVM interrupt and doorbell plumbing for device models: MSI delivery (KVM_SIGNAL_MSI), MSI
 * routes in the GSI routing table with irqfds bound to them (an eventfd write raises the
 * interrupt without a trip through the VMM), and ioeventfds (a guest write to a doorbell
 * address signals an eventfd inside the kernel, without an exit to the VMM). Every function
 * fails cleanly (false / -errno) when there is no KVM VM, as under qtest.
 */
#ifndef HW_KVM_IRQ_H
#define HW_KVM_IRQ_H

#include <stdbool.h>
#include <stdint.h>

/* A KVM VM exists (not the qtest accelerator, not a unit test). */
bool kvm_enabled(void);

/* Inject one MSI; false when there is no VM or KVM refused it. */
bool kvm_irqchip_send_msi(uint64_t address, uint32_t data);

/* A new MSI route: its GSI (>= 24), or -errno. The table is committed to KVM at once. */
int kvm_irqchip_add_msi_route(uint64_t address, uint32_t data);
int kvm_irqchip_update_msi_route(int gsi, uint64_t address, uint32_t data);
void kvm_irqchip_release_route(int gsi);
/* Bind (assign) or unbind eventfd fd to gsi; 0 or -errno. */
int kvm_irqfd(int fd, int gsi, bool assign);

/*
 * Signal fd when the guest writes len bytes (1, 2, 4, 8) at addr in port space (pio) or
 * memory space; with datamatch only when the value written is data. 0 or -errno.
 */
int kvm_ioeventfd(int fd, bool pio, uint64_t addr, unsigned len, bool datamatch, uint64_t data,
                  bool assign);

#endif
