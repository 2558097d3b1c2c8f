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

import pytest

import test_virtio_blk_boot as vblk

BOOT_TIMEOUT = 60
BIOS_256K = "/usr/share/seabios/bios-256k.bin"
DISK_MIB = 8  # vblk.make_disk's size: a power of two, as an SD card must be
MODES = {
    "device": ["-drive", "if=none,id=d0,file={disk},format=raw",
               "-device", "sdhci-pci", "-device", "sd-card,drive=d0"],
    "if-sd": ["-drive", "if=sd,file={disk},format=raw", "-device", "sdhci-pci"],
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_seabios_boots_from_sd_card(make_vm, tmp_path, vmm, mode):
    if vmm == "qemu" and mode == "if-sd":
        pytest.skip("QEMU 7.2's sdhci-pci does not take -drive if=sd")
    disk, payload, checksum = vblk.make_disk(tmp_path)
    vm = make_vm(["-m", "64", "-bios", BIOS_256K] + [a.format(disk=disk) for a in MODES[mode]])
    vm.wait_debug(r"^WROTE$|^FAIL ", BOOT_TIMEOUT)
    log = vm.debug_text()
    assert f"SD card QEMU! {DISK_MIB}MiB" in log, log[-800:]
    vblk.check_int13_run(vm, log, disk, payload, checksum)


def test_no_card_no_boot_entry(make_vm, tmp_path):
    """An empty slot: SeaBIOS finds no card, and the controller is still there."""
    vm = make_vm(["-m", "64", "-bios", BIOS_256K, "-device", "sdhci-pci"])
    vm.wait_debug(r"No bootable device|Booting from", BOOT_TIMEOUT)
    log = vm.debug_text()
    assert "Found sdcard" not in log
    vm.kill()
