/*
 * Pages Xen owns and the guest places in its physical address space (shared_info, grant
 * table frames) with XENMEM_add_to_physmap. Under Xen they are hypervisor memory laid over
 * whatever the guest frame held. Here a frame inside guest RAM is used in place (the RAM
 * page becomes the structure), and a frame anywhere else (the PCI hole, where guests put
 * them when they have no RAM to spare) gets a page of the VMM's own, mapped there as a
 * RAM block of one page. Either way the contents move along when the guest places the
 * structure again; a first placement starts zeroed. One block per overlay, moved rather
 * than added again, so a guest placing pages over and over costs nothing.
 */
#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <glib.h>
#include "hw/memory.h"
#include "hw/xen/xen-abi.h"
#include "xen-emu-int.h"

/* Overlays with a page of their own, to keep them from being laid over each other. */
static GPtrArray *own_pages;

static bool xen_overlay_taken(const XenOverlay *o, uint64_t gpa)
{
    for (guint i = 0; own_pages && i < own_pages->len; i++) {
        const XenOverlay *other = g_ptr_array_index(own_pages, i);
        if (other != o && other->own_mapped && other->gpa == gpa) {
            return true;
        }
    }
    return false;
}

/*
 * The guest-physical addresses a page of ours may go to: below the host's physical address
 * width (CPUID 0x80000008), which is what KVM accepts for a memory slot (at most 52 bits).
 * A guest asking for more gets -EINVAL instead of a failed slot.
 */
static uint64_t xen_overlay_limit(void)
{
    unsigned eax = 0, ebx, ecx, edx, bits = 36;

    if (__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) && eax >= 0x80000008 &&
        __get_cpuid(0x80000008, &eax, &ebx, &ecx, &edx)) {
        bits = eax & 0xff;
    }
    return 1ull << MIN(MAX(bits, 32u), 52u);
}

uint8_t *xen_overlay_ptr(const XenOverlay *o)
{
    if (o->gpa == XEN_INVALID_GPA) {
        return NULL;
    }
    return o->own_mapped ? o->page : guest_ram_ptr_rw(o->gpa, XEN_PAGE_SIZE);
}

/* Where a placement at gpa puts the page: RAM in place, else our own page if the range is
 * free of other blocks; NULL when it is neither. */
static uint8_t *xen_overlay_target(XenOverlay *o, uint64_t gpa, bool *own)
{
    uint8_t *ram;

    /* Not over the VMM's own pages (the xenstore ring): RAM to us, not to the guest. */
    if (gpa < XEN_SPECIAL_AREA_ADDR + XEN_SPECIAL_AREA_SIZE &&
        XEN_SPECIAL_AREA_ADDR < gpa + XEN_PAGE_SIZE) {
        return NULL;
    }
    if (xen_overlay_taken(o, gpa)) {
        return NULL;
    }
    if (o->own_mapped && o->gpa == gpa) {
        *own = true;
        return o->page;
    }
    ram = guest_ram_ptr_rw(gpa, XEN_PAGE_SIZE);
    if (ram && !(o->own_mapped && ram == o->page)) {
        *own = false;
        return ram;
    }
    if (guest_mem_overlaps(gpa, XEN_PAGE_SIZE, o->own_mapped ? (int)o->block : -1)) {
        return NULL;
    }
    if (!o->page) {
        o->page =
            mmap(NULL, XEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (o->page == MAP_FAILED) {
            o->page = NULL;
            return NULL;
        }
    }
    *own = true;
    return o->page;
}

int xen_overlay_place(XenOverlay *o, uint64_t gpfn, const char *name)
{
    uint64_t gpa = gpfn << 12;
    uint8_t *old, *dst;
    bool own;

    if (gpfn >= xen_overlay_limit() >> 12) {
        return -EINVAL;
    }
    old = xen_overlay_ptr(o);
    dst = xen_overlay_target(o, gpa, &own);
    if (!dst) {
        return -EINVAL;
    }
    if (!old) {
        memset(dst, 0, XEN_PAGE_SIZE);
    } else if (old != dst) {
        memmove(dst, old, XEN_PAGE_SIZE);
    }
    if (own && !o->has_block) {
        o->block = guest_mem_add(gpa, XEN_PAGE_SIZE, o->page, false, name);
        o->has_block = true;
        if (!own_pages) {
            own_pages = g_ptr_array_new();
        }
        g_ptr_array_add(own_pages, o);
    } else if (own && (!o->own_mapped || o->gpa != gpa)) {
        guest_mem_move(o->block, gpa);
    } else if (!own && o->own_mapped) {
        guest_mem_set_enabled(o->block, false);
    }
    o->own_mapped = own;
    o->gpa = gpa;
    return 0;
}

void xen_overlay_reset(XenOverlay *o)
{
    if (o->own_mapped) {
        guest_mem_set_enabled(o->block, false);
    }
    o->own_mapped = false;
    o->gpa = XEN_INVALID_GPA;
}
