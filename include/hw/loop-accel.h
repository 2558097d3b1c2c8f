/*
 * Firmware loop acceleration. On hosts whose KVM runs guest kernel mode through its
 * instruction emulator (see hw/kvm/host-check.c), firmware spends most of its start-up in a
 * few memory loops: SeaBIOS clears 550 KiB of low memory and its option-ROM area twice with a
 * byte loop, copies itself with `rep movsb` and checksums itself with a byte loop, each byte
 * a handful of emulated instructions (about 4.5 s of a 5 s POST). While a vCPU runs without
 * paging, it is sampled about once a millisecond (100 times a second after 1 s without a
 * find); when it stands in one of the idioms below, the VMM finishes the loop on guest RAM
 * itself and leaves the registers exactly as the guest's own loop would.
 *
 * Idioms (matched on the instruction bytes, never on addresses):
 *  - REP MOVS / REP STOS (byte, word, dword), DF=0, 16- or 32-bit address size, any source
 *    segment override; left at the next instruction.
 *  - GCC's byte-fill loop  `test R,R; je out; dec R; movb $imm,(B,R,1); jmp top` (32-bit
 *    code): [B, B+R) is filled, R becomes 0 and the vCPU is left at `test`, which then
 *    exits the loop (and sets the flags) itself.
 *  - GCC's byte-sum loop  `cmp E,P; je out; add (P),acc8; inc P; jmp top` (32-bit code, acc
 *    one of AL..BL): the bytes [P, E) are added to acc8, P becomes E, the vCPU is left at
 *    `cmp`. (SeaBIOS checksums its 128 KiB image so before booting.)
 * Everything is refused unless each byte touched is guest RAM (writes: writable RAM) inside
 * the segment limits with no address wrap; a refusal leaves the guest to its own loop.
 */
#ifndef HW_LOOP_ACCEL_H
#define HW_LOOP_ACCEL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

typedef struct LoopAccelMem {
    /* Host pointer to [gpa, gpa+len) if all of it is guest RAM (writable if write), else
     * NULL. */
    uint8_t *(*ram)(uint64_t gpa, uint64_t len, bool write, void *opaque);
    void *opaque;
} LoopAccelMem;

/* The sampling period while a vCPU runs with paging off; after this many samples in a row
 * found no loop (a guest idling or living in real mode), the slow period until one does. */
#define LOOP_ACCEL_PERIOD_NS 1000000
#define LOOP_ACCEL_IDLE_SAMPLES 1000
#define LOOP_ACCEL_IDLE_PERIOD_NS 10000000

/* Whether sampling is worth doing in this vCPU state (paging off, not in long mode). */
bool loop_accel_applies(const struct kvm_sregs *sregs);
/* If the vCPU stands in an idiom, finish it on guest memory, update regs (rip, counters,
 * pointers) and return true: the caller writes regs back. Otherwise change nothing. */
bool loop_accel_try(struct kvm_regs *regs, const struct kvm_sregs *sregs,
                    const LoopAccelMem *mem);

#endif
