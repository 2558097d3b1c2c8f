"""Direct kernel boot (-kernel/-initrd/-append) under minivmm and QEMU.

Multiboot: the test payload's core binary (tests/guest/payload.mb, a.out kludge) and ELF32/
ELF64 wrappings of it built here. Linux: tests/guest/bzImage, the payload behind a boot
protocol 2.10 header (minivmm fills boot_params itself; QEMU runs its real-mode setup over
SeaBIOS). The payload's `bootinfo` scenario prints what it received; it checks the initrd
placement rules itself (page-aligned, below initrd_addr_max, clear of the kernel). Both VMMs
must agree on what the protocols define (command line, modules, initrd contents); memory maps
are checked against the protocol, since under QEMU they come from SeaBIOS (which reserves BIOS
areas) and under minivmm from the board's e820 table.
"""

import re
import struct

import pytest

import vm as vmlib

PAYLOAD_MB = vmlib.REPO_ROOT / "tests" / "guest" / "payload.mb"
BZIMAGE = vmlib.REPO_ROOT / "tests" / "guest" / "bzImage"
MB_MAGIC = 0x1BADB002
LOAD_ADDR = 0x100000


def kernel_args(kernel, scenario="bootinfo", mem="256", extra=()):
    if not PAYLOAD_MB.exists():
        pytest.fail(f"{PAYLOAD_MB} not built: run `make`", pytrace=False)
    return ["-kernel", kernel, "-m", mem,
            "-fw_cfg", f"name=opt/minivmm/args,string={scenario}", *extra]


def boot(make_vm, backend, args):
    vm = make_vm(args, backend=backend, name=backend, debugcon=False)
    status = vm.wait_exit(30)
    text = vm.serial_text().replace("\r\n", "\n")
    assert status == 0, f"{backend} exited with {status}\n{vm.describe(vm.serial_log)}"
    assert text.startswith("READY\n") and text.endswith("PASS\n"), text
    return text


def mb_header(core):
    off = core.index(struct.pack("<I", MB_MAGIC))
    return off, struct.unpack_from("<8I", core, off)


def elf_wrap(core, elf64):
    """core as an ELF kernel: one PT_LOAD at 1 MiB, Multiboot header without the kludge."""
    off, (magic, flags, _, _, _, _, bss_end, _) = mb_header(core)
    flags &= ~0x10000
    core = bytearray(core)
    struct.pack_into("<3I", core, off, magic, flags, -(magic + flags) & 0xffffffff)
    data_off, memsz = 0x1000, bss_end - LOAD_ADDR
    if elf64:
        ident = b"\x7fELF\x02\x01\x01" + bytes(9)
        ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, LOAD_ADDR, 64, 0, 0, 64, 56, 1,
                                   64, 0, 0)
        phdr = struct.pack("<IIQQQQQQ", 1, 7, data_off, LOAD_ADDR, LOAD_ADDR, len(core), memsz,
                           0x1000)
    else:
        ident = b"\x7fELF\x01\x01\x01" + bytes(9)
        ehdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, LOAD_ADDR, 52, 0, 0, 52, 32, 1,
                                   40, 0, 0)
        phdr = struct.pack("<IIIIIIII", 1, data_off, LOAD_ADDR, LOAD_ADDR, len(core), memsz, 7,
                           0x1000)
    head = ehdr + phdr
    return head + bytes(data_off - len(head)) + bytes(core)


def field(text, name):
    match = re.search(rf"^MB .*\b{name} (\d+)", text, re.MULTILINE)
    assert match, f"no MB {name} in:\n{text}"
    return int(match.group(1))


def compared(text):
    """The lines the Multiboot protocol defines the same way for any loader."""
    return [l for l in text.splitlines() if l.startswith(("MB cmdline", "MB mods", "MB mod "))]


