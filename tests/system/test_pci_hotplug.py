"""PCI hot-plug and hot-unplug on the pc machine through the PIIX4's ACPI registers (QEMU
2.2's hw/acpi/pcihp.c at 0xae00, GPE0 bit 1), as a guest's ACPI code sees them: device_add
of a virtio-blk-pci sets PCI_UP and raises the GPE (SCI on IRQ 9), the function works once a
driver assigns its BARs; device_del sets PCI_DOWN and nothing goes until the guest writes the
slot to PCI_EJ, then DEVICE_DELETED follows and a -drive drive is gone with the device
(a blockdev-add drive stays). Hostile PCI_EJ masks remove nothing that is not hotpluggable.
Each test runs on minivmm (qtest accelerator) and, where QEMU 7.2 behaves as 2.2 does,
against Debian's QEMU (--vmm=qemu) with the same qtest and QMP exchanges.
"""

import os

import pytest

import vm as vmlib

from qmp_vm import QMP, QMPError
from qtest import QTest
from test_qmp_drive import minivmm_only  # noqa: F401 (a fixture)
from test_qmp_drive import VIRTIO_BLK_S_OK, raw_image, virtio_read_status
from virtio_blk_qtest import VirtioBlk

PCI_UP, PCI_DOWN, PCI_EJ, PCI_RMV, PCI_SEL = 0xae00, 0xae04, 0xae08, 0xae0c, 0xae10
GPE0_STS, GPE0_EN = 0xafe0, 0xafe2
PCI_HOTPLUG_GPE = 1 << 1
SLOT = 4
DEVFN = SLOT << 3
VIRTIO_BLK_ID = 0x10011af4


@pytest.fixture
def vm(vmm, tmp_path):
    def start(*args):
        sock = str(tmp_path / "qmp.sock")
        qt = QTest.start(vmm, ["-qmp", f"unix:{sock},server,nowait"] + list(args))
        qmp = QMP(sock)
        qmp.connect(retry_for=10)
        started.append(qt)
        return qt, qmp
    started = []
    yield start
    for qt in started:
        qt.close()


def drive_arg(tmp_path, name="d0"):
    img = raw_image(tmp_path / f"{name}.raw", 2 << 20)
    return ["-drive", f"if=none,id={name},file={img},format=raw"]


def blocks(qmp):
    return [b["device"] for b in qmp.command("query-block")]


def deleted_events(qmp):
    """Wait for the DEVICE_DELETED that names a device; return all seen by then."""
    seen = []
    while not any("device" in e["data"] for e in seen):
        seen.append(qmp.event_wait("DEVICE_DELETED", timeout=10))
    return seen


def hot_add(qt, qmp, drive="d0", dev_id="d1"):
    qmp.command("device_add", {"driver": "virtio-blk-pci", "drive": drive, "id": dev_id,
                               "addr": str(SLOT)})


def test_hot_add_announces_and_works(vm, tmp_path):
    qt, qmp = vm(*drive_arg(tmp_path))
    qt.ok("irq_intercept_in ioapic")
    assert qt.inl(PCI_RMV) == 0xfffffffc          # 00:00.0 and 00:01.x stay
    assert qt.pci_cfg_readl(DEVFN, 0) == 0xffffffff
    qt.outb(GPE0_EN, PCI_HOTPLUG_GPE)
    hot_add(qt, qmp)
    assert qt.inb(GPE0_STS) & PCI_HOTPLUG_GPE
    assert "IRQ raise 9" in qt.irqs
    assert qt.inl(PCI_UP) == 1 << SLOT
    assert qt.inl(PCI_UP) == 0                    # reading PCI_UP clears it
    assert qt.inl(PCI_DOWN) == 0
    assert qt.pci_cfg_readl(DEVFN, 0) == VIRTIO_BLK_ID
    disk = VirtioBlk(qt, DEVFN, 0, depth=1)       # assigns BAR0 as a guest would
    assert virtio_read_status(disk) == VIRTIO_BLK_S_OK
    qt.outb(GPE0_STS, PCI_HOTPLUG_GPE)            # write 1 to clear: the SCI drops
    assert not qt.inb(GPE0_STS) & PCI_HOTPLUG_GPE
    assert "IRQ lower 9" in qt.irqs


def test_unplug_waits_for_eject(vm, tmp_path):
    qt, qmp = vm(*drive_arg(tmp_path))
    hot_add(qt, qmp)
    qt.outb(GPE0_STS, PCI_HOTPLUG_GPE)
    assert qmp.command("device_del", {"id": "d1"}) == {}
    assert qt.inl(PCI_DOWN) == 1 << SLOT
    assert qt.inb(GPE0_STS) & PCI_HOTPLUG_GPE
    assert not [e for e in qmp.get_events(0.2) if e["event"] == "DEVICE_DELETED"]
    assert qt.pci_cfg_readl(DEVFN, 0) == VIRTIO_BLK_ID   # still there for the guest
    assert "d0" in blocks(qmp)
    qt.outl(PCI_EJ, 1 << SLOT)
    events = deleted_events(qmp)
    assert events[-1]["data"] == {"device": "d1", "path": "/machine/peripheral/d1"}
    assert qt.pci_cfg_readl(DEVFN, 0) == 0xffffffff
    assert qt.inl(PCI_DOWN) == 0
    assert "d0" not in blocks(qmp)                # a -drive drive goes with its device
    with pytest.raises(QMPError) as e:
        qmp.command("device_del", {"id": "d1"})
    assert (e.value.cls, e.value.desc) == ("DeviceNotFound", "Device 'd1' not found")


