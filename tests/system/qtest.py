"""A qtest client: starts a VMM with `-qtest stdio` and speaks QEMU's qtest line protocol.

`QTest.minivmm(...)` runs minivmm with the qtest accelerator; `QTest.qemu(...)` runs Debian's
QEMU, which has no qtest accelerator but answers qtest while its vCPUs are stopped (-S), so
the same script can be replayed against both and the replies compared (the behavioural
reference). Asynchronous "IRQ raise/lower N" lines are collected in `irqs`.
"""

import os
import subprocess

import vm as vmlib


class QTestError(AssertionError):
    pass


class QTest:
    def __init__(self, argv):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.irqs = []

    @classmethod
    def minivmm(cls, args=(), binary=None):
        return cls([binary or vmlib.minivmm_binary(), "-machine", "accel=qtest",
                    "-qtest", "stdio", "-nodefaults", "-display", "none"] + list(args))

    @classmethod
    def qemu(cls, args=()):
        return cls([vmlib.qemu_binary(), "-machine", "pc,accel=tcg", "-S", "-qtest", "stdio",
                    "-bios", vmlib.SEABIOS, "-nodefaults", "-display", "none"] + list(args))

    @classmethod
    def start(cls, backend, args=()):
        return cls.minivmm(args) if backend == "minivmm" else cls.qemu(args)

    def cmd(self, line):
        """Send one command; return its reply line (without the newline)."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        while True:
            reply = self.proc.stdout.readline()
            if not reply:
                err = self.proc.stderr.read().decode(errors="replace")
                raise QTestError(f"VMM exited after {line!r}: {' '.join(self.argv)}\n{err}")
            reply = reply.decode().rstrip("\n")
            if reply.startswith("IRQ "):
                self.irqs.append(reply)
                continue
            return reply

    def ok(self, line):
        reply = self.cmd(line)
        if not reply.startswith("OK"):
            raise QTestError(f"{line!r} -> {reply!r}")
        return reply[3:]

    # Typed helpers
    def outb(self, port, v): self.ok(f"outb {port:#x} {v:#x}")
    def outw(self, port, v): self.ok(f"outw {port:#x} {v:#x}")
    def outl(self, port, v): self.ok(f"outl {port:#x} {v:#x}")
    def inb(self, port): return int(self.ok(f"inb {port:#x}"), 16)
    def inw(self, port): return int(self.ok(f"inw {port:#x}"), 16)
    def inl(self, port): return int(self.ok(f"inl {port:#x}"), 16)
    def readl(self, addr): return int(self.ok(f"readl {addr:#x}"), 16)
    def writel(self, addr, v): self.ok(f"writel {addr:#x} {v:#x}")

    def memread(self, addr, size):
        return bytes.fromhex(self.ok(f"read {addr:#x} {size}")[2:])

    def memwrite(self, addr, data):
        self.ok(f"write {addr:#x} {len(data)} 0x{data.hex()}")

    def pci_cfg_readl(self, devfn, off):
        self.outl(0xcf8, 0x80000000 | devfn << 8 | off)
        return self.inl(0xcfc)

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