def test_multiboot_same_under_both(make_vm, tmp_path):
    mods = [tmp_path / "initrd.img", tmp_path / "second.img"]
    mods[0].write_bytes(b"initial ram disk\n" * 300)
    mods[1].write_bytes(bytes(range(256)) * 17)
    extra = ["-append", "console=ttyS0 a=1", "-initrd", f"{mods[0]} first arg,{mods[1]}"]
    texts = {b: boot(make_vm, b, kernel_args(PAYLOAD_MB, extra=extra)) for b in ("minivmm", "qemu")}
    assert compared(texts["minivmm"]) == compared(texts["qemu"])
    mine = texts["minivmm"]
    assert f"MB cmdline '{PAYLOAD_MB} console=ttyS0 a=1'" in mine
    assert "MB mods 2" in mine
    assert f"page_aligned 1 size 5100 " in mine and f"string '{mods[0]} first arg'" in mine
    assert field(mine, "mem_lower") == 640
    assert field(mine, "mem_upper") == (256 - 1) * 1024
    for text in texts.values():
        assert field(text, "mem_lower") <= 640
        assert field(text, "mem_upper") <= (256 - 1) * 1024


def test_multiboot_mmap_is_board_e820(make_vm):
    text = boot(make_vm, "minivmm", kernel_args(PAYLOAD_MB, mem="5G"))
    assert re.findall(r"^MMAP .*$", text, re.MULTILINE) == [
        "MMAP 0x0000000000000000 0x00000000c0000000 1",
        "MMAP 0x0000000100000000 0x0000000080000000 1",
        "MMAP 0x00000000feffc000 0x0000000000004000 2",
    ]
    assert field(text, "mem_upper") == 0xc0000000 // 1024 - 1024


@pytest.mark.parametrize("elf64", [False, True], ids=["elf32", "elf64"])
def test_multiboot_elf(make_vm, tmp_path, elf64):
    kernel = tmp_path / "payload.elf"
    kernel.write_bytes(elf_wrap(PAYLOAD_MB.read_bytes(), elf64))
    backends = ("minivmm",) if elf64 else ("minivmm", "qemu")  # QEMU refuses 64-bit ELF
    for backend in backends:
        text = boot(make_vm, backend, kernel_args(kernel, extra=["-append", "x"]))
        assert f"MB cmdline '{kernel} x'" in text


def test_multiboot_scenarios_run(make_vm):
    text = boot(make_vm, "minivmm", kernel_args(PAYLOAD_MB, scenario="echo from multiboot"))
    assert "ARG 1 from\nARG 2 multiboot\n" in text


def test_kernel_errors_as_qemu(run_expect_fail, tmp_path, vmm):
    status, err = run_expect_fail(["-kernel", "/nonexistent/kernel"])
    prog = "minivmm" if vmm == "minivmm" else "qemu"
    assert status == 1
    assert f"{prog}: could not load kernel '/nonexistent/kernel': No such file or directory" in err


@pytest.mark.parametrize("opt", ["-initrd", "-append"])
def test_initrd_append_need_kernel(run_expect_fail, opt):
    status, err = run_expect_fail([opt, "x"])
    assert status == 1
    assert f"{opt} only allowed with -kernel option" in err


def test_not_multiboot_refused(tmp_path):
    kernel = tmp_path / "junk"
    kernel.write_bytes(bytes(4096))
    status, err = vmlib.run_expect_fail(["-kernel", kernel], backend="minivmm")
    assert status == 1
    assert f"minivmm: could not load kernel '{kernel}': neither a Multiboot kernel nor a Linux bzImage" in err


def linux_compared(text):
    return [l for l in text.splitlines() if l.startswith(("LINUX cmdline", "LINUX ramdisk"))]


def e820(text):
    return re.findall(r"^LINUX e820 (.*)$", text, re.MULTILINE)


