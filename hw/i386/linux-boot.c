/*
 * Linux bzImage kernels for -kernel, by the 32-bit boot protocol (>= 2.06): the VMM fills the
 * "zero page" itself (setup header copied from the image, type_of_loader 0xff, the board's
 * e820 including RAM above 4 GiB, command line, initrd placed page-aligned as high as
 * initrd_addr_max and low RAM allow) and enters the protected-mode kernel at 1 MiB with
 * ESI = boot_params; a kernel that sets XLF_KERNEL_64 (protocol >= 2.12) is entered at its
 * 64-bit entry, 0x200 further, in long mode on identity page tables for the low 4 GiB with
 * RSI = boot_params. The real-mode setup code is not run.
 */
#include <string.h>
#include "hw/kernel-loader.h"

enum {
    BP_ADDR = 0x20000,
    BP_CMDLINE_ADDR = 0x21000,
    BP_SIZE = 0x1000,
    BP_E820_ENTRIES = 0x1e8,
    BP_SETUP_SECTS = 0x1f1,
    BP_HDR_MAGIC = 0x202,      /* "HdrS" */
    BP_VERSION = 0x206,
    BP_TYPE_OF_LOADER = 0x210,
    BP_LOADFLAGS = 0x211,
    BP_RAMDISK_IMAGE = 0x218,
    BP_RAMDISK_SIZE = 0x21c,
    BP_CMD_LINE_PTR = 0x228,
    BP_INITRD_ADDR_MAX = 0x22c,
    BP_CMDLINE_SIZE = 0x238,
    BP_XLOADFLAGS = 0x236,     /* protocol 2.12 */
    BP_INIT_SIZE = 0x260,      /* protocol 2.10 */
    BP_E820_TABLE = 0x2d0,
    BP_E820_MAX = 128,
    LOADED_HIGH = 0x01,
    KERNEL_ADDR = 0x100000,
    MIN_PROTOCOL = 0x206,
    XLF_KERNEL_64 = 0x01,
    ENTRY_64_OFFSET = 0x200,
    PT_ADDR = 0x1000,          /* PML4, PDPT, then four page directories */
    PT_SIZE = 6 * 0x1000,
    GDT_ADDR = PT_ADDR + PT_SIZE,
};

static uint32_t bp_get32(const uint8_t *p, unsigned off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return GUINT32_FROM_LE(v);
}

static void bp_set32(uint8_t *p, unsigned off, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p + off, &v, 4);
}

static bool linux_check_header(const uint8_t *data, size_t size, Error **errp)
{
    unsigned version = data[BP_VERSION] | data[BP_VERSION + 1] << 8;

    if (version < MIN_PROTOCOL) {
        error_setg(errp, "Linux boot protocol %x.%02x is too old (need 2.06)",
                   version >> 8, version & 0xff);
        return false;
    }
    if (!(data[BP_LOADFLAGS] & LOADED_HIGH)) {
        error_setg(errp, "only bzImage kernels (loaded high) are supported");
        return false;
    }
    return true;
}

static bool linux_load_cmdline(KernelImage *k, const KernelLoaderArgs *a, uint8_t *bp,
                               Error **errp)
{
    uint32_t max = bp_get32(bp, BP_CMDLINE_SIZE);
    size_t len = strlen(a->cmdline);

    if (max && len > max) {
        error_setg(errp, "kernel command line is longer than its cmdline_size %u", max);
        return false;
    }
    bp_set32(bp, BP_CMD_LINE_PTR, BP_CMDLINE_ADDR);
    return kernel_image_add(k, BP_CMDLINE_ADDR, a->cmdline, len + 1, errp);
}

static bool linux_load_initrd(KernelImage *k, const KernelLoaderArgs *a, uint8_t *bp,
                              uint64_t kernel_end, Error **errp)
{
    g_autofree char *data = NULL;
    gsize size;
    uint64_t top = MIN((uint64_t)bp_get32(bp, BP_INITRD_ADDR_MAX) + 1, a->below_4g_mem);

    if (!g_file_get_contents(a->initrd_filename, &data, &size, NULL)) {
        error_setg(errp, "could not load initial ram disk '%s'", a->initrd_filename);
        return false;
    }
    if (size > top || ((top - size) & ~0xfffull) < kernel_end) {
        error_setg(errp, "initial ram disk '%s' does not fit below initrd_addr_max",
                   a->initrd_filename);
        return false;
    }
    uint64_t addr = (top - size) & ~0xfffull;
    bp_set32(bp, BP_RAMDISK_IMAGE, addr);
    bp_set32(bp, BP_RAMDISK_SIZE, size);
    return kernel_image_add(k, addr, data, size, errp);
}

