#!/usr/bin/python3
"""Throttling accuracy: set vs measured rates for -drive throttling.* on a virtio-blk disk that
a qtest driver (tests/system/virtio_blk_qtest.py) keeps saturated, as in issue 11's table.

Columns: minivmm under the qtest accelerator (CLOCK_VIRTUAL moved by clock_step: exact and
independent of host load), minivmm on KVM started with -S (host clock, real time), and, with
--qemu, Debian's QEMU on KVM with -S the same way (it has no qtest accelerator, so it can
only be measured in real time). Each run has a watchdog and shows n/a when the VMM stops
answering. BENCH_THROTTLE_SECONDS sets the measuring time (default 20 s, as in the issue);
BENCH_THROTTLE_ROWS picks rows by label ("iops-total=500;group iops=600, 1 busy").

Real time is noisy, so each real-time row runs BENCH_RUNS times (default 3) per VMM, the VMMs
taking turns (minivmm first in odd runs, QEMU first in even ones, so neither always runs
right after the other); the table gives per VMM the median rate and the median |error|, and
the verdict compares the median |errors| (ratio: minivmm's / QEMU's): "ok" when minivmm's is
not higher; when it is, "WORSE" only if an exact one-sided rank test over the runs' |errors|
(bench/stats.py) puts the chance of QEMU's falling that far below minivmm's under 0.05, and
"higher" otherwise (p printed either way). The qtest column is exact and runs once.

Each row counts the requests completed in a window of seconds since the first request: from
1 s (the initial bucket has gone by then, so the row measures the rate itself) to the end;
the burst row from 1 s to 5 s; the run-time change rows send block_set_io_throttle over QMP
at 2 s and count from 2.2 s to 3 s (the change empties the buckets, as QEMU does, and the new
bucket's worth goes in the first 0.1 s after it). In real time every count the driver takes
(each disk's used index read over qtest, every 10 ms) is stamped with the middle of that
read's round trip; a row's rate is the least-squares slope of count over time through all
samples from the window's first edge sample to its last, the same for both VMMs (a window of
0.8 s at 500/s holds 400 requests: the plain count difference between the edges moves by
0.25% for one request more or less, the slope through 80 samples by far less).
BENCH_VERBOSE=1 prints both for every run.
"""
import os
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
import vm as vmlib  # noqa: E402
from qtest import QTest, QTestError  # noqa: E402
from qmp_vm import QMP, QMPConnectionError, QMPError  # noqa: E402
from virtio_blk_qtest import Saturator, VirtioBlk  # noqa: E402
import stats  # noqa: E402

SEC = 1_000_000_000
SECONDS = int(os.environ.get("BENCH_THROTTLE_SECONDS", "20"))
RUNS = max(1, int(os.environ.get("BENCH_RUNS", "3")))
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


