"""An SD card's medium from the monitor: QMP eject and change reach the controller through the
card. The guest side is read through qtest: present state drops to "no card" (0x01fa0000)
with the removal interrupt status and power and SD clock turned off on eject, comes back
(0x01ff0000) with the insertion status on change, and the card is in its power-on state
again (it answers CMD8 in the idle state). A change while the removal is still unacknowledged
shows the insertion only once it is acknowledged, 100 ms of virtual time later (on minivmm
only: QEMU's clock stands still under -S and its qtest cannot step it), so the driver sees
the removal first. minivmm (QEMU 2.2's `change`) and QEMU 7.2 (`blockdev-change-medium`)
give the same answers.
"""

import pytest

from qmp_vm import QMP
from qtest import QTest

DEVFN = 5 << 3
BAR = 0xfe000000
EMPTY, INSERTED = 0x01fa0000, 0x01ff0000
NIS_CMDCMP, NIS_INSERT, NIS_REMOVE = 0x01, 0x40, 0x80


def make_image(path):
    path.write_bytes(bytes(1 << 20))
    return path


class Slot:
    """The controller's BAR0 through qtest."""

    def __init__(self, qt):
        self.qt = qt
        qt.outl(0xcf8, 0x80000000 | DEVFN << 8 | 0x10)
        qt.outl(0xcfc, BAR)
        qt.outl(0xcf8, 0x80000000 | DEVFN << 8 | 0x04)
        qt.outl(0xcfc, 0x6)

    def rl(self, off): return self.qt.readl(BAR + off)
    def wl(self, off, v): self.qt.writel(BAR + off, v)
    def rw(self, off): return int(self.qt.ok(f"readw {BAR + off:#x}"), 16)
    def ww(self, off, v): self.qt.ok(f"writew {BAR + off:#x} {v:#x}")
    def rb(self, off): return int(self.qt.ok(f"readb {BAR + off:#x}"), 16)
    def wb(self, off, v): self.qt.ok(f"writeb {BAR + off:#x} {v:#x}")

    def power_up(self):
        self.ww(0x34, 0x01ff)        # every normal status, insertion and removal among them
        self.wb(0x29, 0x0f)          # 3.3 V, power on
        self.ww(0x2c, 0x8005)        # internal clock, SD clock

    def status(self): return self.rw(0x30)
    def ack(self, bits): self.ww(0x30, bits)

    def cmd8(self):
        """SEND_IF_COND: answered only by a card in the idle state."""
        self.wl(0x08, 0x1aa)
        self.ww(0x0e, 0x081a)
        assert self.status() & NIS_CMDCMP
        self.ack(NIS_CMDCMP)
        return self.rl(0x10)


def change(qmp, backend, image):
    if backend == "minivmm":
        qmp.command("change", device="sd0", target=str(image), arg="raw")
    else:
        qmp.command("blockdev-change-medium", device="sd0", filename=str(image), format="raw")


@pytest.mark.parametrize("backend", ["minivmm", "qemu"])
def test_eject_and_change(tmp_path, backend):
    a, b = make_image(tmp_path / "a.img"), make_image(tmp_path / "b.img")
    sock = tmp_path / "qmp.sock"
    qt = QTest.start(backend, ["-drive", f"if=none,id=sd0,file={a},format=raw",
                               "-device", "sdhci-pci,addr=5", "-device", "sd-card,drive=sd0",
                               "-qmp", f"unix:{sock},server,nowait"])
    try:
        qmp = QMP(str(sock))
        qmp.connect(retry_for=10)
        slot = Slot(qt)
        slot.power_up()
        assert slot.rl(0x24) == INSERTED
        assert slot.cmd8() == 0x1aa

        qmp.command("eject", device="sd0")
        assert slot.rl(0x24) == EMPTY
        assert slot.status() == NIS_REMOVE
        assert slot.rb(0x29) & 1 == 0          # power off
        assert slot.rw(0x2c) & 4 == 0          # SD clock off

        change(qmp, backend, b)                # removal not acknowledged: insertion waits
        assert slot.rl(0x24) == EMPTY
        slot.ack(NIS_REMOVE)
        assert slot.rl(0x24) == EMPTY
        if backend == "minivmm":               # QEMU's clock stands still under -S
            qt.ok("clock_step 100000000")
            assert slot.rl(0x24) == INSERTED
            assert slot.status() == NIS_INSERT
            slot.ack(NIS_INSERT)

        qmp.command("eject", device="sd0")
        slot.ack(NIS_REMOVE)
        change(qmp, backend, a)                # acknowledged: at once
        assert slot.rl(0x24) == INSERTED
        assert slot.status() == NIS_INSERT
        slot.power_up()
        assert slot.cmd8() == 0x1aa            # a new card, in its power-on state
        qmp.close()
    finally:
        qt.proc.kill()
        qt.proc.wait()
