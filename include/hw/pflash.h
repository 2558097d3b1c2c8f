/*
 * A CFI parallel flash with the Intel/Sharp command set (QEMU's cfi.pflash01): the PC's
 * system flash for -drive if=pflash. See hw/block/pflash-cfi01.c.
 */
#ifndef HW_PFLASH_H
#define HW_PFLASH_H

#include <stdint.h>
#include "block/block-backend.h"
#include "util/error.h"

typedef struct PFlashCFI01 PFlashCFI01;

/*
 * A flash of blk's size (a multiple of sector_len) at base, one byte wide, with the
 * given manufacturer and device ID words; its content is read from blk now and every
 * program or erase is written back to it. A read-only blk gives a flash that reports
 * program and erase errors.
 */
PFlashCFI01 *pflash_cfi01_new(uint64_t base, BlockBackend *blk, uint32_t sector_len,
                              uint16_t id0, uint16_t id1, uint16_t id2, uint16_t id3,
                              const char *name, Error **errp);
/* The flash array (what reads return in array mode), size bytes. */
const uint8_t *pflash_cfi01_storage(const PFlashCFI01 *pfl, uint64_t *size);

#endif
