#!/usr/bin/python3
"""qcow2 benchmark: minivmm-img against Debian's qemu-img (QEMU 7.2), side by side.

(a) convert: a 1 GiB raw file of mixed data and holes (1 MiB data extents, 4 KiB islands,
    holes) -> qcow2, and that qcow2 (made by qemu-img, the same input for both) -> raw; wall
    time of `PROG convert -O FMT in out`.
(b) bench: `PROG bench -f qcow2 -t none -i native -d 32 -s SIZE -c COUNT [-w]` on a 1 GiB
    qcow2 image, reads and writes of 4 KiB and 64 KiB, on a fully allocated image and on an
    empty one (recreated before every write run).
(c) lazy (only when asked for): `PROG bench -f qcow2 -t none -i native -d 1 -s SIZE -c COUNT
    -w --flush-interval=16` on a new empty 1 GiB image, created with lazy_refcounts=off and
    =on: allocating writes with a guest flush every 16 requests, where lazy refcounts save a
    flush of the file per guest flush.
Runs alternate between the two programs; each figure is the median of BENCH_RUNS (default 3)
runs. Prints both times and qemu_time/minivmm_time (>= 1.0: minivmm is not slower). BENCH_DIR
picks where the images go (default: the system's temporary directory; it must support
O_DIRECT). BENCH_QCOW2_PARTS picks the parts, comma-separated: convert, bench, lazy
(default: convert,bench)."""
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINIVMM_IMG = os.environ.get("MINIVMM_IMG") or os.path.join(ROOT, "minivmm-img")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MiB = 1 << 20
IMAGE_MIB = 1024
DEPTH = 32

# (label, request size, count, write?, image kind)
BENCH_CASES = [
    ("read  4k full", "4k", 50000, False, "full"),
    ("write 4k full", "4k", 50000, True, "full"),
    ("read  64k full", "64k", 10000, False, "full"),
    ("write 64k full", "64k", 10000, True, "full"),
    ("read  4k empty", "4k", 50000, False, "empty"),
    ("write 4k empty", "4k", 50000, True, "empty"),
    ("read  64k empty", "64k", 10000, False, "empty"),
    ("write 64k empty", "64k", 10000, True, "empty"),
]


def make_mixed_raw(path):
    """1 GiB: per 4 MiB, 1 MiB of data, a 4 KiB island, the rest holes; half the data
    compressible text, half random."""
    rnd = random.Random(4)
    noise = os.urandom(MiB)
    text = (b"minivmm qcow2 benchmark line %d\n" * 40000)[:MiB]
    with open(path, "wb") as f:
        f.truncate(IMAGE_MIB * MiB)
        for base in range(0, IMAGE_MIB * MiB, 4 * MiB):
            f.seek(base + rnd.randrange(0, 2 * MiB, 64 * 1024))
            f.write(noise if rnd.random() < 0.5 else text)
            f.seek(base + 3 * MiB + rnd.randrange(0, MiB - 4096, 4096))
            f.write(noise[:4096])
        f.flush()
        os.fsync(f.fileno())


def run(argv):
    res = subprocess.run(argv, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError("%s failed: %s%s" % (" ".join(argv), res.stdout, res.stderr))
    return res


def convert_time(prog, fmt, src, out):
    if os.path.exists(out):
        os.unlink(out)
    t = time.monotonic()
    run([prog, "convert", "-O", fmt, src, out])
    return time.monotonic() - t


def bench_time(prog, args, image):
    m = re.search(r"Run completed in (\d+\.\d+) seconds\.", run([prog] + args + [image]).stdout)
    if not m:
        raise RuntimeError("%s bench printed no time" % prog)
    return float(m.group(1))


def fresh_empty(path, lazy="off"):
    if os.path.exists(path):
        os.unlink(path)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=" + lazy, path,
         "%dM" % IMAGE_MIB])


