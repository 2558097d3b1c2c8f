"""The monitor's drive commands: block_resize (seen by a virtio-blk guest through qtest),
block_set_io_throttle (query-block shows it), blockdev-add then device_add using it,
drive_add / drive_del (a virtio-blk device keeps running and its guest I/O fails), device_del
errors, change-backing-file, block_passwd, HMP commit, and the same commands as HMP lines on
a real `-monitor unix:` socket. QEMU 2.2's texts; where QEMU 7.2 says the same, it is checked
against Debian's QEMU too (--vmm=qemu).
"""

import subprocess
import time

import pytest

from qmp_vm import QMPError, base_args, qemu22, qtest_with_qmp, start_qmp_vm
from test_hmp import HMPSocket, output_of
from virtio_blk_qtest import VirtioBlk

VIRTIO_DEVFN = 0x20                 # addr=4
CONFIG_CAPACITY = 20                # legacy I/O BAR: device config without MSI-X
VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR = 0, 1


def qemu_img(*args):
    return subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True,
                          text=True).stdout


def qemu_io(*args):
    return subprocess.run(["qemu-io", *map(str, args)], check=True, capture_output=True,
                          text=True).stdout


def raw_image(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


def expect_error(qmp, cls, desc, name, args=None):
    with pytest.raises(QMPError) as e:
        qmp.command(name, args or {})
    assert (e.value.cls, e.value.desc) == (cls, desc)


def blocks(qmp):
    return {b["device"]: b for b in qmp.command("query-block")}


@pytest.fixture
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("drives the guest side through minivmm's qtest accelerator")


def virtio_capacity(disk):
    p = disk.port + CONFIG_CAPACITY
    return disk.qt.inl(p) | disk.qt.inl(p + 4) << 32


def virtio_read_status(disk):
    """One read of sector 0 by the guest; the status byte the device wrote."""
    disk.qt.ok(f"writeb {disk.status:#x} 0xff")
    disk._publish([0])
    for _ in range(2000):
        if int(disk.qt.ok(f"readw {disk.used + 2:#x}"), 16) == disk.avail_idx:
            return disk.qt.memread(disk.status, 1)[0]
        time.sleep(0.001)
    raise AssertionError("virtio-blk request never completed")


@pytest.fixture
def chain(tmp_path):
    base, top = tmp_path / "base.qcow2", tmp_path / "top.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", base, "4M")
    qemu_io("-c", "write -P 0x11 0 128k", base)
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    qemu_io("-c", "write -P 0x33 64k 64k", top)
    return str(base), str(top)


def test_block_resize_seen_by_guest(minivmm_only, tmp_path):
    img = raw_image(tmp_path / "d.raw", 1 << 20)
    qt, qmp = qtest_with_qmp(tmp_path, [
        "-drive", f"file={img},if=none,id=d0,format=raw",
        "-device", "virtio-blk-pci,drive=d0,addr=4"])
    with qt:
        disk = VirtioBlk(qt, VIRTIO_DEVFN, 0, depth=1)
        assert virtio_capacity(disk) == 2048
        qmp.command("block_resize", {"device": "d0", "size": 4 << 20})
        assert virtio_capacity(disk) == 8192
        assert blocks(qmp)["d0"]["inserted"]["image"]["virtual-size"] == 4 << 20
        assert qmp.hmp("block_resize d0 2M") == ""       # HMP: megabytes by default
        assert virtio_capacity(disk) == 4096
        assert virtio_read_status(disk) == VIRTIO_BLK_S_OK


