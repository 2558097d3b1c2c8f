/*
 * A 64 KiB firmware that shows whether the host's KVM delivers an interrupt that is pending
 * when real-mode code opens a short interrupt window, as SeaBIOS's floppy driver does while
 * it waits for IRQ 6 (check_irqs: "sti; nop; rep nop; cli"). It programs the PICs with only
 * IRQ 6 unmasked, resets the floppy controller through its DOR (which raises IRQ 6), then
 *   - opens 50000 such windows, stopping at the first interrupt, and prints "WINDOW n";
 *   - if none came, waits with "sti; hlt" and prints "HLT n";
 * where n is how many times the IRQ 6 handler ran. Then it powers off through the PIIX4 PM.
 * With -DTIMER the PIT ticks at 18.2 Hz on IRQ 0 meanwhile (counted at 0x502). Needs no disk:
 * the controller is on every pc machine.
 */
#define DEBUGCON 0x402
#define COUNTER 0x500
#define TICKS 0x502

    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7000, %sp
    movw $0, COUNTER
    /* IVT: IRQ 6 (vector 0x0e) counts, IRQ 7 (spurious, 0x0f) returns. */
    movw $(irq6 - _start), 0x0e * 4
    movw $0xf000, 0x0e * 4 + 2
    movw $(spurious - _start), 0x0f * 4
    movw $0xf000, 0x0f * 4 + 2
    movw $0, TICKS
    movw $(irq0 - _start), 0x08 * 4
    movw $0xf000, 0x08 * 4 + 2
    call lapic_virtual_wire

    /* PICs: master at vector 0x08, slave at 0x70, cascade on IRQ 2; only IRQ 6 open. */
    mov $0x11, %al
    out %al, $0x20
    out %al, $0xa0
    mov $0x08, %al
    out %al, $0x21
    mov $0x70, %al
    out %al, $0xa1
    mov $0x04, %al
    out %al, $0x21
    mov $0x02, %al
    out %al, $0xa1
    mov $0x01, %al
    out %al, $0x21
    out %al, $0xa1
#ifdef TIMER
    mov $0x34, %al             /* PIT channel 0, rate generator, 18.2 Hz as a BIOS sets it */
    out %al, $0x43
    xor %al, %al
    out %al, $0x40
    out %al, $0x40
    mov $0xbe, %al             /* IRQ 0 and IRQ 6 */
#else
    mov $0xbf, %al
#endif
    out %al, $0x21
    mov $0xff, %al
    out %al, $0xa1

    /* Floppy controller: DOR reset, then out of reset -> IRQ 6. */
    mov $0x3f2, %dx
    mov $0x08, %al
    out %al, %dx
    mov $0x0c, %al
    out %al, %dx

    mov $50000, %cx
1:  sti
    nop
    rep nop
    cli
    cmpw $0, COUNTER
    jne 2f
    loop 1b
2:  mov $'W', %al
    call report

    cmpw $0, COUNTER
    jne poweroff
    sti
    hlt
    cli
    mov $'H', %al
    call report

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
hang:
    hlt
    jmp hang

/* "WINDOW n\n" (al = 'W') or "HLT n\n" (al = 'H') on the debug console. */
report:
    mov $DEBUGCON, %dx
    cmp $'W', %al
    jne 3f
    mov $(m_window - _start), %si
    jmp 4f
3:  mov $(m_hlt - _start), %si
4:  mov %cs:(%si), %al
    test %al, %al
    jz 5f
    out %al, %dx
    inc %si
    jmp 4b
5:  mov COUNTER, %al
    add $'0', %al
    out %al, %dx
    mov $'\n', %al
    out %al, %dx
    ret

/*
 * The local APIC passes the PIC's interrupts only once LINT0 is ExtINT (at reset it is
 * masked): enable it as SeaBIOS's smp_scan does, through a flat %fs (big real mode).
 */
lapic_virtual_wire:
    lgdtl %cs:(gdt_desc - _start)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    mov $0x08, %bx
    mov %bx, %fs
    and $~1, %eax
    mov %eax, %cr0
    mov $0xfee000f0, %ebx      /* spurious vector register: enable, vector 0xff */
    mov $0x1ff, %eax
    addr32 mov %eax, %fs:(%ebx)
    mov $0xfee00350, %ebx      /* LINT0: ExtINT, level */
    mov $0x8700, %eax
    addr32 mov %eax, %fs:(%ebx)
    mov $0xfee00360, %ebx      /* LINT1: NMI */
    mov $0x8400, %eax
    addr32 mov %eax, %fs:(%ebx)
    ret

irq0:
    push %ax
    incw %ss:TICKS
    mov $0x20, %al
    out %al, $0x20
    pop %ax
    iret

irq6:
    push %ax
    incw %ss:COUNTER
    mov $0x20, %al
    out %al, $0x20
    pop %ax
    iret

spurious:
    iret

m_window: .asciz "WINDOW "
m_hlt:    .asciz "HLT "

    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf93000000ffff   /* flat 4 GiB data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long 0xf0000 + (gdt - _start)

    .org 0xfff0
    ljmp $0xf000, $(_start - _start)
    .org 0x10000
