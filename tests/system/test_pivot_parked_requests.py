"""Guest requests that arrive while a drive's root is being switched (mirror and active
commit pivots) must reach the new root. Found by scripts/chaos-monitor (ASan: a
heap-use-after-free in an I/O thread): the payload writes its sector pattern over a qcow2
disk from a virtio-blk queue in an I/O thread (scenario virtio_blk_bench, patwrite rows),
while the test mirrors the drive to a new image and completes, then snapshots it and
commits the overlay back (active commit) and completes, again and again. Requests the I/O
thread sent during the pivot's drained section were parked on the old root and resubmitted
to it afterwards: into an image the drive no longer reads (the guest's writes lost, its
patread row fails), or into a node the finished job had freed. The payload's patread row
checks every sector in the guest; the image is checked with qemu-img.
"""

import subprocess
import time

import pytest

from jobs_lib import assert_clean
from qmp_vm import QMP
from test_payload import payload_args
from test_virtio_iothread import expected_sector

DISK_MIB = 64
WRITE_ROWS = 16
SECTOR = 512


def start(make_vm, tmp_path, disk, rows):
    sock = str(tmp_path / "qmp.sock")
    vm = make_vm(payload_args(f"virtio_blk_bench 100 {rows}", mem="512") + [
        "-no-shutdown", "-object", "iothread,id=io0", "-qmp", f"unix:{sock},server,nowait",
        "-drive", f"if=none,id=d0,file={disk},format=qcow2",
        "-device", "virtio-blk-pci,drive=d0,disable-legacy=on,iothread=io0"],
        backend="minivmm", debugcon=False)
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    vm.wait_serial("VIRTIO-BLK-BENCH write-cache", timeout=30)
    return vm, qmp


def wait_ready(qmp, device="d0", timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = qmp.command("query-block-jobs")
        if jobs and jobs[0]["ready"]:
            return
        time.sleep(0.01)
    raise AssertionError(f"no READY: {qmp.command('query-block-jobs')}")


def complete(qmp):
    qmp.command("block-job-complete", device="d0")
    deadline = time.monotonic() + 30
    while qmp.command("query-block-jobs"):
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.01)


@pytest.mark.parametrize("kind", ["mirror", "active-commit"])
def test_guest_writes_during_pivot_reach_the_new_root(make_vm, tmp_path, kind):
    disk = tmp_path / "disk0.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, f"{DISK_MIB}M"],
                   check=True)
    rows = " ".join(["patwrite:32"] * WRITE_ROWS + ["patread:32"])
    vm, qmp = start(make_vm, tmp_path, disk, rows)
    pivots = 0
    while vm.serial_text().count("RESULT patwrite32-iops") < WRITE_ROWS - 1 and pivots < 30:
        pivots += 1
        new = tmp_path / f"img{pivots}.qcow2"
        if kind == "mirror":
            qmp.command("drive-mirror", device="d0", target=str(new), sync="full")
        else:
            qmp.command("blockdev-snapshot-sync", device="d0", **{"snapshot-file": str(new)})
            qmp.command("block-commit", device="d0")
        wait_ready(qmp)
        complete(qmp)
    assert pivots >= 3, "the guest finished before the pivots"
    assert vm.wait_serial(r"^(PASS|FAIL[^\r\n]*)\r?$", timeout=120).group(1) == "PASS", (
        vm.serial_text())
    root = qmp.command("query-block")[0]["inserted"]["image"]["filename"]
    qmp.command("quit")
    assert vm.wait_exit(30) == 0
    assert_clean(root)
    raw = tmp_path / "final.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", root, raw], check=True)
    with open(raw, "rb") as f:
        for s in (0, 1, 4097, DISK_MIB * 1024, DISK_MIB * 2048 - 1):
            f.seek(s * SECTOR)
            assert f.read(SECTOR) == expected_sector(s), f"sector {s}"
