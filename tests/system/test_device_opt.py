"""-device on the command line: refused devices with QEMU 2.2's messages, the help
listings, drives claimed by devices (no orphan warning), and a device that works.

A refused -device stops the VMM with status 1 and "PROG: -device OPTS: MESSAGE". Cases whose
text Debian's QEMU 7.2 changed (or that 7.2 no longer has) are skipped with --vmm=qemu.
"""

import pytest


def program(vmm):
    return "minivmm" if vmm == "minivmm" else "qemu-system-x86_64"


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(1 << 20))
    return path


D0 = "if=none,id=d0,file={disk},format=raw"
# (arguments, the -device shown as location, message, same text in QEMU 7.2)
REFUSED = [
    (["-device", "nosuch"], "-device nosuch", "Parameter 'driver' expects device type", False),
    (["-device", "bus=ide.0"], "-device bus=ide.0", "Parameter 'driver' is missing", False),
    (["-device", "ide-hd"], "-device ide-hd", "No drive specified", True),
    (["-drive", D0, "-device", "ide-hd,drive=nosuch"], "-device ide-hd,drive=nosuch",
     "Property 'ide-hd.drive' can't find value 'nosuch'", True),
    (["-drive", D0, "-device", "ide-hd,drive=d0", "-device", "ide-cd,drive=d0"],
     "-device ide-cd,drive=d0", "Property 'ide-cd.drive' can't take value 'd0', it's in use",
     False),
    (["-drive", D0, "-device", "ide-hd,drive=d0,foo=1"], "-device ide-hd,drive=d0,foo=1",
     "Property '.foo' not found", False),
    (["-drive", D0, "-device", "ide-hd,drive=d0,unit=2"], "-device ide-hd,drive=d0,unit=2",
     "Can't create IDE unit 2, bus supports only 2 units", True),
    (["-drive", D0, "-device", "ide-hd,drive=d0,unit=x"], "-device ide-hd,drive=d0,unit=x",
     "Parameter 'unit' expects an int64 value or range", False),
    (["-drive", D0, "-device", "ide-hd,drive=d0,bus=pci.0"], "-device ide-hd,drive=d0,bus=pci.0",
     "Device 'ide-hd' can't go on a PCI bus", False),
    (["-drive", D0, "-device", "ide-hd,drive=d0,bus=ide.9"], "-device ide-hd,drive=d0,bus=ide.9",
     "Bus 'ide.9' not found", True),
    (["-drive", D0, "-device", "ide-hd,drive=d0,cyls=70000,heads=16,secs=63"],
     "-device ide-hd,drive=d0,cyls=70000,heads=16,secs=63",
     "cyls must be between 1 and 65535", True),
    (["-drive", D0, "-device", "ide-hd,drive=d0,heads=17,cyls=100,secs=63"],
     "-device ide-hd,drive=d0,heads=17,cyls=100,secs=63", "heads must be between 1 and 16",
     True),
    (["-drive", D0, "-device", "lsi53c895a",
      "-device", "scsi-hd,drive=d0,heads=256,cyls=100,secs=63"],
     "-device scsi-hd,drive=d0,heads=256,cyls=100,secs=63", "heads must be between 1 and 255",
     True),
    (["-drive", D0, "-device", "lsi53c895a", "-device", "scsi-hd,drive=d0,cyls=65536"],
     "-device scsi-hd,drive=d0,cyls=65536", "cyls must be between 1 and 65535", True),
    (["-drive", "if=none,id=d0", "-device", "ide-hd,drive=d0"], "-device ide-hd,drive=d0",
     "Device needs media, but drive is empty", True),
    (["-drive", D0 + ",readonly=on", "-device", "ide-hd,drive=d0"], "-device ide-hd,drive=d0",
     "Can't use a read-only drive", False),
    (["-drive", D0, "-drive", "if=none,id=d1,file={disk}2,format=raw",
      "-device", "ide-hd,drive=d0,bus=ide.0,unit=0",
      "-device", "ide-hd,drive=d1,bus=ide.0,unit=0"], "-device ide-hd,drive=d1,bus=ide.0,unit=0",
     "IDE unit 0 is in use", True),
    (["-device", "ide-hd,id=x", "-device", "ide-cd,id=x"], "-device ide-cd,id=x",
     "Duplicate ID 'x' for device", True),
    (["-drive", "if=none,id=c0,media=cdrom", "-drive", "if=none,id=c1,media=cdrom",
      "-device", "ide-cd,drive=c0,bootindex=1", "-device", "ide-cd,drive=c1,bootindex=1"],
     "-device ide-cd,drive=c1,bootindex=1", "Two devices with same boot index 1", False),
]


@pytest.mark.parametrize("args,loc,message,same_in_qemu", REFUSED,
                         ids=[" ".join(case[0][-2:]) for case in REFUSED])
def test_device_refused(run_expect_fail, vmm, disk, args, loc, message, same_in_qemu):
    if vmm == "qemu" and not same_in_qemu:
        pytest.skip("QEMU 7.2 words this differently from 2.2")
    (disk.parent / (disk.name + "2")).write_bytes(bytes(1 << 20))
    status, err = run_expect_fail([a.format(disk=disk) for a in args])
    assert status == 1, err
    assert f"{program(vmm)}: {loc}: {message}" in err.splitlines(), err


def test_device_help_lists_ide(run_expect_fail, vmm):
    status, err = run_expect_fail(["-device", "help"])
    assert status == 0
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 prints the list on stdout")
    lines = err.splitlines()
    assert "Storage devices:" in lines
    for line in ['name "ide-cd", bus IDE, desc "virtual IDE CD-ROM"',
                 'name "ide-drive", bus IDE, desc "virtual IDE disk or CD-ROM (legacy)"',
                 'name "ide-hd", bus IDE, desc "virtual IDE disk"']:
        assert line in lines, err


def test_device_property_help(run_expect_fail, vmm):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 lists properties as 'ide-hd options:' lines on stdout")
    status, err = run_expect_fail(["-device", "ide-hd,help"])
    assert status == 0
    lines = err.splitlines()
    for line in ["ide-hd.drive=drive", "ide-hd.bootindex=int32", "ide-hd.serial=str",
                 "ide-hd.unit=uint32", "ide-hd.cyls=uint32",
                 "ide-hd.bios-chs-trans=bios-chs-trans (Logical CHS translation algorithm, "
                 "auto/none/lba/large/rechs)"]:
        assert line in lines, err
    status, err = run_expect_fail(["-device", "ide-cd,?"])
    assert status == 0 and "ide-cd.drive=drive" in err.splitlines()
    assert "ide-cd.cyls=uint32" not in err


def test_device_claims_its_drive(make_vm, vmm, disk):
    """-device claims an if=none drive; without bus= it goes to the newest IDE bus with a
    free unit (ide.1, as on QEMU), at the lowest free unit."""
    vm = make_vm(["-drive", f"if=none,id=d0,file={disk},format=raw",
                  "-device", "ide-hd,drive=d0,bus=ide.1,unit=1,serial=XYZ",
                  "-drive", "if=none,id=c0,media=cdrom", "-device", "ide-cd,drive=c0"])
    vm.wait_debug(r"^SeaBIOS \(version")
    vm.wait_debug(r"ata1-1: QEMU HARDDISK ATA-7 Hard-Disk", 60)
    assert "Orphaned drive" not in vm.stderr_text()
    assert "DVD/CD [ata1-0: QEMU DVD-ROM ATAPI-4 DVD/CD]" in vm.debug_text()
