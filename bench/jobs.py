#!/usr/bin/python3
"""Block job throughput, minivmm and Debian's QEMU (7.2) side by side on this host,
alternating runs: drive-mirror sync=full to a new raw / qcow2 target followed by
block-job-complete, and drive-backup sync=full to a new raw / qcow2 target, of a raw image of
BENCH_JOBS_MIB (default 2048) MiB filled with real (non-zero, incompressible) data; and
block-stream of that image, as the backing file of a new empty qcow2 overlay that the drive
opens, into the overlay (the guest's writes then allocate clusters of the overlay). Each VMM
is started under KVM with -S (an idle, paused guest) and the drive on a virtio-blk-pci
device; the time runs from sending the command over QMP to BLOCK_JOB_COMPLETED (mirror: READY,
then block-job-complete, then COMPLETED; both VMMs flush the target before they report).
With BENCH_JOBS_LOAD=1 (the default) every row is repeated with the test payload
(tests/guest/scenario-virtio-blk-bench.c) writing 4 KiB blocks at random offsets, 32 in
flight, for the whole job: mirror then runs with copy-mode=write-blocking in both VMMs (with
the default background mode neither converges under such a guest), backup with
copy-before-write.
Prints the median time and MB/s of BENCH_RUNS (default 3) runs, minivmm/QEMU (higher is
better), with the payload writing also the guest's write requests per second during the job
(query-blockstats, "gw/s": a VMM must not win by starving the guest), and the share of the
reference bandwidth: the host's `cp --sparse=never` of the same file followed by fsync of
the copy, run in the same alternation (median). Every run starts after os.sync()
with the target deleted. BENCH_DIR picks where the images go (default: the system's temporary
directory); MINIVMM names the binary (default ./minivmm); BENCH_JOBS_CASES picks rows by
label prefix, comma-separated (e.g. "mirror" or "backup -> raw"); BENCH_JOBS_LOAD=0 skips
the rows with the payload writing, =only runs only those. MINIVMM_BASELINE names a second
minivmm binary (an older build) run in the same alternation: each row then also shows its
median time and ours/baseline (higher is better), and with the payload its guest writes per
second, for before/after comparisons on a busy host. The VMMs take turns going first
(minivmm in the 1st, 3rd, ... run); BENCH_VERBOSE=1 prints every run's time (with the
payload, time/guest writes per second). With the payload writing, both VMMs' vCPU is pinned
away from the disk's interrupts (bench/vcpu_pin.py)."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "qmp"))
from minivmm_qmp import QMP  # noqa: E402
import vcpu_pin  # noqa: E402

PAYLOAD = os.path.join(ROOT, "tests", "guest", "payload.bin")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
IMG_MIB = int(os.environ.get("BENCH_JOBS_MIB", "2048"))
LOAD = os.environ.get("BENCH_JOBS_LOAD", "1")
MiB = 1 << 20
JOB_TIMEOUT = 1800
# (label, command, target format)
CASES = [("mirror -> raw", "drive-mirror", "raw"),
         ("mirror -> qcow2", "drive-mirror", "qcow2"),
         ("backup -> raw", "drive-backup", "raw"),
         ("backup -> qcow2", "drive-backup", "qcow2"),
         ("stream", "block-stream", None)]
PICK = [p.strip() for p in os.environ.get("BENCH_JOBS_CASES", "").split(",") if p.strip()]
CASES = [c for c in CASES if not PICK or any(c[0].startswith(p) for p in PICK)]
BASELINE = os.environ.get("MINIVMM_BASELINE")
VERBOSE = os.environ.get("BENCH_VERBOSE") == "1"
VMMS = ("minivmm", "qemu") + (("baseline",) if BASELINE else ())


def make_source(path):
    """IMG_MIB MiB of random data, each MiB distinct, written and synced (not sparse)."""
    noise = bytearray(os.urandom(MiB))
    with open(path, "wb") as f:
        for i in range(IMG_MIB):
            noise[0:8] = i.to_bytes(8, "little")
            f.write(noise)
        f.flush()
        os.fsync(f.fileno())


def vmm_cmd(vmm, src, sock, load, fmt="raw"):
    args = ["-nodefaults", "-display", "none", "-m", "512",
            "-qmp", "unix:%s,server,nowait" % sock,
            "-drive", "if=none,id=drive0,file=%s,format=%s" % (src, fmt),
            "-device", "virtio-blk-pci,drive=drive0,disable-legacy=on,addr=0x4"]
    if load:
        args += ["-bios", PAYLOAD, "-serial", "stdio", "-fw_cfg",
                 "name=opt/minivmm/args,string=virtio_blk_bench %d randwrite:32"
                 % (JOB_TIMEOUT * 1000)]
    else:
        args.append("-S")
    if vmm == "minivmm":
        binary = os.environ.get("MINIVMM") or os.path.join(ROOT, "minivmm")
        return [binary, "-no-kvm-check"] + args
    if vmm == "baseline":
        return [BASELINE, "-no-kvm-check"] + args
    return ["qemu-system-x86_64", "-enable-kvm", "-machine", "pc"] + vcpu_pin.QEMU_NAME + args


def wait_for_payload(proc):
    """Read the serial console until the payload has started writing."""
    deadline = time.monotonic() + 60
    seen = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if line.startswith(b"VIRTIO-BLK-BENCH"):
            time.sleep(0.5)  # the first requests are in flight
            return
    raise RuntimeError("payload did not start:\n%s" % seen.decode(errors="replace"))


def start_vmm(vmm, d, src, load, fmt="raw"):
    sock = os.path.join(d, "qmp-%s.sock" % vmm)
    proc = subprocess.Popen(vmm_cmd(vmm, src, sock, load, fmt), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if load else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    qmp = QMP(sock, timeout=JOB_TIMEOUT)
    try:
        if load:
            vcpu_pin.pin_vcpu(proc.pid, vcpu_pin.vcpu_cpu(src))
        qmp.connect(retry_for=20)
        if load:
            wait_for_payload(proc)
    except Exception:
        proc.kill()
        proc.wait()
        raise
    return proc, qmp


def stop_vmm(proc, qmp):
    try:
        qmp.cmd("quit")
        proc.wait(60)
    except Exception:
        proc.kill()
        proc.wait()
    qmp.close()


def wait_event(qmp, name):
    ev = qmp.event_wait(name, timeout=JOB_TIMEOUT)
    if name == "BLOCK_JOB_COMPLETED" and "error" in ev.get("data", {}):
        raise RuntimeError("job failed: %s" % ev)
    return ev


def guest_writes(qmp):
    for dev in qmp.command("query-blockstats"):
        if dev.get("device") == "drive0":
            return dev["stats"]["wr_operations"]
    raise RuntimeError("no blockstats for drive0")


def run_job(qmp, command, fmt, target, load):
    """The job's wall time, from the command to BLOCK_JOB_COMPLETED, and the guest's write
    requests per second meanwhile."""
    args = {"device": "drive0", "target": target, "format": fmt, "sync": "full"}
    if command == "block-stream":
        args = {"device": "drive0"}
    if load and command == "drive-mirror":
        args["copy-mode"] = "write-blocking"
    writes = guest_writes(qmp)
    t = time.monotonic()
    qmp.command(command, args)
    if command == "drive-mirror":
        wait_event(qmp, "BLOCK_JOB_READY")
        qmp.command("block-job-complete", device="drive0")
    wait_event(qmp, "BLOCK_JOB_COMPLETED")
    secs = time.monotonic() - t
    return secs, (guest_writes(qmp) - writes) / secs


def one_run(vmm, d, src, command, fmt, load):
    target = os.path.join(d, "target.img")
    if os.path.exists(target):
        os.unlink(target)
    drive, drive_fmt = src, "raw"
    if command == "block-stream":  # the drive is an empty overlay over the source
        drive, drive_fmt = target, "qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", src, "-F", "raw",
                        target], check=True)
    os.sync()
    proc, qmp = start_vmm(vmm, d, drive, load, drive_fmt)
    try:
        secs, wps = run_job(qmp, command, fmt, target, load)
        if proc.poll() is not None:
            raise RuntimeError("%s exited during the job" % vmm)
    finally:
        stop_vmm(proc, qmp)
    if not load and os.path.getsize(target) < IMG_MIB * MiB and fmt == "raw":
        raise RuntimeError("%s: short target" % vmm)
    os.unlink(target)
    return secs, wps


def cp_run(src, d):
    """The reference: cp --sparse=never of the source, then fsync of the copy."""
    dst = os.path.join(d, "cp.img")
    if os.path.exists(dst):
        os.unlink(dst)
    os.sync()
    t = time.monotonic()
    subprocess.run(["cp", "--sparse=never", src, dst], check=True)
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    secs = time.monotonic() - t
    os.unlink(dst)
    return secs, 0


def mbps(secs):
    return IMG_MIB * MiB / secs / 1e6


def print_rows(d, src, load):
    print("jobs: %d MiB raw source, %s guest (median of %d, alternating)"
          % (IMG_MIB, "payload-writing" if load else "idle", RUNS))
    print("%-16s %9s %9s %9s %9s %8s %7s %7s %7s" % ("case", "qemu s", "ours s", "qemu MB/s",
                                                     "ours MB/s", "ours/qemu", "cp MB/s",
                                                     "qemu%cp", "ours%cp") +
          (" %10s %10s" % ("qemu gw/s", "ours gw/s") if load else "") +
          (" %9s %9s" % ("base s", "ours/base") if BASELINE else "") +
          (" %10s" % "base gw/s" if BASELINE and load else ""))
    for label, command, fmt in CASES:
        runs = {v: [] for v in VMMS + ("cp",)}
        for i in range(RUNS):
            # Who goes first takes turns: a run finds the disk as the previous one left it
            # (its writeback, the discards of the file it deleted).
            for vmm in VMMS if i % 2 == 0 else VMMS[::-1]:
                runs[vmm].append(one_run(vmm, d, src, command, fmt, load))
            runs["cp"].append(cp_run(src, d))
        if VERBOSE:
            for v in runs:
                print("  %-14s %-8s %s" % (label, v, " ".join(
                    "%.2f" % r[0] + ("/%.0f" % r[1] if load and v != "cp" else "")
                    for r in runs[v])))
        q, m, c = (statistics.median(r[0] for r in runs[v]) for v in ("qemu", "minivmm", "cp"))
        line = "%-16s %9.2f %9.2f %9.0f %9.0f %8.2f %7.0f %6.0f%% %6.0f%%" % (
            label, q, m, mbps(q), mbps(m), q / m, mbps(c), 100 * c / q, 100 * c / m)
        if load:
            line += " %10.0f %10.0f" % tuple(statistics.median(r[1] for r in runs[v])
                                             for v in ("qemu", "minivmm"))
        if BASELINE:
            b = statistics.median(r[0] for r in runs["baseline"])
            line += " %9.2f %9.2f" % (b, b / m)
            if load:
                line += " %10.0f" % statistics.median(r[1] for r in runs["baseline"])
        print(line)
        sys.stdout.flush()


def main():
    if shutil.which("qemu-system-x86_64") is None:
        print("jobs bench: qemu-system-x86_64 not installed, skipped")
        return 0
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("jobs bench: /dev/kvm not usable, skipped")
        return 0
    if LOAD != "0" and not os.path.exists(PAYLOAD):
        sys.exit("%s not built: run make" % PAYLOAD)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
        src = os.path.join(d, "source.img")
        make_source(src)
        if LOAD != "only":
            print_rows(d, src, False)
        if LOAD != "0":
            print_rows(d, src, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
