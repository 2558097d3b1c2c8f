#!/usr/bin/python3
"""qcow2 allocating writes from the guest, minivmm and Debian's QEMU side by side: the test
payload (tests/guest/scenario-virtio-blk-bench.c) writes into clusters the image has not
allocated yet, through a virtio-blk-pci disk with an I/O thread (cache=none, aio=native), in
a fresh 1 GiB qcow2 ("fresh") and in an empty qcow2 overlay over a 1 GiB qcow2 full of data
("overlay": every partial cluster is copied from the backing file first). Rows: 4 KiB random
writes at queue depth 32 and 1, 1 MiB sequential writes at depth 4, BENCH_MS (default 3000) ms
each. Every run gets a new image; the VMMs take turns. Prints the median IOPS of BENCH_RUNS
(default 3) runs and minivmm/QEMU. MINIVMM names the binary (default ./minivmm),
BENCH_PAYLOAD the payload, BENCH_DIR where the images go (default /var/tmp); BENCH_ROWS picks
rows, comma-separated, by image ("overlay") or image and row ("overlay randwrite:1").
BENCH_LAZY=on creates the written image (fresh, or the overlay) with lazy_refcounts=on
(default off); BENCH_CACHE sets the drive's cache mode (default none; directsync keeps
O_DIRECT and aio=native but makes every write write-through, i.e. followed by a flush).
Both VMMs' vCPU is pinned away from the disk's interrupts (bench/vcpu_pin.py)."""
import os
import re
import statistics
import subprocess
import sys
import tempfile

import vcpu_pin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOAD = os.environ.get("BENCH_PAYLOAD") or os.path.join(ROOT, "tests", "guest", "payload.bin")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
MS = int(os.environ.get("BENCH_MS", "3000"))
LAZY = os.environ.get("BENCH_LAZY", "off")
CACHE = os.environ.get("BENCH_CACHE", "none")
RESULT = re.compile(r"^RESULT \S+-iops (\d+)", re.MULTILINE)
ROWS = [("fresh", "randwrite:32"), ("fresh", "randwrite:1"), ("overlay", "randwrite:32"),
        ("overlay", "randwrite:1"), ("fresh", "seqwrite:4")]
PICK = [p.strip() for p in os.environ.get("BENCH_ROWS", "").split(",") if p.strip()]
ROWS = [r for r in ROWS if not PICK or "%s %s" % r in PICK or r[0] in PICK]


def make_base(d):
    """The overlays' backing file: a 1 GiB qcow2 image full of data."""
    base = os.path.join(d, "base.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1G"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1G", base], check=True,
                   stdout=subprocess.DEVNULL)


def make_image(d, kind):
    img = os.path.join(d, "alloc.qcow2")
    if os.path.exists(img):
        os.unlink(img)
    args = ["-b", os.path.join(d, "base.qcow2"), "-F", "qcow2"] if kind == "overlay" else []
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=" + LAZY] +
                   args + [img] + ([] if args else ["1G"]), check=True)
    return img


def one_run(vmm, img, row):
    guest = ["-nodefaults", "-bios", PAYLOAD, "-m", "512", "-fw_cfg",
             "name=opt/minivmm/args,string=virtio_blk_bench %d %s" % (MS, row),
             "-drive", "if=none,id=d0,file=%s,format=qcow2,cache=%s,aio=native" % (img, CACHE),
             "-serial", "stdio", "-display", "none", "-object", "iothread,id=io0",
             "-device", "virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=1,iothread=io0"]
    if vmm == "minivmm":
        cmd = [os.environ.get("MINIVMM") or os.path.join(ROOT, "minivmm"), "-no-kvm-check"]
    else:
        cmd = ["qemu-system-x86_64", "-enable-kvm", "-machine", "pc"] + vcpu_pin.QEMU_NAME
    p = subprocess.Popen(cmd + guest, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    vcpu_pin.pin_vcpu(p.pid, vcpu_pin.vcpu_cpu(img))
    out = p.communicate(timeout=300)[0]
    found = RESULT.search(out)
    if "PASS" not in out or not found:
        raise RuntimeError("%s %s did not pass:\n%s" % (vmm, row, out))
    return int(found.group(1))


def main():
    if not os.path.exists(PAYLOAD):
        sys.exit("%s not built: run make" % PAYLOAD)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/var/tmp")) as d:
        make_base(d)
        print("qcow2 allocating writes, IOPS (median of %d, %d ms each, alternating; "
              "lazy_refcounts=%s, cache=%s)" % (RUNS, MS, LAZY, CACHE))
        print("%-8s %-13s %9s %9s %6s" % ("image", "row", "minivmm", "qemu", "ratio"))
        for kind, row in ROWS:
            runs = {"minivmm": [], "qemu": []}
            for _ in range(RUNS):
                for vmm in runs:
                    runs[vmm].append(one_run(vmm, make_image(d, kind), row))
            m, q = (statistics.median(runs[v]) for v in ("minivmm", "qemu"))
            print("%-8s %-13s %9.0f %9.0f %6.2f" % (kind, row, m, q, m / max(q, 1)))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
