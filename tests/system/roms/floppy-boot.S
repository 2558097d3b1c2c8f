/*
 * A floppy boot sector for SeaBIOS's floppy driver: it prints "FBOOT" on the debug console
 * (0x402), reads with int 13h AH=02h two sectors at C/H/S 0/0/2 and three at 40/1/16 (the
 * end of a track) into 0x8000, printing each run's 16-bit word sum ("SUM xxxx"), writes the
 * first two sectors back at 0/0/5 with AH=03h ("WROTE"), and halts. A failed int 13h is
 * retried after a disk reset ("RETRY"); the fifth failure prints "FAIL xx" with AH. Built
 * with the host assembler and objcopy; addresses are 0x7c00 + the label's offset.
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

    mov $0x0202, %ax               /* read 2 sectors */
    mov $0x0002, %cx               /* cylinder 0, sector 2 */
    xor %dh, %dh                   /* head 0 */
    call read_and_sum
    mov $0x0203, %ax               /* read 3 sectors */
    mov $0x2810, %cx               /* cylinder 40, sector 16 */
    mov $1, %dh                    /* head 1 */
    call read_and_sum

    mov $0x0202, %ax               /* read 0/0/2 again, write it at 0/0/5 */
    mov $0x0002, %cx
    xor %dh, %dh
    call read_and_sum
    mov $0x0302, %ax
    mov $0x0005, %cx
    xor %dh, %dh
    call int13_retry
    mov $ABS(m_wrote), %si
    call puts
    jmp halt

/* int 13h read (AX, CX, DH as given) into BUFFER; print the word sum of AL sectors. */
read_and_sum:
    mov %al, ABS(count)
    call int13_retry
    mov $BUFFER, %di
    xor %cx, %cx
    mov ABS(count), %ch            /* 256 words per sector */
    mov $ABS(m_sum), %si
    jmp print_sum

/*
 * int 13h with AX, CX, DH as given on the boot drive into BUFFER; on an error "RETRY", a
 * disk reset and up to four more tries, as boot sectors do for floppies.
 */
int13_retry:
    mov %ax, ABS(req_ax)
    mov %cx, ABS(req_cx)
    mov %dh, ABS(req_dh)
    movb $5, ABS(tries)
6:  mov ABS(req_ax), %ax
    mov ABS(req_cx), %cx
    mov ABS(req_dh), %dh
    mov ABS(drive), %dl
    mov $BUFFER, %bx
    int $0x13
    jnc 7f
    decb ABS(tries)
    jz fail
    mov $ABS(m_retry), %si
    call puts
    xor %ax, %ax
    mov ABS(drive), %dl
    int $0x13
    jmp 6b
7:  ret

#include "bootsect-io.S"

m_boot:  .asciz "FBOOT\n"
m_sum:   .asciz "SUM "
m_wrote: .asciz "WROTE\n"
m_retry: .asciz "RETRY\n"
drive:   .byte 0
count:   .byte 0
tries:   .byte 0
req_dh:  .byte 0
req_ax:  .word 0
req_cx:  .word 0

    .org 510
    .word 0xaa55
