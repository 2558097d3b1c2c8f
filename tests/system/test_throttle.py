"""I/O throttling (docs/throttling.md) end to end: -drive throttling.* on a virtio-blk disk
that a qtest driver keeps saturated, under the qtest accelerator. CLOCK_VIRTUAL moves only
on clock_step, and the driver waits for every released request at each moment it counts, so
the counts are exact; each test also states the issue's ±3% criterion on the rates. The
run-time tests change the limits with block_set_io_throttle on a QMP socket (as a QMP command
and as an HMP line) while the disk is saturated. One test runs minivmm-io -o throttling.* in
real time on a tmpfs file.
"""

import os
import re
import subprocess
import time

import pytest

from qmp_vm import QMP
from qtest import QTest
from virtio_blk_qtest import Saturator, VirtioBlk, run_unthrottled, saturate

SEC = 1_000_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IO = os.environ.get("MINIVMM_IO") or os.path.join(ROOT, "minivmm-io")


@pytest.fixture(autouse=True)
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("QEMU throttles on its real-time clock unless qtest is its accelerator")


def start(tmp_path, drive_opts, n=1, bs=4096, extra=()):
    """A VM with n virtio-blk disks (devfn 4.0, 5.0, ...) with drive_opts each."""
    args = ["-m", "256"] + list(extra)
    for i in range(n):
        img = tmp_path / f"disk{i}.img"
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        args += ["-drive", f"if=none,id=d{i},file={img},format=raw,{drive_opts}",
                 "-device", f"virtio-blk-pci,drive=d{i},addr={4 + i:#x}"]
    qt = QTest.minivmm(args)
    disks = [VirtioBlk(qt, (4 + i) << 3, i, bs=bs) for i in range(n)]
    return qt, disks


def within(measured, expected, tolerance=0.03):
    return abs(measured - expected) <= tolerance * expected


def test_iops_total(tmp_path):
    qt, disks = start(tmp_path, "throttling.iops-total=500")
    with qt:
        c = saturate(qt, disks, [0, 10 * SEC, 20 * SEC], step_ns=40_000_000)
    # 51 at once (the bucket holds 50 ops), then one every 2 ms.
    assert c[0] == [51]
    assert c[20 * SEC][0] - c[10 * SEC][0] == 10 * 500
    assert c[20 * SEC] == [51 + 20 * 500]
    assert within(c[20 * SEC][0] / 20, 500)


def test_bps_read(tmp_path):
    qt, disks = start(tmp_path, "bps_rd=10485760", bs=65536)
    with qt:
        c = saturate(qt, disks, [0, 10 * SEC, 20 * SEC], step_ns=100_000_000)
    # The bucket holds 1 MiB: 17 reads of 64 KiB at once, then one every 6.25 ms.
    assert c[0] == [17]
    assert (c[20 * SEC][0] - c[10 * SEC][0]) * 65536 == 10 * 10485760
    assert within(c[20 * SEC][0] * 65536 / 20, 10485760)


def test_burst_then_average(tmp_path):
    qt, disks = start(tmp_path, "throttling.iops-total=500,throttling.iops-total-max=2000,"
                                "throttling.iops-total-max-length=5")
    with qt:
        c = saturate(qt, disks, [5 * SEC, 10 * SEC, 20 * SEC], step_ns=20_000_000)
    # 201 at once (burst bucket of 200), then 2000/s until the 10000-op bucket is full
    # (200 + 1500 t > 10000: 6.53 s), then 500/s.
    assert c[5 * SEC] == [201 + 5 * 2000]
    assert within(c[5 * SEC][0] / 5, 2000)
    assert c[20 * SEC][0] - c[10 * SEC][0] == 10 * 500


def test_group_shared_budget(tmp_path):
    qt, disks = start(tmp_path, "throttling.iops-total=600,throttling.group=tenant", n=2)
    with qt:
        c = saturate(qt, disks, [5 * SEC, 15 * SEC], step_ns=50_000_000)
    per_disk = [(c[15 * SEC][i] - c[5 * SEC][i]) / 10 for i in range(2)]
    assert per_disk == [300, 300]
    assert all(within(rate, 300) for rate in per_disk)


