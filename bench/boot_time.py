#!/usr/bin/python3
"""Boot-time benchmark: process start -> SeaBIOS 'No bootable device.' on its debug port, and
peak RSS (VmHWM), for minivmm and Debian's QEMU side by side on this host, alternating runs.
Prints medians and the minivmm/QEMU ratio (lower is better for both measures)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIOS = "/usr/share/seabios/bios.bin"
MARK = b"No bootable device"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def cmd_for(vmm, log):
    if vmm == "minivmm":
        return [os.path.join(ROOT, "minivmm"), "-m", "128", "-nodefaults",
                "-debugcon", "file:" + log]
    return ["qemu-system-x86_64", "-enable-kvm", "-machine", "pc", "-m", "128",
            "-bios", BIOS, "-nodefaults", "-display", "none",
            "-chardev", "file,id=d,path=" + log,
            "-device", "isa-debugcon,iobase=0x402,chardev=d"]


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def one_run(vmm):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "debug.log")
        start = time.monotonic()
        p = subprocess.Popen(cmd_for(vmm, log), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            while time.monotonic() - start < 60:
                if os.path.exists(log) and MARK in open(log, "rb").read():
                    elapsed = time.monotonic() - start
                    return elapsed, vm_hwm_kib(p.pid)
                time.sleep(0.005)
            raise RuntimeError("%s did not reach the marker" % vmm)
        finally:
            p.kill()
            p.wait()


def main():
    results = {"minivmm": [], "qemu": []}
    for _ in range(RUNS):
        for vmm in results:
            results[vmm].append(one_run(vmm))
    med = {v: (statistics.median(t for t, _ in r), statistics.median(m for _, m in r))
           for v, r in results.items()}
    print("boot-time: SeaBIOS POST to 'No bootable device' (-m 128, median of %d)" % RUNS)
    print("%-10s %12s %12s" % ("vmm", "seconds", "VmHWM KiB"))
    for v, (t, m) in med.items():
        print("%-10s %12.3f %12d" % (v, t, m))
    print("ratio minivmm/qemu: time %.2f, VmHWM %.2f" % (
        med["minivmm"][0] / med["qemu"][0], med["minivmm"][1] / med["qemu"][1]))


if __name__ == "__main__":
    sys.exit(main())
