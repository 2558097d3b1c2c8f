/*
 * Unit tests for firmware loop acceleration (hw/kvm/loop-accel.c): each idiom leaves memory
 * and registers exactly as the guest's own loop would, from every instruction of the loop
 * the vCPU can be sampled at, and everything outside the rules (direction flag, segment
 * limits, address wrap, ROM, holes, paging) is left to the guest.
 */
#include <string.h>
#include <glib.h>
#include "hw/loop-accel.h"

#define MEM_SIZE (1u << 20)
#define ROM_START 0xf0000u         /* [ROM_START, MEM_SIZE) is read-only */
#define CODE 0x1000u

static uint8_t mem[MEM_SIZE];

static uint8_t *fake_ram(uint64_t gpa, uint64_t len, bool write, void *opaque)
{
    if (gpa >= MEM_SIZE || len > MEM_SIZE - gpa) {
        return NULL;
    }
    if (write && gpa + len > ROM_START) {
        return NULL;
    }
    return mem + gpa;
}

static const LoopAccelMem fake_mem = { .ram = fake_ram };

static struct kvm_segment flat_seg(bool code)
{
    return (struct kvm_segment){ .limit = 0xffffffff, .type = code ? 0xb : 0x3, .present = 1,
                                 .s = 1, .db = 1, .g = 1, .selector = code ? 0x8 : 0x10 };
}

static struct kvm_segment real_seg(uint16_t sel)
{
    return (struct kvm_segment){ .base = (uint64_t)sel << 4, .limit = 0xffff, .type = 0x3,
                                 .present = 1, .s = 1, .selector = sel };
}

/* 32-bit flat protected mode, paging off. */
static void setup_flat(struct kvm_regs *r, struct kvm_sregs *s)
{
    memset(mem, 0xcc, sizeof(mem));
    *r = (struct kvm_regs){ .rip = CODE, .rflags = 0x2 };
    *s = (struct kvm_sregs){ .cr0 = 0x11 };
    s->cs = flat_seg(true);
    s->ds = s->es = s->ss = s->fs = s->gs = flat_seg(false);
}

/* Real mode with CS=0, DS=0x1000, ES=0x2000. */
static void setup_real(struct kvm_regs *r, struct kvm_sregs *s)
{
    memset(mem, 0xcc, sizeof(mem));
    *r = (struct kvm_regs){ .rip = CODE, .rflags = 0x2 };
    *s = (struct kvm_sregs){ .cr0 = 0x10 };
    s->cs = real_seg(0);
    s->ss = s->fs = s->gs = real_seg(0);
    s->ds = real_seg(0x1000);
    s->es = real_seg(0x2000);
}

static void put_code(const uint8_t *code, size_t len)
{
    memcpy(mem + CODE, code, len);
}

static bool all_bytes(uint32_t gpa, uint32_t len, uint8_t val)
{
    for (uint32_t i = 0; i < len; i++) {
        if (mem[gpa + i] != val) {
            return false;
        }
    }
    return true;
}

static void test_rep_stosb_flat(void)
{
    static const uint8_t code[] = { 0xf3, 0xaa };
    struct kvm_regs r;
    struct kvm_sregs s;

    setup_flat(&r, &s);
    put_code(code, sizeof(code));
    r.rax = 0x1234;
    r.rdi = 0x20000;
    r.rcx = 0x30000;
    g_assert_true(loop_accel_try(&r, &s, &fake_mem));
    g_assert_true(all_bytes(0x20000, 0x30000, 0x34));
    g_assert_cmphex(mem[0x1ffff], ==, 0xcc);
    g_assert_cmphex(mem[0x50000], ==, 0xcc);
    g_assert_cmphex(r.rcx, ==, 0);
    g_assert_cmphex(r.rdi, ==, 0x50000);
    g_assert_cmphex(r.rip, ==, CODE + 2);
    g_assert_cmphex(r.rax, ==, 0x1234);
}

static void test_rep_stosd_pattern(void)
{
    static const uint8_t code[] = { 0xf3, 0xab };
    struct kvm_regs r;
    struct kvm_sregs s;

    setup_flat(&r, &s);
    put_code(code, sizeof(code));
    r.rax = 0x11223344;
    r.rdi = 0x8000;
    r.rcx = 3;
    g_assert_true(loop_accel_try(&r, &s, &fake_mem));
    static const uint8_t want[] = { 0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x22, 0x11,
                                    0x44, 0x33, 0x22, 0x11, 0xcc };
    g_assert_cmpmem(mem + 0x8000, sizeof(want), want, sizeof(want));
    g_assert_cmphex(r.rdi, ==, 0x800c);
}

