/*
 * QEMU's firmware configuration device on I/O ports: a 16-bit selector and an 8-bit data
 * port that reads the selected item byte by byte, and a DMA address register (big-endian,
 * in two 32-bit halves; writing the low half runs the descriptor) through which the
 * firmware copies items into its memory. Items are numbered; named files get keys from 0x20
 * in name order and are listed in the directory item. Not guest-writable (DMA writes fail as
 * in QEMU since 2.4) and not the MMIO variant. The guest chooses every key, offset, address
 * and length here: unknown keys and reads past an item's end yield zeros, and DMA touches
 * guest memory only through the checked accessors, setting the ERROR bit when they refuse.
 */
#include <stddef.h>
#include <string.h>
#include <glib.h>
#include "hw/fw_cfg.h"
#include "hw/ioport.h"
#include "hw/machine.h"
#include "hw/memory.h"
#include "util/error.h"
#include "util/bswap.h"

#define FW_CFG_ENTRY_MASK 0x3fff
#define FW_CFG_MAX_FILES (FW_CFG_ENTRY_MASK + 1 - FW_CFG_FILE_FIRST)
#define FW_CFG_DMA_SIGNATURE "QEMU CFG"   /* what the DMA address register reads */
#define FW_CFG_DMA_ZERO_CHUNK 4096

typedef struct FWCfgItem {
    uint8_t *data;
    uint32_t len;
} FWCfgItem;

typedef struct FWCfgFile {
    char name[FW_CFG_MAX_FILE_PATH];
    FWCfgItem item;
} FWCfgFile;

/* The descriptor the guest points the DMA address register at; all fields big-endian. */
typedef struct FWCfgDmaAccess {
    uint32_t control;
    uint32_t length;
    uint64_t address;
} FWCfgDmaAccess;
G_STATIC_ASSERT(sizeof(FWCfgDmaAccess) == 16);

struct FWCfgState {
    GHashTable *items;   /* key -> FWCfgItem: numbered and arch-local items, the directory */
    GPtrArray *files;    /* FWCfgFile, sorted by name; index i has key FW_CFG_FILE_FIRST + i */
    uint16_t cur_key;
    uint32_t cur_offset;
    uint64_t dma_addr;
};



uint8_t *fw_cfg_build_dir(const FWCfgDirEntry *files, size_t n, size_t *len)
{
    uint8_t *dir;

    *len = sizeof(uint32_t) + n * FW_CFG_DIR_ENTRY_SIZE;
    dir = g_malloc0(*len);
    stl_be_p(dir, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = dir + sizeof(uint32_t) + i * FW_CFG_DIR_ENTRY_SIZE;

        stl_be_p(e, files[i].size);
        stw_be_p(e + 4, FW_CFG_FILE_FIRST + i);
        g_strlcpy((char *)e + 8, files[i].name, FW_CFG_MAX_FILE_PATH);
    }
    return dir;
}

/* ---- the item store ---- */

static bool fw_cfg_is_file_key(uint16_t key)
{
    return !(key & FW_CFG_ARCH_LOCAL) && (key & FW_CFG_ENTRY_MASK) >= FW_CFG_FILE_FIRST;
}

static const FWCfgItem *fw_cfg_item(FWCfgState *s, uint16_t key)
{
    key &= ~FW_CFG_WRITE_CHANNEL;
    if (fw_cfg_is_file_key(key)) {
        unsigned i = (key & FW_CFG_ENTRY_MASK) - FW_CFG_FILE_FIRST;
        return i < s->files->len ? &((FWCfgFile *)g_ptr_array_index(s->files, i))->item : NULL;
    }
    return g_hash_table_lookup(s->items, GUINT_TO_POINTER(key));
}

static void fw_cfg_item_free(gpointer p)
{
    FWCfgItem *item = p;

    g_free(item->data);
    g_free(item);
}

static void fw_cfg_set_item(FWCfgState *s, uint16_t key, uint8_t *data, uint32_t len)
{
    FWCfgItem *item = g_new(FWCfgItem, 1);

    item->data = data;
    item->len = len;
    g_hash_table_replace(s->items, GUINT_TO_POINTER(key & ~FW_CFG_WRITE_CHANNEL), item);
}

void fw_cfg_add_bytes(FWCfgState *s, uint16_t key, const void *data, size_t len)
{
    g_return_if_fail(!fw_cfg_is_file_key(key) && len < UINT32_MAX);
    fw_cfg_set_item(s, key, g_memdup2(data, len), len);
}

void fw_cfg_add_string(FWCfgState *s, uint16_t key, const char *value)
{
    fw_cfg_add_bytes(s, key, value, strlen(value) + 1);
}

