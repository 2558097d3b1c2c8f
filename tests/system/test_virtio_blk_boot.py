"""SeaBIOS boots from virtio-blk-pci, legacy (1af4:1001, I/O BAR), modern (1af4:1042, the
virtio 1.0 capabilities) and transitional, and its int 13h reads and writes go through our
virtqueues: the boot sector (tests/system/roms/vblk-boot.S) reads two sectors and prints
their word sum, then writes them back two sectors further on, which the test finds in the
image file. Under KVM the queue doorbell is an ioeventfd, so this also covers that path.
Passes with --vmm=qemu as well.
"""

import os
import struct
import subprocess

import pytest

ROM_SOURCE = os.path.join(os.path.dirname(__file__), "roms", "vblk-boot.S")
BOOT_TIMEOUT = 60
MODES = {
    "legacy": ["-drive", "if=none,id=d0,file={disk},format=raw",
               "-device", "virtio-blk-pci,drive=d0,disable-modern=on"],
    "modern": ["-drive", "if=none,id=d0,file={disk},format=raw",
               "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"],
    # -drive if=virtio: the transitional device at the next free slot, as QEMU makes it.
    "transitional": ["-drive", "if=virtio,file={disk},format=raw"],
}


def build_boot_sector(tmp_path):
    obj = tmp_path / "vblk-boot.o"
    bin_ = tmp_path / "vblk-boot.bin"
    subprocess.run(["gcc", "-c", "-m32", "-x", "assembler-with-cpp", "-o", str(obj), ROM_SOURCE],
                   check=True)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(obj), str(bin_)], check=True)
    data = bin_.read_bytes()
    assert len(data) == 512 and data[510:] == b"\x55\xaa"
    return data


def make_disk(tmp_path):
    payload = bytes((i * 13 + 7) & 0xff for i in range(1024))
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.write(build_boot_sector(tmp_path))
        f.write(payload)
        f.truncate(8 << 20)
    words = struct.unpack("<512H", payload)
    return disk, payload, sum(words) & 0xffff


def check_int13_run(vm, log, disk, payload, checksum):
    """The boot sector's output, then (VM gone) its write in the image."""
    assert "VBOOT\n" in log
    assert f"SUM {checksum:04x}\n" in log, log[-400:]
    assert "WROTE\n" in log, log[-400:]
    vm.kill()
    with open(disk, "rb") as f:
        f.seek(3 * 512)
        assert f.read(1024) == payload


@pytest.mark.parametrize("mode", sorted(MODES))
def test_seabios_boots_and_uses_int13(make_vm, tmp_path, mode):
    disk, payload, checksum = make_disk(tmp_path)
    vm = make_vm(["-m", "64"] + [a.format(disk=disk) for a in MODES[mode]])
    vm.wait_debug(r"^WROTE$|^FAIL ", BOOT_TIMEOUT)
    log = vm.debug_text()
    assert "found virtio-blk at 00:02.0" in log, log[-600:]
    version = "legacy (0.9.5)" if mode == "legacy" else "modern (1.0)"
    assert f"pci dev 00:02.0 using {version} virtio mode" in log
    check_int13_run(vm, log, disk, payload, checksum)
