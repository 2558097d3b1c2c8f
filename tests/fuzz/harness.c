/*
 * The in-process pc machine for the device fuzz targets: main loop, qtest clock and
 * pc_init() with a 128 MiB machine, COM1 and the debug console on null chardevs. An input
 * is a list of operations (at most FUZZ_MAX_OPS); each starts with a byte choosing its kind:
 *   OUT   region, offset, size, value (u32)   a port write inside the device's ranges
 *   IN    region, offset, size                a port read
 *   CLOCK ns (u32)                            clock_step
 *   MEM   offset (u16), n (u8 % 64), n bytes  a write into the scratch RAM
 *   EXTRA ...                                 the target's own operation
 * Requests the devices post to the main loop (resets, power-off) are run after each input,
 * then the reset handlers and a cleared scratch area leave the machine as it started.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "config-host.h"
#include "block/block-backend.h"
#include "harness.h"
#include "hw/ioport.h"
#include "hw/machine.h"
#include "hw/memory.h"
#include "hw/pc.h"
#include "system/qtest.h"
#include "util/chardev.h"
#include "util/main-loop.h"

#define FUZZ_MAX_OPS 512
#define FUZZ_MEM_MAX 64

enum { FUZZ_OP_OUT, FUZZ_OP_IN, FUZZ_OP_CLOCK, FUZZ_OP_MEM, FUZZ_OP_EXTRA, FUZZ_OP_COUNT };

static MachineState fuzz_ms;
static PCConfig fuzz_pc;

static bool fuzz_take(FuzzInput *in, void *out, size_t n)
{
    size_t got = MIN(n, in->len);

    memset(out, 0, n);
    memcpy(out, in->p, got);
    in->p += got;
    in->len -= got;
    return got == n;
}

uint8_t fuzz_u8(FuzzInput *in)
{
    uint8_t v;

    fuzz_take(in, &v, sizeof(v));
    return v;
}

uint16_t fuzz_u16(FuzzInput *in)
{
    uint16_t v;

    fuzz_take(in, &v, sizeof(v));
    return GUINT16_FROM_LE(v);
}

uint32_t fuzz_u32(FuzzInput *in)
{
    uint32_t v;

    fuzz_take(in, &v, sizeof(v));
    return GUINT32_FROM_LE(v);
}

uint64_t fuzz_u64(FuzzInput *in)
{
    uint64_t v;

    fuzz_take(in, &v, sizeof(v));
    return GUINT64_FROM_LE(v);
}

BlockBackend *fuzz_open_image(const char *id, uint64_t size, int flags)
{
    char path[] = "/tmp/fuzz-image-XXXXXX";
    int fd = mkstemp(path);
    JsonObject *opts = json_object_new();
    BlockBackend *blk;

    if (fd < 0 || ftruncate(fd, size) < 0) {
        abort();
    }
    close(fd);
    json_object_set_string_member(opts, "driver", "raw");
    blk = blk_new_open(id, path, opts, flags, &error_abort);
    unlink(path);
    return blk;
}

BlockBackend *fuzz_add_drive(const char *id, int type, int bus, int unit, bool cd,
                             uint64_t size)
{
    BlockBackend *blk = fuzz_open_image(id, size, cd ? 0 : BDRV_O_RDWR);
    DriveInfo *dinfo = g_new0(DriveInfo, 1);

    dinfo->type = type;
    dinfo->bus = bus;
    dinfo->unit = unit;
    dinfo->media_cd = cd;
    blk_set_legacy_dinfo(blk, dinfo);
    return blk;
}

void fuzz_machine_init(void)
{
    Error *err = NULL;

    fuzz_ms = (MachineState){
        .ram_size = FUZZ_RAM_SIZE,
        .below_4g_mem = FUZZ_RAM_SIZE,
        .smp_cpus = 1,
        .bios = CONFIG_BIOS,
        .name = "fuzz",
        .nodefaults = true,
    };
    fuzz_pc = (PCConfig){
        .serial = chr_new_null("serial0"),
        .debugcon = chr_new_null("debugcon"),
        .reboot_timeout = -1,
    };
    current_machine = &fuzz_ms;
    main_loop_init();
    qtest_enable_accel();
    if (!pc_init(&fuzz_ms, &fuzz_pc, &err)) {
        error_report_err(err);
        abort();
    }
    machine_run_reset_handlers();
}

int64_t fuzz_clock_now(void)
{
    g_autofree char *reply = qtest_process_line("clock_step 0");

    return g_ascii_strtoll(reply + strlen("OK "), NULL, 10);
}

void fuzz_clock_step(uint64_t ns)
{
    g_autofree char *cmd = g_strdup_printf("clock_step %" G_GUINT64_FORMAT, ns);

    if (ns <= (uint64_t)(FUZZ_CLOCK_LIMIT - fuzz_clock_now())) {
        g_free(qtest_process_line(cmd));
    }
}

void fuzz_machine_reset(void)
{
    static const uint8_t zeros[FUZZ_SCRATCH_SIZE];

    while (g_main_context_iteration(main_loop_context(), FALSE)) {
    }
    machine_run_reset_handlers();
    guest_mem_write(FUZZ_SCRATCH_BASE, zeros, sizeof(zeros));
}

/* Region, offset inside it and an access size of 1, 2 or 4 that stays inside it. */
static void fuzz_port(const FuzzDevice *dev, FuzzInput *in, uint16_t *port, unsigned *size)
{
    const FuzzPortRange *r = &dev->ports[fuzz_u8(in) % dev->nports];
    unsigned off = fuzz_u8(in) % r->len;

    *size = 1u << (fuzz_u8(in) % 3);
    while (off + *size > r->len) {
        *size >>= 1;
    }
    *port = r->base + off;
}

static void fuzz_op_mem(FuzzInput *in)
{
    uint8_t buf[FUZZ_MEM_MAX];
    uint16_t off = fuzz_u16(in);
    unsigned n = fuzz_u8(in) % FUZZ_MEM_MAX;

    fuzz_take(in, buf, n);
    guest_mem_write(FUZZ_SCRATCH_BASE + MIN(off, FUZZ_SCRATCH_SIZE - n), buf, n);
}

static void fuzz_op(const FuzzDevice *dev, FuzzInput *in)
{
    uint16_t port;
    unsigned size;

    switch (fuzz_u8(in) % FUZZ_OP_COUNT) {
    case FUZZ_OP_OUT:
        if (!dev->nports) {
            break;  /* an MMIO-only device: its extra operation does the accesses */
        }
        fuzz_port(dev, in, &port, &size);
        io_dispatch_write(IO_SPACE_PIO, port, fuzz_u32(in), size);
        break;
    case FUZZ_OP_IN:
        if (!dev->nports) {
            break;
        }
        fuzz_port(dev, in, &port, &size);
        io_dispatch_read(IO_SPACE_PIO, port, size);
        break;
    case FUZZ_OP_CLOCK:
        fuzz_clock_step(fuzz_u32(in));
        break;
    case FUZZ_OP_MEM:
        fuzz_op_mem(in);
        break;
    case FUZZ_OP_EXTRA:
        if (dev->extra_op) {
            dev->extra_op(in);
        }
        break;
    }
}

void fuzz_device_run(const FuzzDevice *dev, const uint8_t *data, size_t size)
{
    FuzzInput in = {data, size};

    for (unsigned i = 0; i < FUZZ_MAX_OPS && in.len; i++) {
        fuzz_op(dev, &in);
    }
    fuzz_machine_reset();
}
