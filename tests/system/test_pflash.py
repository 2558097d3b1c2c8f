"""The PC's system flash (-drive if=pflash) under KVM, minivmm and QEMU side by side.

The flash replaces the BIOS file: the test payload (tests/guest/payload.bin) or SeaBIOS itself
runs from unit 0, unit 1 sits below it. The payload's `pflash` scenario drives unit 1 from the
guest with real loads and stores (array mode reads come from memory, commands exit to the
VMM), and both VMMs must print the same lines and leave the same bytes in the image. The
device's registers are covered command by command in tests/qtest/test-pflash.c.
"""

import shutil

import pytest

import vm as vmlib

PAYLOAD_BIN = vmlib.REPO_ROOT / "tests" / "guest" / "payload.bin"
UNIT1_BASE = 0x100000000 - 128 * 1024 - 64 * 1024


def vars_image(path):
    path.write_bytes(bytes((i * 7) & 0xff for i in range(64 * 1024)))
    return path


def test_guest_drives_flash_same_under_both(make_vm, tmp_path):
    if not PAYLOAD_BIN.exists():
        pytest.fail(f"{PAYLOAD_BIN} not built: run `make`", pytrace=False)
    texts, images = {}, {}
    for backend in ("minivmm", "qemu"):
        code = tmp_path / f"{backend}-code.bin"
        shutil.copy(PAYLOAD_BIN, code)
        images[backend] = vars_image(tmp_path / f"{backend}-vars.bin")
        vm = make_vm(["-drive", f"if=pflash,format=raw,file={code}",
                      "-drive", f"if=pflash,format=raw,file={images[backend]}",
                      "-fw_cfg", f"name=opt/minivmm/args,string=pflash {UNIT1_BASE:#x}"],
                     backend=backend, name=backend, debugcon=False)
        assert vm.wait_exit(30) == 0
        texts[backend] = vm.serial_text().replace("\r\n", "\n")
    assert texts["minivmm"] == texts["qemu"]
    assert texts["minivmm"] == ("READY\nARRAY 00 00\nCFI QRY size 2^16\nPROGRAM status 80\n"
                                "ERASE status 80\nBUFFER status 80\nREAD 5a ff ff cf\nPASS\n")
    data = images["minivmm"].read_bytes()
    assert data == images["qemu"].read_bytes()
    expected = bytearray((i * 7) & 0xff for i in range(64 * 1024))
    expected[0x100] = 0x5a
    expected[0x1000:0x2000] = b"\xff" * 0x1000
    expected[0x2000:0x2010] = bytes(range(0xc0, 0xd0))
    assert data == bytes(expected)


def test_seabios_runs_from_flash(make_vm, tmp_path):
    """-bios is ignored once a pflash unit 0 exists (QEMU 2.2): SeaBIOS runs from the flash."""
    code = tmp_path / "bios.bin"
    shutil.copy(vmlib.SEABIOS, code)
    vm = make_vm(["-bios", tmp_path / "nonexistent.bin",
                  "-drive", f"if=pflash,format=raw,file={code}"], backend="minivmm")
    vm.wait_debug("No bootable device", timeout=30)
    assert "SeaBIOS (version" in vm.debug_text()


@pytest.mark.parametrize("size, message", [
    (0, "PC system firmware (pflash) cannot have zero size"),
    (4096 + 512, "PC system firmware (pflash) must be a multiple of 0x1000"),
    (9 * 1024 * 1024,
     "oversized backing file, pflash segments cannot be mapped under 00000000ff800000"),
])
def test_flash_size_errors_as_qemu_2_2(tmp_path, size, message):
    image = tmp_path / "flash.bin"
    image.write_bytes(bytes(size))
    status, err = vmlib.run_expect_fail(["-drive", f"if=pflash,format=raw,file={image}"], 10,
                                        backend="minivmm")
    assert status == 1
    assert err.strip().endswith(message), err


def test_units_together_over_8_mib_refused(tmp_path):
    images = [tmp_path / "a.bin", tmp_path / "b.bin"]
    for image in images:
        image.write_bytes(bytes(5 * 1024 * 1024))
    args = [a for image in images for a in ("-drive", f"if=pflash,format=raw,file={image}")]
    status, err = vmlib.run_expect_fail(args, 10, backend="minivmm")
    assert status == 1
    assert "pflash segments cannot be mapped under 00000000ff800000" in err


def qt_writeb(qt, addr, v):
    qt.ok(f"writeb {addr:#x} {v:#x}")


def qt_readb(qt, addr):
    return int(qt.ok(f"readb {addr:#x}"), 16)


def test_monitor_on_flash_units(tmp_path):
    """eject refuses a flash unit (not removable); after drive_del the unit's programs still
    change the array the guest sees, but fail to reach the image: the status register says
    so (QEMU 7.2 only logs it), and the VMM keeps running."""
    from qmp_vm import QMPError, qtest_with_qmp
    code = tmp_path / "bios.bin"
    shutil.copy(vmlib.SEABIOS, code)
    data = vars_image(tmp_path / "vars.bin")
    base = 0x100000000 - code.stat().st_size - 64 * 1024
    qt, qmp = qtest_with_qmp(tmp_path, ["-drive", f"if=pflash,format=raw,file={code}",
                                        "-drive", f"if=pflash,format=raw,file={data}"])
    with qt:
        with pytest.raises(QMPError, match="Device 'pflash1' is not removable"):
            qmp.command("eject", {"device": "pflash1"})
        assert qmp.hmp("drive_del pflash1") == ""
        qt_writeb(qt, base + 0x10, 0x40)
        qt_writeb(qt, base + 0x10, 0x00)
        qt_writeb(qt, base, 0x70)
        assert qt_readb(qt, base) == 0x90          # ready, program error
        qt_writeb(qt, base, 0xff)
        assert qt_readb(qt, base + 0x10) == 0x00
        assert data.read_bytes()[0x10] == (0x10 * 7) & 0xff
