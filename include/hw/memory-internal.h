/*
 * The hook through which the accelerator (KVM) learns about guest memory blocks.
 */
#ifndef HW_MEMORY_INTERNAL_H
#define HW_MEMORY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

typedef void GuestMemListener(unsigned slot, uint64_t gpa, uint64_t size, void *host,
                              bool readonly);
void guest_mem_set_listener(GuestMemListener *fn);

#endif
