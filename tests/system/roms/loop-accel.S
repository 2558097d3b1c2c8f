/*
 * A 64 KiB firmware image for the firmware loop acceleration test (hw/kvm/loop-accel.c),
 * run from the reset vector: it enters 32-bit flat protected mode (paging off), runs the
 * four loop idioms over large blocks of RAM, checks the bytes at each block's edges and the
 * registers each loop leaves, and prints "LOOPS OK" (or "LOOPS BAD n", n the failed check)
 * on the debug console (0x402), then halts. SIZE (bytes, a multiple of 4) scales the blocks:
 *   rep stosb  SIZE bytes of 0xa5 at 1 MiB
 *   fill loop  SIZE bytes of 0x5a at 1 MiB + SIZE (gcc's byte memset, exactly as compiled)
 *   rep movsl  SIZE/2 bytes from 1 MiB to 1 MiB + 2*SIZE
 *   sum loop   the bytes from 1 MiB + 1 to 1 MiB + 2*SIZE into CL (gcc's checksum loop)
 */
#ifndef SIZE
#define SIZE 0x400000
#endif
#define A (0x100000)
#define B (A + SIZE)
#define C (A + 2 * SIZE)

    .code16
    .text
    .globl _start
_start:
    cli
    lgdtl %cs:gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $0xffff0000 + pm32

    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff   /* flat 32-bit code */
    .quad 0x00cf93000000ffff   /* flat 32-bit data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long 0xffff0000 + gdt

    .code32
pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x8000, %esp
    cld

    mov $A, %edi                /* 1: rep stosb */
    mov $SIZE, %ecx
    mov $0xa5, %al
    rep stosb
    mov $1, %bl
    test %ecx, %ecx
    jnz bad
    cmp $B, %edi
    jne bad

    mov $B, %eax                /* 2: the fill loop */
    mov $SIZE, %edx
1:  test %edx, %edx
    je 2f
    dec %edx
    movb $0x5a, (%eax,%edx,1)
    jmp 1b
2:  mov $2, %bl
    cmp $B, %eax
    jne bad

    mov $A, %esi                /* 3: rep movsl */
    mov $C, %edi
    mov $SIZE / 8, %ecx
    rep movsl
    mov $3, %bl
    test %ecx, %ecx
    jnz bad
    cmp $A + SIZE / 2, %esi
    jne bad
    cmp $C + SIZE / 2, %edi
    jne bad

    mov $4, %bl                 /* the edges of each block */
    cmpb $0, A - 1
    jne bad
    cmpb $0xa5, A
    jne bad
    cmpb $0xa5, B - 1
    jne bad
    mov $5, %bl
    cmpb $0x5a, B
    jne bad
    cmpb $0x5a, C - 1
    jne bad
    mov $6, %bl
    cmpl $0xa5a5a5a5, C
    jne bad
    cmpl $0xa5a5a5a5, C + SIZE / 2 - 4
    jne bad
    cmpb $0, C + SIZE / 2
    jne bad

    mov $A + 1, %eax            /* 4: the byte-sum loop; SIZE is a multiple of 256 */
    mov $C, %edx
    mov $0x12345600, %ecx
1:  cmp %edx, %eax
    je 2f
    add (%eax), %cl
    inc %eax
    jmp 1b
2:  mov $7, %bl
    cmp $0x12345600 + 0x5b, %ecx      /* (SIZE-1) * 0xa5 + SIZE * 0x5a = -0xa5 mod 256 */
    jne bad
    cmp $C, %eax
    jne bad

    mov $msg_ok, %esi
    call print
    jmp halt

bad:
    mov $msg_bad, %esi
    call print
    mov %bl, %al
    add $'0', %al
    mov $0x402, %dx
    out %al, %dx
    mov $'\n', %al
    out %al, %dx
halt:
    hlt
    jmp halt

/* Print the NUL-terminated string at %esi (an offset in this ROM) on port 0x402. */
print:
    add $0xffff0000, %esi
    mov $0x402, %dx
3:  lodsb
    test %al, %al
    jz 4f
    out %al, %dx
    jmp 3b
4:  ret

msg_ok:
    .asciz "LOOPS OK\n"
msg_bad:
    .asciz "LOOPS BAD "

    .code16
    .org 0xfff0
    jmp _start
    .org 0x10000
