/*
 * Helpers shared by the PIIX3 IDE qtests (test-ide.c: ATA disk and bus-master DMA;
 * test-atapi.c: the ATAPI CD-ROM): a channel started on minivmm or QEMU (QTEST_QEMU=1),
 * its task-file registers and IRQ line, patterned images, PIO transfers and the bus-master
 * engine. Not a driver: every helper asserts what both VMMs must do.
 */
#ifndef TESTS_QTEST_LIBQIDE_H
#define TESTS_QTEST_LIBQIDE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/pci.h>
#include "libqtest.h"

#define DEVFN_IDE PCI_DEVFN(1, 1)
#define SECTOR 512
#define CD_SECTOR 2048
#define DISK_SECTORS 131072ULL          /* 64 MiB */
#define BIG_DISK_SECTORS (300ULL << 21) /* 300 GiB, sparse: past LBA28 */
#define CD_SECTORS 300
#define PRD_ADDR 0x100000
#define BUF_ADDR 0x200000
#define BUF2_ADDR 0x300000

enum {
    REG_DATA = 0,
    REG_ERROR = 1,
    REG_FEATURE = 1,
    REG_NSECTOR = 2,
    REG_SECTOR = 3,
    REG_LCYL = 4,
    REG_HCYL = 5,
    REG_DEVICE = 6,
    REG_STATUS = 7,
    REG_COMMAND = 7,
};

enum {
    ERR = 0x01,
    DRQ = 0x08,
    DSC = 0x10,
    DRDY = 0x40,
    BSY = 0x80,
    ABRT = 0x04,
    NIEN = 0x02,
    SRST = 0x04,
    DEV_LBA = 0x40,
    BM_CMD_START = 0x01,
    BM_CMD_TO_MEM = 0x08,
    BM_STS_ACTIVE = 0x01,
    BM_STS_ERROR = 0x02,
    BM_STS_INTR = 0x04,
};

enum {
    CMD_DSM = 0x06,
    CMD_READ = 0x20,
    CMD_READ_EXT = 0x24,
    CMD_READ_DMA_EXT = 0x25,
    CMD_WRITE = 0x30,
    CMD_WRITE_EXT = 0x34,
    CMD_VERIFY = 0x40,
    CMD_DIAGNOSE = 0x90,
    CMD_SPECIFY = 0x91,
    CMD_PACKET = 0xa0,
    CMD_SMART = 0xb0,
    CMD_IDENTIFY_PACKET = 0xa1,
    CMD_READ_MULTIPLE = 0xc4,
    CMD_WRITE_MULTIPLE = 0xc5,
    CMD_SET_MULTIPLE = 0xc6,
    CMD_READ_DMA = 0xc8,
    CMD_WRITE_DMA = 0xca,
    CMD_FLUSH = 0xe7,
    CMD_FLUSH_EXT = 0xea,
    CMD_IDENTIFY = 0xec,
    CMD_SET_FEATURES = 0xef,
};

typedef struct IDEChan {
    QTestState *qts;
    uint16_t base, ctrl;
    int irq;
    uint16_t bm; /* this channel's bus-master registers, 0 until mapped */
    char *image;
} IDEChan;

typedef struct PRD {
    uint32_t addr;
    uint32_t size; /* bit 31: end of table */
} PRD;

uint8_t pattern_byte(uint64_t sector, unsigned i, uint8_t seed);
char *make_image(uint64_t sectors, unsigned patterned, unsigned sector_size);
void read_image(const char *path, uint64_t offset, void *buf, size_t len);
IDEChan *ide_start(const char *args, uint64_t sectors, unsigned sector_size, bool secondary);
void ide_stop(IDEChan *c);
uint8_t ide_inb(IDEChan *c, unsigned reg);
void ide_outb(IDEChan *c, unsigned reg, uint8_t val);
uint8_t ide_altstatus(IDEChan *c);
bool ide_irq(IDEChan *c);
uint8_t ide_wait(IDEChan *c);
void ide_check_done(IDEChan *c, uint8_t status, bool irq);
void ide_set_lba28(IDEChan *c, unsigned dev, uint32_t lba, uint8_t count);
void ide_set_lba48(IDEChan *c, uint64_t lba, uint16_t count);
void ide_pio_in(IDEChan *c, void *buf, size_t bytes);
void ide_pio_out(IDEChan *c, const void *buf, size_t bytes);
void check_pattern(const uint8_t *buf, uint64_t first_sector, unsigned sectors,
                   unsigned sector_size, uint8_t seed);
void fill_pattern(uint8_t *buf, uint64_t first_sector, unsigned sectors, uint8_t seed);
void bm_map(IDEChan *c);
void bm_write_prds(IDEChan *c, const PRD *prds, int n);
uint8_t bm_run(IDEChan *c, uint8_t cmd, bool to_mem);
void check_ata_string(const uint16_t *words, int nwords, const char *expected);

#endif
