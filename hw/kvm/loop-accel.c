/*
 * Firmware loop acceleration: recognise a vCPU standing in a memory loop and finish the
 * loop on guest RAM (see include/hw/loop-accel.h for why and which idioms). Pure logic on a
 * register snapshot and a guest-memory lookup, so the unit test drives it directly; the vCPU
 * threads (hw/kvm/vcpu.c) sample and write the registers back.
 */
#include <string.h>
#include "hw/loop-accel.h"

enum {
    CR0_PE = 1u << 0,
    CR0_PG = 1u << 31,
    EFER_LMA = 1u << 10,
    EFLAGS_ZF = 1u << 6,
    EFLAGS_DF = 1u << 10,
    SEG_EXPAND_DOWN = 1u << 2,     /* data segment type bits: expand-down, writable */
    SEG_WRITABLE = 1u << 1,
    SEG_CODE = 1u << 3,            /* code segment; bit 1 is then "readable" */
    MAX_PREFIXES = 4,
};

/* Largest block one sample finishes (SeaBIOS's largest is 548 KiB). */
#define LOOP_ACCEL_MAX_BYTES (64ull << 20)

bool loop_accel_applies(const struct kvm_sregs *sregs)
{
    return !(sregs->cr0 & CR0_PG) && !(sregs->efer & EFER_LMA);
}

static __u64 *gpr(struct kvm_regs *r, unsigned n)
{
    __u64 *regs[8] = { &r->rax, &r->rcx, &r->rdx, &r->rbx,
                       &r->rsp, &r->rbp, &r->rsi, &r->rdi };
    return regs[n & 7];
}

/* Copy n bytes of code at linear address lin (paging is off: linear is physical). */
static bool fetch(const LoopAccelMem *mem, uint64_t lin, uint8_t *buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = mem->ram(lin + i, 1, false, mem->opaque);
        if (!p || lin + i > UINT32_MAX) {
            return false;
        }
        buf[i] = *p;
    }
    return true;
}

/* Whether the CPU would let the guest read (write) through this segment without a fault:
 * writes need a writable data segment, reads a data or readable code segment; expand-down
 * data and conforming code are left to the guest. */
static bool seg_allows(const struct kvm_segment *s, bool write)
{
    if (s->unusable || (s->type & SEG_EXPAND_DOWN)) {
        return false;
    }
    return write ? !(s->type & SEG_CODE) && (s->type & SEG_WRITABLE)
                 : !(s->type & SEG_CODE) || (s->type & SEG_WRITABLE);
}

/* Host pointer to len bytes at offset off of a segment, or NULL if the segment does not
 * allow the access, or any byte falls outside its limit, wraps the offset or is not guest
 * RAM. */
static uint8_t *seg_ram(const LoopAccelMem *mem, const struct kvm_segment *s, bool addr32,
                        uint64_t off, uint64_t len, bool write)
{
    uint64_t wrap = addr32 ? (1ull << 32) : (1ull << 16);

    if (len == 0 || len > LOOP_ACCEL_MAX_BYTES || !seg_allows(s, write) ||
        off + len > wrap || off + len - 1 > s->limit ||
        s->base + off + len > (1ull << 32)) {
        return NULL;
    }
    return mem->ram(s->base + off, len, write, mem->opaque);
}

static const struct kvm_segment *seg_by_prefix(const struct kvm_sregs *sr, uint8_t p)
{
    switch (p) {
    case 0x26: return &sr->es;
    case 0x2e: return &sr->cs;
    case 0x36: return &sr->ss;
    case 0x64: return &sr->fs;
    case 0x65: return &sr->gs;
    default: return &sr->ds;
    }
}

typedef struct StringInsn {
    unsigned len;
    unsigned size;          /* element size */
    bool addr32;
    bool movs;
    const struct kvm_segment *src;
} StringInsn;

static bool decode_string(const struct kvm_sregs *sr, const uint8_t *code, StringInsn *in)
{
    bool opsize = false, addrsize = false, rep = false;
    uint8_t segp = 0x3e;
    unsigned i;

    for (i = 0; i < MAX_PREFIXES; i++) {
        uint8_t b = code[i];
        if (b == 0x66) {
            opsize = true;
        } else if (b == 0x67) {
            addrsize = true;
        } else if (b == 0xf3 || b == 0xf2) {
            rep = true;
        } else if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65) {
            segp = b;
        } else {
            break;
        }
    }
    uint8_t op = code[i];
    if (!rep || (op != 0xa4 && op != 0xa5 && op != 0xaa && op != 0xab)) {
        return false;
    }
    in->len = i + 1;
    in->movs = op == 0xa4 || op == 0xa5;
    in->size = (op & 1) ? ((sr->cs.db ^ opsize) ? 4 : 2) : 1;
    in->addr32 = sr->cs.db ^ addrsize;
    in->src = seg_by_prefix(sr, segp);
    return true;
}

