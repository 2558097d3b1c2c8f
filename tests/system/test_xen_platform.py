"""The Xen platform PCI device (hw/xen/xen-platform.c) under qtest: its PCI identity as
QEMU's (5853:0001, class ff80, revision 1, subsystem 5853:0001, INTA, BAR0 256 bytes of I/O,
BAR1 16 MiB prefetchable memory), the fixed ports of Xen's unplug protocol
(docs/misc/hvm-emulated-unplug: magic 0x49d2 at 0x10, protocol version 1 at 0x12), the
unplug itself (IDE disks go with their drives, CD-ROMs stay), the event channel callback
through its INTA, and that it exists only under Xen emulation.
"""

import time

import pytest

import xen_front as xf
from xen_front import Guest, start_vm, stop_vm

XEN_VENDOR = 0x5853


@pytest.fixture(autouse=True)
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("Xen emulation under qtest is minivmm's")


def find_platform(qt):
    for slot in range(32):
        devfn = slot << 3
        if qt.pci_cfg_readl(devfn, 0) & 0xffff == XEN_VENDOR:
            return devfn
    return None


def cfg_write(qt, devfn, off, val):
    qt.outl(0xcf8, 0x80000000 | devfn << 8 | off)
    qt.outl(0xcfc, val)


def bar_size_mask(qt, devfn, bar):
    off = 0x10 + 4 * bar
    old = qt.pci_cfg_readl(devfn, off)
    cfg_write(qt, devfn, off, 0xffffffff)
    mask = qt.pci_cfg_readl(devfn, off)
    cfg_write(qt, devfn, off, old)
    return mask


def test_pci_identity():
    qt, _ = start_vm()
    try:
        devfn = find_platform(qt)
        assert devfn is not None
        assert qt.pci_cfg_readl(devfn, 0) == 0x00015853
        assert qt.pci_cfg_readl(devfn, 0x08) == 0xff800001  # class ff80, prog-if 0, rev 1
        assert qt.pci_cfg_readl(devfn, 0x2c) == 0x00015853  # subsystem
        assert (qt.pci_cfg_readl(devfn, 0x3c) >> 8) & 0xff == 1  # INTA
        assert bar_size_mask(qt, devfn, 0) == 0xffffff01  # 256 bytes of I/O
        assert bar_size_mask(qt, devfn, 1) == 0xff000008  # 16 MiB, prefetchable
    finally:
        stop_vm(qt)


def test_fixed_ports():
    qt, _ = start_vm()
    try:
        assert qt.inw(0x10) == 0x49d2
        assert qt.inb(0x12) == 1
        assert qt.inb(0x10) == 0
        qt.outb(0x10, 0xff)  # platform flags: only the ROM lock bit sticks
        assert qt.inb(0x10) == 1
        assert qt.inw(0x12) == 0xffff
        qt.outw(0x12, 3)            # product number (Linux's)
        qt.outl(0x10, 0x12345678)   # build number
        for c in b"hello\n":        # the log
            qt.outb(0x12, c)
        assert qt.inw(0x10) == 0x49d2  # not blacklisted
    finally:
        stop_vm(qt)


def test_absent_without_xen():
    qt, _ = start_vm(xen=False)
    try:
        assert find_platform(qt) is None
        assert qt.inw(0x10) == 0xffff
    finally:
        stop_vm(qt)


def test_device_refusals(run_expect_fail):
    qtest = ["-display", "none", "-machine", "accel=qtest", "-qtest", "null"]
    status, err = run_expect_fail(qtest + ["-device", "xen-platform"])
    assert status == 1
    assert err == ("minivmm: -device xen-platform: xen-platform needs Xen emulation "
                   "(-accel kvm,xen-version=...)\n")
    status, err = run_expect_fail(qtest + ["-accel", "qtest,xen-version=0x4000a",
                                           "-device", "xen-platform"])
    assert status == 1
    assert err == "minivmm: -device xen-platform: only one xen-platform device is supported\n"


def block_ids(q):
    return sorted(b["device"] for b in q.command("query-block"))


def test_unplug_ide_disks(tmp_path):
    disk = tmp_path / "hd.img"
    disk.write_bytes(bytes(1 << 20))
    xdisk = tmp_path / "xen.img"
    xdisk.write_bytes(bytes(1 << 20))
    qt, q = start_vm(["-drive", f"file={disk},if=ide,format=raw",
                      "-drive", "if=ide,index=2,media=cdrom",
                      "-drive", f"file={xdisk},if=xen,format=raw"], tmp_path=tmp_path, qmp=True)
    try:
        before = block_ids(q)
        assert "ide0-hd0" in before and "ide1-cd0" in before and "xen0" in before
        # The primary channel has a disk before the unplug (status READY | SEEK) ...
        qt.outb(0x1f6, 0xa0)
        assert qt.inb(0x1f7) == 0x50
        # ... the guest's PV drivers then unplug the emulated disks (bit 2 alone: nothing).
        qt.outw(0x10, 4)
        qt.inb(0x80)  # a qtest round trip lets the main loop run
        assert block_ids(q) == before
        qt.outw(0x10, 1)
        deadline = time.monotonic() + 10 * xf.timeout_scale()
        while "ide0-hd0" in block_ids(q) and time.monotonic() < deadline:
            time.sleep(0.01)  # the removal runs in the main loop, after the drive's requests
        after = block_ids(q)
        assert "ide0-hd0" not in after
        assert "ide1-cd0" in after and "xen0" in after
        # ... and none after: a channel without devices reads 0, as QEMU's.
        qt.outb(0x1f6, 0xa0)
        assert qt.inb(0x1f7) == 0
    finally:
        stop_vm(qt, q)


def test_intx_callback():
    """The callback through the platform device's INTA: an event (the reply to a xenstore
    request) raises it, routed by the PIIX3 as a BIOS would; it stays up until the guest
    clears upcall_pending, then the next hypercall lowers it."""
    qt, _ = start_vm()
    try:
        devfn = find_platform(qt)
        g = Guest(qt).boot()
        intx = 1 << 56
        assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, intx | devfn << 8 | 1) == xf.EINVAL  # pin B
        assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, intx | (devfn + 8) << 8) == xf.EINVAL
        pirq = ((devfn >> 3) - 1) & 3  # INTA of the slot, as the i440FX swizzles it
        qt.outl(0xcf8, 0x80000000 | 0x08 << 8 | (0x60 + pirq) & ~3)
        qt.outb(0xcfc + (0x60 + pirq) % 4, 10)
        qt.ok("irq_intercept_in ioapic")
        assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, intx | devfn << 8) == 0
        assert g.get_param(xf.HVM_PARAM_CALLBACK_IRQ) == (0, intx | devfn << 8)
        assert g.xs.read("domid") == "1"
        assert g.upcall_pending() == 1
        assert "IRQ raise 10" in qt.irqs
        qt.irqs.clear()
        assert g.xen_version() == 0x4000a  # still pending: the line stays up
        assert "IRQ lower 10" not in qt.irqs
        g.ack_upcall()
        assert g.xen_version() == 0x4000a
        assert "IRQ lower 10" in qt.irqs
    finally:
        stop_vm(qt)
