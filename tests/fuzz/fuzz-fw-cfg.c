/*
 * fw_cfg: the selector/data ports (0x510/0x511) and the DMA address register (0x514-0x51b),
 * plus an operation that places a DMA descriptor in guest memory and starts it. Its mode
 * byte picks, bit by bit, a 32-bit length (else 16-bit), a destination anywhere in the
 * 64-bit address space (else in the scratch RAM) and a descriptor address anywhere (else in
 * the scratch RAM), so both good transfers and every refusal path are reached.
 */
#include <glib.h>
#include "harness.h"
#include "hw/ioport.h"
#include "hw/memory.h"

#define FW_CFG_DMA_HIGH 0x514
#define FW_CFG_DMA_LOW 0x518

static void fw_cfg_fuzz_dma(FuzzInput *in)
{
    uint8_t mode = fuzz_u8(in);
    uint32_t control = fuzz_u32(in);
    uint32_t len = (mode & 1) ? fuzz_u32(in) : fuzz_u16(in);
    uint64_t dest = (mode & 2) ? fuzz_u64(in) : FUZZ_SCRATCH_BASE + fuzz_u16(in);
    uint64_t desc =
        (mode & 4) ? fuzz_u64(in) : FUZZ_SCRATCH_BASE + fuzz_u16(in) % (FUZZ_SCRATCH_SIZE - 16);
    struct {
        uint32_t control, length;
        uint64_t address;
    } d = {GUINT32_TO_BE(control), GUINT32_TO_BE(len), GUINT64_TO_BE(dest)};

    guest_mem_write(desc, &d, sizeof(d));
    io_dispatch_write(IO_SPACE_PIO, FW_CFG_DMA_HIGH, GUINT32_TO_BE((uint32_t)(desc >> 32)), 4);
    io_dispatch_write(IO_SPACE_PIO, FW_CFG_DMA_LOW, GUINT32_TO_BE((uint32_t)desc), 4);
}

static const FuzzPortRange fw_cfg_ports[] = {{0x510, 2}, {0x514, 8}};

static const FuzzDevice fw_cfg_fuzz = {
    .ports = fw_cfg_ports,
    .nports = G_N_ELEMENTS(fw_cfg_ports),
    .extra_op = fw_cfg_fuzz_dma,
};

FUZZ_DEVICE_TARGET(fw_cfg_fuzz)
