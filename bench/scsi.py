#!/usr/bin/python3
"""SCSI throughput through the LSI 53C895A, minivmm and Debian's QEMU side by side on this
host, alternating runs: the test payload (tests/guest/scenario-lsi-bench.c) drives a scsi-hd
from CPL3 with one SCRIPTS program per command, polling ISTAT, at queue depth 1: 128 KiB
sequential writes and reads, 4 KiB random reads, each for BENCH_MS (default 1000) ms. Both
VMMs get the same spelling (-device lsi53c895a -device scsi-hd) and the same raw image
(BENCH_IMG_MIB, default 256; BENCH_CACHE, default writeback, for -drive cache=). Prints the
median IOPS and MB/s of BENCH_RUNS (default 3) runs and the minivmm/QEMU ratio (higher is
better). MINIVMM names the binary (default ./minivmm)."""
import os

import payload_rows

CACHE = os.environ.get("BENCH_CACHE", "writeback")


def device_args(disk):
    return ["-device", "lsi53c895a",
            "-drive", "if=none,id=d0,file=%s,format=raw,cache=%s" % (disk, CACHE),
            "-device", "scsi-hd,drive=d0,scsi-id=0"]


if __name__ == "__main__":
    payload_rows.run("scsi: LSI 53C895A + scsi-hd, queue depth 1, cache=%s" % CACHE, "lsi_bench",
                     ("seqwrite", "seqread", "randread"), int(os.environ.get("BENCH_MS", "1000")),
                     int(os.environ.get("BENCH_RUNS", "3")),
                     int(os.environ.get("BENCH_IMG_MIB", "256")), device_args)
