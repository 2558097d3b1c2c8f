#!/usr/bin/python3
"""IDE throughput, minivmm and Debian's QEMU side by side on this host, alternating runs: the
test payload (tests/guest/scenario-ide.c) reads a pattern back from the IDE disk in 128 KiB
commands from CPL3, by PIO (READ MULTIPLE EXT, 16-sector DRQ blocks through rep insw:
this measures the cost of a port-I/O exit) and by bus-master DMA (two 64 KiB PRDs), after
writing it by DMA. Prints the median read KB/s and the minivmm/QEMU ratio (higher is better).
BENCH_RUNS (default 3), BENCH_PIO_MIB (8) and BENCH_DMA_MIB (64) change the work."""
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOAD = os.path.join(ROOT, "tests", "guest", "payload.bin")
BIOS = "/usr/share/seabios/bios.bin"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MODES = {"pio": "ide %s pioread" % os.environ.get("BENCH_PIO_MIB", "8"),
         "dma": "ide %s dma" % os.environ.get("BENCH_DMA_MIB", "64")}
READ = re.compile(r"^RESULT read (\d+) KB/s$", re.MULTILINE)


def cmd_for(vmm, scenario, disk):
    guest = ["-bios", PAYLOAD, "-m", "256", "-fw_cfg", "name=opt/minivmm/args,string=" +
             scenario, "-drive", "file=%s,if=ide,index=0,format=raw" % disk,
             "-serial", "stdio", "-display", "none"]
    if vmm == "minivmm":
        return [os.path.join(ROOT, "minivmm"), "-nodefaults", "-no-kvm-check"] + guest
    return ["qemu-system-x86_64", "-enable-kvm", "-machine", "pc", "-nodefaults"] + guest


def one_run(vmm, scenario):
    with tempfile.TemporaryDirectory() as d:
        disk = os.path.join(d, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(256 << 20)
        out = subprocess.run(cmd_for(vmm, scenario, disk), capture_output=True, text=True,
                             timeout=600).stdout
    m = READ.search(out)
    if not m or "PASS" not in out:
        raise RuntimeError("%s %r did not pass:\n%s" % (vmm, scenario, out))
    return int(m.group(1))


def main():
    if not os.path.exists(PAYLOAD):
        sys.exit("%s not built: run make" % PAYLOAD)
    for mode, scenario in MODES.items():
        results = {"minivmm": [], "qemu": []}
        for _ in range(RUNS):
            for vmm in results:
                results[vmm].append(one_run(vmm, scenario))
        med = {v: statistics.median(r) for v, r in results.items()}
        print("ide: %s sequential read, payload '%s' (median of %d)" % (mode, scenario, RUNS))
        print("%-10s %12s" % ("vmm", "read KB/s"))
        for v, kbs in med.items():
            print("%-10s %12d" % (v, kbs))
        print("ratio minivmm/qemu: %.2f" % (med["minivmm"] / med["qemu"]))


if __name__ == "__main__":
    main()