def test_block_resize_errors(make_vm, tmp_path, vmm, chain):
    base, top = chain
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={top},if=none,id=d0,node-name=topn,backing.node-name=basen",
        "-drive", f"file={base},if=none,id=ro,readonly=on", "-drive", "if=none,id=empty"])
    if not qemu22(vm):  # QEMU 7.2 quotes the names and calls the node "node-name"
        return
    expect_error(qmp, "GenericError", "Cannot find device=nope nor node_name=",
                 "block_resize", {"device": "nope", "size": 1 << 20})
    expect_error(qmp, "GenericError", "Parameter 'size' expects a >0 size", "block_resize",
                 {"device": "d0", "size": -1})
    expect_error(qmp, "GenericError", "Device 'ro' is read only", "block_resize",
                 {"device": "ro", "size": 8 << 20})
    expect_error(qmp, "GenericError", "The feature 'resize' is not enabled", "block_resize",
                 {"node-name": "basen", "size": 8 << 20})
    expect_error(qmp, "GenericError", "The feature 'resize' is not enabled", "block_resize",
                 {"device": "empty", "size": 8 << 20})
    expect_error(qmp, "GenericError", "Invalid parameter type for 'size', expected: int",
                 "block_resize", {"device": "d0", "size": "1M"})
    qmp.command("block_resize", {"node-name": "topn", "size": 8 << 20})
    assert blocks(qmp)["d0"]["inserted"]["image"]["virtual-size"] == 8 << 20
    assert qmp.hmp("block_resize nope 1M") == "Cannot find device=nope nor node_name=\r\n"


def test_block_resize_hides_longer_backing(make_vm, tmp_path, vmm):
    """Growing an overlay whose backing file is longer: the new area reads as zeroes, not as
    the backing file's tail (QEMU 7.2; 2.2 showed the tail)."""
    base, top = tmp_path / "base.raw", tmp_path / "top.qcow2"
    qemu_img("create", "-q", "-f", "raw", base, "4M")
    qemu_io("-f", "raw", "-c", "write -q -P 0x5a 0 4M", base)
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", top, "1M")
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={top},if=none,id=d0,format=qcow2"])
    qmp.command("block_resize", {"device": "d0", "size": (3 << 20) + 512})
    qmp.command("quit")
    assert vm.wait_exit(10) == 0
    qemu_io("-f", "qcow2", "-c", "read -q -P 0x5a 0 1M", "-c",
            f"read -q -P 0 1M {(2 << 20) + 512}", top)
    assert qemu_img("check", top).startswith("No errors were found")


