/*
 * CFI parallel flash, Intel/Sharp command set, one byte wide, as QEMU's cfi.pflash01 models
 * it for the PC's system flash. In array mode the flash is a read-only memory block: the
 * guest reads it directly and its writes exit here as commands. Any command but "read
 * array" puts it in I/O mode (block disabled), where reads come here too and return status,
 * identifier or CFI query bytes. Programs and erases change the array and are written back
 * to the drive at once (sector-rounded), as the flash keeps no cache. No timings, no block
 * locking (lock commands succeed and lock nothing), no erase suspend, no bank interleaving.
 */
#include <string.h>
#include <sys/mman.h>
#include "block/block.h"
#include "hw/ioport.h"
#include "hw/machine.h"
#include "hw/memory.h"
#include "hw/pflash.h"

enum {
    CMD_READ_ARRAY = 0xff,
    CMD_RESET = 0x00,
    CMD_PROGRAM = 0x10,
    CMD_ERASE = 0x20,
    CMD_ERASE_ALT = 0x28,
    CMD_PROGRAM_ALT = 0x40,
    CMD_CLEAR_STATUS = 0x50,
    CMD_LOCK = 0x60,
    CMD_READ_STATUS = 0x70,
    CMD_READ_ID = 0x90,
    CMD_QUERY = 0x98,
    CMD_WRITE_BUFFER = 0xe8,
    CMD_AMD_PROBE = 0xf0,
    CMD_CONFIRM = 0xd0,
    CMD_LOCK_SET = 0x01,
    STATUS_READY = 0x80,
    STATUS_ERASE_ERROR = 0x20,
    STATUS_PROGRAM_ERROR = 0x10,
    CFI_LEN = 0x52,
    WRITE_BUFFER_BITS = 8,      /* one-byte-wide parts: 256-byte write buffer */
};

struct PFlashCFI01 {
    BlockBackend *blk;
    uint8_t *storage;
    uint64_t size;
    uint64_t sector_len;
    bool ro;
    unsigned mem_id;        /* the array's memory block */
    IORegion *mmio;
    uint8_t wcycle;         /* 0: no command in progress */
    uint8_t cmd;
    uint8_t status;
    uint64_t counter;       /* write-to-buffer bytes left, minus one */
    uint16_t ident[4];
    uint8_t cfi[CFI_LEN];
};

static void pflash_set_array_mode(PFlashCFI01 *pfl, bool array)
{
    guest_mem_set_enabled(pfl->mem_id, array);
}

static void pflash_reset_mode(PFlashCFI01 *pfl)
{
    pflash_set_array_mode(pfl, true);
    pfl->wcycle = 0;
    pfl->cmd = 0;
}

/* ---- CFI query table (one x8 device) ---- */

static void pflash_build_cfi(PFlashCFI01 *pfl)
{
    uint8_t *t = pfl->cfi;
    uint64_t blocks = pfl->size / pfl->sector_len;
    static const uint8_t fixed[] = {
        [0x10] = 'Q', 'R', 'Y',
        [0x13] = 0x01, 0x00,        /* primary command set: Intel/Sharp extended */
        [0x15] = 0x31, 0x00,        /* primary extended table at 0x31 */
        [0x1b] = 0x45, 0x55,        /* Vcc min/max 4.5 V / 5.5 V; no Vpp */
        [0x1f] = 0x07, 0x07, 0x0a,  /* typical timeouts: byte, buffer, block erase */
        [0x23] = 0x04, 0x04, 0x04,  /* maximum timeouts */
        [0x28] = 0x02, 0x00,        /* x8/x16 interface */
        [0x2a] = WRITE_BUFFER_BITS, 0x00,
        [0x2c] = 0x01,              /* one uniform erase block region */
        [0x31] = 'P', 'R', 'I', '1', '0',
        [0x3f] = 0x01,              /* protection fields */
    };

    memcpy(t, fixed, sizeof(fixed));
    t[0x27] = __builtin_ctzll(pfl->size);
    t[0x2d] = (blocks - 1) & 0xff;
    t[0x2e] = (blocks - 1) >> 8;
    t[0x2f] = (pfl->sector_len >> 8) & 0xff;
    t[0x30] = pfl->sector_len >> 16;
}

