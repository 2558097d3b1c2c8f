# The test payload (tests/guest/): a freestanding x86-64 program built with the host gcc and
# binutils. Included from the top-level Makefile; outputs:
#   tests/guest/payload.bin   128 KiB firmware image for -bios
#   tests/guest/payload.mb    Multiboot kernel for -kernel (the core binary: a.out kludge)
#   tests/guest/bzImage       Linux boot protocol 2.10 kernel for -kernel
GUEST_DIR := tests/guest
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Wshadow=local \
    -Wstrict-prototypes -Wmissing-prototypes -ffreestanding -nostdlib -mno-red-zone -fno-pic \
    -fno-pie -mgeneral-regs-only -mcmodel=small -fno-stack-protector -fcf-protection=none \
    -fno-asynchronous-unwind-tables -fno-strict-aliasing
GUEST_SRCS := $(wildcard $(GUEST_DIR)/*.c)
GUEST_OBJS := $(GUEST_SRCS:.c=.o) $(GUEST_DIR)/entry.o
GUEST_OUT := $(GUEST_DIR)/payload.bin $(GUEST_DIR)/payload.mb $(GUEST_DIR)/bzImage \
             $(GUEST_DIR)/bzImage64

$(GUEST_DIR)/%.o: $(GUEST_DIR)/%.c
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(GUEST_DIR)/entry.o: $(GUEST_DIR)/entry.S
	$(CC) -c -o $@ $<

$(GUEST_DIR)/core.elf: $(GUEST_OBJS) $(GUEST_DIR)/payload.ld
	$(LD) -nostdlib -static -z noexecstack --no-warn-rwx-segments -T $(GUEST_DIR)/payload.ld -o $@ $(GUEST_OBJS)

$(GUEST_DIR)/core.bin: $(GUEST_DIR)/core.elf
	objcopy -O binary $< $@

$(GUEST_DIR)/bios.o: $(GUEST_DIR)/bios.S $(GUEST_DIR)/core.bin
	$(CC) -m32 -c -DCORE_BIN='"$(GUEST_DIR)/core.bin"' -o $@ $<

$(GUEST_DIR)/payload.bin: $(GUEST_DIR)/bios.o $(GUEST_DIR)/bios.ld
	$(LD) -m elf_i386 --no-warn-rwx-segments -T $(GUEST_DIR)/bios.ld -o $(GUEST_DIR)/bios.elf $<
	objcopy -O binary $(GUEST_DIR)/bios.elf $@

$(GUEST_DIR)/payload.mb: $(GUEST_DIR)/core.bin
	cp $< $@

# init_size: from the load address to the end of the core's bss.
$(GUEST_DIR)/bzimage.o: $(GUEST_DIR)/bzimage.S $(GUEST_DIR)/core.bin
	end=$$(nm $(GUEST_DIR)/core.elf | awk '$$3 == "__bss_end" { print $$1 }') && \
	$(CC) -m32 -c -DCORE_BIN='"$(GUEST_DIR)/core.bin"' -DINIT_SIZE="0x$$end - 0x100000" \
	    -o $@ $<

$(GUEST_DIR)/bzImage: $(GUEST_DIR)/bzimage.o
	$(LD) -m elf_i386 --no-warn-rwx-segments -Ttext 0 -e 0 -o $(GUEST_DIR)/bzimage.elf $<
	objcopy -O binary -j .text $(GUEST_DIR)/bzimage.elf $@

# The same kernel with protocol 2.12's XLF_KERNEL_64: a loader may enter it at startup_64.
$(GUEST_DIR)/bzimage64.o: $(GUEST_DIR)/bzimage.S $(GUEST_DIR)/core.bin
	end=$$(nm $(GUEST_DIR)/core.elf | awk '$$3 == "__bss_end" { print $$1 }') && \
	$(CC) -m32 -c -DCORE_BIN='"$(GUEST_DIR)/core.bin"' -DINIT_SIZE="0x$$end - 0x100000" \
	    -DBOOT_VERSION=0x020c -DXLOADFLAGS=1 -o $@ $<

$(GUEST_DIR)/bzImage64: $(GUEST_DIR)/bzimage64.o
	$(LD) -m elf_i386 --no-warn-rwx-segments -Ttext 0 -e 0 -o $(GUEST_DIR)/bzimage64.elf $<
	objcopy -O binary -j .text $(GUEST_DIR)/bzimage64.elf $@

guest: $(GUEST_OUT)

guest-clean:
	rm -f $(GUEST_DIR)/*.o $(GUEST_DIR)/*.d $(GUEST_DIR)/*.elf $(GUEST_DIR)/*.bin \
	    $(GUEST_DIR)/*.mb $(GUEST_DIR)/bzImage $(GUEST_DIR)/bzImage64

.PHONY: guest guest-clean
-include $(GUEST_SRCS:.c=.d)