THROTTLE_ZERO = {"bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}


def test_block_set_io_throttle(make_vm, tmp_path, vmm, chain):
    base, top = chain
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={top},if=none,id=d0"])
    expect_error(qmp, "DeviceNotFound", "Device 'nope' not found", "block_set_io_throttle",
                 dict(THROTTLE_ZERO, device="nope"))
    expect_error(qmp, "GenericError", "Parameter 'iops_wr' is missing", "block_set_io_throttle",
                 {k: v for k, v in dict(THROTTLE_ZERO, device="d0").items() if k != "iops_wr"})
    expect_error(qmp, "GenericError", "bps/iops/max total values and read/write values cannot "
                 "be used at the same time", "block_set_io_throttle",
                 dict(THROTTLE_ZERO, device="d0", bps=100, bps_rd=10))
    if qemu22(vm):
        expect_error(qmp, "GenericError", "bps/iops/maxs values must be 0 or greater",
                     "block_set_io_throttle", dict(THROTTLE_ZERO, device="d0", iops=-1))
    qmp.command("block_set_io_throttle", dict(THROTTLE_ZERO, device="d0", bps=1 << 20,
                                               iops_rd=100, iops_rd_max=200, iops_size=4096))
    ins = blocks(qmp)["d0"]["inserted"]
    assert (ins["bps"], ins["iops_rd"], ins["iops_wr"]) == (1 << 20, 100, 0)
    assert (ins["iops_rd_max"], ins["iops_size"]) == (200, 4096) and "bps_max" not in ins
    if qemu22(vm):
        assert "I/O throttling:   bps=1048576 bps_rd=0 bps_wr=0 bps_max=0 bps_rd_max=0 " \
               "bps_wr_max=0 iops=0 iops_rd=100 iops_wr=0 iops_max=0 iops_rd_max=200 " \
               "iops_wr_max=0 iops_size=4096" in qmp.hmp("info block d0")
    # Later QEMU's burst length and group; all zero switches throttling off.
    qmp.command("block_set_io_throttle", dict(THROTTLE_ZERO, device="d0", bps=1000,
                                               bps_max=4000, bps_max_length=3, group="g1"))
    assert blocks(qmp)["d0"]["inserted"]["bps_max"] == 4000
    qmp.command("block_set_io_throttle", dict(THROTTLE_ZERO, device="d0"))
    ins = blocks(qmp)["d0"]["inserted"]
    assert ins["bps"] == 0 and "bps_max" not in ins and "iops_size" not in ins
    assert qmp.hmp("block_set_io_throttle d0 0 0 0 50 0 0") == ""
    assert blocks(qmp)["d0"]["inserted"]["iops"] == 50


def test_blockdev_add_errors(make_vm, tmp_path, vmm):
    img = raw_image(tmp_path / "d.raw", 1 << 20)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm)
    file_ref = {"driver": "file", "filename": img}
    if qemu22(vm):
        expect_error(qmp, "GenericError", "Block device needs an ID", "blockdev-add",
                     {"options": {"driver": "raw", "file": file_ref}})
        expect_error(qmp, "GenericError", "aio=native requires cache.direct=true",
                     "blockdev-add", {"options": {"driver": "raw", "id": "x", "aio": "native",
                                                  "file": file_ref}})
        expect_error(qmp, "GenericError", "QMP input object member 'bogus' is unexpected",
                     "blockdev-add", {"options": {"driver": "raw", "id": "x", "bogus": 1}})
        expect_error(qmp, "GenericError", "Invalid parameter 'nosuchdrv'", "blockdev-add",
                     {"options": {"driver": "nosuchdrv", "id": "x"}})
        expect_error(qmp, "GenericError", "Parameter 'driver' is missing", "blockdev-add",
                     {"options": {"id": "x"}})
        expect_error(qmp, "GenericError", "could not open disk image x: Could not open "
                     f"'{tmp_path}/missing': No such file or directory", "blockdev-add",
                     {"options": {"driver": "raw", "id": "x",
                                  "file": {"driver": "file", "filename": str(tmp_path / "missing")}}})
        qmp.command("blockdev-add", {"options": {"driver": "raw", "id": "x", "file": file_ref}})
        expect_error(qmp, "GenericError", "Device with id 'x' already exists", "blockdev-add",
                     {"options": {"driver": "raw", "id": "x", "file": file_ref}})
        x = blocks(qmp)["x"]
        assert x["removable"] is True and x["inserted"]["drv"] == "raw"
        assert qmp.hmp("drive_del x") == (
            "Deleting device added with blockdev-add is not supported\r\n")


def test_blockdev_add_backing_of_itself_refused(make_vm, tmp_path, minivmm_only):
    """Found by scripts/chaos-monitor: a blockdev-add whose "backing" named the new node's own
    node-name succeeded, the node became its own backing file, and the next query-block
    walked the chain for ever (UBSan: its depth counter overflowed). Refused with QEMU 7.2's
    text; a backing reference to another node still works."""
    img, other = tmp_path / "self.qcow2", tmp_path / "other.qcow2"
    for path in (img, other):
        qemu_img("create", "-q", "-f", "qcow2", path, "1M")
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm")
    opts = {"driver": "qcow2", "id": "b1", "node-name": "n1", "backing": "n1",
            "file": {"driver": "file", "filename": str(img)}}
    expect_error(qmp, "GenericError", "could not open disk image b1: Making 'n1' a backing "
                 "child of 'n1' would create a cycle", "blockdev-add", {"options": opts})
    assert qmp.command("query-block") == [] and qmp.command("query-named-block-nodes") == []
    qmp.command("blockdev-add", {"options": {
        "driver": "qcow2", "id": "b0", "node-name": "n0",
        "file": {"driver": "file", "filename": str(other)}}})
    qmp.command("blockdev-add", {"options": dict(opts, backing="n0")})
    assert blocks(qmp)["b1"]["inserted"]["backing_file_depth"] == 1
    qmp.command("quit")
    assert vm.wait_exit(10) == 0


