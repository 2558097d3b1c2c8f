/*
 * The test payload's library: console and report lines, fw_cfg, PCI, ACPI PM, clock and the
 * scenario table. A scenario (or, later, a device driver) is one file that uses these and
 * registers itself with SCENARIO(); nothing else names it.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* libc pieces (string.c) */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
uint64_t strtou64(const char *s, const char **end);
/* The next number of a xorshift64 sequence; *state must not be 0 (string.c). */
uint64_t xorshift64(uint64_t *state);

/* A 10-byte SCSI READ(10)/WRITE(10)-shaped CDB (opcode, LBA, count), the rest zero: for the
 * ATAPI and LSI drivers (string.c). */
void scsi_cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t count);

/* COM1 and formatted output (serial.c, printf.c) */
void serial_putc(char c);
void serial_puts(const char *s);
void vprintf(const char *fmt, va_list ap);
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report lines (report.c): "RESULT name value unit", "PASS", "FAIL reason". */
void report_result(const char *name, uint64_t value, const char *unit);
void report_pass(void);
void report_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fw_cfg through its port interface (fwcfg.c) */
bool fw_cfg_present(void);
void fw_cfg_select(uint16_t key);
void fw_cfg_read(void *buf, size_t len);
/* Size of the file, or -1 if absent; *key gets its selector. */
int64_t fw_cfg_find_file(const char *name, uint16_t *key);

/* PCI bus 0 (pci.c) */
enum {
    PCI_VENDOR_ID = 0x00,
    PCI_COMMAND = 0x04,
    PCI_CLASS_REVISION = 0x08,
    PCI_HEADER_TYPE = 0x0c,     /* in the third byte of this dword */
    PCI_BASE_ADDRESS_0 = 0x10,
    PCI_SUBSYSTEM_VENDOR_ID = 0x2c,
    PCI_INTERRUPT_LINE = 0x3c,
    PCI_INTERRUPT_PIN = 0x3d,
    PCI_COMMAND_IO = 0x1,
    PCI_COMMAND_MEMORY = 0x2,
    PCI_BAR_IO = 0x1,
    PCI_BAR_MEM_TYPE_64 = 0x4,
};
#define PCI_MAX_BARS 6
typedef struct PCIBar {
    uint64_t addr;
    uint64_t size;              /* 0: not implemented */
    bool io;
    bool mem64;
} PCIBar;

typedef struct PCIDevice {
    uint8_t bus, dev, fn;
    uint16_t vendor_id, device_id;
    uint16_t subsystem_vendor_id, subsystem_id;
    uint32_t class_rev;         /* class << 8 | revision */
    uint8_t header_type;
    PCIBar bar[PCI_MAX_BARS];
} PCIDevice;

uint32_t pci_config_readl(const PCIDevice *d, uint8_t off);
void pci_config_writel(const PCIDevice *d, uint8_t off, uint32_t v);
/* Enumerate bus 0, size and assign every BAR, enable decoding; returns the count found. */
int pci_enumerate(PCIDevice *out, int max);
/* The same walk leaving every register as found: BAR addresses are where they decode now. */
int pci_scan(PCIDevice *out, int max);

/* PIIX4 power management (acpi.c) */
#define PM_TIMER_HZ 3579545u
void acpi_pm_enable(void);
uint32_t acpi_pm_timer(void);
void acpi_poweroff(void) __attribute__((noreturn));

/* Monotonic clock from the TSC (clock.c) */
uint64_t clock_calibrate(uint32_t ms);  /* returns TSC Hz, measured against the PM timer */
uint64_t clock_ns(void);
void clock_delay_us(uint64_t us);
uint64_t pit_gate_measure_tsc(uint16_t count); /* TSC ticks for a PIT channel 2 one-shot */

/* Boot information saved by entry.S */
extern uint32_t boot_magic, boot_info, boot_params;
extern uint32_t boot_entry64; /* 1 when entered at startup_64 (Linux 64-bit boot protocol) */

/* Scenarios: argv[0] is the scenario name; return 0 for PASS (a failure reports itself). */
typedef struct Scenario {
    const char *name;
    int (*run)(int argc, char **argv);
} Scenario;

#define SCENARIO(n, fn)                                                                    \
    static const Scenario scenario_##n                                                     \
        __attribute__((used, section(".scenarios"), aligned(8))) = { #n, fn }

#endif
