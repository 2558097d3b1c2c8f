"""sdhci-pci and sd-card on the command line: the refusals QEMU 7.2 gives (same text, same
status, checked against both VMMs), and how -drive if=sd reaches a card on minivmm (the
controller takes the next one the user gave; without a controller it stays an orphan, as
on QEMU 2.2's PC).
"""

import pytest

from test_device_opt import program


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "sd.img"
    path.write_bytes(bytes(4 << 20))
    (tmp_path / "odd.img").write_bytes(bytes(3 << 20))
    return path


D0 = "if=none,id=d0,file={disk},format=raw"
ODD = "if=none,id=d0,file={dir}/odd.img,format=raw"
# (arguments, the -device shown as location, message lines)
REFUSED = [
    (["-drive", D0 + ",readonly=on", "-device", "sdhci-pci", "-device", "sd-card,drive=d0"],
     "-device sd-card,drive=d0", ["Cannot use read-only drive as SD card"]),
    (["-drive", ODD, "-device", "sdhci-pci", "-device", "sd-card,drive=d0"],
     "-device sd-card,drive=d0",
     ["Invalid SD card size: 3 MiB", "SD card size has to be a power of 2, e.g. 4 MiB."]),
    (["-device", "sdhci-pci", "-device", "sd-card,spec_version=4"],
     "-device sd-card,spec_version=4", ["Invalid SD card Spec version: 4"]),
    (["-device", "sdhci-pci,sd-spec-version=4"], "-device sdhci-pci,sd-spec-version=4",
     ["Only Spec v2/v3 are supported"]),
    (["-device", "sdhci-pci,capareg=0x05783404"], "-device sdhci-pci,capareg=0x05783404",
     ["SD timeout clock frequency can have valuein range 0-63 only"]),
    (["-device", "sdhci-pci,capareg=0x057b34b4"], "-device sdhci-pci,capareg=0x057b34b4",
     ["block size can be 512, 1024 or 2048 only"]),
]
# minivmm only: QEMU 7.2 starts with two cards on one controller (and uses one of them).
SECOND_CARD = ["-device", "sdhci-pci", "-device", "sd-card", "-device", "sd-card"]


@pytest.mark.parametrize("args,loc,message", REFUSED,
                         ids=[" ".join(case[0][-2:]) for case in REFUSED])
def test_refused(run_expect_fail, vmm, disk, args, loc, message):
    status, err = run_expect_fail([a.format(disk=disk, dir=disk.parent) for a in args])
    assert status == 1, err
    lines = err.splitlines()
    assert f"{program(vmm)}: {loc}: {message[0]}" in lines, err
    for more in message[1:]:
        assert more in lines, err


def test_one_card_per_slot(run_expect_fail, vmm):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 accepts a second sd-card on the bus")
    status, err = run_expect_fail(SECOND_CARD)
    assert status == 1, err
    assert ("minivmm: -device sd-card: No 'sd-bus' bus found for device 'sd-card'"
            in err.splitlines()), err


@pytest.mark.parametrize("drive,message", [
    ("file={dir}/odd.img,format=raw", "Invalid SD card size: 3 MiB"),
    ("file={disk},format=raw,readonly=on", "Cannot use read-only drive as SD card"),
])
def test_if_sd_card_refused(run_expect_fail, vmm, disk, drive, message):
    """The card the controller makes for -drive if=sd is refused: so is the controller."""
    if vmm == "qemu":
        pytest.skip("QEMU 7.2's sdhci-pci does not take -drive if=sd")
    status, err = run_expect_fail(["-drive", "if=sd," + drive.format(disk=disk, dir=disk.parent),
                                   "-device", "sdhci-pci"])
    assert status == 1, err
    assert f"minivmm: -device sdhci-pci: {message}" in err.splitlines(), err


def test_if_sd_goes_to_the_controller(make_vm, vmm, disk):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2's sdhci-pci does not take -drive if=sd")
    vm = make_vm(["-drive", f"if=sd,file={disk},format=raw", "-device", "sdhci-pci"])
    vm.wait_debug(r"^SeaBIOS \(version")
    assert "Orphaned drive" not in vm.stderr_text()


def test_if_sd_without_controller_is_an_orphan(make_vm, vmm, disk):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 creates no default SD drive to compare with")
    vm = make_vm(["-drive", f"if=sd,file={disk},format=raw"])
    vm.wait_debug(r"^SeaBIOS \(version")
    assert (f"Warning: Orphaned drive without device: id=sd0,file={disk},if=sd,bus=0,unit=0"
            in vm.stderr_text().splitlines())


def test_device_help_lists_both(run_expect_fail, vmm):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 prints the list on stdout")
    status, err = run_expect_fail(["-device", "help"])
    assert status == 0
    lines = err.splitlines()
    assert 'name "sdhci-pci", bus PCI' in lines, err
    assert 'name "sd-card", bus sd-bus' in lines, err