def test_blockdev_add_then_device_add(minivmm_only, tmp_path):
    img = raw_image(tmp_path / "d.raw", 2 << 20)
    qt, qmp = qtest_with_qmp(tmp_path, [])
    with qt:
        qmp.command("blockdev-add", {"options": {
            "driver": "raw", "id": "hot", "node-name": "hotnode", "aio": "native",
            "cache": {"direct": True}, "file": {"driver": "file", "filename": img}}})
        assert blocks(qmp)["hot"]["inserted"]["node-name"] == "hotnode"
        qmp.command("device_add", {"driver": "virtio-blk-pci", "drive": "hot", "addr": "4",
                                   "id": "vblk"})
        expect_error(qmp, "GenericError", "Duplicate ID 'vblk' for device", "device_add",
                     {"driver": "virtio-blk-pci", "drive": "hot", "id": "vblk"})
        expect_error(qmp, "GenericError", "Parameter 'driver' expects device type",
                     "device_add", {"driver": "nosuchdev"})
        hot = blocks(qmp)["hot"]
        assert hot["removable"] is False and "tray_open" not in hot
        disk = VirtioBlk(qt, VIRTIO_DEVFN, 0, depth=1)
        assert virtio_capacity(disk) == 4096
        assert virtio_read_status(disk) == VIRTIO_BLK_S_OK
        expect_error(qmp, "DeviceNotFound", "Device 'nope' not found", "device_del",
                     {"id": "nope"})


def test_drive_add_and_drive_del_under_virtio(minivmm_only, tmp_path):
    img = raw_image(tmp_path / "d.raw", 1 << 20)
    qt, qmp = qtest_with_qmp(tmp_path, [])
    with qt:
        assert qmp.hmp(f"drive_add dummy file={img},if=none,id=d1,format=raw") == "OK\r\n"
        assert qmp.hmp(f"drive_add 0 file={img},id=d2,format=raw") == (
            "Can't hot-add drive to type 1\r\n")
        assert "d2" not in blocks(qmp)
        assert qmp.hmp(f"drive_add 0 file={img},if=none,id=d1") == (
            "Device with id 'd1' already exists\r\n")
        assert qmp.hmp("device_add virtio-blk-pci,drive=d1,addr=4,id=v1") == ""
        disk = VirtioBlk(qt, VIRTIO_DEVFN, 0, depth=1)
        assert virtio_read_status(disk) == VIRTIO_BLK_S_OK
        assert qmp.hmp("drive_del d1") == ""
        assert "d1" not in blocks(qmp)
        # The device stays; its I/O now fails and the VM keeps running (report policy).
        assert virtio_read_status(disk) == VIRTIO_BLK_S_IOERR
        assert virtio_read_status(disk) == VIRTIO_BLK_S_IOERR
        assert qmp.command("query-status")["status"] == "running"
        # The name is free again.
        assert qmp.hmp(f"drive_add 0 file={img},if=none,id=d1,format=raw") == "OK\r\n"
        assert qmp.hmp("drive_del d1") == "" and "d1" not in blocks(qmp)
        assert qmp.hmp("drive_del d1") == "Device 'd1' not found\r\n"


