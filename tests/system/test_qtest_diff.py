"""Differential tests: the same qtest script against minivmm (qtest accelerator) and against
Debian's QEMU (stopped TCG machine), replies compared line by line. QEMU is the reference for
the pc machine's built-in PCI functions, fw_cfg's signature, ID and file directory format,
the CMOS fields both boards fill, and guest memory access.
"""

import struct

import pytest

from qtest import QTest

# 00:00.0 i440FX, 00:01.0 PIIX3, 00:01.1 PIIX3 IDE, 00:01.3 PIIX4 PM
PCI_FUNCTIONS = [0x00, 0x08, 0x09, 0x0b]


def replay(backend, script, args=("-m", "128")):
    with QTest.start(backend, args) as qt:
        return [qt.cmd(line) for line in script]


def compare(script, args=("-m", "128")):
    ours = replay("minivmm", script, args)
    ref = replay("qemu", script, args)
    diffs = [f"{line!r}: minivmm {a!r}, qemu {b!r}"
             for line, a, b in zip(script, ours, ref) if a != b]
    assert not diffs, "replies differ from QEMU's:\n" + "\n".join(diffs)


# Deliberate difference: PIIX4 DEVACTB (00:01.3, 0x58) has bit 25 set, as QEMU sets it when
# the machine has no SMM (ours never has); QEMU's TCG reference machine has SMM.
PCI_DELIBERATE = {(0x0b, 0x58)}


@pytest.mark.parametrize("devfn", PCI_FUNCTIONS)
def test_pci_config_space(devfn):
    script = []
    for off in range(0, 256, 4):
        if (devfn, off) not in PCI_DELIBERATE:
            script += [f"outl 0xcf8 {0x80000000 | devfn << 8 | off:#x}", "inl 0xcfc"]
    compare(script)


def test_pci_absent_function():
    compare(["outl 0xcf8 0x80001800", "inl 0xcfc", "inw 0xcfe", "inb 0xcfd"])


def test_fw_cfg_signature_and_id():
    script = ["outw 0x510 0x0"] + ["inb 0x511"] * 4 + ["outw 0x510 0x1"] + ["inb 0x511"] * 4
    script += ["outw 0x510 0x5", "inb 0x511", "inb 0x511"]  # NB_CPUS
    script += ["outw 0x510 0x3"] + ["inb 0x511"] * 8  # RAM_SIZE
    compare(script)


def fw_cfg_dir(backend):
    with QTest.start(backend, ["-m", "128"]) as qt:
        qt.outw(0x510, 0x19)
        count = struct.unpack(">I", bytes(qt.inb(0x511) for _ in range(4)))[0]
        files = {}
        for _ in range(count):
            raw = bytes(qt.inb(0x511) for _ in range(64))
            size, select = struct.unpack(">IH", raw[:6])
            files[raw[8:].rstrip(b"\0").decode()] = (size, select)
        return files


def test_fw_cfg_file_directory():
    ours, ref = fw_cfg_dir("minivmm"), fw_cfg_dir("qemu")
    # The format (count, 64-byte entries, name order, selectors from 0x20) must match; the
    # file sets differ (QEMU adds ACPI/SMBIOS tables and option ROMs we build elsewhere).
    assert sorted(ours) == list(ours) and sorted(ref) == list(ref)
    assert [sel for _, sel in ours.values()] == list(range(0x20, 0x20 + len(ours)))
    for name in ("etc/e820", "etc/boot-fail-wait", "bootorder"):
        assert name in ours and name in ref, name
        assert ours[name][0] == ref[name][0], f"{name}: size {ours[name][0]} vs {ref[name][0]}"


def test_cmos_nvram_fields():
    # Memory sizes, CPU count and boot order as both boards fill them.
    regs = [0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5b, 0x5c, 0x5d, 0x5f, 0x3d]
    script = []
    for r in regs:
        script += [f"outb 0x70 {r:#x}", "inb 0x71"]
    compare(script, ("-m", "5G", "-smp", "1"))


def test_guest_memory():
    script = ["writeq 0x10000 0x0123456789abcdef", "read 0x10000 8", "readl 0x10004",
              "memset 0x20000 16 0xa5", "b64read 0x20000 16", "write 0x30000 4 0xdeadbeef",
              "readw 0x30002", "readb 0x30003"]
    compare(script)
