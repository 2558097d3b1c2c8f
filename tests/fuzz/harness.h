/*
 * The fuzzing harness shared by the device targets: the pc machine built in-process once,
 * without KVM (the qtest accelerator's clock), and a decoder that turns an input into a
 * bounded sequence of operations on one device: port reads and writes inside the device's
 * ranges, guest-memory writes into a scratch area, virtual clock steps, and one operation
 * the target defines itself (fw_cfg's DMA descriptors, the PM I/O block). Between inputs the
 * machine is reset so no state carries over. Not a fuzzer: libFuzzer drives these.
 */
#ifndef TESTS_FUZZ_HARNESS_H
#define TESTS_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FUZZ_RAM_SIZE (128ULL << 20)
#define FUZZ_SCRATCH_BASE 0x10000ULL /* guest RAM the memory operation writes to */
#define FUZZ_SCRATCH_SIZE 0x10000ULL

/* The unread rest of an input; reads past its end yield zeros. */
typedef struct FuzzInput {
    const uint8_t *p;
    size_t len;
} FuzzInput;

uint8_t fuzz_u8(FuzzInput *in);
uint16_t fuzz_u16(FuzzInput *in);
uint32_t fuzz_u32(FuzzInput *in);
uint64_t fuzz_u64(FuzzInput *in);

typedef struct FuzzPortRange {
    uint16_t base;
    uint16_t len;
} FuzzPortRange;

typedef struct FuzzDevice {
    const FuzzPortRange *ports;
    unsigned nports;
    /* The target's own operation, decoded from in; NULL for none. */
    void (*extra_op)(FuzzInput *in);
} FuzzDevice;

/* A zero-filled raw image of size bytes in /tmp (unlinked at once) opened as a backend
 * named id with the given BDRV_O_* flags; aborts on failure. */
struct BlockBackend *fuzz_open_image(const char *id, uint64_t size, int flags);
/* Such an image as the legacy drive -drive if=TYPE,bus=,unit= (a CD-ROM read-only): type is
 * a BlockInterfaceType. */
struct BlockBackend *fuzz_add_drive(const char *id, int type, int bus, int unit, bool cd,
                                    uint64_t size);

/* Build the machine (once, from LLVMFuzzerInitialize). */
void fuzz_machine_init(void);
/* Run the requests devices posted to the main loop, the reset handlers, and clear the
 * scratch RAM: the machine as fuzz_machine_init() left it (but for the clock). */
void fuzz_machine_reset(void);
/* Run one input against dev, then reset the machine. */
void fuzz_device_run(const FuzzDevice *dev, const uint8_t *data, size_t size);
/*
 * The virtual clock stays below FUZZ_CLOCK_LIMIT (2^60 ns, 36 years). It has no reset and
 * carries over from input to input, so one clock_set close to INT64_MAX would stop time for
 * every later input. (Such values once overflowed the RTC's arithmetic: fixed, with a unit
 * test in tests/unit/test-cmos.c.)
 */
#define FUZZ_CLOCK_LIMIT (INT64_C(1) << 60)
int64_t fuzz_clock_now(void);
/* Advance the virtual clock by ns, firing the timers due; nothing past the limit. */
void fuzz_clock_step(uint64_t ns);

/* libFuzzer's entry points, which every target defines. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The entry points of a device target: the machine, then dev driven by each input. */
#define FUZZ_DEVICE_TARGET(dev)                                                                    \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                              \
    {                                                                                              \
        fuzz_machine_init();                                                                       \
        return 0;                                                                                  \
    }                                                                                              \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                   \
    {                                                                                              \
        fuzz_device_run(&(dev), data, size);                                                       \
        return 0;                                                                                  \
    }

#endif