def test_group_member_alone(tmp_path):
    qt, disks = start(tmp_path, "throttling.iops-total=600,throttling.group=tenant", n=2)
    with qt:
        c = saturate(qt, disks[:1], [5 * SEC, 15 * SEC], step_ns=50_000_000)
    assert c[15 * SEC][0] - c[5 * SEC][0] == 10 * 600


def test_drives_without_group_are_independent(tmp_path):
    qt, disks = start(tmp_path, "throttling.iops-total=600", n=2)
    with qt:
        c = saturate(qt, disks, [5 * SEC, 15 * SEC], step_ns=50_000_000)
    assert [c[15 * SEC][i] - c[5 * SEC][i] for i in range(2)] == [6000, 6000]


LIMITS = ("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr")


def set_limits(qmp, monitor, **limits):
    """block_set_io_throttle on d0 as a QMP command or an HMP line; query-block must agree."""
    values = [limits.get(k, 0) for k in LIMITS]
    if monitor == "qmp":
        assert qmp.command("block_set_io_throttle", dict(zip(LIMITS, values), device="d0")) == {}
    else:
        assert qmp.hmp("block_set_io_throttle d0 " + " ".join(map(str, values))) == ""
    inserted = next(b for b in qmp.command("query-block") if b["device"] == "d0")["inserted"]
    assert [inserted[k] for k in LIMITS] == values


@pytest.mark.parametrize("monitor", ["qmp", "hmp"])
def test_change_at_run_time(tmp_path, monitor):
    """iops-total 500 -> 1000 -> bps-read 4 MiB/s -> unlimited on a saturated disk. A change
    empties the buckets (QEMU's rule), so a bucket's worth goes at the moment of the change;
    the new rate holds from there, and the first second after it counts exactly that rate."""
    sock = str(tmp_path / "qmp.sock")
    qt, disks = start(tmp_path, "throttling.iops-total=500",
                      extra=["-qmp", f"unix:{sock},server,nowait"])
    with qt, QMP(sock) as qmp:
        qmp.connect(retry_for=10)
        run = Saturator(qt, disks, step_ns=10_000_000)
        assert run.run_to(2 * SEC) == [51 + 2 * 500]
        set_limits(qmp, monitor, iops=1000)
        at = run.settle()[0]
        assert at == 51 + 2 * 500 + 101  # the new bucket of 100 ops, checked before accounting
        first = run.run_to(3 * SEC)[0] - at
        assert first == 1000 and within(first, 1000)
        before = run.run_to(4 * SEC)[0]
        assert before - at == 2000
        # 4 KiB reads at 4 MiB/s: a bucket of 419430.4 bytes (103 reads), then 1024 reads/s.
        set_limits(qmp, monitor, bps_rd=4 << 20)
        at = run.settle()[0]
        assert at == before + 103
        first = run.run_to(5 * SEC)[0] - at
        assert first == 1024 and within(first * 4096, 4 << 20)
        # Unlimited: the queue is released and nothing waits for the clock any more.
        set_limits(qmp, monitor)
        done = run_unthrottled(disks, 10 * disks[0].depth)
        assert done[0] >= 10 * disks[0].depth and run.elapsed_ns() == 5 * SEC


def test_minivmm_io_aio_iops(tmp_path):
    """1551 aio_reads at iops-total=500: 51 at once, then one every 2 ms from the first, so the
    run takes 3 s longer than one with a single aio_read (start-up, open and exit)."""
    shm = "/dev/shm"
    img = os.path.join(shm, f"minivmm-throttle-{os.getpid()}.img") if os.path.isdir(shm) \
        else str(tmp_path / "disk.img")
    n = 1551
    cmds = [arg for i in range(n) for arg in ("-c", f"aio_read {2 * 4096 * i} 4k")]

    def run(opts, count):
        start = time.monotonic()
        res = subprocess.run([IO, "-f", "raw"] + opts + cmds[:2 * count] + [img],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert res.stdout.count("read 4096/4096 bytes") == count
        return time.monotonic() - start

    try:
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        base = min(run([], 1) for _ in range(3))
        throttled = run(["-o", "throttling.iops-total=500"], n)
    finally:
        os.unlink(img)
    assert within((n - 51) / (throttled - base), 500)
