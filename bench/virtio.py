#!/usr/bin/python3
"""virtio-blk throughput, minivmm and Debian's QEMU side by side on this host, alternating
runs: the test payload (tests/guest/scenario-virtio-blk-bench.c) drives a modern
virtio-blk-pci from CPL3 by polling: 4 KiB random reads and writes at queue depth 1 and 32,
1 MiB sequential reads and writes at depth 4, each for BENCH_MS (default 1000) ms. The
payload negotiates FLUSH as a Linux driver does, so the disk is write-back in both VMMs, as
fio's file is (a FLUSH follows each write row, outside its timing). The same
image files serve both VMMs: raw with cache=none and aio=native, raw with aio=io_uring, and a
fully allocated qcow2 (aio=native), each with and without an I/O thread (-object iothread in
both VMMs). Prints the median IOPS (and MB/s) of BENCH_RUNS (default 3) runs, the
minivmm/QEMU ratio (under 1.0 with "p": how likely minivmm's runs would fall that far below
QEMU's by chance, an exact one-sided rank test over the runs, bench/stats.py), and
host-native fio on the raw file (libaio, O_DIRECT, same block size
and depth) as the physical limit, with minivmm's share of it. fio takes its turn in every
round of every configuration (the three take turns, each round starting with the next one:
what runs just before a run matters on this host) and its column is the median of those
runs as the VMMs' are: the host's disk drifts by 2x within minutes, so a limit measured once,
before the VMMs, says little about the time they ran. A second fio column ("fio+spin")
runs the same fio once per row at the start (best of BENCH_RUNS) while another process keeps
one CPU busy, as the payload's polling vCPU does in both VMMs: on a host with few CPUs that
is the limit a polling guest can reach, and minivmm's share of it is printed too.
BENCH_IMG_MIB (default 1024) sizes the images; BENCH_CONFIGS picks configurations (e.g.
"raw-native-iothread");
MINIVMM names the binary (default ./minivmm), BENCH_PAYLOAD the payload (default
tests/guest/payload.bin), BENCH_ROWS the rows (comma-separated, e.g. "randread:32").
BENCH_VERBOSE=1 also prints every run's IOPS, in the order they ran.

Both VMMs' vCPU thread (and fio+spin's spinner) is pinned to the CPU that takes the
fewest of the disk's interrupts, as bench/vcpu_pin.py explains: without it depth-1 rows
halve in about half the runs, for either VMM. BENCH_VCPU_CPU=N picks the CPU, =off pins
nothing."""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import stats
import vcpu_pin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOAD = os.environ.get("BENCH_PAYLOAD") or os.path.join(ROOT, "tests", "guest", "payload.bin")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MS = int(os.environ.get("BENCH_MS", "1000"))
IMG_MIB = int(os.environ.get("BENCH_IMG_MIB", "1024"))
ROWS = (os.environ.get("BENCH_ROWS") or
        "randread:1,randread:32,randwrite:1,randwrite:32,seqread:4,seqwrite:4").split(",")
RESULT = re.compile(r"^RESULT (\S+)-(iops|mbps) (\d+)", re.MULTILINE)
CONFIGS = [(img, aio, it) for img, aio in (("raw", "native"), ("raw", "io_uring"),
                                           ("qcow2", "native")) for it in (True, False)]


def config_name(img, aio, it):
    return "%s-%s-%s" % (img, aio, "iothread" if it else "main")


def cmd_for(vmm, disk, fmt, aio, iothread):
    dev = "virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=1"
    guest = ["-bios", PAYLOAD, "-m", "512", "-fw_cfg", "name=opt/minivmm/args,string=" +
             " ".join(["virtio_blk_bench", str(MS)] + ROWS),
             "-drive", "if=none,id=d0,file=%s,format=%s,cache=none,aio=%s" % (disk, fmt, aio),
             "-serial", "stdio", "-display", "none"]
    if iothread:
        guest += ["-object", "iothread,id=io0"]
        dev += ",iothread=io0"
    guest += ["-device", dev]
    if vmm == "minivmm":
        binary = os.environ.get("MINIVMM") or os.path.join(ROOT, "minivmm")
        return [binary, "-nodefaults", "-no-kvm-check"] + guest
    return ["qemu-system-x86_64", "-enable-kvm", "-machine", "pc",
            "-nodefaults"] + vcpu_pin.QEMU_NAME + guest