static void set_low(__u64 *reg, bool wide, uint64_t val)
{
    uint64_t mask = wide ? 0xffffffffull : 0xffffull;

    *reg = (*reg & ~mask) | (val & mask);
}

static void advance_ip(struct kvm_regs *r, const struct kvm_sregs *sr, unsigned len)
{
    set_low(&r->rip, sr->cs.db, r->rip + len);
}

/* Forward element-by-element copy: what REP MOVS does when the ranges overlap. */
static void copy_forward(uint8_t *dst, const uint8_t *src, uint64_t count, unsigned size)
{
    if (dst + count * size <= src || src + count * size <= dst) {
        memcpy(dst, src, count * size);
        return;
    }
    for (uint64_t i = 0; i < count; i++) {
        uint8_t t[4];
        memcpy(t, src + i * size, size);
        memcpy(dst + i * size, t, size);
    }
}

static void fill(uint8_t *dst, uint64_t count, unsigned size, uint32_t val)
{
    if (size == 1) {
        memset(dst, val & 0xff, count);
        return;
    }
    for (uint64_t i = 0; i < count; i++) {
        memcpy(dst + i * size, &val, size);   /* x86 host: little-endian like the guest */
    }
}

static bool try_string(struct kvm_regs *r, const struct kvm_sregs *sr, const uint8_t *code,
                       const LoopAccelMem *mem)
{
    StringInsn in;

    if ((r->rflags & EFLAGS_DF) || !decode_string(sr, code, &in)) {
        return false;
    }
    uint64_t mask = in.addr32 ? 0xffffffffull : 0xffffull;
    uint64_t count = r->rcx & mask, di = r->rdi & mask, si = r->rsi & mask;
    uint64_t len = count * in.size;
    uint8_t *dst = seg_ram(mem, &sr->es, in.addr32, di, len, true);
    if (!dst) {
        return false;
    }
    if (in.movs) {
        uint8_t *src = seg_ram(mem, in.src, in.addr32, si, len, false);
        if (!src) {
            return false;
        }
        copy_forward(dst, src, count, in.size);
        set_low(&r->rsi, in.addr32, si + len);
    } else {
        fill(dst, count, in.size, (uint32_t)r->rax);
    }
    set_low(&r->rdi, in.addr32, di + len);
    set_low(&r->rcx, in.addr32, 0);
    advance_ip(r, sr, in.len);
    return true;
}

/*
 * Counted loops of 32-bit code, each matched wherever the vCPU stands in it: `points` lists
 * the offsets of its instructions with how far the current iteration has got there (see
 * finish), `je_off` is the offset of the exit test's branch (with ZF set there the loop is
 * leaving and is left alone). finish() completes the loop and leaves the vCPU at its first
 * instruction, whose test then ends it and sets the flags as the guest's loop would.
 */
typedef struct LoopIdiom {
    unsigned len;
    unsigned je_off;
    unsigned npoints;
    struct { unsigned off; unsigned done; } points[5];
    bool (*match)(const uint8_t *c, unsigned *x, unsigned *y);
    bool (*finish)(struct kvm_regs *r, const struct kvm_sregs *sr, const uint8_t *c,
                   unsigned x, unsigned y, unsigned done, const LoopAccelMem *mem);
} LoopIdiom;

/* Fill: test R,R; je +7; dec R; movb $imm,(B,R,1); jmp -11 (x = R, y = B). */
static bool match_fill(const uint8_t *c, unsigned *x, unsigned *y)
{
    unsigned reg = c[1] & 7, base = c[7] & 7;

    if (c[0] != 0x85 || c[1] != (0xc0 | reg << 3 | reg) || c[2] != 0x74 || c[3] != 0x07 ||
        c[4] != 0x48 + reg || c[5] != 0xc6 || c[6] != 0x04 || c[7] != (reg << 3 | base) ||
        c[9] != 0xeb || c[10] != 0xf5) {
        return false;
    }
    /* index 4 means "no index"; base 5 means disp32; base 4 is SS-relative; base == index
     * moves with the count. */
    if (reg == 4 || base == 4 || base == 5 || base == reg) {
        return false;
    }
    *x = reg;
    *y = base;
    return true;
}

