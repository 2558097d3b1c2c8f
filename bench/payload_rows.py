"""Shared by the benchmarks whose guest is the test payload running a `*_bench MS ROW...`
scenario (bench/scsi.py, bench/sd.py): minivmm and Debian's QEMU take turns on the same raw
image, each run's "RESULT ROW-iops/-mbps" lines are collected, and a table of medians with
the minivmm/QEMU ratio (higher is better) is printed. Not a benchmark itself (no __main__)."""
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOAD = os.path.join(ROOT, "tests", "guest", "payload.bin")
RESULT = re.compile(r"^RESULT (\S+)-(iops|mbps) (\d+)", re.MULTILINE)


def cmd_for(vmm, scenario, device_args):
    guest = ["-bios", PAYLOAD, "-m", "256", "-fw_cfg", "name=opt/minivmm/args,string=" + scenario,
             *device_args, "-serial", "stdio", "-display", "none"]
    if vmm == "minivmm":
        binary = os.environ.get("MINIVMM") or os.path.join(ROOT, "minivmm")
        return [binary, "-nodefaults", "-no-kvm-check"] + guest
    return ["qemu-system-x86_64", "-enable-kvm", "-machine", "pc", "-nodefaults"] + guest


def one_run(vmm, scenario, device_args, timeout):
    out = subprocess.run(cmd_for(vmm, scenario, device_args), capture_output=True, text=True,
                         timeout=timeout).stdout
    if "PASS" not in out:
        raise RuntimeError("%s did not pass:\n%s" % (vmm, out))
    return {(row, what): int(value) for row, what, value in RESULT.findall(out)}


def run(title, scenario, rows, ms, runs, img_mib, device_args):
    """device_args(disk) gives the VMM options that attach the image; both VMMs get them."""
    if not os.path.exists(PAYLOAD):
        sys.exit("%s not built: run make" % PAYLOAD)
    results = {"minivmm": [], "qemu": []}
    with tempfile.TemporaryDirectory() as d:
        disk = os.path.join(d, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(img_mib << 20)
        for _ in range(runs):
            for vmm in results:
                results[vmm].append(one_run(vmm, "%s %d %s" % (scenario, ms, " ".join(rows)),
                                            device_args(disk), 60 + 2 * len(rows) * ms / 1000))
    print("%s, %d ms per row (median of %d)" % (title, ms, runs))
    print("%-10s %13s %13s %13s %13s %8s" % ("row", "minivmm IOPS", "minivmm MB/s",
                                            "qemu IOPS", "qemu MB/s", "ratio"))
    for row in rows:
        med = {v: {w: statistics.median(r[(row, w)] for r in rs) for w in ("iops", "mbps")}
               for v, rs in results.items()}
        ratio = med["minivmm"]["iops"] / med["qemu"]["iops"] if med["qemu"]["iops"] else 0
        print("%-10s %13d %13d %13d %13d %8.2f"
              % (row, med["minivmm"]["iops"], med["minivmm"]["mbps"],
                 med["qemu"]["iops"], med["qemu"]["mbps"], ratio))
