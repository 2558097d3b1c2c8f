/*
 * Routines shared by the boot sectors (ide-boot.S, floppy-boot.S, vblk-boot.S), #included
 * after their code. The includer defines ABS() (0x7c00 + a label's offset) and DEBUGCON.
 *   halt            hlt forever
 *   fail            print "FAIL xx" (xx = AH) and halt
 *   print_sum       print the label at %si, the 16-bit word sum of %cx words at %es:%di
 *                   and a newline
 *   puts            the NUL-terminated string at %si; putc: %al; newline
 *   puthex16/8/4    %ax / %al / the low nibble of %al in hex
 */
halt:
    hlt
    jmp halt

fail:
    mov %ah, %bl
    mov $ABS(m_fail), %si
    call puts
    mov %bl, %al
    call puthex8
    call newline
    jmp halt

print_sum:
    xor %bx, %bx
1:  add %es:(%di), %bx
    add $2, %di
    loop 1b
    call puts
    mov %bx, %ax
    call puthex16
    jmp newline

newline:
    mov $'\n', %al
putc:
    push %dx
    mov $DEBUGCON, %dx
    out %al, %dx
    pop %dx
    ret

puts:
    lodsb
    test %al, %al
    jz 1f
    call putc
    jmp puts
1:  ret

puthex16:
    push %ax
    mov %ah, %al
    call puthex8
    pop %ax
puthex8:
    push %ax
    shr $4, %al
    call puthex4
    pop %ax
puthex4:
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe putc
    add $('a' - '9' - 1), %al
    jmp putc

m_fail:  .asciz "FAIL "
