/*
 * The payload as a 128 KiB firmware image (-bios): the core binary at the start, reset code
 * in the last 64 KiB. From the reset vector it switches to 32-bit protected mode, copies the
 * core to 1 MiB and jumps to its 32-bit entry with EAX = EBX = ESI = 0. Nothing else runs
 * before the payload: there is no BIOS.
 */
#define ROM_BASE    0xfffe0000
#define CORE_LOAD   0x100000

    .section .text, "ax"
    .code16
core:
    .incbin CORE_BIN
core_end:

    .org 0x10000
seg_start:                      /* CS base at the reset vector: 0xffff0000 */
reset16:
    cli
    cld
    lgdtl %cs:(gdt_desc - seg_start)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $pm32

    .code32
pm32:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov $core, %esi
    mov $CORE_LOAD, %edi
    mov $((core_end - core + 3) / 4), %ecx
    rep movsl
    xor %eax, %eax
    xor %ebx, %ebx
    xor %esi, %esi
    mov $CORE_LOAD, %ecx
    jmp *%ecx

    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff    /* flat 32-bit code */
    .quad 0x00cf93000000ffff    /* flat data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

    .org 0x1fff0
    .code16
    jmp reset16
    .org 0x20000