@pytest.mark.parametrize("mem", ["256M", "5G"])
def test_bzimage_same_under_both(make_vm, tmp_path, mem):
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(bytes(range(251)) * 1000)
    extra = ["-append", "console=ttyS0 root=/dev/vda quiet", "-initrd", initrd]
    texts = {b: boot(make_vm, b, kernel_args(BZIMAGE, mem=mem, extra=extra))
             for b in ("minivmm", "qemu")}
    assert linux_compared(texts["minivmm"]) == linux_compared(texts["qemu"])
    assert "LINUX cmdline 'console=ttyS0 root=/dev/vda quiet'" in texts["minivmm"]
    assert "LINUX ramdisk size 251000 " in texts["minivmm"]
    assert "BOOT linux type_of_loader ff" in texts["minivmm"]
    low = "0x0000000010000000" if mem == "256M" else "0x00000000c0000000"
    expected = [f"0x0000000000000000 {low} 1"]
    if mem == "5G":
        expected.append("0x0000000100000000 0x0000000080000000 1")
    assert e820(texts["minivmm"]) == expected + ["0x00000000feffc000 0x0000000000004000 2"]
    if mem == "5G":
        assert "0x0000000100000000 0x0000000080000000 1" in e820(texts["qemu"])


def test_bzimage_without_initrd_or_append(make_vm):
    text = boot(make_vm, "minivmm", kernel_args(BZIMAGE))
    assert "LINUX cmdline ''" in text and "LINUX ramdisk" not in text


def test_bzimage_initrd_too_large(tmp_path):
    initrd = tmp_path / "huge.img"
    initrd.write_bytes(b"")
    with open(initrd, "wb") as f:
        f.truncate(300 << 20)
    status, err = vmlib.run_expect_fail(["-kernel", BZIMAGE, "-initrd", initrd, "-m", "256"],
                                        backend="minivmm")
    assert status == 1
    assert f"could not load kernel '{BZIMAGE}': initial ram disk '{initrd}' does not fit" in err


@pytest.mark.parametrize("kernel", [PAYLOAD_MB, BZIMAGE], ids=["multiboot", "bzimage"])
def test_reset_boots_kernel_again(make_vm, kernel):
    text = boot(make_vm, "minivmm", kernel_args(kernel, scenario="reboot"))
    assert text == "READY\nBOOT 1\nREADY\nBOOT 2\nPASS\n"


@pytest.mark.parametrize("kernel", [PAYLOAD_MB, BZIMAGE], ids=["multiboot", "bzimage"])
def test_firmware_setup_same_under_both(make_vm, tmp_path, kernel):
    """No firmware runs before a -kernel boot on minivmm, so the VMM leaves what SeaBIOS
    leaves under QEMU: BARs assigned and decoding, PIRQ routing and INTERRUPT_LINE, and an MP
    table routing each PCI pin to the same I/O APIC input. The payload only looks."""
    extra = []
    for slot in (3, 4, 5, 6):
        disk = tmp_path / f"d{slot}.img"
        disk.write_bytes(bytes(1 << 20))
        extra += ["-drive", f"if=none,id=d{slot},file={disk},format=raw",
                  "-device", f"virtio-blk-pci,drive=d{slot},addr={slot:#x}"]
    texts = {b: boot(make_vm, b, kernel_args(kernel, scenario="fwsetup", extra=extra))
             for b in ("minivmm", "qemu")}
    assert texts["minivmm"] == texts["qemu"]
    lines = texts["minivmm"].splitlines()
    assert "BARS 13 assigned, aligned, decoding, disjoint" in lines
    assert "MP cpus 1 ioapics 1 pci-bus yes" in lines
    assert "ELCR 0c00" in lines
    assert "IRQ 01.3 pin A line 9 pirq-route 10 mp 9" in lines
    assert [l for l in lines if l.startswith("IRQ 0") and not l.startswith("IRQ 01")] == [
        "IRQ 03.0 pin A line 11 pirq-route 11 mp 11",
        "IRQ 04.0 pin A line 11 pirq-route 11 mp 11",
        "IRQ 05.0 pin A line 10 pirq-route 10 mp 10",
        "IRQ 06.0 pin A line 10 pirq-route 10 mp 10",
    ]


def test_firmware_setup_lists_every_cpu(make_vm):
    text = boot(make_vm, "minivmm", kernel_args(PAYLOAD_MB, scenario="fwsetup",
                                                extra=["-smp", "4"]))
    assert "MP cpus 4 ioapics 1 pci-bus yes" in text.splitlines()
