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
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOAD = os.path.join(ROOT, "tests", "guest", "payload.bin")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MS = int(os.environ.get("BENCH_MS", "1000"))
IMG_MIB = int(os.environ.get("BENCH_IMG_MIB", "256"))
CACHE = os.environ.get("BENCH_CACHE", "writeback")
ROWS = ("seqwrite", "seqread", "randread")
RESULT = re.compile(r"^RESULT (\S+)-(iops|mbps) (\d+)", re.MULTILINE)


def cmd_for(vmm, disk):
    guest = ["-bios", PAYLOAD, "-m", "256", "-fw_cfg",
             "name=opt/minivmm/args,string=lsi_bench %d %s" % (MS, " ".join(ROWS)),
             "-device", "lsi53c895a",
             "-drive", "if=none,id=d0,file=%s,format=raw,cache=%s" % (disk, CACHE),
             "-device", "scsi-hd,drive=d0,scsi-id=0", "-serial", "stdio", "-display", "none"]
    if vmm == "minivmm":
        binary = os.environ.get("MINIVMM") or os.path.join(ROOT, "minivmm")
        return [binary, "-nodefaults", "-no-kvm-check"] + guest
    return ["qemu-system-x86_64", "-enable-kvm", "-machine", "pc", "-nodefaults"] + guest


def one_run(vmm, disk):
    out = subprocess.run(cmd_for(vmm, disk), capture_output=True, text=True,
                         timeout=60 + 2 * len(ROWS) * MS / 1000).stdout
    if "PASS" not in out:
        raise RuntimeError("%s did not pass:\n%s" % (vmm, out))
    return {(row, what): int(value) for row, what, value in RESULT.findall(out)}


def main():
    if not os.path.exists(PAYLOAD):
        sys.exit("%s not built: run make" % PAYLOAD)
    results = {"minivmm": [], "qemu": []}
    with tempfile.TemporaryDirectory() as d:
        disk = os.path.join(d, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(IMG_MIB << 20)
        for _ in range(RUNS):
            for vmm in results:
                results[vmm].append(one_run(vmm, disk))
    print("scsi: LSI 53C895A + scsi-hd, queue depth 1, %d ms per row, cache=%s (median of %d)"
          % (MS, CACHE, RUNS))
    print("%-10s %13s %13s %13s %13s %8s" % ("row", "minivmm IOPS", "minivmm MB/s",
                                            "qemu IOPS", "qemu MB/s", "ratio"))
    for row in ROWS:
        med = {v: {w: statistics.median(r[(row, w)] for r in runs) for w in ("iops", "mbps")}
               for v, runs in results.items()}
        ratio = med["minivmm"]["iops"] / med["qemu"]["iops"] if med["qemu"]["iops"] else 0
        print("%-10s %13d %13d %13d %13d %8.2f"
              % (row, med["minivmm"]["iops"], med["minivmm"]["mbps"],
                 med["qemu"]["iops"], med["qemu"]["mbps"], ratio))


if __name__ == "__main__":
    main()
