#!/usr/bin/python3
"""Several minivmm binaries (and QEMU) in turn on rows of bench/qcow2_alloc.py, for telling
a change from the host's drift, which moves a row by 2x within minutes here.

    bench/qcow2_alloc_ab.py BINARY[,BINARY...|,qemu] KIND:ROW[,KIND:ROW...] ROUNDS

KIND is fresh or overlay, ROW a payload row (randwrite:1, randwrite:32, seqwrite:4); each
round runs every binary once per row on a new image. Prints the median IOPS and the runs.
The environment is bench/qcow2_alloc.py's (BENCH_MS, BENCH_DIR, BENCH_PAYLOAD, ...).
"""
import os
import statistics
import subprocess
import sys
import tempfile

import qcow2_alloc as alloc


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    variants = sys.argv[1].split(",")
    rows = [r.split(":", 1) for r in sys.argv[2].split(",")]
    rounds = int(sys.argv[3])
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/var/tmp")) as d:
        alloc.make_base(d)
        for kind, row in rows:
            runs = {v: [] for v in variants}
            for _ in range(rounds):
                for v in variants:
                    if v != "qemu":
                        os.environ["MINIVMM"] = v
                    vmm = "qemu" if v == "qemu" else "minivmm"
                    runs[v].append(alloc.one_run(vmm, alloc.make_image(d, kind), row))
            for v in variants:
                print("%-8s %-13s %-28s %7.0f  %s" % (kind, row, os.path.basename(v),
                                                     statistics.median(runs[v]), runs[v]))
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