def test_blockdev_add_drive_stays(minivmm_only, vm, tmp_path):
    img = raw_image(tmp_path / "b.raw", 1 << 20)
    qt, qmp = vm()
    qmp.command("blockdev-add", {"options": {"driver": "raw", "id": "hot", "file": {
        "driver": "file", "filename": img}}})
    hot_add(qt, qmp, drive="hot")
    qmp.command("device_del", {"id": "d1"})
    qt.outl(PCI_EJ, 1 << SLOT)
    deleted_events(qmp)
    assert "hot" in blocks(qmp)
    hot_add(qt, qmp, drive="hot", dev_id="d2")   # free to be used again
    assert qt.pci_cfg_readl(DEVFN, 0) == VIRTIO_BLK_ID


def test_cold_plugged_is_not_announced(vm, tmp_path):
    qt, qmp = vm(*drive_arg(tmp_path), "-device",
                 f"virtio-blk-pci,drive=d0,id=d1,addr={SLOT}")
    assert qt.inb(GPE0_STS) == 0
    assert qt.inl(PCI_UP) == 0
    assert qt.pci_cfg_readl(DEVFN, 0) == VIRTIO_BLK_ID


def test_hostile_eject_masks(vm, tmp_path):
    qt, qmp = vm(*drive_arg(tmp_path))
    hot_add(qt, qmp)
    ids = [qt.pci_cfg_readl(devfn, 0) for devfn in (0, 8, 9, 11)]
    for mask in (0xffffffff, 0x2, 0x1, 0, 0xfffffffc & ~(1 << SLOT) | 1):
        qt.outl(PCI_EJ, mask)
    qt.outl(PCI_SEL, 5)                           # another bus: PCI_EJ does nothing
    qt.outl(PCI_EJ, 1 << SLOT)
    assert (qt.inl(PCI_UP), qt.inl(PCI_RMV), qt.inl(PCI_SEL)) == (0, 0xffffffff, 5)
    qt.outl(PCI_SEL, 0x1000)
    assert (qt.inl(PCI_RMV), qt.inl(PCI_SEL)) == (0, 0)
    qt.outl(PCI_EJ, 1 << SLOT)
    qt.outl(PCI_SEL, 0)
    assert [qt.pci_cfg_readl(devfn, 0) for devfn in (0, 8, 9, 11)] == ids
    assert qt.pci_cfg_readl(DEVFN, 0) == VIRTIO_BLK_ID
    assert qmp.command("query-status")["status"] in ("running", "prelaunch")


def test_errors(vm, vmm, tmp_path):
    qt, qmp = vm(*drive_arg(tmp_path), *drive_arg(tmp_path, "ide"), "-device",
                 "ide-hd,drive=ide,bus=ide.0,id=disk0")

    def error(name, args):
        with pytest.raises(QMPError) as e:
            qmp.command(name, args)
        return e.value.cls, e.value.desc

    assert error("device_del", {"id": "nope"}) == ("DeviceNotFound", "Device 'nope' not found")
    assert error("device_del", {"id": "disk0"}) == (
        "GenericError", "Bus 'ide.0' does not support hotplugging")
    occupied = "ocuppied" if vmm == "minivmm" else "occupied"
    assert error("device_add", {"driver": "virtio-blk-pci", "drive": "d0", "addr": "1.5"}) == (
        "GenericError", f"PCI: slot 1 function 0 already {occupied} by PIIX3, new func "
        "virtio-blk-pci cannot be exposed to guest.")
    cls, desc = error("device_add", {"driver": "virtio-blk-pci", "drive": "d0", "addr": "0"})
    assert desc.startswith("PCI: slot 0 function 0 not available for virtio-blk-pci, in use "
                           "by i440FX")
    assert "d0" in blocks(qmp) and qt.inl(PCI_UP) == 0


def test_unplug_with_requests_in_flight(minivmm_only, vm, tmp_path):
    img = raw_image(tmp_path / "t.raw", 8 << 20)
    qt, qmp = vm("-drive", f"if=none,id=d0,file={img},format=raw,throttling.bps-total=65536")
    hot_add(qt, qmp)
    disk = VirtioBlk(qt, DEVFN, 0, depth=32, bs=16384, write=True)
    disk.start()                                  # 512 KiB at 64 KiB/s: all still queued
    qmp.command("device_del", {"id": "d1"})
    qt.outl(PCI_EJ, 1 << SLOT)
    assert deleted_events(qmp)[-1]["data"]["device"] == "d1"
    assert qt.pci_cfg_readl(DEVFN, 0) == 0xffffffff
    assert "d0" not in blocks(qmp)
    assert qmp.command("query-status")["status"] == "running"


