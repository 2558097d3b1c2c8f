/*
 * Multiboot (version 1) kernels for -kernel: the header in the first 8 KiB, loaded by its
 * a.out-kludge addresses or else by the ELF32/ELF64 program headers; -initrd names the
 * modules ("file args,file args", each page-aligned after the kernel). The information
 * structure (memory sizes, the board's e820 as the memory map, command line "kernel append",
 * modules, loader name) is built at MB_INFO_ADDR. Entry: EAX = 0x2BADB002, EBX = info.
 * No video modes, no symbol tables, no boot device.
 */
#include <elf.h>
#include <string.h>
#include "hw/kernel-loader.h"

enum {
    MB_HEADER_MAGIC = 0x1BADB002,
    MB_BOOTLOADER_MAGIC = 0x2BADB002,
    MB_SEARCH = 8192,
    MB_FLAG_AOUT_KLUDGE = 1 << 16,
    MB_INFO_MEMORY = 1 << 0,
    MB_INFO_CMDLINE = 1 << 2,
    MB_INFO_MODS = 1 << 3,
    MB_INFO_MEM_MAP = 1 << 6,
    MB_INFO_LOADER_NAME = 1 << 9,
    MB_INFO_ADDR = 0x9000,
    MB_INFO_MAX = 0x60000,     /* up to 0x69000: below the payload's page tables */
};

/* The header fields, as they appear in the image (little-endian u32s). */
typedef struct MultibootHeader {
    uint32_t magic, flags, checksum;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
} MultibootHeader;

typedef struct MultibootInfo {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
    uint32_t apm_table, vbe[6];
} MultibootInfo;

typedef struct MultibootModule {
    uint32_t mod_start, mod_end, string, reserved;
} MultibootModule;

typedef struct __attribute__((packed)) MultibootMmapEntry {
    uint32_t size;
    uint64_t addr, len;
    uint32_t type;
} MultibootMmapEntry;

static const MultibootHeader *mb_find_header(const uint8_t *data, size_t size, size_t *offset)
{
    for (size_t off = 0; off + sizeof(MultibootHeader) <= MIN(size, MB_SEARCH); off += 4) {
        const MultibootHeader *h = (const void *)(data + off);
        if (GUINT32_FROM_LE(h->magic) == MB_HEADER_MAGIC &&
            (uint32_t)(h->magic + h->flags + h->checksum) == 0) {
            *offset = off;
            return h;
        }
    }
    return NULL;
}

static bool mb_load_aout(KernelImage *k, const MultibootHeader *h, size_t hoff,
                         const uint8_t *data, size_t size, uint64_t *end, Error **errp)
{
    uint32_t load = h->load_addr, load_end = h->load_end_addr, bss_end = h->bss_end_addr;

    if (h->header_addr < load || hoff < h->header_addr - load) {
        error_setg(errp, "invalid multiboot header load address");
        return false;
    }
    size_t file_off = hoff - (h->header_addr - load);
    size_t len = load_end ? (size_t)load_end - load : size - file_off;
    if (load_end && load_end < load) {
        error_setg(errp, "invalid multiboot header load end address");
        return false;
    }
    if (len > size - file_off) {
        error_setg(errp, "kernel file too short for its multiboot header");
        return false;
    }
    *end = MAX((uint64_t)load + len, (uint64_t)bss_end);
    k->eip = h->entry_addr;
    return kernel_image_add(k, load, data + file_off, len, errp) &&
           (bss_end <= load + len ||
            kernel_image_add(k, load + len, NULL, bss_end - load - len, errp));
}

static bool mb_load_segment(KernelImage *k, const uint8_t *data, size_t size, uint64_t off,
                            uint64_t paddr, uint64_t filesz, uint64_t memsz, uint64_t *end,
                            Error **errp)
{
    if (filesz > memsz || off > size || filesz > size - off) {
        error_setg(errp, "invalid ELF program header");
        return false;
    }
    *end = MAX(*end, paddr + memsz);
    return kernel_image_add(k, paddr, data + off, filesz, errp) &&
           (memsz == filesz || kernel_image_add(k, paddr + filesz, NULL, memsz - filesz, errp));
}

/* ELF32 and ELF64 differ in field widths only; read both through this view. */
#define MB_LOAD_PHDRS(Ehdr, Phdr)                                                          \
    do {                                                                                   \
        const Ehdr *e = (const void *)data;                                                \
        if (size < sizeof(*e) || e->e_phoff > size ||                                      \
            (uint64_t)e->e_phnum * sizeof(Phdr) > size - e->e_phoff) {                     \
            error_setg(errp, "invalid ELF header");                                        \
            return false;                                                                  \
        }                                                                                  \
        const Phdr *ph = (const void *)(data + e->e_phoff);                                \
        for (unsigned i = 0; i < e->e_phnum; i++) {                                        \
            if (ph[i].p_type == PT_LOAD &&                                                 \
                !mb_load_segment(k, data, size, ph[i].p_offset, ph[i].p_paddr,             \
                                 ph[i].p_filesz, ph[i].p_memsz, end, errp)) {              \
                return false;                                                              \
            }                                                                              \
        }                                                                                  \
        k->eip = e->e_entry;                                                               \
    } while (0)

