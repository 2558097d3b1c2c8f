"""Throttling under KVM in real time, with the test payload's CPL3 polling virtio-blk driver
(scenario virtio_blk_bench, tests/guest) issuing requests as fast as the device lets it: 32
4 KiB reads or writes in flight, each completion answered by a new request at once.

The scenario runs the same row several times, MS milliseconds each, and prints "RESULT
row-iops N" for each. The first row may use the initial bucket (a tenth of a second at the
average, all at once) but no more; the next ones start with the bucket full and measure the
steady rate. Real time on a shared 2-CPU host: a request released late is made up by the
next ones (the bucket leaks by the clock, not by the timer), but a VMM kept off the CPU for
longer than the bucket's 0.1 s loses the rest, and a row after one that lost time gets back
at most the bucket. So the steady rows must on average be no faster than the limit, and the
best of them must reach it: default tests, three 2 s rows within ±10%; `slow` ones, three of
the issue's 20 s within ±3%. The guest's clock is the TSC calibrated against the ACPI PM
timer over 10 ms. The image lives in /dev/shm when there is one, so the disk is never what
limits the rate.

test_payload_change_at_run_time sends block_set_io_throttle over QMP while the payload runs
rows of 250 ms and checks the rows that start after the change (within half a second of it).
"""

import os
import re

import pytest

from qmp_vm import QMP, wait_for
from test_payload import payload_args

RESULT = re.compile(r"^RESULT (\S+)-iops (\d+) IOPS$", re.MULTILINE)
MIB = 1 << 20

