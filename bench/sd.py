#!/usr/bin/python3
"""SD card throughput through sdhci-pci, minivmm and Debian's QEMU side by side on this host,
alternating runs: the test payload (tests/guest/scenario-sd-bench.c) drives the card from
CPL3, one command at a time by ADMA2, polling the interrupt status: 256 KiB sequential
writes and reads, 4 KiB random reads, each for BENCH_MS (default 1000) ms. Both VMMs get
the same spelling (-device sdhci-pci -device sd-card) and the same raw image (BENCH_IMG_MIB,
default 256: a card's size must be a power of two). Prints the median IOPS and MB/s of
BENCH_RUNS (default 3) runs and the minivmm/QEMU ratio (higher is better). MINIVMM names the
binary (default ./minivmm)."""
import os

import payload_rows


def device_args(disk):
    return ["-drive", "if=none,id=card0,file=%s,format=raw" % disk,
            "-device", "sdhci-pci", "-device", "sd-card,drive=card0"]


if __name__ == "__main__":
    payload_rows.run("sd: sdhci-pci + sd-card, ADMA2, one command at a time", "sd_bench",
                     ("seqwrite", "seqread", "randread"), int(os.environ.get("BENCH_MS", "1000")),
                     int(os.environ.get("BENCH_RUNS", "3")),
                     int(os.environ.get("BENCH_IMG_MIB", "256")), device_args)