void fw_cfg_add_i16(FWCfgState *s, uint16_t key, uint16_t value)
{
    uint16_t le = GUINT16_TO_LE(value);

    fw_cfg_add_bytes(s, key, &le, sizeof(le));
}

void fw_cfg_add_i32(FWCfgState *s, uint16_t key, uint32_t value)
{
    uint32_t le = GUINT32_TO_LE(value);

    fw_cfg_add_bytes(s, key, &le, sizeof(le));
}

void fw_cfg_add_i64(FWCfgState *s, uint16_t key, uint64_t value)
{
    uint64_t le = GUINT64_TO_LE(value);

    fw_cfg_add_bytes(s, key, &le, sizeof(le));
}

/* ---- files ---- */

static void fw_cfg_file_free(gpointer p)
{
    FWCfgFile *f = p;

    g_free(f->item.data);
    g_free(f);
}

static void fw_cfg_update_dir(FWCfgState *s)
{
    g_autofree FWCfgDirEntry *entries = g_new(FWCfgDirEntry, s->files->len);
    size_t len;
    uint8_t *dir;

    for (guint i = 0; i < s->files->len; i++) {
        FWCfgFile *f = g_ptr_array_index(s->files, i);
        entries[i] = (FWCfgDirEntry){ f->name, f->item.len };
    }
    dir = fw_cfg_build_dir(entries, s->files->len, &len);
    fw_cfg_set_item(s, FW_CFG_FILE_DIR, dir, len);
}

/* The file called name, or NULL and where in name order it would go. */
static FWCfgFile *fw_cfg_find_file(FWCfgState *s, const char *name, guint *index)
{
    for (guint i = 0; i < s->files->len; i++) {
        FWCfgFile *f = g_ptr_array_index(s->files, i);
        int cmp = strcmp(name, f->name);

        if (cmp <= 0) {
            *index = i;
            return cmp == 0 ? f : NULL;
        }
    }
    *index = s->files->len;
    return NULL;
}

static void fw_cfg_set_file(FWCfgState *s, const char *name, const void *data, size_t len,
                            bool warn_duplicate)
{
    char cut[FW_CFG_MAX_FILE_PATH];
    FWCfgFile *f;
    guint index;

    g_return_if_fail(len < UINT32_MAX);
    g_strlcpy(cut, name, sizeof(cut));
    f = fw_cfg_find_file(s, cut, &index);
    if (f) {
        if (warn_duplicate) {
            warn_report("duplicate fw_cfg file name: %s", cut);
        }
        g_free(f->item.data);
    } else {
        g_return_if_fail(s->files->len < FW_CFG_MAX_FILES);
        f = g_new0(FWCfgFile, 1);
        memcpy(f->name, cut, sizeof(cut));
        g_ptr_array_insert(s->files, index, f);
    }
    f->item.data = g_memdup2(data, len);
    f->item.len = len;
    fw_cfg_update_dir(s);
}

void fw_cfg_add_file(FWCfgState *s, const char *name, const void *data, size_t len)
{
    fw_cfg_set_file(s, name, data, len, true);
}

void fw_cfg_modify_file(FWCfgState *s, const char *name, const void *data, size_t len)
{
    fw_cfg_set_file(s, name, data, len, false);
}

/* ---- selector and data ports ---- */

static void fw_cfg_select(FWCfgState *s, uint16_t key)
{
    s->cur_key = key;
    s->cur_offset = 0;
}

static uint8_t fw_cfg_read_byte(FWCfgState *s)
{
    const FWCfgItem *item = fw_cfg_item(s, s->cur_key);

    if (!item || s->cur_offset >= item->len) {
        return 0;
    }
    return item->data[s->cur_offset++];
}

/* Byte reads at either port read data; a word write selects; data writes do nothing. */
static uint64_t fw_cfg_comb_read(void *opaque, uint64_t addr, unsigned size)
{
    return size == 1 ? fw_cfg_read_byte(opaque) : 0;
}

static void fw_cfg_comb_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    if (size == 2) {
        fw_cfg_select(opaque, val);
    }
}

static const IOOps fw_cfg_comb_ops = {
    .read = fw_cfg_comb_read,
    .write = fw_cfg_comb_write,
};

/* ---- DMA ---- */

static bool fw_cfg_dma_zero(uint64_t gpa, uint64_t len)
{
    static const uint8_t zeros[FW_CFG_DMA_ZERO_CHUNK];

    /* Refuse up front rather than after a partial fill. */
    if (!guest_ram_ptr(gpa, len)) {
        return false;
    }
    while (len) {
        uint64_t n = MIN(len, sizeof(zeros));
        if (!guest_mem_write(gpa, zeros, n)) {
            return false;
        }
        gpa += n;
        len -= n;
    }
    return true;
}

