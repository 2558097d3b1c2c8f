"""-drive and its shorthands on the command line: refused drives, format=help, orphans.

Expectations are QEMU 2.2's (blockdev.c drive_new()/blockdev_init(), vl.c): a bad drive
stops the VMM with status 1 and "PROG: -drive OPTS: MESSAGE"; format=help lists the formats
on stderr and exits 1; a drive no device model claims is reported as an orphan. Cases whose
text Debian's QEMU 7.2 changed are skipped with --vmm=qemu.
"""

import pytest

# (arguments, the option shown as location or None, message, same text in QEMU 7.2)
MISSING = "/nonexistent/disk.img"
OPEN_FAILED = (f"could not open disk image {MISSING}: Could not open '{MISSING}': "
               "No such file or directory")
REFUSED = [
    (["-drive", "if=foo"], "-drive if=foo", "unsupported bus type 'foo'", True),
    (["-drive", "media=foo"], "-drive media=foo", "'foo' invalid media", True),
    (["-drive", "cache=foo"], "-drive cache=foo", "invalid cache option", True),
    (["-drive", "if=ide,unit=2"], "-drive if=ide,unit=2", "unit 2 too big (max is 1)", True),
    (["-drive", "index=1,bus=1"], "-drive index=1,bus=1",
     "index cannot be used with bus and unit", True),
    (["-drive", "if=ide,index=0", "-drive", "if=ide,index=0"], "-drive if=ide,index=0",
     "drive with bus=0, unit=0 (index=0) exists", True),
    (["-drive", "id=d0,if=none", "-drive", "id=d0,if=none"], "-drive id=d0,if=none",
     "Duplicate ID 'd0' for drive", True),
    (["-drive", "if=floppy,werror=stop"], "-drive if=floppy,werror=stop",
     "werror is not supported by this bus type", True),
    (["-drive", "iops=1,throttling.iops-total=2"], "-drive iops=1,throttling.iops-total=2",
     "'throttling.iops-total' and its alias 'iops' can't be used at the same time", True),
    (["-drive", "if=none,bps=1,bps_rd=2"], "-drive if=none,bps=1,bps_rd=2",
     "bps/iops/max total values and read/write values cannot be used at the same time", True),
    (["-drive", "if=none,rerror=enospc"], "-drive if=none,rerror=enospc",
     "'enospc' invalid read error action", True),
    (["-drive", "if=none,format=foo"], "-drive if=none,format=foo", "'foo' invalid format",
     False),
    (["-drive", "if=none,detect-zeroes=unmap"], "-drive if=none,detect-zeroes=unmap",
     "setting detect-zeroes to unmap is not allowed without setting discard operation to "
     "unmap", False),
    (["-drive", f"file={MISSING}"], f"-drive file={MISSING}", OPEN_FAILED, False),
    (["-hda", MISSING], f"-hda {MISSING}", OPEN_FAILED, False),
    (["-cdrom", MISSING], f"-cdrom {MISSING}", OPEN_FAILED, False),
    # An image file operand is -hda; it has no option to show.
    ([MISSING], None, OPEN_FAILED, False),
]


def program(vmm):
    return "minivmm" if vmm == "minivmm" else "qemu-system-x86_64"


@pytest.mark.parametrize("args,loc,message,same_in_qemu", REFUSED,
                         ids=[" ".join(case[0]) for case in REFUSED])
def test_drive_refused(run_expect_fail, vmm, args, loc, message, same_in_qemu):
    if vmm == "qemu" and not same_in_qemu:
        pytest.skip("QEMU 7.2 words this differently from 2.2")
    status, err = run_expect_fail(args)
    expected = f"{program(vmm)}: {loc}: {message}" if loc else f"{program(vmm)}: {message}"
    assert status == 1, err
    assert expected in err.splitlines(), err
    if vmm == "minivmm":
        assert err == expected + "\n"


def test_format_help(run_expect_fail, vmm):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 prints the list on stdout and exits 0; 2.2 used stderr and 1")
    status, err = run_expect_fail(["-drive", "format=help"])
    assert status == 1, err
    line = err.splitlines()[0]
    assert line.startswith("Supported formats: "), err
    formats = line[len("Supported formats: "):].split(" ")
    assert "raw" in formats and "file" in formats, line
    assert formats == sorted(formats), line


@pytest.fixture
def disk(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(1 << 20))
    return path


def test_ide_drive_is_claimed(make_vm, vmm, disk):
    vm = make_vm(["-drive", f"if=ide,file={disk},format=raw"])
    vm.wait_debug(r"^SeaBIOS \(version")
    assert "Orphaned drive" not in vm.stderr_text()


def test_ide_drive_past_bus_1_is_orphaned(make_vm, vmm, disk):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 refuses drives a machine cannot use; 2.2 warned")
    vm = make_vm(["-drive", f"if=ide,index=4,file={disk},format=raw"])
    vm.wait_debug(r"^SeaBIOS \(version")
    assert (f"Warning: Orphaned drive without device: id=ide2-hd0,file={disk},if=ide,"
            "bus=2,unit=0") in vm.stderr_text().splitlines()


def test_mtd_drive_is_orphaned(make_vm, vmm, disk):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 refuses drives a machine cannot use; 2.2 warned")
    vm = make_vm(["-drive", f"if=mtd,file={disk},format=raw"])
    vm.wait_debug(r"^SeaBIOS \(version")
    assert (f"Warning: Orphaned drive without device: id=mtd0,file={disk},if=mtd,bus=0,"
            "unit=0") in vm.stderr_text().splitlines()


def test_shorthands_and_snapshot(make_vm, disk):
    vm = make_vm(["-hda", disk, "-hdb", disk, "-cdrom", disk, "-snapshot",
                  "-drive", f"if=none,id=spare,file={disk},format=raw,read-only=on"])
    vm.wait_debug(r"^SeaBIOS \(version")
    assert vm.is_running()
    assert "id=spare" not in vm.stderr_text()
    assert disk.read_bytes() == bytes(1 << 20)


def test_default_drives_are_not_orphans(make_vm, vmm):
    vm = make_vm([])
    vm.wait_debug(r"^SeaBIOS \(version")
    assert "Orphaned drive" not in vm.stderr_text()