/* ---- reads ---- */

static uint64_t pflash_read_array(PFlashCFI01 *pfl, uint64_t off, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size && off + i < pfl->size; i++) {
        v |= (uint64_t)pfl->storage[off + i] << (8 * i);
    }
    return v;
}

static uint64_t pflash_read(void *opaque, uint64_t off, unsigned size)
{
    PFlashCFI01 *pfl = opaque;
    uint8_t boff = off & 0xff;

    switch (pfl->cmd) {
    case 0:
        return pflash_read_array(pfl, off, size);
    case CMD_READ_ID:
        return boff == 0 ? pfl->ident[0] << 8 | pfl->ident[1]
             : boff == 1 ? pfl->ident[2] << 8 | pfl->ident[3] : 0;
    case CMD_QUERY:
        return boff < CFI_LEN ? pfl->cfi[boff] : 0;
    default:
        /* Program, erase, lock, status: the status register, twice for dword reads. */
        return size > 2 ? (uint32_t)pfl->status << 16 | pfl->status : pfl->status;
    }
}

/* ---- writes ---- */

/* Write [off, off+len) of the array back to the drive, in whole 512-byte sectors. */
static void pflash_update(PFlashCFI01 *pfl, uint64_t off, uint64_t len)
{
    uint64_t start = off / BDRV_SECTOR_SIZE * BDRV_SECTOR_SIZE;
    uint64_t end = MIN(pfl->size, (off + len + BDRV_SECTOR_SIZE - 1) / BDRV_SECTOR_SIZE *
                                      BDRV_SECTOR_SIZE);

    if (pfl->blk && blk_pwrite(pfl->blk, start, pfl->storage + start, end - start, 0) < 0) {
        pfl->status |= STATUS_PROGRAM_ERROR;
    }
}

static void pflash_store(PFlashCFI01 *pfl, uint64_t off, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < size && off + i < pfl->size; i++) {
        pfl->storage[off + i] = val >> (8 * i);
    }
}

static void pflash_erase(PFlashCFI01 *pfl, uint64_t off)
{
    off &= ~(pfl->sector_len - 1);
    if (pfl->ro) {
        pfl->status |= STATUS_ERASE_ERROR;
    } else {
        memset(pfl->storage + off, 0xff, pfl->sector_len);
        pflash_update(pfl, off, pfl->sector_len);
    }
    pfl->status |= STATUS_READY;
}

/* The first cycle: a command. false: reset to array mode. */
static bool pflash_command(PFlashCFI01 *pfl, uint64_t off, uint8_t cmd)
{
    switch (cmd) {
    case CMD_PROGRAM:
    case CMD_PROGRAM_ALT:
    case CMD_LOCK:
    case CMD_QUERY:
        break;
    case CMD_ERASE:
        pflash_erase(pfl, off);
        break;
    case CMD_WRITE_BUFFER:
        pfl->status |= STATUS_READY;
        break;
    case CMD_CLEAR_STATUS:
        pfl->status = 0;
        return false;
    case CMD_READ_STATUS:
    case CMD_READ_ID:
        pfl->cmd = cmd;
        return true;    /* no second cycle */
    default:            /* read array, reset, AMD probe, unknown */
        return false;
    }
    pfl->wcycle = 1;
    pfl->cmd = cmd;
    return true;
}

/* The second cycle of a two-cycle command. false: reset to array mode. */
static bool pflash_second_cycle(PFlashCFI01 *pfl, uint64_t off, uint64_t val, unsigned size)
{
    uint8_t cmd = val;

    switch (pfl->cmd) {
    case CMD_PROGRAM:
    case CMD_PROGRAM_ALT:
        if (pfl->ro) {
            pfl->status |= STATUS_PROGRAM_ERROR;
        } else {
            pflash_store(pfl, off, val, size);
            pflash_update(pfl, off, size);
        }
        pfl->status |= STATUS_READY;
        pfl->wcycle = 0;
        return true;
    case CMD_ERASE:
    case CMD_ERASE_ALT:
    case CMD_LOCK:
        if (cmd != CMD_CONFIRM && !(pfl->cmd == CMD_LOCK && cmd == CMD_LOCK_SET)) {
            return false;
        }
        pfl->wcycle = 0;
        pfl->status |= STATUS_READY;
        return true;
    case CMD_WRITE_BUFFER:
        pfl->counter = val & 0xff;
        pfl->wcycle = 2;
        return true;
    case CMD_QUERY:
        return cmd != CMD_READ_ARRAY;
    default:
        return false;
    }
}