/* Real mode, 0x66 prefix: dword moves with 16-bit SI/DI/CX; the high halves stay. */
static void test_rep_movsd_real_mode(void)
{
    static const uint8_t code[] = { 0x66, 0xf3, 0xa5 };
    struct kvm_regs r;
    struct kvm_sregs s;

    setup_real(&r, &s);
    put_code(code, sizeof(code));
    for (int i = 0; i < 0x400; i++) {
        mem[0x10000 + 0x100 + i] = i * 7;
    }
    r.rsi = 0xabcd0100;
    r.rdi = 0x00000200;
    r.rcx = 0x55550100;                 /* CX = 256 dwords */
    g_assert_true(loop_accel_try(&r, &s, &fake_mem));
    g_assert_cmpmem(mem + 0x20200, 0x400, mem + 0x10100, 0x400);
    g_assert_cmphex(mem[0x20600], ==, 0xcc);
    g_assert_cmphex(r.rsi, ==, 0xabcd0500);
    g_assert_cmphex(r.rdi, ==, 0x600);
    g_assert_cmphex(r.rcx, ==, 0x55550000);
    g_assert_cmphex(r.rip, ==, CODE + 3);
}

/* Overlapping forward copy (dst = src + 1) replicates the first byte, as the CPU does. */
static void test_rep_movsb_overlap(void)
{
    static const uint8_t code[] = { 0xf3, 0xa4 };
    struct kvm_regs r;
    struct kvm_sregs s;

    setup_flat(&r, &s);
    put_code(code, sizeof(code));
    mem[0x9000] = 0x5a;
    r.rsi = 0x9000;
    r.rdi = 0x9001;
    r.rcx = 100;
    g_assert_true(loop_accel_try(&r, &s, &fake_mem));
    g_assert_true(all_bytes(0x9000, 101, 0x5a));
}

/* A segment override prefix picks the source segment (here ES:SI -> ES:DI). */
static void test_source_override(void)
{
    static const uint8_t code[] = { 0x26, 0xf3, 0xa4 };
    struct kvm_regs r;
    struct kvm_sregs s;

    setup_real(&r, &s);
    put_code(code, sizeof(code));
    memset(mem + 0x20000, 0x77, 16);
    r.rsi = 0;
    r.rdi = 0x100;
    r.rcx = 16;
    g_assert_true(loop_accel_try(&r, &s, &fake_mem));
    g_assert_true(all_bytes(0x20100, 16, 0x77));
}

static void expect_refused(struct kvm_regs *r, struct kvm_sregs *s)
{
    struct kvm_regs before = *r;
    uint8_t *snapshot = g_memdup2(mem, sizeof(mem));

    g_assert_false(loop_accel_try(r, s, &fake_mem));
    g_assert_cmpmem(r, sizeof(*r), &before, sizeof(before));
    g_assert_true(memcmp(snapshot, mem, sizeof(mem)) == 0);
    g_free(snapshot);
}

