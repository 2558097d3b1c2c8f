#!/usr/bin/python3
"""Throttling accuracy: set vs measured rates for -drive throttling.* on a virtio-blk disk that
a qtest driver (tests/system/virtio_blk_qtest.py) keeps saturated, as in issue 11's table.

Columns: minivmm under the qtest accelerator (CLOCK_VIRTUAL moved by clock_step: exact and
independent of host load), minivmm on KVM started with -S (host clock, real time), and, with
--qemu, Debian's QEMU on KVM with -S the same way (it has no qtest accelerator, so it can
only be measured in real time). Each run has a watchdog and shows n/a when the VMM stops
answering. BENCH_THROTTLE_SECONDS sets the measuring time (default 20 s, as in the issue);
BENCH_THROTTLE_ROWS picks rows by label ("iops-total=500;group iops=600, 1 busy").

Each row counts the requests completed in a window of seconds since the first request: from
1 s (the initial bucket has gone by then, so the row measures the rate itself) to the end;
the burst row from 1 s to 5 s; the run-time change rows send block_set_io_throttle over QMP
at 2 s and count from 2.2 s to 3 s (the change empties the buckets, as QEMU does, and the new
bucket's worth goes in the first 0.1 s after it).
"""
import os
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
import vm as vmlib  # noqa: E402
from qtest import QTest, QTestError  # noqa: E402
from qmp_vm import QMP, QMPConnectionError, QMPError  # noqa: E402
from virtio_blk_qtest import Saturator, VirtioBlk  # noqa: E402

SEC = 1_000_000_000
SECONDS = int(os.environ.get("BENCH_THROTTLE_SECONDS", "20"))
BURST = "throttling.iops-total=500,throttling.iops-total-max=2000," \
        "throttling.iops-total-max-length=5"
GROUP = "throttling.iops-total=600,throttling.group=tenant"
THROTTLE_ZERO = {"bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}


def row(label, opts, want, window, ndisks=1, nbusy=1, bs=4096, unit="ops", change=None):
    """window: (from, to) in seconds since the first request; change: (at s, the arguments
    of block_set_io_throttle) sent to drive d0 at that moment."""
    return dict(label=label, opts=opts, want=want, window=window, ndisks=ndisks, nbusy=nbusy,
                bs=bs, unit=unit, change=change)


# Windows start at 1 s: the initial bucket (0.1 s at the average, or the burst bucket) has
# gone by then, so the rows compare the rates themselves.
ROWS_ALL = [
    row("iops-total=500", "throttling.iops-total=500", 500, (1, SECONDS)),
    row("bps-read=10 MiB/s", "throttling.bps-read=10485760", 10485760, (1, SECONDS),
        bs=65536, unit="B"),
    row("burst iops-total-max=2000, 5 s", BURST, 2000, (1, 5)),
    row("  ... then the average 500", BURST, 500, (10, max(SECONDS, 15))),
    row("group iops=600, 2 busy, each", GROUP, 300, (1, SECONDS), ndisks=2, nbusy=2),
    row("group iops=600, 1 busy", GROUP, 600, (1, SECONDS), ndisks=2),
    row("change iops 500->1000, 1st s", "throttling.iops-total=500", 1000, (2.2, 3),
        change=(2, dict(THROTTLE_ZERO, iops=1000))),
    row("change iops 1000->500, 1st s", "throttling.iops-total=1000", 500, (2.2, 3),
        change=(2, dict(THROTTLE_ZERO, iops=500))),
]


ROWS = [r for r in ROWS_ALL if not os.environ.get("BENCH_THROTTLE_ROWS") or
        r["label"].strip() in os.environ["BENCH_THROTTLE_ROWS"].split(";")]


def vmm_argv(mode, args):
    """The command line, and whether the clock is qtest's virtual one."""
    common = ["-qtest", "stdio", "-nodefaults", "-display", "none"]
    if mode == "minivmm-qtest":
        return [vmlib.minivmm_binary(), "-machine", "accel=qtest"] + common + args, True
    if mode == "minivmm-kvm":
        return [vmlib.minivmm_binary(), "-machine", "accel=kvm", "-S"] + common + args, False
    # Without a qtest log, QEMU 7.2 was seen to stop answering after a few hundred requests.
    return [vmlib.qemu_binary(), "-machine", "pc,accel=kvm", "-S", "-bios", vmlib.SEABIOS,
            "-qtest-log", "/dev/null"] + common + args, False


def drive_args(r, workdir):
    args = ["-m", "512", "-qmp", f"unix:{workdir}/qmp.sock,server,nowait"]
    for i in range(r["ndisks"]):
        img = os.path.join(workdir, f"disk{i}.img")
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        args += ["-drive", f"if=none,id=d{i},file={img},format=raw,{r['opts']}",
                 "-device", f"virtio-blk-pci,drive=d{i},addr={4 + i:#x}"]
    return args


def run_row(qt, qmp, r, virtual):
    """Saturate the busy disks; (requests per busy disk in the window, its length in ns)."""
    disks = [VirtioBlk(qt, (4 + i) << 3, i, bs=r["bs"]) for i in range(r["ndisks"])]
    run = Saturator(qt, disks[:r["nbusy"]], step_ns=10_000_000, virtual=virtual)
    if r["change"]:
        run.run_to(int(r["change"][0] * SEC))
        qmp.command("block_set_io_throttle", dict(r["change"][1], device="d0"))
    t_from, t_to = (int(t * SEC) for t in r["window"])
    c_from = run.run_to(t_from)
    e_from = run.elapsed_ns()
    c_to = run.run_to(t_to)
    return sum(c_to) - sum(c_from), run.elapsed_ns() - e_from


def measure(mode, r, workdir):
    """The measured rate of one row (per busy disk, averaged), or None if the VMM failed."""
    argv, virtual = vmm_argv(mode, drive_args(r, workdir))
    qt = QTest(argv)
    watchdog = threading.Timer(r["window"][1] + 10, qt.proc.kill)
    watchdog.start()
    try:
        with qt, QMP(f"{workdir}/qmp.sock") as qmp:
            qmp.connect(retry_for=10)
            done, ns = run_row(qt, qmp, r, virtual)
    except (QTestError, QMPError, QMPConnectionError, OSError, AssertionError):
        return None
    finally:
        watchdog.cancel()
    per_disk = done / r["nbusy"] / (ns / SEC)
    return per_disk * (r["bs"] if r["unit"] == "B" else 1)


def fmt(rate, want):
    if rate is None:
        return f"{'n/a':>18}"
    return f"{rate:>10.1f} {100 * (rate - want) / want:+6.2f}%"


def main():
    modes = ["minivmm-qtest", "minivmm-kvm"]
    if "--qemu" in sys.argv[1:]:
        modes.append("qemu-kvm")
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    print(f"Throttling accuracy, rate per busy disk (windows up to {SECONDS} s; error vs set)")
    print(f"{'setting':<32} {'set':>10} " + " ".join(f"{m:>18}" for m in modes))
    for r in ROWS:
        cells = []
        for mode in modes:
            if mode.endswith("-kvm") and not kvm:
                cells.append(None)
                continue
            with tempfile.TemporaryDirectory() as workdir:
                cells.append(measure(mode, r, workdir))
        print(f"{r['label']:<32} {r['want']:>10} " + " ".join(fmt(c, r['want']) for c in cells),
              flush=True)


if __name__ == "__main__":
    main()