/* Write-to-buffer data, then its confirm: each byte goes straight to the array. */
static bool pflash_buffer_cycle(PFlashCFI01 *pfl, uint64_t off, uint64_t val, unsigned size)
{
    uint64_t mask = ~((1ull << WRITE_BUFFER_BITS) - 1);

    if (pfl->wcycle == 3) {
        pfl->wcycle = 0;
        pfl->status |= STATUS_READY;
        return (uint8_t)val == CMD_CONFIRM;
    }
    if (pfl->ro) {
        pfl->status |= STATUS_PROGRAM_ERROR;
    } else {
        pflash_store(pfl, off, val, size);
    }
    pfl->status |= STATUS_READY;
    if (!pfl->counter) {
        pfl->wcycle = 3;
        if (!pfl->ro) {
            pflash_update(pfl, off & mask, 1ull << WRITE_BUFFER_BITS);
        }
    }
    pfl->counter--;
    return true;
}

static void pflash_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    PFlashCFI01 *pfl = opaque;
    bool keep;

    if (!pfl->wcycle) {
        pflash_set_array_mode(pfl, false);
    }
    switch (pfl->wcycle) {
    case 0:
        keep = pflash_command(pfl, off, val);
        break;
    case 1:
        keep = pflash_second_cycle(pfl, off, val, size);
        break;
    default:
        keep = pfl->cmd == CMD_WRITE_BUFFER && pflash_buffer_cycle(pfl, off, val, size);
        break;
    }
    if (!keep) {
        pflash_reset_mode(pfl);
    }
}

static const IOOps pflash_ops = { .read = pflash_read, .write = pflash_write };

static void pflash_system_reset(void *opaque)
{
    PFlashCFI01 *pfl = opaque;

    pflash_reset_mode(pfl);
    pfl->status = 0;
}

PFlashCFI01 *pflash_cfi01_new(uint64_t base, BlockBackend *blk, uint32_t sector_len,
                              uint16_t id0, uint16_t id1, uint16_t id2, uint16_t id3,
                              const char *name, Error **errp)
{
    int64_t size = blk_getlength(blk);
    PFlashCFI01 *pfl;

    if (size <= 0 || size % sector_len) {
        error_setg(errp, "flash size must be a positive multiple of 0x%x", sector_len);
        return NULL;
    }
    pfl = g_new0(PFlashCFI01, 1);
    pfl->blk = blk;
    pfl->size = size;
    pfl->sector_len = sector_len;
    /* Page-aligned: the array is mapped into the guest as a memory slot. */
    pfl->storage = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pfl->storage == MAP_FAILED || blk_pread(blk, 0, pfl->storage, size) < 0) {
        error_setg(errp, "failed to read the initial flash content");
        if (pfl->storage != MAP_FAILED) {
            munmap(pfl->storage, size);
        }
        g_free(pfl);
        return NULL;
    }
    pfl->ro = blk_is_read_only(blk);
    pfl->ident[0] = id0;
    pfl->ident[1] = id1;
    pfl->ident[2] = id2;
    pfl->ident[3] = id3;
    pflash_build_cfi(pfl);
    pfl->mem_id = guest_mem_add(base, size, pfl->storage, true, name);
    pfl->mmio = io_region_add(IO_SPACE_MMIO, base, size, &pflash_ops, pfl, name);
    machine_register_reset(pflash_system_reset, pfl);
    return pfl;
}

const uint8_t *pflash_cfi01_storage(const PFlashCFI01 *pfl, uint64_t *size)
{
    *size = pfl->size;
    return pfl->storage;
}