static void test_string_refusals(void)
{
    static const uint8_t stosb[] = { 0xf3, 0xaa }, movsb[] = { 0xf3, 0xa4 },
                         plain[] = { 0xaa };
    struct kvm_regs r;
    struct kvm_sregs s;

    setup_flat(&r, &s);                 /* direction flag set */
    put_code(stosb, sizeof(stosb));
    r.rdi = 0x8000, r.rcx = 16, r.rflags |= 1u << 10;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* no REP prefix */
    put_code(plain, sizeof(plain));
    r.rdi = 0x8000, r.rcx = 16;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* count zero */
    put_code(stosb, sizeof(stosb));
    r.rdi = 0x8000, r.rcx = 0;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* into ROM */
    put_code(stosb, sizeof(stosb));
    r.rdi = ROM_START - 8, r.rcx = 16;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* past the end of RAM */
    put_code(stosb, sizeof(stosb));
    r.rdi = MEM_SIZE - 8, r.rcx = 16;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* beyond the ES limit */
    put_code(stosb, sizeof(stosb));
    s.es.limit = 0x8007;
    r.rdi = 0x8000, r.rcx = 16;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* ES read-only: the CPU would fault */
    put_code(stosb, sizeof(stosb));
    s.es.type = 0x1;
    r.rdi = 0x8000, r.rcx = 16;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* source through execute-only code (CS override) */
    static const uint8_t cs_movsb[] = { 0x2e, 0xf3, 0xa4 };
    put_code(cs_movsb, sizeof(cs_movsb));
    s.cs.type = 0x9;
    r.rsi = 0x9000, r.rdi = 0x8000, r.rcx = 16;
    expect_refused(&r, &s);

    setup_real(&r, &s);                 /* DI would wrap at 64 KiB */
    put_code(movsb, sizeof(movsb));
    r.rsi = 0, r.rdi = 0xfff8, r.rcx = 16;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* source from ROM is fine, but not from a hole */
    put_code(movsb, sizeof(movsb));
    r.rsi = MEM_SIZE - 4, r.rdi = 0x8000, r.rcx = 16;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* paging on */
    put_code(stosb, sizeof(stosb));
    s.cr0 |= 1u << 31;
    r.rdi = 0x8000, r.rcx = 16;
    g_assert_false(loop_accel_applies(&s));
    expect_refused(&r, &s);
}

/* gcc's memset(p, 0x5a, n): test edx,edx; je; dec edx; movb $0x5a,(eax,edx,1); jmp */
static const uint8_t fill_loop[] = { 0x85, 0xd2, 0x74, 0x07, 0x4a, 0xc6, 0x04, 0x10, 0x5a,
                                     0xeb, 0xf5 };

static void test_fill_loop_at(unsigned off, uint32_t edx, uint32_t filled)
{
    struct kvm_regs r;
    struct kvm_sregs s;

    setup_flat(&r, &s);
    put_code(fill_loop, sizeof(fill_loop));
    r.rip = CODE + off;
    r.rax = 0x40000;
    r.rdx = edx;
    r.rbx = 0xfeed;
    g_assert_true(loop_accel_try(&r, &s, &fake_mem));
    g_assert_true(all_bytes(0x40000, filled, 0x5a));
    g_assert_cmphex(mem[0x40000 + filled], ==, 0xcc);
    g_assert_cmphex(mem[0x3ffff], ==, 0xcc);
    g_assert_cmphex(r.rdx, ==, 0);
    g_assert_cmphex(r.rax, ==, 0x40000);
    g_assert_cmphex(r.rbx, ==, 0xfeed);
    g_assert_cmphex(r.rip, ==, CODE);   /* left at `test`, which ends the loop itself */
}

static void test_fill_loop_every_point(void)
{
    test_fill_loop_at(0, 0x20000, 0x20000);
    test_fill_loop_at(2, 0x20000, 0x20000);      /* at je, ZF clear */
    test_fill_loop_at(4, 0x20000, 0x20000);
    test_fill_loop_at(5, 0x1ffff, 0x20000);      /* decremented, store still due */
    test_fill_loop_at(9, 0x1ffff, 0x1ffff);      /* store done, jump back */
}

static void test_fill_loop_refusals(void)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    uint8_t code[sizeof(fill_loop)];

    setup_flat(&r, &s);                 /* at je with ZF set: the loop is ending */
    put_code(fill_loop, sizeof(fill_loop));
    r.rip = CODE + 2, r.rflags |= 1u << 6, r.rax = 0x40000, r.rdx = 0;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* count zero at the top */
    put_code(fill_loop, sizeof(fill_loop));
    r.rax = 0x40000, r.rdx = 0;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* base register == count register */
    memcpy(code, fill_loop, sizeof(code));
    code[7] = 0x12;
    put_code(code, sizeof(code));
    r.rdx = 0x100;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* a different jump: not the idiom */
    memcpy(code, fill_loop, sizeof(code));
    code[10] = 0xf4;
    put_code(code, sizeof(code));
    r.rax = 0x40000, r.rdx = 0x100;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* 16-bit code segment */
    put_code(fill_loop, sizeof(fill_loop));
    s.cs.db = 0;
    r.rax = 0x40000, r.rdx = 0x100;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* into ROM */
    put_code(fill_loop, sizeof(fill_loop));
    r.rax = ROM_START - 0x10, r.rdx = 0x100;
    expect_refused(&r, &s);
}