class StampedQTest:
    """A disk's view of the qtest connection that stamps its reads of the used index: the
    moment a count was sampled is the middle of that read's round trip. samples holds every
    (stamp, used index) read."""

    def __init__(self, qt, used_idx_addr):
        self.qt, self.cmd = qt, f"readw {used_idx_addr:#x}"
        self.samples = []

    def ok(self, line):
        if line != self.cmd:
            return self.qt.ok(line)
        before = time.monotonic_ns()
        reply = self.qt.ok(line)
        self.samples.append(((before + time.monotonic_ns()) // 2, int(reply, 16)))
        return reply

    def __getattr__(self, name):
        return getattr(self.qt, name)


def unwrap(samples):
    """(stamps in s, counts) from (stamp in ns, 16-bit used index) samples."""
    xs, ys, count = [], [], 0
    for i, (stamp, idx) in enumerate(samples):
        count += (idx - samples[i - 1][1]) & 0xffff if i else 0
        xs.append(stamp / SEC)
        ys.append(count)
    return xs, ys


def window_rates(samples):
    """The rate between the first and the last sample: the least-squares slope of the count
    over every sample in between (the driver samples every 10 ms, so a window of seconds has
    hundreds: a request more or less at an edge hardly moves it), and the plain count
    difference over the time between the two edge samples."""
    xs, ys = unwrap(samples)
    ends = (ys[-1] - ys[0]) / (xs[-1] - xs[0])
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    fit = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return fit, ends


def run_row(qt, qmp, r, virtual):
    """Saturate the busy disks; per busy disk, its (fitted, edge-to-edge) rate in the window."""
    disks = [VirtioBlk(qt, (4 + i) << 3, i, bs=r["bs"]) for i in range(r["ndisks"])]
    for d in disks:
        d.qt = StampedQTest(qt, d.used + 2)
    busy = disks[:r["nbusy"]]
    run = Saturator(qt, busy, step_ns=10_000_000, virtual=virtual)
    if r["change"]:
        run.run_to(int(r["change"][0] * SEC))
        qmp.command("block_set_io_throttle", dict(r["change"][1], device="d0"))
    t_from, t_to = (int(t * SEC) for t in r["window"])
    c_from = run.run_to(t_from)
    e_from, first = run.elapsed_ns(), [len(d.qt.samples) - 1 for d in busy]
    c_to = run.run_to(t_to)
    if virtual:  # exact: the counts at two moments of the virtual clock
        rate = (sum(c_to) - sum(c_from)) / len(busy) / ((run.elapsed_ns() - e_from) / SEC)
        return [(rate, rate)]
    return [window_rates(d.qt.samples[i:]) for d, i in zip(busy, first)]


def measure(mode, r, workdir):
    """The measured (fitted, edge-to-edge) rates of one row, per busy disk averaged, or None
    if the VMM failed."""
    argv, virtual = vmm_argv(mode, drive_args(r, workdir))
    qt = QTest(argv)
    watchdog = threading.Timer(r["window"][1] + 10, qt.proc.kill)
    watchdog.start()
    try:
        with qt, QMP(f"{workdir}/qmp.sock") as qmp:
            qmp.connect(retry_for=10)
            rates = run_row(qt, qmp, r, virtual)
    except (QTestError, QMPError, QMPConnectionError, OSError, AssertionError):
        return None
    finally:
        watchdog.cancel()
    unit = r["bs"] if r["unit"] == "B" else 1
    return tuple(statistics.mean(x[k] for x in rates) * unit for k in range(2))


def measure_once(mode, r, kvm):
    if mode.endswith("-kvm") and not kvm:
        return None
    with tempfile.TemporaryDirectory() as workdir:
        return measure(mode, r, workdir)


def measure_row(r, modes, kvm):
    """{mode: [rates]}: the qtest column once, the real-time ones RUNS times, taking turns."""
    rates = {m: [] for m in modes}
    realtime = [m for m in modes if m.endswith("-kvm")]
    for m in modes:
        if m not in realtime:
            rates[m].append(measure_once(m, r, kvm))
    for i in range(RUNS):
        for m in (realtime if i % 2 == 0 else realtime[::-1]):
            rates[m].append(measure_once(m, r, kvm))
    return rates


def error(rate, want):
    return 100 * (rate - want) / want


def abs_errors(rates, want):
    """The |error| in % of every run that gave a rate."""
    return [abs(error(x[0], want)) for x in rates if x is not None]


def median_cell(rates, want):
    """(the median fitted rate, the median |error| in %), or None when no run gave a rate."""
    ok = [x[0] for x in rates if x is not None]
    if not ok:
        return None
    return statistics.median(ok), statistics.median(abs_errors(rates, want))


def fmt(cell, want):
    if cell is None:
        return f"{'n/a':>25}"
    rate, abserr = cell
    return f"{rate:>11.1f} {error(rate, want):+7.3f}% |{abserr:.3f}%|"


def verdict(cells, rates, want):
    """minivmm's median |error| against QEMU's: the ratio, and "ok" when it is <= QEMU's;
    otherwise how likely QEMU's runs' |errors| would all fall that far below minivmm's by
    chance (bench/stats.py): "WORSE" under 0.05, else "higher" (within the runs' spread)."""
    mine, theirs = cells.get("minivmm-kvm"), cells.get("qemu-kvm")
    if mine is None or theirs is None:
        return ""
    ratio = f"{mine[1] / theirs[1]:.2f}" if theirs[1] else ("1.00" if not mine[1] else "inf")
    if mine[1] <= theirs[1]:
        return f"{ratio:>6} ok"
    p = stats.p_lower(abs_errors(rates["qemu-kvm"], want), abs_errors(rates["minivmm-kvm"], want))
    return f"{ratio:>6} {'WORSE' if p < 0.05 else 'higher'} (p={p:.2f})"


def main():
    modes = ["minivmm-qtest", "minivmm-kvm"]
    if "--qemu" in sys.argv[1:]:
        modes.append("qemu-kvm")
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    print(f"Throttling accuracy, rate per busy disk (windows up to {SECONDS} s; real time: "
          f"the median of {RUNS} runs, its error vs set, |the median |error||)")
    print(f"{'setting':<32} {'set':>10} " + " ".join(f"{m:>25}" for m in modes) +
          (" {:>6} verdict".format("ratio") if "qemu-kvm" in modes else ""))
    for r in ROWS:
        rates = measure_row(r, modes, kvm)
        cells = {m: median_cell(rates[m], r["want"]) for m in modes}
        print(f"{r['label']:<32} {r['want']:>10} " +
              " ".join(fmt(cells[m], r["want"]) for m in modes) + " " +
              verdict(cells, rates, r["want"]),
              flush=True)
        if os.environ.get("BENCH_VERBOSE"):
            for m in modes:
                print(f"    {m}: fitted, edge-to-edge: " + "; ".join(
                    "n/a" if x is None else
                    f"{error(x[0], r['want']):+.4f}% {error(x[1], r['want']):+.4f}%"
                    for x in rates[m]), flush=True)


if __name__ == "__main__":
    main()
