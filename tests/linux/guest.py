"""Run the Linux test guest (scripts/build-test-guest) under a VMM and collect what it printed.

The guest's /init runs the shell command given as `minivmm.cmd=BASE64`, printing
`MINIVMM-GUEST-START` before it and `MINIVMM-GUEST-EXIT <status>` after it on ttyS0, then
powers off (or resets where the kernel found no ACPI tables: the VMMs run with -no-reboot, so
either ends the VMM). Backends:
  minivmm  $MINIVMM or the repository's ./minivmm (needs KVM that runs guest kernel mode)
  qemu     Debian's qemu-system-x86_64: KVM where it runs guest kernel mode, else TCG
Plain standard library, like tests/system.
"""

import base64
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
GUEST_DIR = Path(os.environ.get("MINIVMM_TEST_GUEST", REPO_ROOT / "build" / "test-guest"))
KERNEL = GUEST_DIR / "vmlinuz"
INITRD = GUEST_DIR / "initrd.img"
HOST_CHECK_WARNING = "this host's KVM emulates guest kernel mode"
START = "MINIVMM-GUEST-START"
EXIT_RE = re.compile(r"^MINIVMM-GUEST-EXIT (\d+)\s*$", re.MULTILINE)
CMDLINE_MAX = 2047  # the kernel's COMMAND_LINE_SIZE on x86, minus the NUL


def minivmm_binary():
    return os.environ.get("MINIVMM") or str(REPO_ROOT / "minivmm")


def qemu_binary():
    return os.environ.get("QEMU") or "qemu-system-x86_64"


def timeout_scale():
    return float(os.environ.get("MINIVMM_TEST_TIMEOUT_SCALE", "1"))


def kvm_emulates_kernel_mode(binary=None):
    """minivmm's own start-up probe (hw/kvm/host-check.c): True where it warns that KVM
    emulates guest kernel mode. minivmm starts paused with a QMP monitor on stdio; the greeting
    comes after the check, so by `quit` stderr holds the warning if there is one."""
    proc = subprocess.run([binary or minivmm_binary(), "-S", "-nodefaults", "-display", "none",
                           "-qmp", "stdio"],
                          input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                          capture_output=True, text=True, timeout=30)
    if '"QMP"' not in proc.stdout:
        raise RuntimeError(f"minivmm did not start (status {proc.returncode}): {proc.stderr}")
    return HOST_CHECK_WARNING in proc.stderr


def append_line(command, extra=()):
    """The -append string that makes the guest run the shell text `command`."""
    encoded = base64.b64encode(command.encode()).decode()
    line = " ".join(["console=ttyS0", *extra, f"minivmm.cmd={encoded}"])
    if len(line) > CMDLINE_MAX:
        raise ValueError(f"guest command too long for the kernel command line ({len(line)} > "
                         f"{CMDLINE_MAX} bytes)")
    return line


@dataclass
class Drive:
    """A -drive for both VMMs: interface (virtio, ide, floppy), image, and QEMU's index."""
    interface: str
    path: Path
    index: int = None
    cdrom: bool = False

    def args(self):
        opts = [f"file={self.path}", "format=raw", f"if={self.interface}"]
        if self.index is not None:
            opts.append(f"index={self.index}")
        if self.cdrom:
            opts.append("media=cdrom")
        return ["-drive", ",".join(opts)]


@dataclass
class GuestRun:
    command: list
    vmm_status: int
    serial: str
    stderr: str

    @property
    def guest_status(self):
        match = EXIT_RE.search(self.serial)
        return int(match.group(1)) if match else None

    @property
    def output(self):
        """What the command printed: the lines between the two markers."""
        text = self.serial.replace("\r\n", "\n")
        start = text.find(START + "\n")
        end = EXIT_RE.search(text)
        if start < 0 or not end:
            return ""
        return text[start + len(START) + 1:end.start()]

    def describe(self):
        return (f"command: {' '.join(self.command)}\nVMM status: {self.vmm_status}\n"
                f"--- serial (last 3000 bytes) ---\n{self.serial[-3000:]}\n"
                f"--- stderr ---\n{self.stderr[-2000:]}")


def vmm_command(backend, qemu_accel="tcg"):
    if backend == "minivmm":
        return [minivmm_binary(), "-no-kvm-check"]
    if backend == "qemu":
        return [qemu_binary(), "-machine", f"pc,accel={qemu_accel}", "-display", "none"]
    raise ValueError(f"unknown backend {backend!r}")


def run_guest(backend, command, drives, workdir, *, qemu_accel="tcg", wait=(), mem="256",
              timeout=240):
    """Boot the guest, run `command` in it, wait for the VMM to exit; return a GuestRun."""
    serial = Path(workdir) / f"{backend}-serial.log"
    extra = [f"minivmm.wait={','.join(wait)}"] if wait else []
    argv = (vmm_command(backend, qemu_accel)
            + ["-nodefaults", "-no-reboot", "-m", mem, "-serial", f"file:{serial}",
               "-kernel", str(KERNEL), "-initrd", str(INITRD),
               "-append", append_line(command, extra)])
    for drive in drives:
        argv += drive.args()
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout * timeout_scale(), start_new_session=True)
        status, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as e:
        status = None
        stderr = (e.stderr or b"").decode(errors="replace") + f"\n(killed after {e.timeout} s)"
    text = serial.read_bytes().decode(errors="replace") if serial.exists() else ""
    return GuestRun(argv, status, text, stderr)
