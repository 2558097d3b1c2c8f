#!/usr/bin/python3
"""Throttling accuracy: set vs measured rates for -drive throttling.* on a virtio-blk disk that
a qtest driver (tests/system/virtio_blk_qtest.py) keeps saturated, as in issue 11's table.

Columns: minivmm under the qtest accelerator (CLOCK_VIRTUAL moved by clock_step: exact and
independent of host load), minivmm on KVM started with -S (host clock, real time), and, with
--qemu, Debian's QEMU on KVM with -S the same way (it has no qtest accelerator, so it can
only be measured in real time). Each run has a watchdog and shows n/a when the VMM stops
answering. BENCH_THROTTLE_SECONDS sets the measuring time (default 20 s, as in the issue).
"""
import os
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
import vm as vmlib  # noqa: E402
from qtest import QTest, QTestError  # noqa: E402
from virtio_blk_qtest import VirtioBlk, saturate  # noqa: E402

SEC = 1_000_000_000
SECONDS = int(os.environ.get("BENCH_THROTTLE_SECONDS", "20"))
BURST = "throttling.iops-total=500,throttling.iops-total-max=2000," \
        "throttling.iops-total-max-length=5"
GROUP = "throttling.iops-total=600,throttling.group=tenant"

# (label, drive options, disks, busy disks, request size, unit, set rate, window (from, to) s)
ROWS_ALL = [
    ("iops-total=500", "throttling.iops-total=500", 1, 1, 4096, "ops", 500, (0, SECONDS)),
    ("bps-read=10 MiB/s", "throttling.bps-read=10485760", 1, 1, 65536, "B", 10485760,
     (0, SECONDS)),
    ("burst iops-total-max=2000, 5 s", BURST, 1, 1, 4096, "ops", 2000, (0, 5)),
    ("  ... then the average 500", BURST, 1, 1, 4096, "ops", 500, (10, max(SECONDS, 15))),
    ("group iops=600, 2 busy, each", GROUP, 2, 2, 4096, "ops", 300, (0, SECONDS)),
    ("group iops=600, 1 busy", GROUP, 2, 1, 4096, "ops", 600, (0, SECONDS)),
]


ROWS = [r for r in ROWS_ALL if not os.environ.get("BENCH_THROTTLE_ROWS") or
        r[0].strip() in os.environ["BENCH_THROTTLE_ROWS"].split(";")]


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


def measure(mode, row, workdir):
    """The measured rate of one row (per busy disk, averaged), or None if the VMM failed."""
    label, opts, ndisks, nbusy, bs, unit, _, (t_from, t_to) = row
    args = ["-m", "512"]
    for i in range(ndisks):
        img = os.path.join(workdir, f"disk{i}.img")
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        args += ["-drive", f"if=none,id=d{i},file={img},format=raw,{opts}",
                 "-device", f"virtio-blk-pci,drive=d{i},addr={4 + i:#x}"]
    argv, virtual = vmm_argv(mode, args)
    qt = QTest(argv)
    watchdog = threading.Timer(t_to + 10, qt.proc.kill)
    watchdog.start()
    try:
        with qt:
            disks = [VirtioBlk(qt, (4 + i) << 3, i, bs=bs) for i in range(ndisks)]
            moments = sorted({t_from * SEC, t_to * SEC} - {0})
            elapsed = {0: 0}
            c = saturate(qt, disks[:nbusy], moments, step_ns=10_000_000, virtual=virtual,
                         elapsed=elapsed)
    except (QTestError, OSError, AssertionError):
        return None
    finally:
        watchdog.cancel()
    done = [c[t_to * SEC][i] - (c[t_from * SEC][i] if t_from else 0) for i in range(nbusy)]
    per_disk = sum(done) / nbusy / ((elapsed[t_to * SEC] - elapsed[t_from * SEC]) / SEC)
    return per_disk * (bs if unit == "B" else 1)


def fmt(rate, want):
    if rate is None:
        return f"{'n/a':>18}"
    return f"{rate:>10.1f} {100 * (rate - want) / want:+6.2f}%"


def main():
    modes = ["minivmm-qtest", "minivmm-kvm"]
    if "--qemu" in sys.argv[1:]:
        modes.append("qemu-kvm")
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    print(f"Throttling accuracy over {SECONDS} s windows (rate per busy disk; error vs set)")
    print(f"{'setting':<32} {'set':>10} " + " ".join(f"{m:>18}" for m in modes))
    for row in ROWS:
        cells = []
        for mode in modes:
            if mode.endswith("-kvm") and not kvm:
                cells.append(None)
                continue
            with tempfile.TemporaryDirectory() as workdir:
                cells.append(measure(mode, row, workdir))
        print(f"{row[0]:<32} {row[6]:>10} " + " ".join(fmt(c, row[6]) for c in cells),
              flush=True)


if __name__ == "__main__":
    main()
