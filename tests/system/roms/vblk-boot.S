/*
 * A boot sector for SeaBIOS's virtio-blk driver: it prints "VBOOT" on the debug console
 * (0x402), reads sectors 1-2 of its boot disk with int 13h AH=42h into 0x8000 and prints
 * their 16-bit word sum ("SUM xxxx"), writes the same two sectors back at LBA 3 with AH=43h
 * ("WROTE"), and halts. Any int 13h failure prints "FAIL xx" with AH. Built with the host
 * assembler and objcopy; position-independent of its link address (addresses are 0x7c00 +
 * the label's offset).
 */
#define ABS(label) ((label) - _start + 0x7c00)
#define DEBUGCON 0x402
#define BUFFER 0x8000

    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %sp
    sti
    mov %dl, ABS(drive)
    mov $ABS(m_boot), %si
    call puts

    mov $0x42, %ah                 /* extended read: 2 sectors from LBA 1 */
    mov ABS(drive), %dl
    mov $ABS(dap), %si
    int $0x13
    jc fail

    mov $BUFFER, %di
    mov $512, %cx
    mov $ABS(m_sum), %si
    call print_sum

    movw $3, ABS(dap_lba)          /* extended write: the same sectors at LBA 3 */
    mov $0x4300, %ax
    mov ABS(drive), %dl
    mov $ABS(dap), %si
    int $0x13
    jc fail
    mov $ABS(m_wrote), %si
    call puts
    jmp halt

#include "bootsect-io.S"

m_boot:  .asciz "VBOOT\n"
m_sum:   .asciz "SUM "
m_wrote: .asciz "WROTE\n"
drive:   .byte 0
    .balign 4
dap:     .byte 16, 0
         .word 2                   /* sectors */
         .word BUFFER, 0           /* offset, segment */
dap_lba: .quad 1

    .org 510
    .word 0xaa55
