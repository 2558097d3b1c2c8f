/*
 * Scenario `bootinfo`: print what the boot loader handed over. Multiboot: memory sizes,
 * command line, modules (address alignment, size, first bytes, string) and memory map.
 * Firmware boot (-bios): just says so.
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

static int bootinfo_run(int argc, char **argv)
{
    if (boot_magic == MB_BOOTLOADER_MAGIC) {
        return bootinfo_multiboot((const void *)(uint64_t)boot_info);
    }
    printf("BOOT firmware\n");
    return 0;
}

SCENARIO(bootinfo, bootinfo_run);