def test_drive_add_scsi_onto_the_lsi(minivmm_only, tmp_path):
    """2.2's drive_add with if=scsi: a scsi-disk on the adapter at the PCI address given
    (here the LSI that -drive if=scsi put in slot 2), at unit= or the first free scsi-id."""
    imgs = [raw_image(tmp_path / f"{n}.raw", 1 << 20) for n in "abcd"]
    qt, qmp = qtest_with_qmp(tmp_path, ["-drive", f"if=scsi,file={imgs[0]},format=raw"])
    with qt:
        def add(addr, img, extra=""):
            return qmp.hmp(f"drive_add {addr} if=scsi,file={img},format=raw{extra}")
        assert add("dummy", imgs[1]) == "Invalid pci address\r\n"
        assert add("0:20", imgs[1]) == "Invalid pci address\r\n"  # slot > 1f
        assert add("1:0:2", imgs[1]) == "Multiple PCI domains not supported, use device_add\r\n"
        assert add("0:9", imgs[1]) == "no pci device with address 0:9\r\n"
        assert add("1:2", imgs[1]) == "no pci device with address 1:2\r\n"
        assert add("0:1", imgs[1]) == "Device is not a SCSI adapter\r\n"
        assert add("0:2", imgs[1], ",unit=9") == "unit 9 too big (max is 6)\r\n"
        assert sorted(blocks(qmp)) == ["scsi0-hd0"]  # each failure deleted its drive
        assert add("0:2", imgs[1]) == "OK bus 0, unit 1\r\n"
        assert add("pci_addr=2", imgs[2], ",unit=5") == "OK bus 0, unit 5\r\n"
        assert add("0:2", imgs[3], ",unit=5") == "drive with bus=0, unit=5 (index=-1) exists\r\n"
        assert add("0:0:2", imgs[3], ",media=cdrom") == "OK bus 0, unit 2\r\n"
        found = blocks(qmp)
        assert sorted(found) == ["scsi0-cd2", "scsi0-hd0", "scsi0-hd1", "scsi0-hd5"]
        # A device took each new drive: the disks report their I/O status, the CD its tray.
        assert all(found[d]["io-status"] == "ok" for d in ("scsi0-hd1", "scsi0-hd5"))
        assert found["scsi0-cd2"]["removable"] and found["scsi0-cd2"]["tray_open"] is False
        assert qmp.hmp(f"drive_add 0:2 if=virtio,file={imgs[3]},format=raw") == (
            "Can't hot-add drive to type 7\r\n")


def test_change_backing_file_and_passwd(make_vm, tmp_path, vmm, chain):
    base, top = chain
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={top},if=none,id=d0,node-name=topn,backing.node-name=basen",
        "-drive", f"file={base},if=none,id=other,node-name=othern,readonly=on"])
    args = {"device": "d0", "image-node-name": "topn", "backing-file": "renamed.qcow2"}
    if qemu22(vm):  # QEMU 7.2 looks the device up as a node too
        expect_error(qmp, "DeviceNotFound", "Device 'nope' not found", "change-backing-file",
                     dict(args, device="nope"))
        expect_error(qmp, "GenericError", "Cannot find device= nor node_name=zz",
                     "change-backing-file", dict(args, **{"image-node-name": "zz"}))
        expect_error(qmp, "GenericError", "not allowing backing file change on an image "
                     "without a backing file", "change-backing-file",
                     dict(args, **{"image-node-name": "basen"}))
        expect_error(qmp, "GenericError", "'other' and image file are not in the same chain",
                     "change-backing-file", dict(args, device="other"))
        expect_error(qmp, "GenericError", "Device 'd0' is not encrypted", "block_passwd",
                     {"device": "d0", "password": "x"})
        expect_error(qmp, "GenericError", "Cannot find device=nope nor node_name=",
                     "block_passwd", {"device": "nope", "password": "x"})
    qmp.command("change-backing-file", args)
    if qemu22(vm):  # QEMU 7.2 shows the open backing node's name here
        assert blocks(qmp)["d0"]["inserted"]["backing_file"] == "renamed.qcow2"
    qmp.command("quit")
    time.sleep(0.5)
    assert "backing file: renamed.qcow2" in qemu_img("info", "-U", top)


def test_hmp_commit(make_vm, tmp_path, vmm, chain):
    base, top = chain
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={top},if=none,id=d0", "-drive", "if=none,id=empty"])
    assert qmp.hmp("commit nope") == "Device 'nope' not found\r\n"
    if qemu22(vm):
        assert qmp.hmp("commit empty") == "'commit' error for 'empty': No medium found\r\n"
    assert qmp.hmp("commit d0") == ""
    assert qmp.hmp("commit all") == ""
    qmp.command("quit")
    time.sleep(0.5)
    assert "read 65536/65536" in qemu_io("-U", "-r", "-c", "read -P 0x33 64k 64k", base)
    assert "read 65536/65536" in qemu_io("-U", "-r", "-c", "read -P 0x11 0 64k", base)
    assert qemu_img("check", "-U", base).startswith("No errors")