static bool mb_load_elf(KernelImage *k, const uint8_t *data, size_t size, uint64_t *end,
                        Error **errp)
{
    if (size < EI_NIDENT || memcmp(data, ELFMAG, SELFMAG) != 0 ||
        data[EI_DATA] != ELFDATA2LSB) {
        error_setg(errp, "multiboot image without the a.out kludge is not an ELF file");
        return false;
    }
    if (data[EI_CLASS] == ELFCLASS64) {
        MB_LOAD_PHDRS(Elf64_Ehdr, Elf64_Phdr);
    } else {
        MB_LOAD_PHDRS(Elf32_Ehdr, Elf32_Phdr);
    }
    return true;
}

/* Append bytes to the information area; returns their guest address. */
static uint32_t mb_info_put(GByteArray *info, const void *p, size_t len)
{
    uint32_t addr = MB_INFO_ADDR + info->len;
    g_byte_array_append(info, p, len);
    return addr;
}

static uint32_t mb_info_put_string(GByteArray *info, const char *s)
{
    return mb_info_put(info, s, strlen(s) + 1);
}

static bool mb_load_modules(KernelImage *k, const KernelLoaderArgs *a, uint64_t end,
                            MultibootInfo *mbi, GByteArray *info, Error **errp)
{
    g_auto(GStrv) specs = g_strsplit(a->initrd_filename, ",", -1);
    guint n = g_strv_length(specs);
    g_autofree MultibootModule *mods = g_new0(MultibootModule, n);

    for (guint i = 0; i < n; i++) {
        g_autofree char *file = g_strndup(specs[i], strcspn(specs[i], " "));
        g_autofree char *contents = NULL;
        gsize len;
        if (!g_file_get_contents(file, &contents, &len, NULL)) {
            error_setg(errp, "could not load module '%s'", file);
            return false;
        }
        end = (end + 0xfff) & ~0xfffull;
        if (!kernel_image_add(k, end, contents, len, errp)) {
            return false;
        }
        mods[i] = (MultibootModule){ end, end + len, mb_info_put_string(info, specs[i]), 0 };
        end += len;
    }
    mbi->flags |= MB_INFO_MODS;
    mbi->mods_count = n;
    mbi->mods_addr = mb_info_put(info, mods, n * sizeof(*mods));
    return true;
}

static void mb_info_mmap(const KernelLoaderArgs *a, MultibootInfo *mbi, GByteArray *info)
{
    mbi->mmap_addr = MB_INFO_ADDR + info->len;
    for (unsigned i = 0; i < a->e820_entries; i++) {
        const E820Entry *e = &a->e820[i];
        MultibootMmapEntry m = { sizeof(m) - 4, GUINT64_FROM_LE(e->addr),
                                 GUINT64_FROM_LE(e->len), GUINT32_FROM_LE(e->type) };
        mb_info_put(info, &m, sizeof(m));
    }
    mbi->mmap_length = a->e820_entries * sizeof(MultibootMmapEntry);
    mbi->flags |= MB_INFO_MEM_MAP;
}

static bool mb_build_info(KernelImage *k, const KernelLoaderArgs *a, uint64_t end,
                          Error **errp)
{
    g_autoptr(GByteArray) info = g_byte_array_new();
    g_autofree char *cmdline = g_strdup_printf("%s %s", a->kernel_filename, a->cmdline);
    MultibootInfo mbi = {
        .flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_LOADER_NAME,
        .mem_lower = 640,
        .mem_upper = (a->below_4g_mem - 0x100000) / 1024,
    };

    g_byte_array_set_size(info, sizeof(mbi));
    mbi.cmdline = mb_info_put_string(info, cmdline);
    mbi.boot_loader_name = mb_info_put_string(info, "minivmm");
    if (a->initrd_filename && !mb_load_modules(k, a, end, &mbi, info, errp)) {
        return false;
    }
    mb_info_mmap(a, &mbi, info);
    if (info->len > MB_INFO_MAX) {
        error_setg(errp, "multiboot information too large");
        return false;
    }
    memcpy(info->data, &mbi, sizeof(mbi));
    k->eax = MB_BOOTLOADER_MAGIC;
    k->ebx = MB_INFO_ADDR;
    return kernel_image_add(k, MB_INFO_ADDR, info->data, info->len, errp);
}

int multiboot_load(KernelImage *k, const KernelLoaderArgs *a, const uint8_t *data, size_t size,
                   Error **errp)
{
    size_t hoff;
    uint64_t end = 0;
    const MultibootHeader *h = mb_find_header(data, size, &hoff);

    if (!h) {
        return 0;
    }
    bool ok = GUINT32_FROM_LE(h->flags) & MB_FLAG_AOUT_KLUDGE
                  ? mb_load_aout(k, h, hoff, data, size, &end, errp)
                  : mb_load_elf(k, data, size, &end, errp);
    return ok && mb_build_info(k, a, end, errp) ? 1 : -1;
}
