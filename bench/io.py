#!/usr/bin/python3
"""Block I/O benchmark: `minivmm-img bench` against Debian's `qemu-img bench` (QEMU 7.2) on the
same fully allocated 1 GiB raw file, O_DIRECT (-t none), queue depth 32, reads and writes of
4 KiB and 64 KiB with aio=native and aio=threads. Runs alternate between the two programs;
each figure is the median of BENCH_RUNS (default 3) runs. Prints a table with both times and
qemu_time/minivmm_time (>= 1.0: minivmm is not slower). BENCH_DIR picks where the image goes
(default: the system's temporary directory; it must support O_DIRECT)."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINIVMM_IMG = os.environ.get("MINIVMM_IMG") or os.path.join(ROOT, "minivmm-img")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
IMAGE_MIB = 1024
DEPTH = 32

# (label, request size, count, write?, aio)
CASES = [
    ("read  4k native", "4k", 50000, False, "native"),
    ("read  4k threads", "4k", 50000, False, "threads"),
    ("write 4k native", "4k", 50000, True, "native"),
    ("write 4k threads", "4k", 50000, True, "threads"),
    ("read  64k native", "64k", 10000, False, "native"),
    ("read  64k threads", "64k", 10000, False, "threads"),
    ("write 64k native", "64k", 10000, True, "native"),
    ("write 64k threads", "64k", 10000, True, "threads"),
]


def bench_args(size, count, write, aio):
    args = ["bench", "-f", "raw", "-t", "none", "-i", aio, "-d", str(DEPTH), "-s", size,
            "-c", str(count)]
    return args + (["-w"] if write else [])


def make_image(path):
    """Fully allocated: every block written (fallocate alone leaves unwritten extents)."""
    subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=1M", "count=%d" % IMAGE_MIB,
                    "conv=fsync", "status=none"], check=True)


def one_run(prog, args, image):
    res = subprocess.run([prog] + args + [image], capture_output=True, text=True)
    m = re.search(r"Run completed in (\d+\.\d+) seconds\.", res.stdout)
    if res.returncode != 0 or not m:
        raise RuntimeError("%s %s failed: %s%s" % (prog, " ".join(args), res.stdout,
                                                   res.stderr))
    return float(m.group(1))


def run_case(case, image):
    label, size, count, write, aio = case
    args = bench_args(size, count, write, aio)
    times = {"qemu": [], "minivmm": []}
    for _ in range(RUNS):
        times["qemu"].append(one_run("qemu-img", args, image))
        times["minivmm"].append(one_run(MINIVMM_IMG, args, image))
    return label, statistics.median(times["qemu"]), statistics.median(times["minivmm"])


def main():
    if shutil.which("qemu-img") is None:
        print("io bench: qemu-img (Debian qemu-utils) not installed, skipped")
        return 0
    if not os.access(MINIVMM_IMG, os.X_OK):
        # `make bench` builds only the VMM; build the tool it needs here.
        subprocess.run(["make", "-C", ROOT, "minivmm-img"], check=True,
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        image = os.path.join(d, "bench.raw")
        make_image(image)
        print("io: <prog> bench -f raw -t none -i AIO -d %d -s SIZE -c COUNT [-w] "
              "1GiB.raw (median of %d, alternating)" % (DEPTH, RUNS))
        print("%-18s %8s %10s %12s %10s" % ("case", "count", "qemu s", "minivmm s",
                                             "qemu/ours"))
        for case in CASES:
            label, q, m = run_case(case, image)
            print("%-18s %8d %10.3f %12.3f %10.2f" % (label, case[2], q, m, q / m))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
