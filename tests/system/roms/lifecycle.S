/*
 * A 64 KiB firmware image for machine life-cycle tests, run from the reset vector in real
 * mode. Each boot increments a counter in CMOS byte 0x40 (it survives a reset), prints
 * "BOOT n" on the debug console (0x402), then on the first boot resets the machine the way
 * RESET_METHOD selects, and on the second boot powers off through the PIIX4 PM
 * (PMBA=0x600, PM1a_CNT=SLP_EN|SLP_TYP 0).
 */
    .code16
    .text
    .globl _start
_start:
    cli
    mov $0x40, %al
    out %al, $0x70
    in $0x71, %al
    inc %al
    mov %al, %bl
    mov $0x40, %al
    out %al, $0x70
    mov %bl, %al
    out %al, $0x71

    mov $0x402, %dx
    mov $'B', %al
    out %al, %dx
    mov $'O', %al
    out %al, %dx
    out %al, %dx
    mov $'T', %al
    out %al, %dx
    mov $' ', %al
    out %al, %dx
    mov %bl, %al
    add $'0', %al
    out %al, %dx
    mov $'\n', %al
    out %al, %dx

    cmp $2, %bl
    jae poweroff

#if defined(RESET_CF9)
    mov $0xcf9, %dx
    mov $0x02, %al
    out %al, %dx
    mov $0x06, %al
    out %al, %dx
#elif defined(RESET_PORT92)
    in $0x92, %al
    or $0x01, %al
    out %al, $0x92
#elif defined(RESET_I8042)
    mov $0xfe, %al
    out %al, $0x64
#elif defined(RESET_TRIPLE_FAULT)
    /* Protected mode with an empty IDT: the #UD cannot be delivered -> triple fault. */
    lgdtl %cs:gdt_desc
    lidtl %cs:empty_idt
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $0xffff0000 + pm32
#endif
hang:
    hlt
    jmp hang

poweroff:
    mov $0x80000b40, %eax      /* 00:01.3 config 0x40: PMBA */
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0x00000601, %eax
    mov $0xcfc, %dx
    out %eax, %dx
    mov $0x80000b80, %eax      /* 00:01.3 config 0x80: PMREGMISC, I/O enable */
    mov $0xcf8, %dx
    out %eax, %dx
    mov $0x01, %al
    mov $0xcfc, %dx
    out %al, %dx
    mov $0x604, %dx            /* PM1a_CNT: SLP_EN, sleep type 0 */
    mov $0x2000, %ax
    out %ax, %dx
    jmp hang

empty_idt:
    .word 0
    .long 0

    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff   /* flat 32-bit code */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long 0xffff0000 + gdt

    .code32
pm32:
    ud2
    .code16

    .org 0xfff0
    jmp _start
    .org 0x10000
