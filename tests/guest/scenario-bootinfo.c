/*
 * Scenario `bootinfo`: print what the boot loader handed over. Multiboot: memory sizes,
 * command line, modules (address alignment, size, first bytes, string) and memory map.
 * Linux boot protocol: e820, command line, initrd (checked against the protocol's rules:
 * page-aligned, below initrd_addr_max, clear of the kernel). Firmware boot: just says so.
 */
#include "guest.h"

#define MB_BOOTLOADER_MAGIC 0x2BADB002u

typedef struct MultibootInfo {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
} MultibootInfo;

typedef struct MultibootModule {
    uint32_t mod_start, mod_end, string, reserved;
} MultibootModule;

typedef struct __attribute__((packed)) MultibootMmapEntry {
    uint32_t size;
    uint64_t addr, len;
    uint32_t type;
} MultibootMmapEntry;

static uint32_t checksum(const uint8_t *p, uint32_t len)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < len; i++) {
        sum = sum * 31 + p[i];
    }
    return sum;
}

static void mb_print_modules(const MultibootInfo *mbi)
{
    const MultibootModule *m = (const void *)(uint64_t)mbi->mods_addr;
    printf("MB mods %u\n", mbi->mods_count);
    for (uint32_t i = 0; i < mbi->mods_count; i++) {
        uint32_t len = m[i].mod_end - m[i].mod_start;
        printf("MB mod %u page_aligned %u size %u sum %08x string '%s'\n", i,
               (m[i].mod_start & 0xfff) == 0, len,
               checksum((const void *)(uint64_t)m[i].mod_start, len),
               (const char *)(uint64_t)m[i].string);
    }
}

static void mb_print_mmap(const MultibootInfo *mbi)
{
    uint64_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
    while (p < end) {
        const MultibootMmapEntry *e = (const void *)p;
        printf("MMAP 0x%016lx 0x%016lx %u\n", e->addr, e->len, e->type);
        p += e->size + 4;
    }
}

static int bootinfo_multiboot(const MultibootInfo *mbi)
{
    printf("BOOT multiboot flags %x\n", mbi->flags);
    if (mbi->flags & 1) {
        printf("MB mem_lower %u mem_upper %u\n", mbi->mem_lower, mbi->mem_upper);
    }
    if (mbi->flags & 4) {
        printf("MB cmdline '%s'\n", (const char *)(uint64_t)mbi->cmdline);
    }
    if (mbi->flags & 8) {
        mb_print_modules(mbi);
    }
    if (mbi->flags & 0x40) {
        mb_print_mmap(mbi);
    }
    return 0;
}

enum {
    BP_E820_ENTRIES = 0x1e8,
    BP_TYPE_OF_LOADER = 0x210,
    BP_RAMDISK_IMAGE = 0x218,
    BP_RAMDISK_SIZE = 0x21c,
    BP_CMD_LINE_PTR = 0x228,
    BP_INITRD_ADDR_MAX = 0x22c,
    BP_E820_TABLE = 0x2d0,
};

extern const char __image_start[], __bss_end[];

static uint32_t bp32(const uint8_t *bp, unsigned off)
{
    return *(const uint32_t *)(bp + off);
}

static int linux_check_initrd(const uint8_t *bp)
{
    uint64_t addr = bp32(bp, BP_RAMDISK_IMAGE), size = bp32(bp, BP_RAMDISK_SIZE);
    uint64_t kernel_start = (uint64_t)__image_start, kernel_end = (uint64_t)__bss_end;

    if (!size) {
        return 0;
    }
    printf("LINUX ramdisk size %lu sum %08x\n", size, checksum((const void *)addr, size));
    if (addr & 0xfff) {
        report_fail("initrd at 0x%lx is not page-aligned", addr);
        return -1;
    }
    if (addr + size - 1 > bp32(bp, BP_INITRD_ADDR_MAX)) {
        report_fail("initrd 0x%lx+0x%lx above initrd_addr_max", addr, size);
        return -1;
    }
    if (addr < kernel_end && addr + size > kernel_start) {
        report_fail("initrd 0x%lx+0x%lx overlaps the kernel", addr, size);
        return -1;
    }
    return 0;
}

static int bootinfo_linux(const uint8_t *bp)
{
    const uint8_t *e820 = bp + BP_E820_TABLE;
    printf("BOOT linux type_of_loader %x\n", bp[BP_TYPE_OF_LOADER]);
    for (unsigned i = 0; i < bp[BP_E820_ENTRIES]; i++, e820 += 20) {
        printf("LINUX e820 0x%016lx 0x%016lx %u\n", *(const uint64_t *)e820,
               *(const uint64_t *)(e820 + 8), *(const uint32_t *)(e820 + 16));
    }
    printf("LINUX cmdline '%s'\n", (const char *)(uint64_t)bp32(bp, BP_CMD_LINE_PTR));
    return linux_check_initrd(bp);
}

static int bootinfo_run(int argc, char **argv)
{
    if (boot_magic == MB_BOOTLOADER_MAGIC) {
        return bootinfo_multiboot((const void *)(uint64_t)boot_info);
    }
    if (boot_params) {
        return bootinfo_linux((const uint8_t *)(uint64_t)boot_params);
    }
    printf("BOOT firmware\n");
    return 0;
}

SCENARIO(bootinfo, bootinfo_run);
