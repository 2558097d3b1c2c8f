/*
 * What the direct kernel loaders share: the list of blobs put into guest RAM at every reset,
 * and the BSP's entry state (32-bit protected mode, paging off, flat 4 GiB segments, EFLAGS
 * with interrupts off; or 64-bit mode on the loader's page tables and GDT) handed to the vCPU
 * code. It does not parse any kernel format.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <linux/kvm.h>
#include "hw/kernel-loader.h"
#include "hw/kvm.h"
#include "hw/machine.h"

typedef struct KernelBlob {
    uint64_t gpa;
    size_t len;
    uint8_t *data;  /* NULL: zero-fill */
} KernelBlob;

static void kernel_blob_free(gpointer p)
{
    KernelBlob *b = p;
    g_free(b->data);
    g_free(b);
}

void kernel_image_init(KernelImage *k, uint64_t ram_limit)
{
    memset(k, 0, sizeof(*k));
    k->blobs = g_ptr_array_new_with_free_func(kernel_blob_free);
    k->ram_limit = ram_limit;
}

bool kernel_image_add(KernelImage *k, uint64_t gpa, const void *data, size_t len, Error **errp)
{
    if (gpa > k->ram_limit || len > k->ram_limit - gpa) {
        error_setg(errp, "0x%" PRIx64 "+0x%zx is outside the guest's RAM below 4 GiB",
                   gpa, len);
        return false;
    }
    KernelBlob *b = g_new0(KernelBlob, 1);
    b->gpa = gpa;
    b->len = len;
    b->data = data ? g_memdup2(data, len) : NULL;
    g_ptr_array_add(k->blobs, b);
    return true;
}

static void kernel_image_reset(void *opaque)
{
    KernelImage *k = opaque;

    for (guint i = 0; i < k->blobs->len; i++) {
        KernelBlob *b = g_ptr_array_index(k->blobs, i);
        if (b->data) {
            memcpy(k->ram + b->gpa, b->data, b->len);
        } else {
            memset(k->ram + b->gpa, 0, b->len);
        }
    }
}

static struct kvm_segment kernel_flat_segment(uint16_t selector, uint8_t type)
{
    return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = selector,
                                 .type = type, .present = 1, .dpl = 0, .db = 1, .s = 1,
                                 .g = 1 };
}

/* Long mode: paging on with PAE, EFER.LME/LMA, a 64-bit code segment. */
static void kernel_long_mode(const KernelImage *k, struct kvm_sregs *sregs)
{
    sregs->cr0 = 0x80000011;  /* PG, ET, PE */
    sregs->cr3 = k->cr3;
    sregs->cr4 = 0x20;        /* PAE */
    sregs->efer = 0x500;      /* LME, LMA */
    sregs->cs.l = 1;
    sregs->cs.db = 0;
    sregs->gdt.base = k->gdt;
    sregs->gdt.limit = 4 * 8 - 1;
}

static void kernel_image_set_entry(const KernelImage *k)
{
    struct kvm_regs regs = { .rip = k->eip, .rax = k->eax, .rbx = k->ebx, .rsi = k->esi,
                             .rflags = 0x2 };
    struct kvm_sregs sregs = { .cr0 = 0x11 };  /* PE, ET; caches on, paging off */

    sregs.cs = kernel_flat_segment(0x10, 0xb);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = kernel_flat_segment(0x18, 0x3);
    if (k->cr3) {
        kernel_long_mode(k, &sregs);
    }
    kvm_set_bsp_entry(&regs, &sregs);
}

void kernel_image_install(KernelImage *k, uint8_t *ram)
{
    k->ram = ram;
    machine_register_reset(kernel_image_reset, k);
    kernel_image_set_entry(k);
}

bool kernel_load(const KernelLoaderArgs *a, uint8_t *ram, Error **errp)
{
    static KernelImage kernel;
    g_autofree char *data = NULL;
    g_autoptr(GError) gerr = NULL;
    Error *err = NULL;
    gsize size;
    int r;

    if (!g_file_get_contents(a->kernel_filename, &data, &size, &gerr)) {
        error_setg(errp, "could not load kernel '%s': %s", a->kernel_filename,
                   g_strerror(gerr->code == G_FILE_ERROR_NOENT ? ENOENT : EIO));
        return false;
    }
    kernel_image_init(&kernel, a->below_4g_mem);
    /* As QEMU: a Linux setup header wins over a Multiboot header. */
    r = linux_load(&kernel, a, (const uint8_t *)data, size, &err);
    if (r == 0) {
        r = multiboot_load(&kernel, a, (const uint8_t *)data, size, &err);
    }
    if (r == 0) {
        error_setg(&err, "neither a Multiboot kernel nor a Linux bzImage");
    }
    if (r <= 0) {
        error_propagate_prepend(errp, err, "could not load kernel '%s': ", a->kernel_filename);
        return false;
    }
    kernel_image_install(&kernel, ram);
    return true;
}
