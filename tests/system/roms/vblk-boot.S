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

    xor %bx, %bx
    mov $BUFFER, %si
    mov $512, %cx
1:  lodsw
    add %ax, %bx
    loop 1b
    mov $ABS(m_sum), %si
    call puts
    mov %bx, %ax
    call puthex16
    mov $ABS(m_nl), %si
    call puts

    movw $3, ABS(dap_lba)          /* extended write: the same sectors at LBA 3 */
    mov $0x4300, %ax
    mov ABS(drive), %dl
    mov $ABS(dap), %si
    int $0x13
    jc fail
    mov $ABS(m_wrote), %si
    call puts
halt:
    hlt
    jmp halt

fail:
    mov %ah, %bl
    mov $ABS(m_fail), %si
    call puts
    mov %bl, %al
    xor %ah, %ah
    call puthex16
    mov $ABS(m_nl), %si
    call puts
    jmp halt

/* Print the NUL-terminated string at %si. */
puts:
    mov $DEBUGCON, %dx
2:  lodsb
    test %al, %al
    jz 3f
    out %al, %dx
    jmp 2b
3:  ret

/* Print %ax as four hex digits. */
puthex16:
    mov $4, %cx
    mov %ax, %bx
    mov $DEBUGCON, %dx
4:  rol $4, %bx
    mov %bl, %al
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 5f
    add $('a' - '0' - 10), %al
5:  out %al, %dx
    loop 4b
    ret

m_boot:  .asciz "VBOOT\n"
m_sum:   .asciz "SUM "
m_wrote: .asciz "WROTE\n"
m_fail:  .asciz "FAIL "
m_nl:    .asciz "\n"
drive:   .byte 0
    .balign 4
dap:     .byte 16, 0
         .word 2                   /* sectors */
         .word BUFFER, 0           /* offset, segment */
dap_lba: .quad 1

    .org 510
    .word 0xaa55
