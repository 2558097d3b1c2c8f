/*
 * The payload as a Linux bzImage (boot protocol 2.10): boot sector with the setup header,
 * one setup sector, then the core as the protected-mode kernel (loaded at 1 MiB; its offset 0
 * is the 32-bit entry, 0x200 startup_64). A VMM that follows the 32-bit protocol fills
 * boot_params itself and never runs the setup code. A loader that uses the real-mode
 * protocol (QEMU's linuxboot option ROM over SeaBIOS) jumps to the setup code at 0x200,
 * which plays the part of Linux's setup: it builds boot_params in its own segment at +0x1000
 * (the setup header, e820 from int 15h AX=E820h), switches to 32-bit protected mode and
 * enters code32_start with ESI = boot_params.
 */
#define SETUP_SECTS 1
#ifndef BOOT_VERSION
#define BOOT_VERSION 0x020a
#endif
#ifndef XLOADFLAGS
#define XLOADFLAGS  0           /* bzImage64: XLF_KERNEL_64, startup_64 at +0x200 */
#endif
#define BP_OFF      0x1000      /* boot_params, from the setup segment's base */
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE   0x2d0
#define SMAP        0x534d4150

    .section .text, "ax"
    .code16
    .org 0x1f1
setup_sects:        .byte SETUP_SECTS
root_flags:         .word 0
syssize:            .long (core_end - core + 15) / 16
ram_size:           .word 0
vid_mode:           .word 0
root_dev:           .word 0
boot_flag:          .word 0xaa55
    .org 0x200
    jmp setup16
header:             .ascii "HdrS"
version:            .word BOOT_VERSION
realmode_swtch:     .long 0
start_sys_seg:      .word 0x1000
kernel_version:     .word 0
type_of_loader:     .byte 0
loadflags:          .byte 0x01          /* LOADED_HIGH */
setup_move_size:    .word 0x8000
code32_start:       .long 0x100000
ramdisk_image:      .long 0
ramdisk_size:       .long 0
bootsect_kludge:    .long 0
heap_end_ptr:       .word 0
ext_loader_ver:     .byte 0
ext_loader_type:    .byte 0
cmd_line_ptr:       .long 0
initrd_addr_max:    .long 0x3fffffff    /* the payload maps the low 1 GiB */
kernel_alignment:   .long 0x200000
relocatable_kernel: .byte 0
min_alignment:      .byte 0
xloadflags:         .word XLOADFLAGS
cmdline_size:       .long 255
hardware_subarch:   .long 0
hardware_subarch_data: .quad 0
payload_offset:     .long 0
payload_length:     .long 0
setup_data:         .quad 0
pref_address:       .quad 0x100000
init_size:          .long INIT_SIZE         /* the core up to the end of its bss */
handover_offset:    .long 0
header_end:

setup16:
    cli
    cld
    mov %ds, %ax                /* the loader's setup segment; CS is that + 0x20 */
    mov %ax, %es
    /* Zero boot_params, then copy the setup header into it. */
    mov $BP_OFF, %di
    mov $0x1000, %cx
    xor %al, %al
    rep stosb
    mov $setup_sects, %si
    mov $(BP_OFF + 0x1f1), %di
    mov $(header_end - setup_sects), %cx
    rep movsb
    /* e820 from the BIOS. */
    mov $(BP_OFF + BP_E820_TABLE), %di
    xor %ebx, %ebx
1:  mov $0xe820, %eax
    mov $20, %ecx
    mov $SMAP, %edx
    int $0x15
    jc 2f
    cmp $SMAP, %eax
    jne 2f
    add $20, %di
    incb BP_OFF + BP_E820_ENTRIES
    cmpb $128, BP_OFF + BP_E820_ENTRIES
    je 2f
    test %ebx, %ebx
    jnz 1b
2:
    /* Linear addresses from the segment base: the GDT's, the 32-bit code's, boot_params'. */
    xor %eax, %eax
    mov %ds, %ax
    shl $4, %eax
    mov %eax, %esi
    add $BP_OFF, %esi
    add %eax, gdt_desc + 2
    add %eax, pm32_ptr
    lgdtl gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl *pm32_ptr

    .code32
pm32:
    mov $0x18, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs
    mov %eax, %gs
    mov %eax, %ss
    mov 0x214(%esi), %eax       /* code32_start, from the header copy */
    xor %ebx, %ebx
    jmp *%eax

    .p2align 3
gdt:
    .quad 0
    .quad 0
    .quad 0x00cf9b000000ffff    /* 0x10: flat 32-bit code */
    .quad 0x00cf93000000ffff    /* 0x18: flat data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt
pm32_ptr:
    .long pm32
    .word 0x10

    .org (SETUP_SECTS + 1) * 512
core:
    .incbin CORE_BIN
core_end:
