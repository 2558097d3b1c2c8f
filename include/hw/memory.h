/*
 * Guest physical memory as the VMM sees it: RAM blocks mapped into KVM and accessors that
 * bounds-check every guest-supplied address. Not MMIO: see ioport.h.
 */
#ifndef HW_MEMORY_H
#define HW_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Host pointer for [gpa, gpa+len) if it lies entirely inside one RAM block, else NULL. */
void *guest_ram_ptr(uint64_t gpa, uint64_t len);
/* The same for a range a device will write (DMA into guest buffers): NULL for ROM too. */
void *guest_ram_ptr_rw(uint64_t gpa, uint64_t len);
/* Copy to/from guest RAM; false (nothing copied) when any byte is outside RAM. */
bool guest_mem_read(uint64_t gpa, void *buf, uint64_t len);
bool guest_mem_write(uint64_t gpa, const void *buf, uint64_t len);

/* Add a RAM or ROM block backed by host memory at host; registers a KVM slot. Returns the
 * block's id. */
unsigned guest_mem_add(uint64_t gpa, uint64_t size, void *host, bool readonly, const char *name);
/* A ROM device (flash) switching between array mode (enabled: reads come from the block,
 * writes of a read-only block exit to MMIO dispatch) and I/O mode (disabled: every access
 * goes to the MMIO region registered over it). */
void guest_mem_set_enabled(unsigned id, bool enabled);
/* Map block id at gpa instead (enabled again if it was not): Xen's overlay pages. */
void guest_mem_move(unsigned id, uint64_t gpa);
/* True if any enabled block other than except (-1: none) has a byte in [gpa, gpa+size). */
bool guest_mem_overlaps(uint64_t gpa, uint64_t size, int except);
void guest_mem_reset(void);

#endif
