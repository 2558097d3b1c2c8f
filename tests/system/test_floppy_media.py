"""Floppy media from the monitor: QMP eject and change reach the floppy controller through
the BlockBackend's change-media callback. The guest side is read through qtest: the
disk-change line (DIR bit 7) rises on eject and on change and falls at the next step to
another cylinder with a diskette in; after a change to a 720K image DUMPREG reports 9 sectors
per track. minivmm (qtest accelerator, QEMU 2.2's `change`) and QEMU 7.2 (stopped TCG
machine, `blockdev-change-medium`) give the same answers. Skipped while minivmm's monitor has
no `eject`.
"""

import pytest

from qmp_vm import QMP, QMPError
from qtest import QTest

FDC = 0x3f0


def make_image(path, kib):
    path.write_bytes(bytes(kib * 1024))
    return path


class Floppy:
    def __init__(self, qt):
        self.qt = qt

    def inb(self, port):
        return int(self.qt.ok(f"inb {port:#x}"), 16)

    def send(self, *bytes_):
        for b in bytes_:
            assert self.inb(FDC + 4) & 0xc0 == 0x80
            self.qt.ok(f"outb {FDC + 5:#x} {b:#x}")

    def results(self, n):
        out = []
        for _ in range(n):
            assert self.inb(FDC + 4) & 0xc0 == 0xc0
            out.append(self.inb(FDC + 5))
        assert self.inb(FDC + 4) == 0x80
        return out

    def seek(self, cyl):
        self.send(0x0f, 0x00, cyl)
        self.send(0x08)
        return self.results(2)[1]

    def changed(self):
        return bool(self.inb(FDC + 7) & 0x80)

    def sectors_per_track(self):
        self.send(0x0e)
        return self.results(10)[6]


@pytest.mark.parametrize("backend", ["minivmm", "qemu"])
def test_eject_and_change(tmp_path, backend):
    a = make_image(tmp_path / "a.img", 1440)
    b = make_image(tmp_path / "b.img", 720)
    sock = tmp_path / "qmp.sock"
    qt = QTest.start(backend, ["-drive", f"if=floppy,file={a},format=raw",
                               "-qmp", f"unix:{sock},server,nowait"])
    try:
        qmp = QMP(str(sock))
        qmp.connect(retry_for=10)
        fd = Floppy(qt)
        assert fd.changed()
        assert fd.seek(1) == 1
        assert not fd.changed()
        assert fd.sectors_per_track() == 18

        try:
            qmp.command("eject", device="floppy0")
        except QMPError as e:
            if backend == "minivmm" and e.cls == "CommandNotFound":
                pytest.skip("minivmm's monitor has no eject yet")
            raise
        assert fd.changed()
        assert fd.seek(5) == 5  # an empty drive still steps
        assert fd.changed()

        if backend == "minivmm":
            qmp.command("change", device="floppy0", target=str(b), arg="raw")
        else:
            qmp.command("blockdev-change-medium", device="floppy0", filename=str(b),
                        format="raw")
        assert fd.changed()
        assert fd.sectors_per_track() == 9
        assert fd.seek(2) == 2
        assert not fd.changed()
        qmp.close()
    finally:
        qt.proc.kill()
        qt.proc.wait()
