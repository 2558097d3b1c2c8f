"""Start a VMM as a child process and watch what its guest writes.

A VM runs either minivmm (QEMU's command-line syntax, `-debugcon file:X -serial file:Y`) or
Debian's qemu-system-x86_64 as the behavioural reference (the same test arguments, with the
debug console placed explicitly at port 0x402 where SeaBIOS logs). Logs go to files in a
work directory and are polled; nothing here talks to a monitor yet.
Plain standard library: the only third-party module the tests may use is Debian's pytest.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SEABIOS = "/usr/share/seabios/bios.bin"
BACKENDS = ("minivmm", "qemu")
TAIL_BYTES = 2048
POLL_INTERVAL = 0.05
KILL_GRACE = 3.0


def timeout_scale():
    """Factor for every timeout (MINIVMM_TEST_TIMEOUT_SCALE, e.g. 3 for sanitizer builds)."""
    return float(os.environ.get("MINIVMM_TEST_TIMEOUT_SCALE", "1"))


def minivmm_binary():
    return os.environ.get("MINIVMM") or str(REPO_ROOT / "minivmm")


def qemu_binary():
    return os.environ.get("QEMU") or "qemu-system-x86_64"


def default_backend():
    return os.environ.get("MINIVMM_TEST_VMM", "minivmm")


def base_command(backend, args, binary=None):
    """argv for `args` on `backend`, without the log devices."""
    args = [str(a) for a in args]
    if backend == "minivmm":
        return [binary or minivmm_binary()] + args
    if backend != "qemu":
        raise ValueError(f"unknown VMM backend {backend!r} (choose from {BACKENDS})")
    cmd = [binary or qemu_binary(), "-enable-kvm"]
    if "-machine" not in args and "-M" not in args:
        cmd += ["-machine", "pc"]
    cmd += ["-nodefaults", "-display", "none"]
    if "-bios" not in args:
        # Debian's QEMU defaults to bios-256k.bin; minivmm's default firmware is bios.bin.
        cmd += ["-bios", SEABIOS]
    return cmd + args


def log_device_args(backend, debug_log=None, serial_log=None):
    """Options that send the debug console (port 0x402) and COM1 to files."""
    out = []
    if debug_log is not None:
        if backend == "qemu":
            # QEMU's own -debugcon sits at port 0xe9; SeaBIOS logs to 0x402.
            out += ["-chardev", f"file,id=dbg,path={debug_log}",
                    "-device", "isa-debugcon,iobase=0x402,chardev=dbg"]
        else:
            out += ["-debugcon", f"file:{debug_log}"]
    if serial_log is not None:
        out += ["-serial", f"file:{serial_log}"]
    return out


def read_text(path):
    try:
        return Path(path).read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def tail(path, nbytes=TAIL_BYTES):
    text = read_text(path)
    return text[-nbytes:] if text else "(empty)"


class VMError(AssertionError):
    """The VM did not do what a test waited for; the message carries the log tails."""


class VMTimeout(VMError):
    pass


class VMExited(VMError):
    pass


class VM:
    """One VMM process. Use as a context manager, or through the `make_vm` fixture."""

    def __init__(self, args=(), *, backend=None, workdir=None, name="vm", debugcon=True,
                 serial=True, binary=None, env=None):
        self.backend = backend or default_backend()
        self.workdir = Path(workdir) if workdir else Path.cwd()
        self.name = name
        self.debug_log = self.workdir / f"{name}-debug.log" if debugcon else None
        self.serial_log = self.workdir / f"{name}-serial.log" if serial else None
        self.stdout_log = self.workdir / f"{name}-stdout.log"
        self.stderr_log = self.workdir / f"{name}-stderr.log"
        self.command = (base_command(self.backend, args, binary)
                        + log_device_args(self.backend, self.debug_log, self.serial_log))
        self.env = env
        self.proc = None

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        for log in (self.debug_log, self.serial_log):
            if log is not None and log.exists():
                log.unlink()
        with open(self.stdout_log, "wb") as out, open(self.stderr_log, "wb") as err:
            # Own session, so kill() can reach anything the VMM forks.
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, env=self.env, start_new_session=True)
        return self

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.kill()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def returncode(self):
        return self.proc.poll() if self.proc else None

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def debug_text(self):
        return read_text(self.debug_log) if self.debug_log else ""

    def serial_text(self):
        return read_text(self.serial_log) if self.serial_log else ""

    def stderr_text(self):
        return read_text(self.stderr_log)

    def describe(self, *logs):
        """The command line, status and log tails, for failure messages."""
        status = "running" if self.is_running() else f"exited with status {self.returncode}"
        parts = [f"command: {' '.join(self.command)}", f"process: pid {self.pid}, {status}"]
        for log in logs:
            if log is not None:
                parts.append(f"--- last {TAIL_BYTES} bytes of {log} ---\n{tail(log)}")
        parts.append(f"--- last {TAIL_BYTES} bytes of stderr ({self.stderr_log}) ---\n"
                     f"{tail(self.stderr_log)}")
        return "\n".join(parts)

    def _wait_log(self, log, what, pattern, timeout):
        __tracebackhide__ = True  # pytest: show the caller, not this frame
        if log is None:
            raise ValueError(f"{what} is disabled for this VM")
        if self.proc is None:
            raise VMError("VM not started")
        regex = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout * timeout_scale()
        while True:
            # Poll before reading, so a pattern written just before exit is still seen.
            exited = self.proc.poll() is not None
            match = regex.search(read_text(log))
            if match:
                return match
            if exited:
                raise VMExited(f"{regex.pattern!r} not in the {what}: the VMM exited with "
                               f"status {self.proc.returncode}\n{self.describe(log)}")
            if time.monotonic() > deadline:
                raise VMTimeout(f"{regex.pattern!r} not in the {what} after {timeout} s\n"
                                f"{self.describe(log)}")
            time.sleep(POLL_INTERVAL)

    def wait_debug(self, pattern, timeout=30):
        """Wait for a regex (str: re.MULTILINE) in the debug-console log; return the match."""
        __tracebackhide__ = True
        return self._wait_log(self.debug_log, "debug log", pattern, timeout)

    def wait_serial(self, pattern, timeout=30):
        """Wait for a regex (str: re.MULTILINE) in the serial log; return the match."""
        __tracebackhide__ = True
        return self._wait_log(self.serial_log, "serial log", pattern, timeout)

    def wait_exit(self, timeout=30):
        """Wait for the VMM to exit; return its status (negative: killed by that signal)."""
        __tracebackhide__ = True
        try:
            return self.proc.wait(timeout * timeout_scale())
        except subprocess.TimeoutExpired:
            raise VMTimeout(f"the VMM did not exit within {timeout} s\n"
                            f"{self.describe(self.debug_log, self.serial_log)}\n"
                            f"{thread_stacks(self.pid)}") from None

    def kill(self, grace=KILL_GRACE):
        """SIGTERM, then SIGKILL after `grace` s; always reaps. Safe to call twice."""
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        self.proc.wait()


def thread_stacks(pid):
    """Where a hung VMM's threads are, for the failure message: each thread's name, state and
    kernel wait channel, and gdb's backtraces when gdb is installed."""
    lines = ["--- threads ---"]
    tasks = f"/proc/{pid}/task"
    try:
        tids = sorted(os.listdir(tasks), key=int)
    except OSError:
        tids = []  # it exited meanwhile
    for tid in tids:
        base = f"{tasks}/{tid}"
        try:
            name = Path(base, "comm").read_text().strip()
            state = Path(base, "stat").read_text().rsplit(")", 1)[1].split()[0]
            wchan = Path(base, "wchan").read_text().strip()
        except OSError:
            continue
        lines.append(f"{tid} {name!r} {state} {wchan}")
    try:
        gdb = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx",
                              "-ex", "thread apply all bt"],
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        lines.append(gdb.stdout.decode("utf-8", errors="replace")[-4 * TAIL_BYTES:])
    except (OSError, subprocess.TimeoutExpired) as e:
        lines.append(f"(no backtraces: {e})")
    return "\n".join(lines)


def run_expect_fail(args, timeout=10, *, backend=None, binary=None, env=None):
    """Run the VMM with `args` (no log devices) and return (status, stderr) once it exits.

    Raises VMTimeout if it is still running after `timeout` s: an option that should have
    been refused started a VM instead.
    """
    __tracebackhide__ = True
    cmd = base_command(backend or default_backend(), args, binary)
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                              timeout=timeout * timeout_scale())
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode("utf-8", errors="replace")
        raise VMTimeout(f"still running after {timeout} s (killed): {' '.join(cmd)}\n"
                        f"--- stderr ---\n{err[-TAIL_BYTES:]}") from None
    return done.returncode, done.stderr.decode("utf-8", errors="replace")