/* Read, skip or (refused) write len bytes of the selected item; returns the final control. */
static uint32_t fw_cfg_dma_run(FWCfgState *s, uint32_t control, uint64_t gpa, uint32_t len)
{
    bool read = control & FW_CFG_DMA_CTL_READ;

    if (!read && (control & FW_CFG_DMA_CTL_WRITE)) {
        return len ? FW_CFG_DMA_CTL_ERROR : 0;
    }
    if (!read && !(control & FW_CFG_DMA_CTL_SKIP)) {
        return 0;
    }
    while (len) {
        const FWCfgItem *item = fw_cfg_item(s, s->cur_key);
        uint32_t avail = item && s->cur_offset < item->len ? item->len - s->cur_offset : 0;
        uint32_t n = avail ? MIN(len, avail) : len;

        if (read && !(avail ? guest_mem_write(gpa, item->data + s->cur_offset, n)
                            : fw_cfg_dma_zero(gpa, n))) {
            return FW_CFG_DMA_CTL_ERROR;
        }
        s->cur_offset += avail ? n : 0;
        gpa += n;
        len -= n;
    }
    return 0;
}

static void fw_cfg_dma_complete(uint64_t desc_gpa, uint32_t control)
{
    uint32_t be = GUINT32_TO_BE(control);

    /* A descriptor we could read but not write back leaves nobody to tell. */
    guest_mem_write(desc_gpa + offsetof(FWCfgDmaAccess, control), &be, sizeof(be));
}

static void fw_cfg_dma_transfer(FWCfgState *s)
{
    uint64_t desc_gpa = s->dma_addr;
    FWCfgDmaAccess d;
    uint32_t control;

    s->dma_addr = 0;
    if (!guest_mem_read(desc_gpa, &d, sizeof(d))) {
        fw_cfg_dma_complete(desc_gpa, FW_CFG_DMA_CTL_ERROR);
        return;
    }
    control = GUINT32_FROM_BE(d.control);
    if (control & FW_CFG_DMA_CTL_SELECT) {
        fw_cfg_select(s, control >> 16);
    }
    control = fw_cfg_dma_run(s, control, GUINT64_FROM_BE(d.address), GUINT32_FROM_BE(d.length));
    fw_cfg_dma_complete(desc_gpa, control);
}

/* The register reads back "QEMU CFG" in memory order, which is how DMA support is probed. */
static uint64_t fw_cfg_dma_read(void *opaque, uint64_t addr, unsigned size)
{
    static const char sig[] = FW_CFG_DMA_SIGNATURE;
    uint64_t val = 0;

    for (unsigned i = 0; i < size && addr + i < sizeof(sig) - 1; i++) {
        val |= (uint64_t)(uint8_t)sig[addr + i] << (8 * i);
    }
    return val;
}

/* The address is big-endian: the high half at offset 0, the low half (which starts the
 * transfer) at offset 4, or all of it in one 64-bit access. */
static void fw_cfg_dma_write(void *opaque, uint64_t addr, uint64_t val, unsigned size)
{
    FWCfgState *s = opaque;

    if (size == 4 && addr == 0) {
        s->dma_addr = (uint64_t)GUINT32_FROM_BE((uint32_t)val) << 32;
    } else if (size == 4 && addr == 4) {
        s->dma_addr |= GUINT32_FROM_BE((uint32_t)val);
        fw_cfg_dma_transfer(s);
    } else if (size == 8 && addr == 0) {
        s->dma_addr = GUINT64_FROM_BE(val);
        fw_cfg_dma_transfer(s);
    }
}

static const IOOps fw_cfg_dma_ops = {
    .read = fw_cfg_dma_read,
    .write = fw_cfg_dma_write,
};

/* ---- device ---- */

static void fw_cfg_reset(void *opaque)
{
    FWCfgState *s = opaque;

    fw_cfg_select(s, FW_CFG_SIGNATURE);
    s->dma_addr = 0;
}

FWCfgState *fw_cfg_init_io(uint16_t base, bool dma_enabled)
{
    FWCfgState *s = g_new0(FWCfgState, 1);

    s->items = g_hash_table_new_full(NULL, NULL, NULL, fw_cfg_item_free);
    s->files = g_ptr_array_new_with_free_func(fw_cfg_file_free);
    fw_cfg_add_bytes(s, FW_CFG_SIGNATURE, "QEMU", 4);
    fw_cfg_add_i32(s, FW_CFG_ID, FW_CFG_VERSION | (dma_enabled ? FW_CFG_VERSION_DMA : 0));
    portio_add(base, 2, &fw_cfg_comb_ops, s, "fwcfg");
    if (dma_enabled) {
        portio_add(base + 4, sizeof(uint64_t), &fw_cfg_dma_ops, s, "fwcfg.dma");
    }
    fw_cfg_reset(s);
    machine_register_reset(fw_cfg_reset, s);
    return s;
}
