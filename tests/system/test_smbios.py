"""The SMBIOS tables the pc board hands SeaBIOS through fw_cfg (etc/smbios/smbios-anchor and
etc/smbios/smbios-tables), read through qtest from minivmm and from QEMU 7.2's stopped TCG
machine: byte for byte the same structures, except the machine version string (minivmm
says pc-i440fx-2.2) and the processor ID of type 4 (the host CPU's CPUID leaf 1 under minivmm,
TCG's qemu64 under QEMU). SeaBIOS copies such tables instead of building its own, which
saves about a second of emulated POST on this host (docs/performance.md).
"""

import struct

import pytest

from qtest import QTest


def fw_cfg_files(q):
    q.ok("outw 0x510 0x19")
    count = struct.unpack(">I", read_bytes(q, 4))[0]
    files = {}
    for _ in range(count):
        entry = read_bytes(q, 64)
        size, key = struct.unpack(">IH", entry[:6])
        files[entry[8:].split(b"\0")[0].decode()] = (size, key)
    return files


def read_bytes(q, n):
    return bytes(int(q.ok("inb 0x511"), 16) for _ in range(n))


def read_file(q, files, name):
    size, key = files[name]
    q.ok(f"outw 0x510 {key:#x}")
    return read_bytes(q, size)


def structures(tables):
    """(type, formatted area, strings) for each structure."""
    out, pos = [], 0
    while pos < len(tables):
        length = tables[pos + 1]
        end = tables.index(b"\0\0", pos + length) + 2
        strings = tables[pos + length:end].rstrip(b"\0").split(b"\0")
        out.append((tables[pos], tables[pos:pos + length], strings))
        pos = end
    return out


def normalise(structs):
    norm = []
    for stype, area, strings in structs:
        if stype == 4:
            area = area[:8] + bytes(8) + area[16:]  # processor ID
        strings = [b"VERSION" if s.startswith(b"pc-i440fx-") else s for s in strings]
        norm.append((stype, area, strings))
    return norm


def smbios(start, args):
    q = start(args)
    try:
        files = fw_cfg_files(q)
        return (read_file(q, files, "etc/smbios/smbios-anchor"),
                read_file(q, files, "etc/smbios/smbios-tables"))
    finally:
        q.close()


@pytest.mark.parametrize("args", [["-m", "128"], ["-m", "5G", "-smp", "2"],
                                  ["-m", "17G", "-smp", "3"]], ids=["128M", "5G-2cpu", "17G-3cpu"])
def test_tables_match_qemu(args):
    m_anchor, m_tables = smbios(QTest.minivmm, args)
    # minivmm's -smp N is N one-core sockets (QEMU 2.2's default); QEMU 7.2 prefers cores.
    cpus = args[args.index("-smp") + 1] if "-smp" in args else "1"
    q_anchor, q_tables = smbios(QTest.qemu, args + ["-machine", "pc-i440fx-7.2", "-smp",
                                                    f"{cpus},sockets={cpus},cores=1"])
    m_structs, q_structs = structures(m_tables), structures(q_tables)
    assert [s[0] for s in m_structs] == [s[0] for s in q_structs]
    assert normalise(m_structs) == normalise(q_structs)
    # Entry point: the same apart from the lengths the version strings change.
    assert len(m_anchor) == 31 and m_anchor[:4] == b"_SM_" and m_anchor[16:21] == b"_DMI_"
    assert struct.unpack_from("<H", m_anchor, 22)[0] == len(m_tables)
    assert m_anchor[28] == q_anchor[28] and m_anchor[30] == q_anchor[30] == 0x28  # count, BCD
    max_size = max(len(area) + len(b"\0".join(strings)) + 2 for _, area, strings in m_structs)
    assert struct.unpack_from("<H", m_anchor, 8)[0] == max_size