def median_pair(one):
    times = {"qemu-img": [], MINIVMM_IMG: []}
    for _ in range(RUNS):
        for prog in times:
            os.sync()  # start each run without the previous one's dirty pages
            times[prog].append(one(prog))
    return statistics.median(times["qemu-img"]), statistics.median(times[MINIVMM_IMG])


def row(label, extra, q, m):
    print("%-18s %8s %10.3f %12.3f %10.2f" % (label, extra, q, m, q / m))
    sys.stdout.flush()


def convert_rows(d):
    src = os.path.join(d, "mixed.raw")
    qsrc = os.path.join(d, "mixed.qcow2")
    make_mixed_raw(src)
    run(["qemu-img", "convert", "-O", "qcow2", src, qsrc])
    out = os.path.join(d, "out")
    print("qcow2 convert: <prog> convert -O FMT IN OUT, 1 GiB raw of data and holes "
          "(median of %d, alternating)" % RUNS)
    print("%-18s %8s %10s %12s %10s" % ("case", "", "qemu s", "minivmm s", "qemu/ours"))
    row("raw -> qcow2", "", *median_pair(lambda p: convert_time(p, "qcow2", src, out)))
    row("qcow2 -> raw", "", *median_pair(lambda p: convert_time(p, "raw", qsrc, out)))
    for f in (src, qsrc, out):
        os.unlink(f)


def bench_rows(d):
    full = os.path.join(d, "full.qcow2")
    empty = os.path.join(d, "empty.qcow2")
    run(["qemu-img", "create", "-q", "-f", "qcow2", full, "%dM" % IMAGE_MIB])
    run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 %dM" % IMAGE_MIB, full])
    print("qcow2 bench: <prog> bench -f qcow2 -t none -i native -d %d -s SIZE -c COUNT [-w] "
          "1GiB.qcow2 (median of %d, alternating)" % (DEPTH, RUNS))
    print("%-18s %8s %10s %12s %10s" % ("case", "count", "qemu s", "minivmm s", "qemu/ours"))
    for label, size, count, write, kind in BENCH_CASES:
        args = ["bench", "-f", "qcow2", "-t", "none", "-i", "native", "-d", str(DEPTH),
                "-s", size, "-c", str(count)] + (["-w"] if write else [])

        def one(prog):
            if kind == "full":
                return bench_time(prog, args, full)
            fresh_empty(empty)
            return bench_time(prog, args, empty)
        row(label, str(count), *median_pair(one))


# (request size, count): partial clusters (zeroed around the data) and whole ones
LAZY_CASES = [("4k", 8192), ("64k", 4096)]


def lazy_rows(d):
    empty = os.path.join(d, "empty.qcow2")
    print("qcow2 lazy refcounts: <prog> bench -f qcow2 -t none -i native -d 1 -s SIZE -c COUNT "
          "-w --flush-interval=16 empty-1GiB.qcow2 (median of %d, alternating)" % RUNS)
    print("%-18s %8s %10s %12s %10s" % ("case", "count", "qemu s", "minivmm s", "qemu/ours"))
    for size, count in LAZY_CASES:
        args = ["bench", "-f", "qcow2", "-t", "none", "-i", "native", "-d", "1", "-s", size,
                "-c", str(count), "-w", "--flush-interval=16"]
        for lazy in ("off", "on"):
            def one(prog):
                fresh_empty(empty, lazy)
                return bench_time(prog, args, empty)
            row("write %s lazy=%s" % (size, lazy), str(count), *median_pair(one))


def main():
    if shutil.which("qemu-img") is None or shutil.which("qemu-io") is None:
        print("qcow2 bench: qemu-img/qemu-io (Debian qemu-utils) not installed, skipped")
        return 0
    if not os.access(MINIVMM_IMG, os.X_OK):
        subprocess.run(["make", "-C", ROOT, "minivmm-img"], check=True,
                       stdout=subprocess.DEVNULL)
    parts = os.environ.get("BENCH_QCOW2_PARTS", "convert,bench").split(",")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        if "convert" in parts:
            convert_rows(d)
        if "bench" in parts:
            bench_rows(d)
        if "lazy" in parts:
            lazy_rows(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
