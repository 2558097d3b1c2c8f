"""SeaBIOS boots from the PIIX3 IDE function, under minivmm and Debian's QEMU side by side.

The boot program (tests/system/roms/ide-boot.S) is SeaBIOS's ATA/ATAPI driver's client:
from an IDE disk (-hda) it reads four sectors through int 13h by CHS and again by extended
LBA read, prints both word sums on the debug console and writes one sector back with an
extended write, which the test finds in the image file; from an ATAPI CD-ROM (-cdrom, an
ISO 9660 image with an El Torito no-emulation boot entry, built here byte by byte) it reads
two 2048-byte sectors. -boot order= and bootindex pick between two bootable devices. Each
case runs under both VMMs and the program's output must be the same.
"""

import struct
import subprocess

import pytest

import vm as vmlib

ROM_SOURCE = vmlib.REPO_ROOT / "tests" / "system" / "roms" / "ide-boot.S"
BOOT_TIMEOUT = 90
SECTOR = 512
CD_SECTOR = 2048
DISK_SECTORS = 32768           # 16 MiB: geometry 32/16/63, no BIOS translation
ID_OFFSET = 0x1b0
OUR_LINES = ("IBOOT", "CHS", "LBA", "CD", "WROTE", "DONE", "FAIL")


def assemble(tmp_path, cdrom):
    name = "ide-boot-cd" if cdrom else "ide-boot"
    obj, out = tmp_path / f"{name}.o", tmp_path / f"{name}.bin"
    subprocess.run(["gcc", "-c", "-m32", "-x", "assembler-with-cpp", "-o", str(obj)] +
                   (["-DCDROM"] if cdrom else []) + [str(ROM_SOURCE)], check=True)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(obj), str(out)], check=True)
    data = bytearray(out.read_bytes())
    assert len(data) == SECTOR and data[510:] == b"\x55\xaa"
    return data


def pattern(first_sector, count, sector_size, seed):
    return bytes((s * 7 + i * 13 + seed) & 0xff
                 for s in range(first_sector, first_sector + count) for i in range(sector_size))


def word_sum(data):
    return sum(struct.unpack(f"<{len(data) // 2}H", data)) & 0xffff


def make_disk(tmp_path, name, boot, ident):
    sector0 = bytearray(boot)
    sector0[ID_OFFSET] = ord(ident)
    path = tmp_path / name
    with open(path, "wb") as f:
        f.write(sector0)
        f.write(pattern(1, 299, SECTOR, ord(ident)))
        f.truncate(DISK_SECTORS * SECTOR)
    return path


# ---- ISO 9660 with an El Torito boot catalog ----

def both_endian16(v):
    return struct.pack("<H", v) + struct.pack(">H", v)


def both_endian32(v):
    return struct.pack("<I", v) + struct.pack(">I", v)


def dir_record(lba, size, name):
    rec = bytearray(33 + len(name) + (len(name) + 1) % 2)
    rec[0] = len(rec)
    rec[2:10] = both_endian32(lba)
    rec[10:18] = both_endian32(size)
    rec[25] = 0x02                          # directory
    rec[28:32] = both_endian16(1)           # volume sequence number
    rec[32] = len(name)
    rec[33:33 + len(name)] = name
    return bytes(rec)


def primary_volume_descriptor(total, path_table_lba, root_lba):
    pvd = bytearray(CD_SECTOR)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[8:40] = b"MINIVMM".ljust(32)
    pvd[40:72] = b"IDEBOOT".ljust(32)
    pvd[80:88] = both_endian32(total)
    pvd[120:124] = both_endian16(1)         # volume set size
    pvd[124:128] = both_endian16(1)         # volume sequence number
    pvd[128:132] = both_endian16(CD_SECTOR)
    pvd[132:140] = both_endian32(10)        # path table size: the root only
    pvd[140:144] = struct.pack("<I", path_table_lba)
    pvd[148:152] = struct.pack(">I", path_table_lba + 1)
    pvd[156:190] = dir_record(root_lba, CD_SECTOR, b"\x00")
    pvd[190:318] = b" " * 128               # volume set identifier
    pvd[813:881] = b"0" * 16 + b"\x00" + b"0" * 16 + b"\x00" + b"0" * 16 + b"\x00" + \
        b"0" * 16 + b"\x00"                  # creation/modification/expiry/effective dates
    pvd[881] = 1                            # file structure version
    return bytes(pvd)


def boot_record(catalog_lba):
    br = bytearray(CD_SECTOR)
    br[0:7] = b"\x00CD001\x01"
    br[7:39] = b"EL TORITO SPECIFICATION".ljust(32, b"\x00")
    br[0x47:0x4b] = struct.pack("<I", catalog_lba)
    return bytes(br)


def boot_catalog(image_lba, load_sectors):
    validation = bytearray(32)
    validation[0] = 0x01                    # header ID
    validation[0x04:0x1c] = b"MINIVMM".ljust(24, b"\x00")
    validation[0x1e:0x20] = b"\x55\xaa"
    checksum = -sum(struct.unpack("<16H", bytes(validation))) & 0xffff
    validation[0x1c:0x1e] = struct.pack("<H", checksum)
    assert sum(struct.unpack("<16H", bytes(validation))) & 0xffff == 0
    initial = bytearray(32)
    initial[0] = 0x88                       # bootable
    initial[1] = 0x00                       # no emulation
    initial[2:4] = struct.pack("<H", 0)     # load segment 0: the default 0x7c0
    initial[6:8] = struct.pack("<H", load_sectors)  # virtual (512-byte) sectors
    initial[8:12] = struct.pack("<I", image_lba)
    return (bytes(validation) + bytes(initial)).ljust(CD_SECTOR, b"\x00")


