/*
 * Port-I/O and MMIO dispatch: devices register address ranges with read/write callbacks;
 * the vCPU exit handler (and qtest) look the address up and call the device with the BQL held.
 * An access to an unregistered port reads all-ones and is otherwise ignored, as on a PC.
 */
#ifndef HW_IOPORT_H
#define HW_IOPORT_H

#include <stdbool.h>
#include <stdint.h>

/* `addr` is the offset inside the registered range; size is 1, 2, 4 (or 8 for MMIO). */
typedef struct IOOps {
    uint64_t (*read)(void *opaque, uint64_t addr, unsigned size);
    void (*write)(void *opaque, uint64_t addr, uint64_t val, unsigned size);
} IOOps;

typedef enum IOSpace { IO_SPACE_PIO, IO_SPACE_MMIO, IO_SPACE_MAX } IOSpace;

typedef struct IORegion IORegion;

/* Register [base, base+len); overlapping an existing range is a programming error
 * for fixed devices, and for PCI BARs the later mapping wins the overlap. */
IORegion *io_region_add(IOSpace space, uint64_t base, uint64_t len, const IOOps *ops,
                        void *opaque, const char *name);
void io_region_del(IORegion *r);
/* Move a region (PCI BAR reprogramming); len 0 or base ~0 unmaps it. */
void io_region_move(IORegion *r, uint64_t new_base);
bool io_region_mapped(const IORegion *r);
uint64_t io_region_base(const IORegion *r);

/* Dispatch one access. Accesses that straddle the end of a region are split bytewise. */
uint64_t io_dispatch_read(IOSpace space, uint64_t addr, unsigned size);
void io_dispatch_write(IOSpace space, uint64_t addr, uint64_t val, unsigned size);

static inline IORegion *portio_add(uint16_t base, uint16_t len, const IOOps *ops,
                                   void *opaque, const char *name)
{
    return io_region_add(IO_SPACE_PIO, base, len, ops, opaque, name);
}

#endif
