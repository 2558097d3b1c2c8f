#!/usr/bin/python3
"""Boot-time benchmark, minivmm and Debian's QEMU side by side on this host, alternating runs:
  - SeaBIOS: process start -> 'No bootable device.' on its debug port, and peak RSS (VmHWM);
  - SeaBIOS boot: process start -> the marker a boot sector prints on the debug port after
    SeaBIOS loaded it from a virtio-blk disk (-drive if=virtio; the sector is built here);
  - payload: process start -> the test payload's READY line on COM1 (tests/guest/payload.bin
    as -bios: no firmware; READY is its first act in CPL3), and VmHWM at that point.
Prints medians and the minivmm/QEMU ratio (lower is better for both measures)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIOS = "/usr/share/seabios/bios.bin"
PAYLOAD = os.path.join(ROOT, "tests", "guest", "payload.bin")
MARKS = {"seabios": b"No bootable device", "seabios-boot": b"BOOTMARK", "payload": b"READY"}
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
KINDS = os.environ.get("BENCH_KINDS", "seabios,seabios-boot,payload").split(",")


def boot_sector():
    """Real-mode code: mov dx,0x402, then mov al,CH; out dx,al per character, cli; hlt."""
    code = bytearray(b"\xba\x02\x04")
    for ch in b"BOOTMARK\n":
        code += bytes([0xb0, ch, 0xee])
    code += b"\xfa\xf4\xeb\xfd"
    sector = code + bytes(510 - len(code)) + b"\x55\xaa"
    return bytes(sector)


def disk_image(d):
    path = os.path.join(d, "boot.raw")
    with open(path, "wb") as f:
        f.write(boot_sector())
        f.truncate(1 << 20)
    return path


def cmd_for(vmm, kind, log, d):
    disk = []
    if kind == "seabios-boot":
        disk = ["-drive", "if=virtio,format=raw,file=" + disk_image(d)]
    if kind == "payload":
        guest = ["-bios", PAYLOAD, "-fw_cfg", "name=opt/minivmm/args,string=wait 5000",
                 "-serial", "file:" + log]
    elif vmm == "minivmm":
        guest = ["-debugcon", "file:" + log]
    else:
        guest = ["-bios", BIOS, "-chardev", "file,id=d,path=" + log,
                 "-device", "isa-debugcon,iobase=0x402,chardev=d"]
    if vmm == "minivmm":
        return [os.path.join(ROOT, "minivmm"), "-m", "128", "-nodefaults"] + guest + disk
    return ["qemu-system-x86_64", "-enable-kvm", "-machine", "pc", "-m", "128",
            "-nodefaults", "-display", "none"] + guest + disk


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def guest_ram_rss_kib(pid, ram_kib=128 * 1024):
    """Resident KiB of the guest-RAM mapping (the one -m 128 MiB long)."""
    rss, size = 0, 0
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if line.startswith("Size:"):
                size = int(line.split()[1])
            elif line.startswith("Rss:") and size == ram_kib:
                rss += int(line.split()[1])
    return rss


def one_run(vmm, kind):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "guest.log")
        cmd = cmd_for(vmm, kind, log, d)
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            while time.monotonic() - start < 60:
                if os.path.exists(log) and MARKS[kind] in open(log, "rb").read():
                    elapsed = time.monotonic() - start
                    return elapsed, vm_hwm_kib(p.pid), guest_ram_rss_kib(p.pid)
                time.sleep(0.005)
            raise RuntimeError("%s did not reach the marker" % vmm)
        finally:
            p.kill()
            p.wait()


TITLES = {"seabios": "SeaBIOS POST to 'No bootable device'",
          "seabios-boot": "SeaBIOS to a virtio-blk boot sector's marker",
          "payload": "test payload (-bios payload.bin) to READY in CPL3"}


def report(kind, results):
    med = {v: [statistics.median(r[i] for r in runs) for i in range(3)]
           for v, runs in results.items()}
    print("boot-time: %s (-m 128, median of %d)" % (TITLES[kind], RUNS))
    print("%-10s %12s %12s %16s" % ("vmm", "seconds", "VmHWM KiB", "guest RAM KiB"))
    for v, (t, m, g) in med.items():
        print("%-10s %12.3f %12d %16d" % (v, t, m, g))
    print("ratio minivmm/qemu: time %.2f, VmHWM %.2f, minivmm VmHWM minus guest RAM "
          "resident / qemu VmHWM %.2f" % (
              med["minivmm"][0] / med["qemu"][0], med["minivmm"][1] / med["qemu"][1],
              (med["minivmm"][1] - med["minivmm"][2]) / med["qemu"][1]))


def main():
    for kind in KINDS:
        results = {"minivmm": [], "qemu": []}
        for _ in range(RUNS):
            for vmm in results:
                results[vmm].append(one_run(vmm, kind))
        report(kind, results)


if __name__ == "__main__":
    sys.exit(main())