def test_reset_completes_pending_unplug(vm, tmp_path):
    qt, qmp = vm(*drive_arg(tmp_path))
    hot_add(qt, qmp)
    qmp.command("device_del", {"id": "d1"})
    qmp.command("system_reset")                   # a guest that never ejects: reset does
    assert deleted_events(qmp)[-1]["data"]["device"] == "d1"
    assert qt.pci_cfg_readl(DEVFN, 0) == 0xffffffff
    assert qt.inl(PCI_DOWN) == 0 and qt.inl(PCI_RMV) == 0xfffffffc


def test_unplug_names_id_less_children(vm, tmp_path):
    """An adapter's disks go first, the last one plugged first, each with its
    DEVICE_DELETED; one without an id has only its QOM path, under /machine/peripheral-anon
    numbered in -device order, and a virtio device's backend has its own event before the
    device's."""
    qt, qmp = vm(*drive_arg(tmp_path), *drive_arg(tmp_path, "d2"), *drive_arg(tmp_path, "d3"),
                 "-device", "virtio-blk-pci,drive=d2,addr=5",
                 "-device", f"lsi53c895a,id=scsi0,addr={SLOT}",
                 "-device", "scsi-hd,drive=d0,scsi-id=0",
                 "-device", "scsi-hd,drive=d3,scsi-id=1,id=sd1")
    qmp.command("device_del", {"id": "scsi0"})
    qt.outl(PCI_EJ, 1 << SLOT)
    events = [e["data"] for e in deleted_events(qmp)]
    events += [e["data"] for e in qmp.get_events(0.5) if e["event"] == "DEVICE_DELETED"]
    assert events == [{"device": "sd1", "path": "/machine/peripheral/sd1"},
                      {"path": "/machine/peripheral-anon/device[1]"},
                      {"device": "scsi0", "path": "/machine/peripheral/scsi0"}]
    qt.outl(PCI_EJ, 1 << 5)
    events = [e["data"] for e in qmp.get_events(1.0) if e["event"] == "DEVICE_DELETED"]
    assert events == [{"path": "/machine/peripheral-anon/device[0]/virtio-backend"},
                      {"path": "/machine/peripheral-anon/device[0]"}]


def test_unplug_from_iothread_under_kvm(minivmm_only, tmp_path):
    """KVM (paused, qtest answering): the queue is served by an I/O thread, whose queued
    callbacks the removal waits for before the device's memory goes."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("needs /dev/kvm")
    img = raw_image(tmp_path / "k.raw", 8 << 20)
    sock = str(tmp_path / "qmp.sock")
    qt = QTest([vmlib.minivmm_binary(), "-S", "-qtest", "stdio", "-nodefaults", "-display",
                "none", "-object", "iothread,id=io0", "-qmp", f"unix:{sock},server,nowait",
                "-drive", f"if=none,id=d0,file={img},format=raw,throttling.bps-total=65536"])
    with qt:
        qmp = QMP(sock)
        qmp.connect(retry_for=10)
        qmp.command("device_add", {"driver": "virtio-blk-pci", "drive": "d0", "id": "d1",
                                   "addr": str(SLOT), "iothread": "io0"})
        disk = VirtioBlk(qt, DEVFN, 0, depth=32, bs=16384, write=True)
        disk.start()
        qmp.command("device_del", {"id": "d1"})
        qt.outl(PCI_EJ, 1 << SLOT)
        assert deleted_events(qmp)[-1]["data"]["device"] == "d1"
        assert qt.pci_cfg_readl(DEVFN, 0) == 0xffffffff
        assert "d0" not in blocks(qmp)
        assert qmp.command("query-status")["status"] == "prelaunch"


def test_guest_ejects_from_a_vcpu(make_vm, vmm, tmp_path):
    """The test payload plays the guest's ACPI _EJ0 under KVM: it waits for PCI_DOWN and
    writes the slot to PCI_EJ from CPL3, so the removal starts in a vCPU thread. The device
    is cold-plugged: a guest may eject any hotpluggable device, as in QEMU."""
    from test_payload import payload_args
    sock = str(tmp_path / "qmp.sock")
    vm = make_vm(payload_args("pci_eject") + drive_arg(tmp_path) + [
        "-device", f"virtio-blk-pci,drive=d0,id=d1,addr={SLOT}",
        "-qmp", f"unix:{sock},server,nowait"], debugcon=False)
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    vm.wait_serial("READY")
    assert qmp.command("device_del", {"id": "d1"}) == {}
    events = deleted_events(qmp)
    assert events[-1]["data"] == {"device": "d1", "path": "/machine/peripheral/d1"}
    assert vm.wait_exit(30) == 0
    lines = vm.serial_text().replace("\r\n", "\n").splitlines()
    assert lines[-3:] == [f"DOWN slot {SLOT}", f"EJECTED slot {SLOT}", "PASS"]
