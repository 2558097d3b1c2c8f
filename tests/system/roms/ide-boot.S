/*
 * A boot program for SeaBIOS's ATA/ATAPI driver. As an MBR (default build) it prints
 * "IBOOT <id>" on the debug console (0x402), reads 4 sectors at C/H/S 0/1/1 with int 13h
 * AH=02h and prints their 16-bit word sum ("CHS xxxx"), reads the same sectors as LBA 63
 * with AH=42h ("LBA xxxx"), writes the first of them to LBA 200 with AH=43h ("WROTE") and
 * prints "DONE". Built with -DCDROM it is an El Torito no-emulation boot image: it reads
 * two 2048-byte sectors at LBA 24 with AH=42h ("CD xxxx") and prints "DONE". Any int 13h
 * failure prints "FAIL xx" with AH. <id> is the byte at offset ID_OFFSET, patched by the
 * test to tell two boot disks apart. Addresses are 0x7c00 plus the label's offset, so the
 * unlinked object's .text is the image.
 */
#define ABS(label) ((label) - _start + 0x7c00)
#define DEBUGCON 0x402
#define BUF_SEG 0x1000                 /* 0x10000: CHS buffer, 0x14000: LBA/CD buffer */
#define ID_OFFSET 0x1b0

    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    sti
    mov %dl, ABS(drive)
    mov $ABS(m_boot), %si
    call puts
    mov ABS(_start + ID_OFFSET), %al
    call putc
    call newline

#ifdef CDROM
    movw $2, ABS(dap_count)
    movl $24, ABS(dap_lba)
    call read_lba
    mov $ABS(m_cd), %si
    mov $2048, %cx                     /* words in 2 x 2048 bytes */
    call print_buf_sum
#else
    mov $0x0204, %ax                   /* AH=02h read, AL=4 sectors */
    mov $0x0001, %cx                   /* cylinder 0, sector 1 */
    mov $0x01, %dh                     /* head 1: LBA 63 with 63 sectors per track */
    mov ABS(drive), %dl
    push %es
    mov $BUF_SEG, %bx
    mov %bx, %es
    xor %bx, %bx
    int $0x13
    pop %es
    jc fail
    mov $ABS(m_chs), %si
    mov $1024, %cx
    xor %di, %di
    call print_buf_sum_at

    call read_lba
    mov $ABS(m_lba), %si
    mov $1024, %cx
    call print_buf_sum

    movw $1, ABS(dap_count)            /* write the first sector read to LBA 200 */
    movl $200, ABS(dap_lba)
    mov $0x4300, %ax
    mov ABS(drive), %dl
    mov $ABS(dap), %si
    int $0x13
    jc fail
    mov $ABS(m_wrote), %si
    call puts
#endif
    mov $ABS(m_done), %si
    call puts
    jmp halt

/* int 13h AH=42h with the DAP as it stands. */
read_lba:
    mov $0x42, %ah
    mov ABS(drive), %dl
    mov $ABS(dap), %si
    int $0x13
    jc fail
    ret

/* Print the label at %si and the word sum of %cx words at BUF_SEG:0x4000 ... */
print_buf_sum:
    mov $0x4000, %di
/* ... or at BUF_SEG:%di. */
print_buf_sum_at:
    push %es
    mov $BUF_SEG, %ax
    mov %ax, %es
    call print_sum
    pop %es
    ret

#include "bootsect-io.S"

drive:
    .byte 0
    .p2align 2
dap:
    .byte 16, 0
dap_count:
    .word 4
    .word 0x4000, BUF_SEG              /* offset, segment */
dap_lba:
    .quad 63

m_boot:  .asciz "IBOOT "
m_chs:   .asciz "CHS "
m_lba:   .asciz "LBA "
m_cd:    .asciz "CD "
m_wrote: .asciz "WROTE\n"
m_done:  .asciz "DONE\n"

    .org ID_OFFSET
    .byte '?'
    .org 510
    .byte 0x55, 0xaa
