/*
 * Xen grant table, version 1, for the one guest. The table lives in the frames the guest
 * placed with XENMEM_add_to_physmap (XENMAPSPACE_grant_table; see xen-overlay.c). Domain 0 (the
 * VMM's backends) maps granted pages through xen_gnttab_map(); the guest sees
 * GTF_reading/GTF_writing while a mapping lasts. No version 2, no transfers, no grant copy.
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include "hw/memory.h"
#include "hw/xen/xen-abi.h"
#include "xen-emu-int.h"

typedef struct GnttabMapCount {
    uint32_t readers, writers;
} GnttabMapCount;

static XenOverlay frames[XEN_GNTTAB_MAX_FRAMES];
static unsigned nr_frames;
static GHashTable *map_counts; /* ref -> GnttabMapCount, while a backend maps it */

void xen_gnttab_reset(void)
{
    for (unsigned i = 0; i < XEN_GNTTAB_MAX_FRAMES; i++) {
        xen_overlay_reset(&frames[i]);
    }
    nr_frames = 0;
    if (!map_counts) {
        map_counts = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    }
    g_hash_table_remove_all(map_counts);
}

int xen_gnttab_map_frame(uint64_t idx, uint64_t gpfn)
{
    int ret;

    if (idx >= XEN_GNTTAB_MAX_FRAMES) {
        return -EINVAL;
    }
    ret = xen_overlay_place(&frames[idx], gpfn, "xen-grant-frame");
    if (!ret) {
        nr_frames = MAX(nr_frames, (unsigned)idx + 1);
    }
    return ret;
}

/* The guest's entry for ref (8 bytes: flags, domid, frame), or NULL. */
static uint8_t *gnttab_entry(uint32_t ref)
{
    unsigned frame = ref / XEN_GNTTAB_ENTRIES_PER_FRAME;
    uint8_t *page = frame < nr_frames ? xen_overlay_ptr(&frames[frame]) : NULL;

    return page ? page + (ref % XEN_GNTTAB_ENTRIES_PER_FRAME) * 8 : NULL;
}

/*
 * Take the entry for a mapping: check it and set the in-use flags with one compare-and-swap
 * on its first word (flags and domid), so a guest changing the entry meanwhile is seen.
 */