/* done = 1 at the store: R is already decremented and the store at B+R is still due. */
static bool finish_fill(struct kvm_regs *r, const struct kvm_sregs *sr, const uint8_t *c,
                        unsigned n, unsigned b, unsigned done, const LoopAccelMem *mem)
{
    uint64_t count = (uint32_t)*gpr(r, n) + done;
    uint8_t *dst = seg_ram(mem, &sr->ds, true, (uint32_t)*gpr(r, b), count, true);

    if (!dst) {
        return false;
    }
    memset(dst, c[8], count);
    set_low(gpr(r, n), true, 0);
    return true;
}

/* Byte sum: cmp E,P; je +5; add (P),acc8; inc P; jmp -9 (x = P, y = E; acc in c[5]). */
static bool match_sum(const uint8_t *c, unsigned *x, unsigned *y)
{
    unsigned ptr = c[1] & 7, end = (c[1] >> 3) & 7, acc = (c[5] >> 3) & 7;

    if (c[0] != 0x39 || (c[1] & 0xc0) != 0xc0 || c[2] != 0x74 || c[3] != 0x05 ||
        c[4] != 0x02 || c[5] != (acc << 3 | ptr) || c[6] != 0x40 + ptr ||
        c[7] != 0xeb || c[8] != 0xf7) {
        return false;
    }
    /* (P) with P = 4/5 means SIB/disp32; acc 4-7 are the high bytes (AH..BH); acc must not
     * share a register with the pointers. */
    if (ptr == 4 || ptr == 5 || ptr == end || acc > 3 || acc == ptr || acc == end) {
        return false;
    }
    *x = ptr;
    *y = end;
    return true;
}

/* done = 1 at `inc`: the byte at P is already added. */
static bool finish_sum(struct kvm_regs *r, const struct kvm_sregs *sr, const uint8_t *c,
                       unsigned p, unsigned e, unsigned done, const LoopAccelMem *mem)
{
    uint64_t ptr = (uint32_t)*gpr(r, p) + done, end = (uint32_t)*gpr(r, e);
    __u64 *acc = gpr(r, (c[5] >> 3) & 7);
    uint8_t sum = *acc & 0xff;

    if (ptr >= end) {
        return false;
    }
    const uint8_t *src = seg_ram(mem, &sr->ds, true, ptr, end - ptr, false);
    if (!src) {
        return false;
    }
    for (uint64_t i = 0; i < end - ptr; i++) {
        sum += src[i];
    }
    *acc = (*acc & ~0xffull) | sum;
    set_low(gpr(r, p), true, end);
    return true;
}

static const LoopIdiom loop_idioms[] = {
    { 11, 2, 5, { { 0, 0 }, { 2, 0 }, { 4, 0 }, { 5, 1 }, { 9, 0 } }, match_fill, finish_fill },
    { 9, 2, 5, { { 0, 0 }, { 2, 0 }, { 4, 0 }, { 6, 1 }, { 7, 0 } }, match_sum, finish_sum },
};

static bool try_loop(struct kvm_regs *r, const struct kvm_sregs *sr, const LoopIdiom *id,
                     const LoopAccelMem *mem)
{
    uint8_t c[16];
    unsigned x, y;

    for (unsigned i = 0; i < id->npoints; i++) {
        unsigned off = id->points[i].off;
        uint64_t start = (uint32_t)(r->rip - off);
        if (r->rip < off || !fetch(mem, sr->cs.base + start, c, id->len) ||
            !id->match(c, &x, &y)) {
            continue;
        }
        if (off == id->je_off && (r->rflags & EFLAGS_ZF)) {
            return false;
        }
        if (!id->finish(r, sr, c, x, y, id->points[i].done, mem)) {
            return false;
        }
        set_low(&r->rip, true, start);
        return true;
    }
    return false;
}

static bool try_loops(struct kvm_regs *r, const struct kvm_sregs *sr, const LoopAccelMem *mem)
{
    if (!(sr->cr0 & CR0_PE) || !sr->cs.db) {
        return false;
    }
    for (unsigned i = 0; i < sizeof(loop_idioms) / sizeof(loop_idioms[0]); i++) {
        if (try_loop(r, sr, &loop_idioms[i], mem)) {
            return true;
        }
    }
    return false;
}

bool loop_accel_try(struct kvm_regs *regs, const struct kvm_sregs *sregs,
                    const LoopAccelMem *mem)
{
    uint8_t code[MAX_PREFIXES + 1];

    if (!loop_accel_applies(sregs)) {
        return false;
    }
    if (fetch(mem, sregs->cs.base + regs->rip, code, sizeof(code)) &&
        try_string(regs, sregs, code, mem)) {
        return true;
    }
    return try_loops(regs, sregs, mem);
}