def test_block_commands_on_hmp_socket(make_vm, tmp_path, vmm):
    img = raw_image(tmp_path / "d.raw", 1 << 20)
    path = str(tmp_path / "hmp.sock")
    vm = make_vm(base_args(vmm) + ["-monitor", f"unix:{path},server,nowait",
                                   "-drive", f"file={img},if=none,id=d0,format=raw"])
    hmp = HMPSocket(path)
    try:
        hmp.read_until()
        # QEMU 7.2 prefixes HMP errors with "Error: ".
        prefix = "" if qemu22(vm) else "Error: "
        assert output_of(vm, hmp, "eject nope") == prefix + "Device 'nope' not found\r\n"
        assert output_of(vm, hmp, "block_resize d0 2M") == ""
        assert output_of(vm, hmp, "block_set_io_throttle d0 4096 0 0 0 0 0") == ""
        info = output_of(vm, hmp, "info block d0")
        assert "I/O throttling:   bps=4096 " in info
        assert output_of(vm, hmp, "block_set_io_throttle nope 0 0 0 0 0 0") == (
            prefix + "Device 'nope' not found\r\n")
        if qemu22(vm):
            assert output_of(vm, hmp, "drive_add 0 if=none,id=n1,file=" + img +
                             ",format=raw") == "OK\r\n"
            assert output_of(vm, hmp, "drive_del n1") == ""
            assert output_of(vm, hmp, "eject -f d0") == ""
            assert output_of(vm, hmp, f"change d0 {img} raw") == ""
    finally:
        hmp.close()


def test_hmp_qemu_io(make_vm, tmp_path, vmm):
    img = raw_image(tmp_path / "d.raw", 1 << 20)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={img},if=none,id=d0,format=raw", "-drive", "if=none,id=empty"])
    assert qmp.hmp('qemu-io d0 "write -P 0xab 4k 8k"') == ""
    if qemu22(vm):  # a drive without a medium: refused, not a crash
        for cmd in ("info", "map", "read 0 512", "length"):
            assert qmp.hmp(f'qemu-io empty "{cmd}"') == ""
        assert qmp.command("query-status")["running"] is True
    assert qmp.hmp('qemu-io d0 "read -P 0xab 4k 8k"') == ""
    if qemu22(vm):  # QEMU 7.2 looks the device up as a node too
        assert qmp.hmp('qemu-io nope "read 0 512"') == "Device 'nope' not found\r\n"
    qmp.command("quit")
    time.sleep(0.5)
    # The output goes to the VMM's stdout, as 2.2's does.
    out = vm.stdout_log.read_text()
    assert "wrote 8192/8192 bytes at offset 4096" in out
    assert "read 8192/8192 bytes at offset 4096" in out
    assert "read 8192/8192" in qemu_io("-f", "raw", "-c", "read -P 0xab 4k 8k", img)


def ide_identify_sectors(qt):
    """IDENTIFY DEVICE on ide0's master; its LBA28 sector count (words 60-61)."""
    qt.outb(0x1f6, 0xa0)
    qt.outb(0x1f7, 0xec)
    for _ in range(1000):
        if qt.inb(0x1f7) & 0x88 == 0x08:
            break
        time.sleep(0.001)
    words = [qt.inw(0x1f0) for _ in range(256)]
    return words[60] | words[61] << 16


def test_block_resize_seen_by_ide_guest(minivmm_only, tmp_path):
    img = raw_image(tmp_path / "d.raw", 1 << 20)
    qt, qmp = qtest_with_qmp(tmp_path, ["-drive", f"file={img},if=ide,id=hd0,format=raw"])
    with qt:
        assert ide_identify_sectors(qt) == 2048
        qmp.command("block_resize", {"device": "hd0", "size": 4 << 20})
        assert ide_identify_sectors(qt) == 8192