def make_iso(tmp_path, boot, ident):
    """16 PVD, 17 boot record, 18 terminator, 19/20 path tables, 21 root directory,
    22 boot catalog, 23 boot image, 24.. patterned data."""
    total = 64
    image = bytearray(total * CD_SECTOR)

    def put(lba, data):
        image[lba * CD_SECTOR:lba * CD_SECTOR + len(data)] = data

    put(16, primary_volume_descriptor(total, 19, 21))
    put(17, boot_record(22))
    put(18, b"\xffCD001\x01")
    root_entry = b"\x01\x00" + struct.pack("<I", 21) + b"\x01\x00" + b"\x00\x00"
    put(19, root_entry)
    put(20, b"\x01\x00" + struct.pack(">I", 21) + b"\x01\x00" + b"\x00\x00")
    put(21, dir_record(21, CD_SECTOR, b"\x00") + dir_record(21, CD_SECTOR, b"\x01"))
    put(22, boot_catalog(23, 4))
    sector0 = bytearray(boot)
    sector0[ID_OFFSET] = ord(ident)
    put(23, sector0)
    put(24, pattern(24, total - 24, CD_SECTOR, ord(ident)))
    path = tmp_path / "boot.iso"
    path.write_bytes(bytes(image))
    return path, image


# ---- Running ----

def our_lines(text):
    return [line for line in text.splitlines() if line.split(" ")[0] in OUR_LINES]


def boot(make_vm, backend, args):
    vm = make_vm(["-m", "64"] + [str(a) for a in args], backend=backend, name=backend)
    vm.wait_debug(r"^DONE$|^FAIL ", BOOT_TIMEOUT)
    lines = our_lines(vm.debug_text())
    vm.kill()
    return lines


def run_both(make_vm, args_for):
    """args_for(backend) -> the VMM's arguments (fresh images each); the outputs."""
    return {b: boot(make_vm, b, args_for(b)) for b in vmlib.BACKENDS}


def test_boot_from_ide_disk(make_vm, tmp_path):
    boot_sector = assemble(tmp_path, cdrom=False)
    disks = {}

    def args(backend):
        (tmp_path / backend).mkdir()
        disks[backend] = make_disk(tmp_path / backend, "disk.img", boot_sector, "A")
        return ["-drive", f"file={disks[backend]},if=ide,index=0,format=raw"]

    outputs = run_both(make_vm, args)
    data = disks["minivmm"].read_bytes()
    expected = [
        "IBOOT A",
        f"CHS {word_sum(data[63 * SECTOR:67 * SECTOR]):04x}",
        f"LBA {word_sum(data[63 * SECTOR:67 * SECTOR]):04x}",
        "WROTE",
        "DONE",
    ]
    assert outputs["minivmm"] == expected, outputs
    assert outputs["qemu"] == outputs["minivmm"], outputs
    for backend, disk in disks.items():
        written = disk.read_bytes()
        assert written[200 * SECTOR:201 * SECTOR] == written[63 * SECTOR:64 * SECTOR], backend


def test_boot_from_atapi_cdrom(make_vm, tmp_path):
    boot_image = assemble(tmp_path, cdrom=True)
    iso, image = make_iso(tmp_path, boot_image, "C")
    outputs = run_both(make_vm, lambda backend: ["-cdrom", iso, "-boot", "order=d"])
    expected = ["IBOOT C", f"CD {word_sum(bytes(image[24 * CD_SECTOR:26 * CD_SECTOR])):04x}",
                "DONE"]
    assert outputs["minivmm"] == expected, outputs
    assert outputs["qemu"] == outputs["minivmm"], outputs


BOOT_CHOICES = {
    # -boot order=c: the first hard disk.
    "order-c": (["-drive", "file={a},if=ide,index=0,format=raw",
                 "-drive", "file={b},if=ide,index=1,format=raw", "-boot", "order=c"], "A"),
    # bootindex puts the slave on the secondary channel first.
    "bootindex": (["-drive", "if=none,id=a,file={a},format=raw",
                   "-device", "ide-hd,drive=a,bus=ide.0,unit=0,bootindex=2",
                   "-drive", "if=none,id=b,file={b},format=raw",
                   "-device", "ide-hd,drive=b,bus=ide.1,unit=1,bootindex=1"], "B"),
    # -boot order=d with a disk and a CD-ROM: the CD.
    "order-d": (["-drive", "file={a},if=ide,index=0,format=raw", "-cdrom", "{iso}",
                 "-boot", "order=d"], "C"),
}


# bootindex runs by default; the -boot order= cases (20 s each) with -m slow.
@pytest.mark.parametrize("case", [pytest.param(c, marks=() if c == "bootindex" else
                                               pytest.mark.slow) for c in sorted(BOOT_CHOICES)])
def test_boot_device_choice(make_vm, tmp_path, case):
    boot_sector = assemble(tmp_path, cdrom=False)
    iso, _ = make_iso(tmp_path, assemble(tmp_path, cdrom=True), "C")
    template, expected_id = BOOT_CHOICES[case]

    def args(backend):
        (tmp_path / backend).mkdir()
        a = make_disk(tmp_path / backend, "a.img", boot_sector, "A")
        b = make_disk(tmp_path / backend, "b.img", boot_sector, "B")
        return [x.format(a=a, b=b, iso=iso) for x in template]

    outputs = run_both(make_vm, args)
    assert outputs["minivmm"][0] == f"IBOOT {expected_id}", outputs
    assert outputs["minivmm"][-1] == "DONE", outputs
    assert outputs["qemu"] == outputs["minivmm"], outputs
