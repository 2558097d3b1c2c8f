/*
 * Guest RAM and ROM blocks. Each block is host memory mapped into the guest through a
 * listener (KVM memory slots); devices reach guest memory only through the checked
 * accessors here, which refuse any range that is not wholly inside one block.
 * Not MMIO dispatch (ioport.c).
 */
#include <string.h>
#include <glib.h>
#include "hw/memory.h"
#include "hw/memory-internal.h"

typedef struct RAMBlock {
    uint64_t gpa;
    uint64_t size;
    uint8_t *host;
    bool readonly;
    bool disabled;  /* a ROM device in I/O mode: accesses go to its MMIO region */
    char *name;
} RAMBlock;

static GArray *blocks;
static GuestMemListener *listener;

void guest_mem_set_listener(GuestMemListener *fn)
{
    listener = fn;
}

unsigned guest_mem_add(uint64_t gpa, uint64_t size, void *host, bool readonly, const char *name)
{
    RAMBlock b = { gpa, size, host, readonly, false, g_strdup(name) };

    if (!blocks) {
        blocks = g_array_new(FALSE, TRUE, sizeof(RAMBlock));
    }
    g_array_append_val(blocks, b);
    if (listener) {
        listener(blocks->len - 1, gpa, size, host, readonly);
    }
    return blocks->len - 1;
}

void guest_mem_set_enabled(unsigned id, bool enabled)
{
    RAMBlock *b;

    g_assert(blocks && id < blocks->len);
    b = &g_array_index(blocks, RAMBlock, id);
    if (b->disabled != !enabled) {
        b->disabled = !enabled;
        if (listener) {
            listener(id, b->gpa, enabled ? b->size : 0, b->host, b->readonly);
        }
    }
}

void guest_mem_move(unsigned id, uint64_t gpa)
{
    RAMBlock *b;

    g_assert(blocks && id < blocks->len);
    b = &g_array_index(blocks, RAMBlock, id);
    if (listener && !b->disabled) {
        listener(id, b->gpa, 0, b->host, b->readonly);
    }
    b->gpa = gpa;
    b->disabled = false;
    if (listener) {
        listener(id, gpa, b->size, b->host, b->readonly);
    }
}

bool guest_mem_overlaps(uint64_t gpa, uint64_t size, int except)
{
    for (guint i = 0; blocks && i < blocks->len; i++) {
        RAMBlock *b = &g_array_index(blocks, RAMBlock, i);
        if ((int)i != except && !b->disabled && gpa < b->gpa + b->size && b->gpa < gpa + size) {
            return true;
        }
    }
    return false;
}

void guest_mem_reset(void)
{
    if (!blocks) {
        return;
    }
    for (guint i = 0; i < blocks->len; i++) {
        g_free(g_array_index(blocks, RAMBlock, i).name);
    }
    g_array_set_size(blocks, 0);
}

static RAMBlock *guest_mem_find(uint64_t gpa, uint64_t len)
{
    if (!blocks) {
        return NULL;
    }
    for (guint i = 0; i < blocks->len; i++) {
        RAMBlock *b = &g_array_index(blocks, RAMBlock, i);
        if (!b->disabled && gpa >= b->gpa && gpa - b->gpa <= b->size && len <= b->size - (gpa - b->gpa)) {
            return b;
        }
    }
    return NULL;
}

void *guest_ram_ptr(uint64_t gpa, uint64_t len)
{
    RAMBlock *b = guest_mem_find(gpa, len);

    return b ? b->host + (gpa - b->gpa) : NULL;
}

void *guest_ram_ptr_rw(uint64_t gpa, uint64_t len)
{
    RAMBlock *b = guest_mem_find(gpa, len);

    return b && !b->readonly ? b->host + (gpa - b->gpa) : NULL;
}

bool guest_mem_read(uint64_t gpa, void *buf, uint64_t len)
{
    void *p = guest_ram_ptr(gpa, len);

    if (!p) {
        return false;
    }
    memcpy(buf, p, len);
    return true;
}

bool guest_mem_write(uint64_t gpa, const void *buf, uint64_t len)
{
    RAMBlock *b = guest_mem_find(gpa, len);

    if (!b || b->readonly) {
        return false;
    }
    memcpy(b->host + (gpa - b->gpa), buf, len);
    return true;
}
