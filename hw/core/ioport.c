/*
 * Port-I/O and MMIO dispatch tables. A region list per address space, searched newest
 * first so that a later mapping (a reprogrammed PCI BAR) wins an overlap. The lists are
 * short (tens of entries) and exits cost tens of microseconds, so a linear scan is plenty.
 * Callers hold the BQL. Not an address-space model: RAM lives in memory.c.
 */
#include <inttypes.h>
#include <glib.h>
#include "hw/ioport.h"
#include "util/trace.h"

#define UNMAPPED UINT64_MAX

struct IORegion {
    IOSpace space;
    uint64_t base;
    uint64_t len;
    const IOOps *ops;
    void *opaque;
    char *name;
};

static GPtrArray *regions[IO_SPACE_MAX];

static GPtrArray *space_list(IOSpace space)
{
    if (!regions[space]) {
        regions[space] = g_ptr_array_new();
    }
    return regions[space];
}

IORegion *io_region_add(IOSpace space, uint64_t base, uint64_t len, const IOOps *ops,
                        void *opaque, const char *name)
{
    IORegion *r = g_new0(IORegion, 1);

    g_assert(space < IO_SPACE_MAX && len > 0);
    r->space = space;
    r->base = base;
    r->len = len;
    r->ops = ops;
    r->opaque = opaque;
    r->name = g_strdup(name);
    g_ptr_array_add(space_list(space), r);
    return r;
}

void io_region_del(IORegion *r)
{
    if (r) {
        g_ptr_array_remove(space_list(r->space), r);
        g_free(r->name);
        g_free(r);
    }
}

void io_region_move(IORegion *r, uint64_t new_base)
{
    GPtrArray *list = space_list(r->space);

    r->base = new_base;
    /* A moved region becomes the newest mapping, like a freshly programmed BAR. */
    g_ptr_array_remove(list, r);
    g_ptr_array_add(list, r);
}

bool io_region_mapped(const IORegion *r)
{
    return r->base != UNMAPPED;
}

uint64_t io_region_base(const IORegion *r)
{
    return r->base;
}

static IORegion *io_lookup(IOSpace space, uint64_t addr)
{
    GPtrArray *list = space_list(space);

    for (guint i = list->len; i-- > 0;) {
        IORegion *r = g_ptr_array_index(list, i);
        if (r->base != UNMAPPED && addr >= r->base && addr - r->base < r->len) {
            return r;
        }
    }
    return NULL;
}

static bool io_fits(const IORegion *r, uint64_t addr, unsigned size)
{
    return addr - r->base + size <= r->len;
}

uint64_t io_dispatch_read(IOSpace space, uint64_t addr, unsigned size)
{
    IORegion *r = io_lookup(space, addr);
    uint64_t val = 0;

    if (r && io_fits(r, addr, size)) {
        if (!r->ops->read) {
            return size == 8 ? UINT64_MAX : (1ULL << (size * 8)) - 1;
        }
        val = r->ops->read(r->opaque, addr - r->base, size);
        TRACE("io_read", "%s %#" PRIx64 "/%u -> %#" PRIx64, r->name, addr, size, val);
        return val;
    }
    if (!r && size == 1) {
        return 0xff;
    }
    /* Unmapped or straddling a region boundary: assemble byte by byte. */
    for (unsigned i = 0; i < size; i++) {
        val |= io_dispatch_read(space, addr + i, 1) << (i * 8);
    }
    return val;
}

void io_dispatch_write(IOSpace space, uint64_t addr, uint64_t val, unsigned size)
{
    IORegion *r = io_lookup(space, addr);

    if (r && io_fits(r, addr, size)) {
        TRACE("io_write", "%s %#" PRIx64 "/%u <- %#" PRIx64, r->name, addr, size, val);
        if (r->ops->write) {
            r->ops->write(r->opaque, addr - r->base, val, size);
        }
        return;
    }
    if (!r && size == 1) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        io_dispatch_write(space, addr + i, (val >> (i * 8)) & 0xff, 1);
    }
}