static void linux_fill_e820(const KernelLoaderArgs *a, uint8_t *bp)
{
    unsigned n = MIN(a->e820_entries, (unsigned)BP_E820_MAX);

    memcpy(bp + BP_E820_TABLE, a->e820, n * sizeof(E820Entry));
    bp[BP_E820_ENTRIES] = n;
}

/* The kernel's extent in memory: its file size, or init_size when it gives one. */
static uint64_t linux_kernel_end(const uint8_t *bp, size_t pm_size)
{
    unsigned version = bp[BP_VERSION] | bp[BP_VERSION + 1] << 8;
    uint64_t init_size = version >= 0x20a ? bp_get32(bp, BP_INIT_SIZE) : 0;

    return KERNEL_ADDR + MAX((uint64_t)pm_size, init_size);
}

static bool linux_wants_64bit(const uint8_t *data)
{
    unsigned version = data[BP_VERSION] | data[BP_VERSION + 1] << 8;

    return version >= 0x20c && (data[BP_XLOADFLAGS] & XLF_KERNEL_64);
}

static void pt_set64(uint8_t *p, unsigned off, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p + off, &v, 8);
}

/* Identity page tables for 0-4 GiB (2 MiB pages) and the GDT the protocol asks for:
 * 0x10 flat 64-bit code, 0x18 flat data; entry at startup_64 with RSI = boot_params. */
static bool linux_setup_64bit(KernelImage *k, Error **errp)
{
    static const uint64_t gdt[4] = {0, 0, 0x00af9a000000ffffULL, 0x00cf92000000ffffULL};
    g_autofree uint8_t *pt = g_malloc0(PT_SIZE);
    uint64_t gdt_le[4];

    pt_set64(pt, 0, (PT_ADDR + 0x1000) | 0x3); /* PML4[0] -> PDPT, present, writable */
    for (unsigned i = 0; i < 4; i++) {
        pt_set64(pt, 0x1000 + i * 8, (PT_ADDR + 0x2000 + i * 0x1000) | 0x3);
    }
    for (unsigned i = 0; i < 4 * 512; i++) {
        pt_set64(pt, 0x2000 + i * 8, ((uint64_t)i << 21) | 0x83); /* 2 MiB, writable */
    }
    for (unsigned i = 0; i < 4; i++) {
        gdt_le[i] = GUINT64_TO_LE(gdt[i]);
    }
    if (!kernel_image_add(k, PT_ADDR, pt, PT_SIZE, errp) ||
        !kernel_image_add(k, GDT_ADDR, gdt_le, sizeof(gdt_le), errp)) {
        return false;
    }
    k->eip = KERNEL_ADDR + ENTRY_64_OFFSET;
    k->cr3 = PT_ADDR;
    k->gdt = GDT_ADDR;
    return true;
}

int linux_load(KernelImage *k, const KernelLoaderArgs *a, const uint8_t *data, size_t size,
               Error **errp)
{
    uint8_t bp[BP_SIZE] = { 0 };

    if (size < BP_SIZE || memcmp(data + BP_HDR_MAGIC, "HdrS", 4) != 0) {
        return 0;
    }
    if (!linux_check_header(data, size, errp)) {
        return -1;
    }
    size_t setup = ((data[BP_SETUP_SECTS] ? data[BP_SETUP_SECTS] : 4) + 1) * 512;
    size_t hdr_end = 0x202 + data[0x201];
    if (setup >= size || hdr_end > BP_E820_TABLE) {
        error_setg(errp, "invalid Linux setup header");
        return -1;
    }
    memcpy(bp + BP_SETUP_SECTS, data + BP_SETUP_SECTS, hdr_end - BP_SETUP_SECTS);
    bp[BP_TYPE_OF_LOADER] = 0xff;
    linux_fill_e820(a, bp);
    if (!kernel_image_add(k, KERNEL_ADDR, data + setup, size - setup, errp) ||
        !linux_load_cmdline(k, a, bp, errp) ||
        (a->initrd_filename && !linux_load_initrd(k, a, bp, linux_kernel_end(bp, size - setup),
                                                  errp)) ||
        !kernel_image_add(k, BP_ADDR, bp, sizeof(bp), errp)) {
        return -1;
    }
    k->eip = KERNEL_ADDR;
    k->esi = BP_ADDR;
    if (linux_wants_64bit(data) && !linux_setup_64bit(k, errp)) {
        return -1;
    }
    return 1;
}
