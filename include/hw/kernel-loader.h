/*
 * Direct kernel boot (-kernel/-initrd/-append) without firmware: a loader turns a kernel file
 * into blobs placed in guest RAM below 4 GiB and a 32-bit protected-mode entry state for the
 * BSP. The blobs are copied again at every reset, so a reboot boots the kernel anew. The
 * formats live in their own files (multiboot.c, linux-boot.c); this is what they share.
 */
#ifndef HW_KERNEL_LOADER_H
#define HW_KERNEL_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "hw/e820.h"
#include "util/error.h"

typedef struct KernelLoaderArgs {
    const char *kernel_filename;
    const char *initrd_filename;  /* NULL: none */
    const char *cmdline;          /* -append, "" when not given */
    uint64_t below_4g_mem;
    uint64_t above_4g_mem;
    const E820Entry *e820;
    unsigned e820_entries;
} KernelLoaderArgs;

typedef struct KernelImage {
    GPtrArray *blobs;  /* KernelBlob *, copied to RAM in order */
    uint64_t ram_limit;  /* blobs must end below this address */
    uint8_t *ram;        /* host address of guest RAM, once installed */
    uint32_t eip, eax, ebx, esi;
    uint32_t cr3;        /* non-zero: enter in 64-bit mode with these page tables */
    uint32_t gdt;        /* ... and this GDT (selectors 0x10 code, 0x18 data) */
} KernelImage;

void kernel_image_init(KernelImage *k, uint64_t ram_limit);
/* Place len bytes of data (NULL: zeros) at gpa; fails if that is outside low RAM. */
bool kernel_image_add(KernelImage *k, uint64_t gpa, const void *data, size_t len, Error **errp);
/* Copy the blobs now and at every reset; start the BSP at the entry state. */
void kernel_image_install(KernelImage *k, uint8_t *ram);

/* Read the kernel, load it by the first format that claims it, and install it. */
bool kernel_load(const KernelLoaderArgs *a, uint8_t *ram, Error **errp);

/* Loaders: 1 loaded, 0 not this format, -1 error (errp set). */
int multiboot_load(KernelImage *k, const KernelLoaderArgs *a, const uint8_t *data, size_t size,
                   Error **errp);
int linux_load(KernelImage *k, const KernelLoaderArgs *a, const uint8_t *data, size_t size,
               Error **errp);

#endif
