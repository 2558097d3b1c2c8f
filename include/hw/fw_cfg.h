/*
 * QEMU's firmware configuration device (fw_cfg): numbered items and named files the board
 * hands to the firmware (CPU count, e820 map, boot order, kernel...), read by the guest
 * through a selector/data port pair or by DMA. Keys and layouts as in QEMU's
 * docs/specs/fw_cfg.rst. Not writable by the guest, and not the memory-mapped variant.
 */
#ifndef HW_FW_CFG_H
#define HW_FW_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum FWCfgKey {
    FW_CFG_SIGNATURE = 0x00,
    FW_CFG_ID = 0x01,
    FW_CFG_UUID = 0x02,
    FW_CFG_RAM_SIZE = 0x03,
    FW_CFG_NOGRAPHIC = 0x04,
    FW_CFG_NB_CPUS = 0x05,
    FW_CFG_MACHINE_ID = 0x06,
    FW_CFG_KERNEL_ADDR = 0x07,
    FW_CFG_KERNEL_SIZE = 0x08,
    FW_CFG_KERNEL_CMDLINE = 0x09,
    FW_CFG_INITRD_ADDR = 0x0a,
    FW_CFG_INITRD_SIZE = 0x0b,
    FW_CFG_BOOT_DEVICE = 0x0c,
    FW_CFG_NUMA = 0x0d,
    FW_CFG_BOOT_MENU = 0x0e,
    FW_CFG_MAX_CPUS = 0x0f,
    FW_CFG_KERNEL_ENTRY = 0x10,
    FW_CFG_KERNEL_DATA = 0x11,
    FW_CFG_INITRD_DATA = 0x12,
    FW_CFG_CMDLINE_ADDR = 0x13,
    FW_CFG_CMDLINE_SIZE = 0x14,
    FW_CFG_CMDLINE_DATA = 0x15,
    FW_CFG_SETUP_ADDR = 0x16,
    FW_CFG_SETUP_SIZE = 0x17,
    FW_CFG_SETUP_DATA = 0x18,
    FW_CFG_FILE_DIR = 0x19,
    FW_CFG_FILE_FIRST = 0x20,
    FW_CFG_WRITE_CHANNEL = 0x4000,
    FW_CFG_ARCH_LOCAL = 0x8000,
    /* x86 arch-local items */
    FW_CFG_ACPI_TABLES = FW_CFG_ARCH_LOCAL + 0,
    FW_CFG_SMBIOS_ENTRIES = FW_CFG_ARCH_LOCAL + 1,
    FW_CFG_IRQ0_OVERRIDE = FW_CFG_ARCH_LOCAL + 2,
    FW_CFG_E820_TABLE = FW_CFG_ARCH_LOCAL + 3,
    FW_CFG_HPET = FW_CFG_ARCH_LOCAL + 4,
};

#define FW_CFG_IO_BASE 0x510
#define FW_CFG_MAX_FILE_PATH 56
#define FW_CFG_DIR_ENTRY_SIZE 64   /* BE32 size, BE16 select, BE16 reserved, name[56] */

/* FW_CFG_ID feature bits */
#define FW_CFG_VERSION 0x01
#define FW_CFG_VERSION_DMA 0x02

/* DMA descriptor control bits */
#define FW_CFG_DMA_CTL_ERROR 0x01
#define FW_CFG_DMA_CTL_READ 0x02
#define FW_CFG_DMA_CTL_SKIP 0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE 0x10

typedef struct FWCfgState FWCfgState;

/* Selector/data ports at base, the DMA address register at base + 4 (when dma_enabled),
 * the signature and ID items, and a reset handler. */
FWCfgState *fw_cfg_init_io(uint16_t base, bool dma_enabled);

/* Items are copied. Adding a key that exists replaces it. Keys in the file range
 * (FW_CFG_FILE_FIRST and up, not arch-local) belong to files and are refused. */
void fw_cfg_add_bytes(FWCfgState *s, uint16_t key, const void *data, size_t len);
void fw_cfg_add_string(FWCfgState *s, uint16_t key, const char *value);  /* with its NUL */
void fw_cfg_add_i16(FWCfgState *s, uint16_t key, uint16_t value);        /* little-endian */
void fw_cfg_add_i32(FWCfgState *s, uint16_t key, uint32_t value);
void fw_cfg_add_i64(FWCfgState *s, uint16_t key, uint64_t value);

/* Files get keys from FW_CFG_FILE_FIRST in name order, so adding one renumbers those after
 * it; names longer than 55 bytes are cut. Adding an existing name replaces its data, as
 * does fw_cfg_modify_file(), which adds the file when it is missing. */
void fw_cfg_add_file(FWCfgState *s, const char *name, const void *data, size_t len);
void fw_cfg_modify_file(FWCfgState *s, const char *name, const void *data, size_t len);

/* Encode the file directory for n files in key order: BE32 count, then one 64-byte entry
 * per file with select = FW_CFG_FILE_FIRST + index. Returns a g_malloc'd blob. */
typedef struct FWCfgDirEntry {
    const char *name;
    uint32_t size;
} FWCfgDirEntry;
uint8_t *fw_cfg_build_dir(const FWCfgDirEntry *files, size_t n, size_t *len);

#endif