static bool gnttab_acquire(uint8_t *entry, bool writable, uint32_t *frame, Error **errp,
                           uint32_t ref)
{
    uint32_t *word = (uint32_t *)entry;
    uint32_t old = __atomic_load_n(word, __ATOMIC_SEQ_CST), new;

    do {
        uint16_t flags = old & 0xffff, domid = old >> 16;
        if ((flags & GTF_type_mask) != GTF_permit_access || domid != 0) {
            error_setg(errp, "grant reference %u is not granted to domain 0", ref);
            return false;
        }
        if (writable && (flags & GTF_readonly)) {
            error_setg(errp, "grant reference %u is read-only", ref);
            return false;
        }
        new = old | GTF_reading | (writable ? GTF_writing : 0);
    } while (
        !__atomic_compare_exchange_n(word, &old, new, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    *frame = __atomic_load_n((uint32_t *)(entry + 4), __ATOMIC_SEQ_CST);
    return true;
}

static void gnttab_release_flags(uint32_t ref, const GnttabMapCount *c)
{
    uint8_t *entry = gnttab_entry(ref);
    uint16_t clear = (c->writers ? 0 : GTF_writing) | (c->readers ? 0 : GTF_reading);

    if (entry && clear) {
        __atomic_fetch_and((uint16_t *)entry, (uint16_t)~clear, __ATOMIC_SEQ_CST);
    }
}

/* After a mapping ended or failed: clear the flags no mapping needs any more, and forget a
 * reference nobody maps. */
static void gnttab_settle(uint32_t ref, GnttabMapCount *c)
{
    gnttab_release_flags(ref, c);
    if (!c->readers) {
        g_hash_table_remove(map_counts, GUINT_TO_POINTER(ref));
    }
}

void *xen_gnttab_map(uint32_t ref, bool writable, Error **errp)
{
    uint8_t *entry = gnttab_entry(ref);
    GnttabMapCount *c;
    uint32_t frame;
    void *page;

    if (!entry) {
        error_setg(errp, "grant reference %u is outside the grant table", ref);
        return NULL;
    }
    c = g_hash_table_lookup(map_counts, GUINT_TO_POINTER(ref));
    if (!c) {
        c = g_new0(GnttabMapCount, 1);
        g_hash_table_insert(map_counts, GUINT_TO_POINTER(ref), c);
    }
    if (!gnttab_acquire(entry, writable, &frame, errp, ref)) {
        page = NULL;
    } else {
        uint64_t gpa = (uint64_t)frame << 12;
        page = writable ? guest_ram_ptr_rw(gpa, XEN_PAGE_SIZE) : guest_ram_ptr(gpa, XEN_PAGE_SIZE);
        if (!page) {
            error_setg(errp, "grant reference %u names frame 0x%x outside guest RAM", ref, frame);
        }
    }
    if (page) {
        c->readers++;
        c->writers += writable;
        return page;
    }
    gnttab_settle(ref, c);
    return NULL;
}

void xen_gnttab_unmap(uint32_t ref, bool writable)
{
    GnttabMapCount *c = g_hash_table_lookup(map_counts, GUINT_TO_POINTER(ref));

    if (!c || !c->readers || (writable && !c->writers)) {
        return;
    }
    c->readers--;
    c->writers -= writable;
    gnttab_settle(ref, c);
}

/* ---- the guest's calls ---- */

static bool gnttab_dom_is_self(uint16_t dom)
{
    return dom == XEN_DOMID_SELF || dom == XEN_GUEST_DOMID;
}

static int gnttab_op_query_size(uint64_t arg, const XenGuestMem *mem)
{
    struct {
        uint16_t dom, pad;
        uint32_t nr_frames, max_nr_frames;
        int16_t status, pad2;
    } a;

    if (!xen_arg_read(mem, arg, &a, sizeof(a))) {
        return -EFAULT;
    }
    if (gnttab_dom_is_self(a.dom)) {
        a.nr_frames = nr_frames;
        a.max_nr_frames = XEN_GNTTAB_MAX_FRAMES;
        a.status = GNTST_okay;
    } else {
        a.status = GNTST_bad_domain;
    }
    return xen_arg_write(mem, arg, &a, sizeof(a)) ? 0 : -EFAULT;
}

static int gnttab_op_set_version(uint64_t arg, const XenGuestMem *mem)
{
    uint32_t version;

    if (!xen_arg_read(mem, arg, &version, sizeof(version))) {
        return -EFAULT;
    }
    if (version == 0) {
        version = 1; /* 0 asks for the current version */
    } else if (version != 1) {
        return -EINVAL;
    }
    return xen_arg_write(mem, arg, &version, sizeof(version)) ? 0 : -EFAULT;
}

static int gnttab_op_get_version(uint64_t arg, const XenGuestMem *mem)
{
    struct {
        uint16_t dom, pad;
        uint32_t version;
    } a;

    if (!xen_arg_read(mem, arg, &a, sizeof(a))) {
        return -EFAULT;
    }
    if (!gnttab_dom_is_self(a.dom)) {
        return -ESRCH;
    }
    a.version = 1;
    return xen_arg_write(mem, arg, &a, sizeof(a)) ? 0 : -EFAULT;
}

int64_t xen_gnttab_op(unsigned cmd, uint64_t arg, uint64_t count, const XenGuestMem *mem)
{
    if (count != 1) {
        return count ? -EINVAL : 0;
    }
    switch (cmd) {
    case GNTTABOP_query_size:
        return gnttab_op_query_size(arg, mem);
    case GNTTABOP_set_version:
        return gnttab_op_set_version(arg, mem);
    case GNTTABOP_get_version:
        return gnttab_op_get_version(arg, mem);
    default:
        return -ENOSYS; /* an HVM guest places frames with add_to_physmap */
    }
}