/* gcc's checksum: cmp edx,eax; je; add (eax),cl; inc eax; jmp */
static const uint8_t sum_loop[] = { 0x39, 0xd0, 0x74, 0x05, 0x02, 0x08, 0x40, 0xeb, 0xf7 };

static void put_sum_data(void)
{
    for (int i = 0; i < 0x300; i++) {
        mem[0x30000 + i] = i * 3 + 1;
    }
}

/* The byte sum of [from, 0x30300) of put_sum_data()'s bytes, added to start. */
static uint8_t sum_from(uint32_t from, uint8_t start)
{
    for (uint32_t a = from; a < 0x30300; a++) {
        start += (uint8_t)((a - 0x30000) * 3 + 1);
    }
    return start;
}

static void test_sum_loop_at(unsigned off, uint32_t eax, uint8_t cl, uint8_t want)
{
    struct kvm_regs r;
    struct kvm_sregs s;

    setup_flat(&r, &s);
    put_code(sum_loop, sizeof(sum_loop));
    put_sum_data();
    r.rip = CODE + off;
    r.rax = eax;
    r.rdx = 0x30300;
    r.rcx = 0xabcd1200 | cl;
    g_assert_true(loop_accel_try(&r, &s, &fake_mem));
    g_assert_cmphex(r.rcx, ==, 0xabcd1200 | want);
    g_assert_cmphex(r.rax, ==, 0x30300);
    g_assert_cmphex(r.rdx, ==, 0x30300);
    g_assert_cmphex(r.rip, ==, CODE);
}

static void test_sum_loop_every_point(void)
{
    static const unsigned offs[] = { 0, 2, 4, 7 };

    for (unsigned i = 0; i < G_N_ELEMENTS(offs); i++) {
        test_sum_loop_at(offs[i], 0x30000, 0x11, sum_from(0x30000, 0x11));
    }
    /* At `inc`: the byte at eax is already in CL. */
    test_sum_loop_at(6, 0x30000, 0x11, sum_from(0x30001, 0x11));
}

static void test_sum_loop_refusals(void)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    uint8_t code[sizeof(sum_loop)];

    setup_flat(&r, &s);                 /* at je with ZF set */
    put_code(sum_loop, sizeof(sum_loop));
    r.rip = CODE + 2, r.rflags |= 1u << 6, r.rax = r.rdx = 0x30000;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* pointer past the end: the loop would wrap */
    put_code(sum_loop, sizeof(sum_loop));
    r.rax = 0x30010, r.rdx = 0x30000;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* the sum in AL, the low byte of the pointer */
    memcpy(code, sum_loop, sizeof(code));
    code[5] = 0x00;
    put_code(code, sizeof(code));
    r.rax = 0x30000, r.rdx = 0x30100;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* the sum in CH */
    memcpy(code, sum_loop, sizeof(code));
    code[5] = 0x28;
    put_code(code, sizeof(code));
    r.rax = 0x30000, r.rdx = 0x30100;
    expect_refused(&r, &s);

    setup_flat(&r, &s);                 /* beyond RAM */
    put_code(sum_loop, sizeof(sum_loop));
    r.rax = MEM_SIZE - 0x10, r.rdx = MEM_SIZE + 0x10;
    expect_refused(&r, &s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/loop-accel/rep-stosb-flat", test_rep_stosb_flat);
    g_test_add_func("/loop-accel/rep-stosd-pattern", test_rep_stosd_pattern);
    g_test_add_func("/loop-accel/rep-movsd-real-mode", test_rep_movsd_real_mode);
    g_test_add_func("/loop-accel/rep-movsb-overlap", test_rep_movsb_overlap);
    g_test_add_func("/loop-accel/source-override", test_source_override);
    g_test_add_func("/loop-accel/string-refusals", test_string_refusals);
    g_test_add_func("/loop-accel/fill-loop-every-point", test_fill_loop_every_point);
    g_test_add_func("/loop-accel/fill-loop-refusals", test_fill_loop_refusals);
    g_test_add_func("/loop-accel/sum-loop-every-point", test_sum_loop_every_point);
    g_test_add_func("/loop-accel/sum-loop-refusals", test_sum_loop_refusals);
    return g_test_run();
}