# (id, drive options, payload row, expected IOPS)
CASES = [
    ("iops-total", "iops=500", "randread:32", 500),
    ("iops-write", "throttling.iops-write=500", "randwrite:32", 500),
    ("bps-read", "throttling.bps-read=10485760", "randread:32", 10 * MIB // 4096),
]
WHERE = {"main-loop": "", "iothread": ",iothread=io0"}


@pytest.fixture
def image(tmp_path):
    shm = "/dev/shm"
    name = f"minivmm-throttle-payload-{os.getpid()}.img"
    path = os.path.join(shm, name) if os.path.isdir(shm) else str(tmp_path / name)
    with open(path, "wb") as f:
        f.truncate(64 * MIB)
    yield path
    os.unlink(path)


def payload_vm(make_vm, vmm, image, opts, rows, ms, where="", extra=()):
    args = payload_args(f"virtio_blk_bench {ms} {' '.join(rows)}", mem="512") + [
        "-object", "iothread,id=io0",
        "-drive", f"if=none,id=d0,file={image},format=raw,{opts}",
        "-device", f"virtio-blk-pci,drive=d0,disable-legacy=on{where}", *extra]
    return make_vm(args, backend=vmm, debugcon=False)


def rates_of(vm):
    return [int(n) for name, n in RESULT.findall(vm.serial_text().replace("\r\n", "\n"))]


def finish(vm, rows, ms):
    """Wait for the payload to pass; return every row's IOPS as the guest measured them."""
    assert vm.wait_exit(rows * ms / 1000 + 30) == 0, vm.describe(vm.serial_log)
    text = vm.serial_text().replace("\r\n", "\n")
    assert text.splitlines()[-1] == "PASS", text
    rates = rates_of(vm)
    assert len(rates) == rows, text
    return rates


def run_rows(make_vm, vmm, image, opts, row, ms, count, where=""):
    """Boot the payload with the row count times; return the rows' IOPS as the guest saw them."""
    return finish(payload_vm(make_vm, vmm, image, opts, [row] * count, ms, where), count, ms)


def assert_rate(rows, want, tolerance, span=1, what=None):
    """Rows of one phase limited to want. The host can only take time away from a row, and a
    row after one that lost time gets back at most the bucket, so: on average no faster than
    want, and the best `span` consecutive rows at want."""
    what = what or rows
    assert sum(rows) / len(rows) <= want * (1 + tolerance), what
    best = max(sum(rows[i:i + span]) / span for i in range(len(rows) - span + 1))
    assert best >= want * (1 - tolerance), what


def check(rates, want, ms, tolerance):
    """The first row may also use the initial bucket (want / 10 + 1 requests at once), but no
    more; the others are the steady rate."""
    bucket = (want // 10 + 1) * 1000 / ms
    assert rates[0] <= want + bucket + tolerance * want, rates
    assert_rate(rates[1:], want, tolerance)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_payload_rate(make_vm, vmm, image, case):
    _, opts, row, want = case
    check(run_rows(make_vm, vmm, image, opts, row, 2000, 3), want, 2000, 0.10)


def test_payload_rate_iothread(make_vm, vmm, image):
    _, opts, row, want = CASES[0]
    check(run_rows(make_vm, vmm, image, opts, row, 2000, 3, WHERE["iothread"]), want, 2000,
          0.10)


def test_payload_burst_then_average(make_vm, vmm, image):
    """iops-total=500 with bursts of 2000/s for 5 s: the burst bucket of 200 goes at once,
    then 2000/s until the 10000-op bucket is full (200 + 1500 t > 10000: 6.53 s), then 500/s.
    Rows of 1 s: the second to the fifth at the burst rate, the eighth onwards at the
    average. The first is not checked: the first requests after start-up can be late by a
    few hundred ms on this host (in both VMMs), which the burst bucket's 0.1 s cannot make up;
    that only delays the moment the big bucket is full. (Under a load of 17 one row of the
    burst fell to 956.)"""
    opts = "throttling.iops-total=500,throttling.iops-total-max=2000," \
           "throttling.iops-total-max-length=5"
    rates = finish(payload_vm(make_vm, vmm, image, opts, ["randread:32"] * 10, 1000), 10, 1000)
    assert_rate(rates[1:5], 2000, 0.10, what=rates)
    assert_rate(rates[7:], 500, 0.10, what=rates)


@pytest.mark.slow
@pytest.mark.parametrize("case,where", [(c, "main-loop") for c in CASES] +
                         [(CASES[0], "iothread")], ids=lambda v: v if isinstance(v, str) else v[0])
def test_payload_rate_20s(make_vm, vmm, image, case, where):
    _, opts, row, want = case
    check(run_rows(make_vm, vmm, image, opts, row, 20000, 3, WHERE[where]), want, 20000, 0.03)


def test_payload_change_at_run_time(make_vm, vmm, image, tmp_path):
    """iops 500, then 1000, then unlimited, each set while the payload reads at full speed."""
    sock = str(tmp_path / "qmp.sock")
    nrows, ms = 26, 250
    vm = payload_vm(make_vm, vmm, image, "iops=500", ["randread:32"] * nrows, ms,
                    extra=["-qmp", f"unix:{sock},server,nowait"])
    zero = {"bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}
    changes = []
    with QMP(sock) as qmp:
        qmp.connect(retry_for=10)
        for iops in (1000, 0):
            after_rows = changes[-1] + 9 if changes else 8
            wait_for(lambda: len(rates_of(vm)) >= after_rows, timeout=30, what="payload rows")
            qmp.command("block_set_io_throttle", dict(zero, device="d0", iops=iops))
            changes.append(len(rates_of(vm)))
    rates = finish(vm, nrows, ms)
    # Rows 0 and 1 carry the initial bucket (all of it in row 1 when the first requests after
    # start-up were late); the row in progress at a change mixes both rates; the next row
    # starts within 0.25 s after the change and holds its new bucket. So the new rate is
    # checked on the six rows after that, from at most half a second to two seconds after
    # the change. A row of 250 ms is short next to the bucket (0.1 s at the rate): the best
    # half second (two rows) must reach the rate.
    old, new, free = rates[2:changes[0]], rates[changes[0] + 2:changes[0] + 8], \
        rates[changes[1] + 2:]
    assert len(old) >= 6 and len(new) == 6 and free, (changes, rates)
    assert_rate(old, 500, 0.10, span=2, what=(changes, rates))
    assert_rate(new, 1000, 0.10, span=2, what=(changes, rates))
    # Unlimited: the device's own speed, 4000 to 80000 IOPS in a 250 ms row on this host
    # under load, so only the average is held to three times the last limit.
    assert sum(free) / len(free) > 3000, (changes, rates)
