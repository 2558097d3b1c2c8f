"""SeaBIOS boots from an SD card behind sdhci-pci, and its int 13h reads and writes go
through the controller's buffer data port (SeaBIOS's sdcard driver uses PIO): the boot
sector (tests/system/roms/vblk-boot.S, a plain int 13h client) reads two sectors and prints
their word sum, then writes them back two sectors further on, which the test finds in the
image file. The card is given as QEMU 7.2 spells it (-device sd-card,drive=) and, on
minivmm, as QEMU 2.3 to 2.x took it (-drive if=sd, claimed by the controller). Passes with
--vmm=qemu as well (the -device form). Debian's SeaBIOS has its SD driver only in the
256 KiB build (bios-256k.bin, QEMU 7.2's default), not in bios.bin (minivmm's default), so
the tests name it with -bios.
"""

import os
import struct
import subprocess

import pytest

ROM_SOURCE = os.path.join(os.path.dirname(__file__), "roms", "vblk-boot.S")
BOOT_TIMEOUT = 60
BIOS_256K = "/usr/share/seabios/bios-256k.bin"
DISK_MIB = 8
MODES = {
    "device": ["-drive", "if=none,id=d0,file={disk},format=raw",
               "-device", "sdhci-pci", "-device", "sd-card,drive=d0"],
    "if-sd": ["-drive", "if=sd,file={disk},format=raw", "-device", "sdhci-pci"],
}


def build_boot_sector(tmp_path):
    obj = tmp_path / "boot.o"
    bin_ = tmp_path / "boot.bin"
    subprocess.run(["gcc", "-c", "-m32", "-x", "assembler-with-cpp", "-o", str(obj), ROM_SOURCE],
                   check=True)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(obj), str(bin_)], check=True)
    data = bin_.read_bytes()
    assert len(data) == 512 and data[510:] == b"\x55\xaa"
    return data


def make_disk(tmp_path):
    payload = bytes((i * 29 + 3) & 0xff for i in range(1024))
    disk = tmp_path / "sd.img"
    with open(disk, "wb") as f:
        f.write(build_boot_sector(tmp_path))
        f.write(payload)
        f.truncate(DISK_MIB << 20)
    words = struct.unpack("<512H", payload)
    return disk, payload, sum(words) & 0xffff


@pytest.mark.parametrize("mode", sorted(MODES))
def test_seabios_boots_from_sd_card(make_vm, tmp_path, vmm, mode):
    if vmm == "qemu" and mode == "if-sd":
        pytest.skip("QEMU 7.2's sdhci-pci does not take -drive if=sd")
    disk, payload, checksum = make_disk(tmp_path)
    vm = make_vm(["-m", "64", "-bios", BIOS_256K] + [a.format(disk=disk) for a in MODES[mode]])
    vm.wait_debug(r"^WROTE$|^FAIL ", BOOT_TIMEOUT)
    log = vm.debug_text()
    assert f"SD card QEMU! {DISK_MIB}MiB" in log, log[-800:]
    assert "VBOOT\n" in log
    assert f"SUM {checksum:04x}\n" in log, log[-400:]
    assert "WROTE\n" in log, log[-400:]
    vm.kill()
    with open(disk, "rb") as f:
        f.seek(3 * 512)
        assert f.read(1024) == payload


def test_no_card_no_boot_entry(make_vm, tmp_path):
    """An empty slot: SeaBIOS finds no card, and the controller is still there."""
    vm = make_vm(["-m", "64", "-bios", BIOS_256K, "-device", "sdhci-pci"])
    vm.wait_debug(r"No bootable device|Booting from", BOOT_TIMEOUT)
    log = vm.debug_text()
    assert "Found sdcard" not in log
    vm.kill()
