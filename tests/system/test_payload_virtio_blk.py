"""The test payload's polling virtio-blk driver (CPL3) against virtio-blk-pci under minivmm
and QEMU. Scenario virtio_blk, modern and legacy: 16 MiB written in 64 KiB requests eight
deep, flushed, read back and compared in the guest; the test then checks the pattern in the
image file (the RESULT lines, MB/s, are not compared). Scenario virtio_blk_hostile: one
malformed request per case must break the device (NEEDS_RESET) without harming the VMM, and
a reset must make it work again; QEMU answers the same except where noted.
"""

import struct

import pytest

from test_payload import payload_args

C = 0x9e3779b97f4a7c15
MASK = (1 << 64) - 1
SECTOR = 512
SECTORS_PER_REQ = 65536 // SECTOR
MIB = 16
MODES = {
    "modern": "disable-legacy=on",
    "legacy": "disable-modern=on",
}


def expected_sector(s):
    j = s % SECTORS_PER_REQ
    return struct.pack("<64Q", *(((s * C) & MASK) ^ (j * 64 + w) for w in range(64)))


@pytest.mark.parametrize("backend", ["minivmm", "qemu"])
@pytest.mark.parametrize("mode", sorted(MODES))
def test_pattern_round_trip(make_vm, tmp_path, backend, mode):
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(64 << 20)
    args = payload_args(f"virtio_blk {MIB} 8") + [
        "-drive", f"if=none,id=d0,file={disk},format=raw",
        "-device", f"virtio-blk-pci,drive=d0,{MODES[mode]}"]
    vm = make_vm(args, backend=backend, debugcon=False)
    assert vm.wait_exit(60) == 0
    lines = vm.serial_text().replace("\r\n", "\n").splitlines()
    assert lines[0] == "READY" and lines[-1] == "PASS", "\n".join(lines)
    assert f"VIRTIO-BLK 02.0 {mode} capacity {64 << 11}" in lines
    last = MIB * 2048 - 1
    with open(disk, "rb") as f:
        for s in (0, 1, SECTORS_PER_REQ + 1, last):
            f.seek(s * SECTOR)
            assert f.read(SECTOR) == expected_sector(s), f"sector {s}"
        f.seek((last + 1) * SECTOR)
        assert f.read(SECTOR) == bytes(SECTOR)


HOSTILE_CASES = ["loop", "avail-jump", "head", "next", "zero-len", "huge-len", "outside-ram",
                 "order", "indirect-nested", "indirect-size", "no-status", "reset-inflight"]
# QEMU bounces DMA to addresses outside RAM and completes the request.
HOSTILE_QEMU = {"outside-ram": "status 0"}


@pytest.mark.parametrize("backend", ["minivmm", "qemu"])
def test_hostile_requests(make_vm, tmp_path, backend):
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(8 << 20)
    args = payload_args("virtio_blk_hostile " + " ".join(HOSTILE_CASES)) + [
        "-drive", f"if=none,id=d0,file={disk},format=raw",
        "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"]
    vm = make_vm(args, backend=backend, debugcon=False)
    assert vm.wait_exit(60) == 0
    lines = vm.serial_text().replace("\r\n", "\n").splitlines()
    expected = ["READY"]
    for case in HOSTILE_CASES:
        answer = HOSTILE_QEMU.get(case, "broken") if backend == "qemu" else "broken"
        if case == "reset-inflight":  # a reset while requests are in flight must not hang
            answer = "reset status 0"
        expected += [f"HOSTILE {case} {answer}", f"HOSTILE {case} recovered"]
    assert lines == expected + ["PASS"]
