/*
 * Payload entry: from 32-bit protected mode (paging off, flat segments) or from 64-bit mode
 * with an identity map (Linux startup_64), build our own page tables (low 1 GiB and the
 * 3-4 GiB PCI/MMIO window, user-accessible), enter long mode, and drop to CPL3 with IOPL 3
 * by iretq. Everything after that runs in user mode, natively even where KVM emulates guest
 * kernel mode; this file is the only kernel-mode code of the payload, kept to a few thousand
 * instructions. No IDT: interrupts stay off, and a fault ends the run in a triple fault.
 *
 * Entry registers: EAX = 0x2BADB002 and EBX = info (Multiboot), ESI = boot_params (Linux),
 * all zero from the ROM wrapper. The Multiboot header below makes the raw core binary a
 * Multiboot kernel (loaded at 1 MiB by its a.out-kludge addresses).
 */
#define PT_PML4     0x70000
#define PT_PDPT     0x71000
#define PT_PD0      0x72000     /* 0 - 1 GiB */
#define PT_PD3      0x73000     /* 3 - 4 GiB, uncached */
#define STACK_TOP   0x80000
#define PDE_RAM     0x87        /* present, writable, user, 2 MiB */
#define PDE_MMIO    0x9f        /* the same, plus PWT and PCD */
#define SEL_KCODE   0x08
#define SEL_KDATA   0x10
#define SEL_UCODE   (0x18 | 3)
#define SEL_UDATA   (0x20 | 3)
#define RFLAGS_IOPL3 0x3002

/* Fill PD0 and PD3 (512 entries each) and link them; `p` is the pointer register. */
.macro build_page_tables p
    mov $PT_PD0, \p
    mov $PDE_RAM, %eax
    mov $(0xc0000000 | PDE_MMIO), %edx
    mov $512, %ecx
1:  movl %eax, (\p)
    movl $0, 4(\p)
    movl %edx, 0x1000(\p)
    movl $0, 0x1004(\p)
    add $0x200000, %eax
    add $0x200000, %edx
    add $8, \p
    dec %ecx
    jnz 1b
    mov $PT_PML4, \p
    movl $(PT_PDPT | 7), (\p)
    movl $0, 4(\p)
    mov $PT_PDPT, \p
    movl $(PT_PD0 | 7), (\p)
    movl $0, 4(\p)
    movl $0, 8(\p)
    movl $0, 12(\p)
    movl $0, 16(\p)
    movl $0, 20(\p)
    movl $(PT_PD3 | 7), 24(\p)
    movl $0, 28(\p)
.endm

    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    mov %eax, boot_magic
    mov %ebx, boot_info
    mov %esi, boot_params
    build_page_tables %edi
    mov $PT_PML4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax              /* PAE */
    mov %eax, %cr4
    mov $0xc0000080, %ecx       /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax        /* PG, PE */
    mov %eax, %cr0
    lgdt gdt_desc
    ljmp $SEL_KCODE, $to_user

    /* Multiboot header, a.out kludge: core.bin is itself a Multiboot kernel. */
    .p2align 2
mb_header:
    .long 0x1badb002
    .long 0x00010003            /* page-aligned modules, memory info, load addresses */
    .long -(0x1badb002 + 0x00010003)
    .long mb_header
    .long __image_start
    .long __image_end
    .long __bss_end
    .long _start

    .org 0x200
    .code64
    .globl startup_64
startup_64:
    cli
    cld
    mov %esi, boot_params
    movl $1, boot_entry64
    build_page_tables %rdi
    mov $PT_PML4, %eax
    mov %rax, %cr3
    lgdt gdt_desc

to_user:
    mov $SEL_KDATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov $STACK_TOP, %esp        /* the frame for iretq; user mode reuses it */
    pushq $SEL_UDATA
    pushq $STACK_TOP
    pushq $RFLAGS_IOPL3
    pushq $SEL_UCODE
    pushq $user_start
    iretq

user_start:
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    call payload_main
2:  jmp 2b

    .section .data
    .globl boot_magic, boot_info, boot_params, boot_entry64
    .p2align 3
boot_magic:  .long 0
boot_info:   .long 0
boot_params: .long 0
boot_entry64: .long 0           /* 1: entered at startup_64 */
    .p2align 3
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* kernel code, 64-bit */
    .quad 0x00cf92000000ffff    /* kernel data */
    .quad 0x00affa000000ffff    /* user code, 64-bit */
    .quad 0x00cff2000000ffff    /* user data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .quad gdt