def one_run(vmm, disk, fmt, aio, iothread):
    p = subprocess.Popen(cmd_for(vmm, disk, fmt, aio, iothread), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    vcpu_pin.pin_vcpu(p.pid, vcpu_pin.vcpu_cpu(disk))
    out = p.communicate(timeout=600)[0]
    if "PASS" not in out:
        raise RuntimeError("%s %s did not pass:\n%s" % (vmm, disk, out))
    res = {}
    for name, what, val in RESULT.findall(out):
        res.setdefault(name, {})[what] = int(val)
    return res


def fio_row(path, row, spin=False):
    """Host-native fio; spin: with a busy loop on one CPU meanwhile, as a polling vCPU."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if spin else None
    cpu = vcpu_pin.vcpu_cpu(path) if spin else None
    if cpu is not None:
        os.sched_setaffinity(spinner.pid, {cpu})
    try:
        return fio_run(path, row)
    finally:
        if spinner:
            spinner.kill()
            spinner.wait()


def fio_run(path, row):
    kind, depth = row.split(":")
    bs = "1M" if kind.startswith("seq") else "4k"
    rw = {"randread": "randread", "randwrite": "randwrite", "seqread": "read",
          "seqwrite": "write"}[kind]
    out = subprocess.run(["fio", "--name=b", "--filename=" + path, "--direct=1",
                          "--ioengine=libaio", "--rw=" + rw, "--bs=" + bs, "--iodepth=" + depth,
                          "--time_based", "--runtime=%dms" % MS, "--output-format=json"],
                         capture_output=True, text=True, timeout=120).stdout
    job = json.loads(out)["jobs"][0]
    side = job["read"] if "read" in rw else job["write"]
    return {"iops": int(side["iops"]), "mbps": int(side["bw_bytes"] / 1e6)}


def fio_round(path):
    """fio alone on every row, keyed as a payload run's results are."""
    return {key(row): fio_row(path, row) for row in ROWS}


def make_images(d):
    raw = os.path.join(d, "disk.img")
    with open(raw, "wb") as f:  # written, not sparse: reads hit real blocks
        chunk = os.urandom(1 << 20)
        for _ in range(IMG_MIB):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    qcow2 = os.path.join(d, "disk.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=full",
                    qcow2, "%dM" % IMG_MIB], check=True)
    return {"raw": raw, "qcow2": qcow2}


def key(row):
    return row.replace(":", "")


def p_slower(runs, k):
    """How likely runs as far below QEMU's as minivmm's are by chance (bench/stats.py)."""
    return stats.p_lower([r[k]["iops"] for r in runs["minivmm"]],
                         [r[k]["iops"] for r in runs["qemu"]])


def print_config(name, runs, fio):
    med = {v: median_rows(r) for v, r in runs.items()}
    print("virtio-blk %s (median of %d runs, %d ms per row)" % (name, RUNS, MS))
    print("%-14s %10s %10s %6s %8s %10s %7s %10s %7s   %9s %9s" % (
        "row", "minivmm", "qemu", "ratio", "p", "fio", "%fio", "fio+spin", "%f+s",
        "MB/s mvmm", "MB/s qemu"))
    for row in ROWS:
        k = key(row)
        m, q = med["minivmm"][k], med["qemu"][k]
        ratio = m["iops"] / max(q["iops"], 1)
        cols = []
        for f in (med["fio"].get(k) if "fio" in med else None,
                  fio["spin"].get(row) if fio else None):
            cols += [int(f["iops"]) if f else "-",
                     "%.0f%%" % (100 * m["iops"] / f["iops"]) if f else "-"]
        print("%-14s %10d %10d %6.2f %8s %10s %7s %10s %7s   %9d %9d" % (
            row, m["iops"], q["iops"], ratio,
            "%.3f" % p_slower(runs, k) if ratio < 1 else "-", *cols, m["mbps"], q["mbps"]))
    sys.stdout.flush()


def print_runs(name, runs):
    for row in ROWS:
        print("  %s %-14s %s" % (name, row, "  ".join(
            "%s %s" % (who, " ".join(str(int(r[key(row)]["iops"])) for r in rs))
            for who, rs in runs.items())))


def median_rows(runs):
    return {k: {w: statistics.median(r[k][w] for r in runs) for w in ("iops", "mbps")}
            for k in runs[0]}


def main():
    if not os.path.exists(PAYLOAD):
        sys.exit("%s not built: run make" % PAYLOAD)
    wanted = os.environ.get("BENCH_CONFIGS")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/var/tmp")) as d:
        images = make_images(d)
        fio = None
        if shutil.which("fio"):
            fio_row(images["raw"], "randread:32")  # warm-up: the first run after writing lags
            fio = {"spin": {row: max((fio_row(images["raw"], row, True) for _ in range(RUNS)),
                                     key=lambda r: r["iops"]) for row in ROWS}}
        else:
            print("note: fio not installed (scripts/setup-deps): no host-native column")
        for img, aio, it in CONFIGS:
            name = config_name(img, aio, it)
            if wanted and name not in wanted.split(","):
                continue
            fmt = "qcow2" if img == "qcow2" else "raw"
            runs = {"minivmm": [], "qemu": []} | ({"fio": []} if fio else {})
            for i in range(RUNS):
                order = list(runs)
                for vmm in order[i % len(order):] + order[:i % len(order)]:
                    runs[vmm].append(fio_round(images["raw"]) if vmm == "fio" else
                                     one_run(vmm, images[img], fmt, aio, it))
            if os.environ.get("BENCH_VERBOSE"):
                print_runs(name, runs)
            print_config(name, runs, fio)


if __name__ == "__main__":
    main()
