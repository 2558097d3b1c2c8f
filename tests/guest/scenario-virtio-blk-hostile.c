/*
 * Scenario `virtio_blk_hostile CASE...`: for each case, bring the virtio-blk device up, hand
 * it one malformed request (CASE names how), kick, and wait up to 200 ms for the device to
 * answer: "HOSTILE case broken" when it set NEEDS_RESET, "HOSTILE case status N" when it
 * completed the request with status N instead, "HOSTILE case ignored" otherwise. Then reset
 * the device and check that a write and read-back of 64 KiB work ("HOSTILE case recovered").
 * Cases: loop, avail-jump, head, next, zero-len, huge-len, outside-ram, order,
 * indirect-nested, indirect-size, no-status; and reset-inflight, which is not malformed: it
 * resets the device (status 0) right after kicking 16 writes of 64 KiB, while they are in
 * flight, and prints the status read back ("HOSTILE reset-inflight reset status 0"). Each
 * bring-up re-enumerates PCI, so the BARs (and the VMM's doorbells) move every time. Modern
 * devices only (NEEDS_RESET is virtio 1.0).
 */
#include "virtio-blk.h"

#define HOSTILE_HDR (VBLK_HDRS + 0x1000)
#define HOSTILE_STATUS (VBLK_HDRS + 0x1100)
#define HOSTILE_TABLE (VBLK_HDRS + 0x2000) /* indirect tables */
#define HOSTILE_WAIT_NS 200000000ull

static void set_desc(volatile VDesc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    t[i] = (VDesc){addr, len, flags, next};
}

/* A read request whose data descriptor is (addr, len): header, data, status. */
static void chain3(VBlk *v, uint64_t addr, uint32_t len)
{
    uint32_t hdr[4] = {T_IN, 0, 0, 0};

    memcpy((void *)HOSTILE_HDR, hdr, sizeof(hdr));
    set_desc(v->desc, 0, HOSTILE_HDR, 16, DESC_NEXT, 1);
    set_desc(v->desc, 1, addr, len, DESC_NEXT | DESC_WRITE, 2);
    set_desc(v->desc, 2, HOSTILE_STATUS, 1, DESC_WRITE, 0);
    vblk_publish(v, 0);
}

static void indirect(VBlk *v, uint32_t table_len, bool nested)
{
    volatile VDesc *t = (volatile VDesc *)HOSTILE_TABLE;

    set_desc(t, 0, HOSTILE_HDR, 16, DESC_NEXT, 1);
    if (nested) {
        set_desc(t, 1, HOSTILE_TABLE, 32, DESC_INDIRECT, 0);
    } else {
        set_desc(t, 1, HOSTILE_STATUS, 1, DESC_WRITE, 0);
    }
    set_desc(v->desc, 0, HOSTILE_TABLE, table_len, DESC_INDIRECT, 0);
    vblk_publish(v, 0);
}

static bool corrupt(VBlk *v, const char *name)
{
    if (!strcmp(name, "loop")) {
        set_desc(v->desc, 0, HOSTILE_HDR, 16, DESC_NEXT, 1);
        set_desc(v->desc, 1, VBLK_DATA, 512, DESC_NEXT, 0);
        vblk_publish(v, 0);
    } else if (!strcmp(name, "avail-jump")) {
        v->avail_idx += 1000;
        v->avail[1] = v->avail_idx;
    } else if (!strcmp(name, "head")) {
        vblk_publish(v, 0xffff);
    } else if (!strcmp(name, "next")) {
        set_desc(v->desc, 0, HOSTILE_HDR, 16, DESC_NEXT, 0x8000);
        vblk_publish(v, 0);
    } else if (!strcmp(name, "zero-len")) {
        chain3(v, VBLK_DATA, 0);
    } else if (!strcmp(name, "huge-len")) {
        chain3(v, VBLK_DATA, 0xfffff000u);
    } else if (!strcmp(name, "outside-ram")) {
        chain3(v, 0x3ff00000ull, 4096); /* 1 GiB - 1 MiB: beyond -m 256 */
    } else if (!strcmp(name, "order")) {
        set_desc(v->desc, 0, HOSTILE_STATUS, 1, DESC_NEXT | DESC_WRITE, 1);
        set_desc(v->desc, 1, HOSTILE_HDR, 16, 0, 0);
        vblk_publish(v, 0);
    } else if (!strcmp(name, "indirect-nested")) {
        indirect(v, 32, true);
    } else if (!strcmp(name, "indirect-size")) {
        indirect(v, 24, false);
    } else if (!strcmp(name, "no-status")) {
        set_desc(v->desc, 0, HOSTILE_HDR, 16, 0, 0);
        vblk_publish(v, 0);
    } else {
        return false;
    }
    vblk_kick(v);
    return true;
}

static void reset_inflight(VBlk *v)
{
    for (unsigned slot = 0; slot < VBLK_MAX_DEPTH; slot++) {
        vblk_queue(v, slot, T_OUT, slot * (VBLK_REQ / VBLK_SECTOR), VBLK_REQ);
    }
    vblk_kick(v);
    vblk_set_status(v, 0);
    printf("HOSTILE reset-inflight reset status %u\n", vblk_status(v));
}

static void observe(VBlk *v, const char *name)
{
    uint64_t deadline = clock_ns() + HOSTILE_WAIT_NS;
    unsigned slot;
    uint8_t status;

    while (clock_ns() < deadline) {
        if (vblk_status(v) & ST_NEEDS_RESET) {
            printf("HOSTILE %s broken\n", name);
            return;
        }
        if (vblk_poll(v, &slot, &status)) {
            printf("HOSTILE %s status %u\n", name, status);
            return;
        }
    }
    printf("HOSTILE %s ignored\n", name);
}

/* After a reset, a 64 KiB write and read-back through slot 0. */
static bool recovered(void)
{
    PCIDevice *d;
    uint8_t *buf = (uint8_t *)VBLK_DATA;
    VBlk v = {0};

    if (!vblk_open(&v, &d)) {
        return false;
    }
    for (unsigned i = 0; i < VBLK_REQ; i++) {
        buf[i] = i * 7;
    }
    vblk_queue(&v, 0, T_OUT, 64, VBLK_REQ);
    vblk_kick(&v);
    if (vblk_reap(&v) != 0) {
        return false;
    }
    memset(buf, 0, VBLK_REQ);
    vblk_queue(&v, 0, T_IN, 64, VBLK_REQ);
    vblk_kick(&v);
    if (vblk_reap(&v) != 0) {
        return false;
    }
    for (unsigned i = 0; i < VBLK_REQ; i++) {
        if (buf[i] != (uint8_t)(i * 7)) {
            return false;
        }
    }
    return true;
}

static int hostile_run(int argc, char **argv)
{
    clock_calibrate(10);
    for (int i = 1; i < argc; i++) {
        PCIDevice *d;
        VBlk v = {0};

        if (!vblk_open(&v, &d) || !v.modern) {
            report_fail("no modern virtio-blk device");
            return -1;
        }
        if (!strcmp(argv[i], "reset-inflight")) {
            reset_inflight(&v);
        } else if (corrupt(&v, argv[i])) {
            observe(&v, argv[i]);
        } else {
            report_fail("unknown case %s", argv[i]);
            return -1;
        }
        if (!recovered()) {
            report_fail("%s: the device did not work after a reset", argv[i]);
            return -1;
        }
        printf("HOSTILE %s recovered\n", argv[i]);
    }
    return 0;
}

SCENARIO(virtio_blk_hostile, hostile_run);
