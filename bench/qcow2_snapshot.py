#!/usr/bin/python3
"""Internal snapshot deletion: `minivmm-img snapshot -d s1 IMG` against Debian's qemu-img
(QEMU 7.2) on copies of the same image.

The image (64 MiB qcow2, written by qemu-io so both tools start from the same bytes): 4000
random 4 KiB writes (fixed seed), `snapshot -c s1`, 4000 more. Made once per cluster size
(64 KiB, the default, and 4 KiB). Each run copies it, `sync`s, and times the delete; runs
alternate between the programs; each figure is the median of BENCH_RUNS (default 5). Prints
both times and qemu_time/minivmm_time (>= 1.0: minivmm is not slower). BENCH_DIR picks where
the images go (default: the system's temporary directory)."""
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINIVMM_IMG = os.environ.get("MINIVMM_IMG") or os.path.join(ROOT, "minivmm-img")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SIZE = 64 << 20
WRITES = 4000


def sh(argv, stdin=None):
    subprocess.run(argv, check=True, input=stdin, text=True, stdout=subprocess.DEVNULL)


def random_writes(img, seed):
    rnd = random.Random(seed)
    cmds = "".join("write -q -P %d %d 4k\n" % (rnd.randrange(1, 255),
                                              rnd.randrange(SIZE // 4096) * 4096)
                   for _ in range(WRITES))
    sh(["qemu-io", "-f", "qcow2", img], stdin=cmds)


def make_image(path, cluster_size):
    sh(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=%d" % cluster_size,
        path, str(SIZE)])
    random_writes(path, 1)
    sh(["qemu-img", "snapshot", "-c", "s1", path])
    random_writes(path, 2)


def one_delete(prog, base, work):
    shutil.copyfile(base, work)
    os.sync()
    t = time.monotonic()
    sh([prog, "snapshot", "-d", "s1", work])
    return time.monotonic() - t


def main():
    if not shutil.which("qemu-img") or not shutil.which("qemu-io"):
        print("qcow2_snapshot: qemu-img/qemu-io (Debian qemu-utils) not installed, skipped")
        return 0
    print("%-22s %10s %10s %8s" % ("snapshot -d", "QEMU s", "minivmm s", "ratio"))
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        for cs in (65536, 4096):
            base, work = os.path.join(d, "base.qcow2"), os.path.join(d, "work.qcow2")
            make_image(base, cs)
            times = {"qemu-img": [], MINIVMM_IMG: []}
            for _ in range(RUNS):
                for prog in times:
                    times[prog].append(one_delete(prog, base, work))
            q, m = (statistics.median(times[p]) for p in times)
            print("%-22s %10.3f %10.3f %8.2f" % ("%d KiB clusters" % (cs >> 10), q, m, q / m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
