"""External and internal snapshots and `transaction` over QMP and HMP (QEMU 2.2): data written
through the monitor's qemu-io before a snapshot stays in the base and data written after it
goes to the overlay only; the chains open with qemu-img and check clean; every documented
error with its class and text; a failing or aborted transaction leaves every drive, image and
directory as it was. Debian's qemu-img / qemu-io (QEMU 7.2) are the oracle for the files; the
scenarios whose outcome QEMU 7.2 shares also run with --vmm=qemu.
"""

import hashlib
import json
import re
import shutil
import subprocess
import time

import pytest

from qmp_vm import QMPError, qemu22, start_qmp_vm

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                reason="qemu-img/qemu-io (Debian qemu-utils) not installed")


def qemu_img(*args):
    return subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True,
                          text=True).stdout


def qemu_io(img, cmd, *opts):
    out = subprocess.run(["qemu-io", *opts, "-c", cmd, str(img)], capture_output=True,
                         text=True)
    return out.stdout + out.stderr


def assert_pattern(img, pattern, offset, length, *opts):
    out = qemu_io(img, f"read -P {pattern:#x} {offset} {length}", *opts)
    assert "Pattern verification failed" not in out and f"read {length}/{length}" in out, out


def check_clean(img):
    assert "No errors were found" in qemu_img("check", img)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def new_qcow2(path, size="4M", pattern=None):
    qemu_img("create", "-q", "-f", "qcow2", path, size)
    if pattern is not None:
        qemu_io(path, f"write -P {pattern:#x} 0 1M")
    return path


def snapshot_vm(make_vm, tmp_path, vmm, *drives):
    extra = []
    for i, img in enumerate(drives):
        extra += ["-drive", f"file={img},if=none,id=d{i},format=qcow2,node-name=n{i}"]
    return start_qmp_vm(make_vm, tmp_path, vmm, extra=extra)


def quit_vm(vm, qmp):
    qmp.command("quit")
    vm.proc.wait(timeout=10)


def err(qmp, name, args):
    with pytest.raises(QMPError) as e:
        qmp.command(name, args)
    return e.value.cls, e.value.desc


def named_nodes(qmp):
    """query-named-block-nodes by name."""
    return {n["node-name"]: n for n in qmp.command("query-named-block-nodes")}


def test_external_snapshot_while_writing(make_vm, tmp_path, vmm):
    base = new_qcow2(tmp_path / "base.qcow2", pattern=0xaa)
    overlay = tmp_path / "overlay.qcow2"
    vm, qmp = snapshot_vm(make_vm, tmp_path, vmm, base)
    qmp.hmp('qemu-io d0 "write -P 0xbb 1M 64k"')
    qmp.hmp('qemu-io d0 "aio_write -P 0xcc 2M 64k"')   # in flight: drained into the base
    qmp.command("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": str(overlay),
                                           "snapshot-node-name": "ov", "format": "qcow2"})
    qmp.hmp('qemu-io d0 "write -P 0xdd 0 4k"')
    qmp.hmp('qemu-io d0 "aio_write -P 0xee 3M 64k"')
    qmp.hmp('qemu-io d0 "aio_flush"')
    ins = qmp.command("query-block")[0]["inserted"]
    assert ins["file"] == str(overlay) and ins["backing_file"] == str(base)
    assert ins["backing_file_depth"] == 1 and ins["ro"] is False
    nodes = named_nodes(qmp)
    assert nodes["n0"]["ro"] is True and nodes["ov"]["ro"] is False
    quit_vm(vm, qmp)

    chain = json.loads(qemu_img("info", "--backing-chain", "--output=json", overlay))
    assert [c["filename"] for c in chain] == [str(overlay), str(base)]
    assert chain[0]["backing-filename-format"] == "qcow2"
    check_clean(base)
    check_clean(overlay)
    # Before the snapshot: in the base. After it: in the overlay only.
    assert_pattern(base, 0xaa, 0, 1 << 20)
    assert_pattern(base, 0xbb, 1 << 20, 64 << 10)
    assert_pattern(base, 0xcc, 2 << 20, 64 << 10)
    assert_pattern(base, 0, 3 << 20, 64 << 10)
    assert_pattern(overlay, 0xdd, 0, 4096)
    assert_pattern(overlay, 0xaa, 4096, (1 << 20) - 4096)
    assert_pattern(overlay, 0xee, 3 << 20, 64 << 10)
    alone = qemu_img("map", "--output=json", "-f", "qcow2", overlay)
    own = [m for m in json.loads(alone) if m["depth"] == 0 and m["data"]]
    assert sorted((m["start"], m["length"]) for m in own) == [(0, 64 << 10),
                                                             (3 << 20, 64 << 10)]


def test_internal_snapshot_while_writing(make_vm, tmp_path, vmm):
    img = new_qcow2(tmp_path / "d.qcow2", pattern=0xaa)
    vm, qmp = snapshot_vm(make_vm, tmp_path, vmm, img)
    qmp.hmp('qemu-io d0 "aio_write -P 0xbb 1M 64k"')
    qmp.command("blockdev-snapshot-internal-sync", {"device": "d0", "name": "s1"})
    qmp.hmp('qemu-io d0 "write -P 0xcc 0 64k"')
    qmp.command("blockdev-snapshot-internal-sync", {"device": "d0", "name": "s2"})
    snaps = qmp.command("query-block")[0]["inserted"]["image"]["snapshots"]
    assert [(s["id"], s["name"]) for s in snaps] == [("1", "s1"), ("2", "s2")]
    info = qmp.command("blockdev-snapshot-delete-internal-sync", {"device": "d0", "id": "2"})
    assert info["id"] == "2" and info["name"] == "s2" and info["vm-state-size"] == 0
    assert set(info) == {"id", "name", "vm-state-size", "date-sec", "date-nsec",
                         "vm-clock-sec", "vm-clock-nsec"}
    assert abs(info["date-sec"] - time.time()) < 60
    quit_vm(vm, qmp)

    check_clean(img)
    listing = qemu_img("snapshot", "-l", img)
    assert " s1 " in listing and " s2 " not in listing
    assert_pattern(img, 0xcc, 0, 64 << 10)
    assert_pattern(img, 0xbb, 1 << 20, 64 << 10)
    qemu_img("snapshot", "-a", "s1", img)
    assert_pattern(img, 0xaa, 0, 1 << 20)
    assert_pattern(img, 0xbb, 1 << 20, 64 << 10)
    check_clean(img)


def drive_state(qmp):
    """query-block, without the host allocation (an internal snapshot taken and deleted
    again may leave the file longer)."""
    blocks = qmp.command("query-block")
    for b in blocks:
        b.get("inserted", {}).get("image", {}).pop("actual-size", None)
    return [(b["device"], json.dumps(b.get("inserted"), sort_keys=True)) for b in blocks]


@pytest.mark.parametrize("failure", ["bad-file", "abort"])
def test_transaction_all_or_nothing(make_vm, tmp_path, vmm, failure):
    if vmm == "qemu" and failure == "bad-file":
        pytest.skip("QEMU 7.2 aborts (bdrv_do_drained_end assertion) on this rollback")
    imgs = [new_qcow2(tmp_path / f"d{i}.qcow2", pattern=0x11 * (i + 1)) for i in range(3)]
    vm, qmp = snapshot_vm(make_vm, tmp_path, vmm, *imgs)
    before_state, before_sums = drive_state(qmp), [sha(p) for p in imgs]
    before_files = sorted(p.name for p in tmp_path.iterdir())
    actions = [
        {"type": "blockdev-snapshot-internal-sync", "data": {"device": "d1", "name": "t"}},
        {"type": "blockdev-snapshot-sync",
         "data": {"device": "d0", "snapshot-file": str(tmp_path / "o0.qcow2")}},
        {"type": "blockdev-snapshot-sync",
         "data": {"device": "d1", "snapshot-file": str(tmp_path / "o1.qcow2"),
                  "snapshot-node-name": "o1"}},
    ]
    if failure == "abort":
        actions.append({"type": "abort", "data": {}})
        expect = "Transaction aborted using Abort action"
    else:
        actions.append({"type": "blockdev-snapshot-sync",
                        "data": {"device": "d2",
                                 "snapshot-file": str(tmp_path / "no" / "o2.qcow2")}})
        expect = "Could not create file: No such file or directory"
    cls, desc = err(qmp, "transaction", {"actions": actions})
    assert cls == "GenericError"
    if qemu22(vm):
        assert desc == expect
        # minivmm also deletes the overlay files the transaction created
        assert sorted(p.name for p in tmp_path.iterdir()) == before_files
    assert drive_state(qmp) == before_state
    assert "o1" not in named_nodes(qmp)
    assert qmp.command("query-block")[1]["inserted"]["image"].get("snapshots", []) == []
    assert [sha(p) for p in imgs][0] == before_sums[0]
    quit_vm(vm, qmp)
    for img in imgs:
        check_clean(img)
        assert "t" not in qemu_img("snapshot", "-l", img).split()
    assert_pattern(imgs[0], 0x11, 0, 1 << 20)
    assert_pattern(imgs[1], 0x22, 0, 1 << 20)


def test_transaction_of_two_snapshots(make_vm, tmp_path, vmm):
    imgs = [new_qcow2(tmp_path / f"d{i}.qcow2") for i in range(2)]
    ovs = [tmp_path / f"o{i}.qcow2" for i in range(2)]
    vm, qmp = snapshot_vm(make_vm, tmp_path, vmm, *imgs)
    qmp.command("transaction", {"actions": [
        {"type": "blockdev-snapshot-sync",
         "data": {"device": f"d{i}", "snapshot-file": str(ovs[i])}} for i in range(2)]})
    assert [b["inserted"]["file"] for b in qmp.command("query-block")] == list(map(str, ovs))
    quit_vm(vm, qmp)
    for ov, img in zip(ovs, imgs):
        chain = json.loads(qemu_img("info", "--backing-chain", "--output=json", ov))
        assert [c["filename"] for c in chain] == [str(ov), str(img)]
        check_clean(ov)


def test_unchanged_images_byte_identical(make_vm, tmp_path, vmm):
    """Only external snapshots in the transaction: the images are untouched byte for byte."""
    imgs = [new_qcow2(tmp_path / f"d{i}.qcow2", pattern=0x33) for i in range(2)]
    vm, qmp = snapshot_vm(make_vm, tmp_path, vmm, *imgs)
    sums = [sha(p) for p in imgs]
    with pytest.raises(QMPError):
        qmp.command("transaction", {"actions": [
            {"type": "blockdev-snapshot-sync",
             "data": {"device": "d0", "snapshot-file": str(tmp_path / "o0.qcow2")}},
            {"type": "blockdev-snapshot-sync",
             "data": {"device": "d1", "snapshot-file": str(tmp_path / "o1.qcow2"),
                      "format": "nope"}}]})
    assert [sha(p) for p in imgs] == sums
    if qemu22(vm):
        assert not (tmp_path / "o0.qcow2").exists()


def test_snapshot_errors(make_vm, tmp_path, vmm):
    img = new_qcow2(tmp_path / "d.qcow2")
    raw = tmp_path / "r.raw"
    raw.write_bytes(b"\0" * 65536)
    if vmm != "minivmm":
        pytest.skip("2.2 texts (and QEMU 7.2 locks an image opened twice)")
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={img},if=none,id=d0,format=qcow2,node-name=n0",
        "-drive", f"file={raw},if=none,id=r0,format=raw",
        "-drive", f"file={img},if=none,id=ro0,format=qcow2,readonly=on",
        "-drive", "if=none,id=empty"])
    ov = str(tmp_path / "o.qcow2")
    qmp.command("blockdev-snapshot-internal-sync", {"device": "d0", "name": "s1"})
    G, NF = "GenericError", "DeviceNotFound"
    cases = [
        ("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": ov, "format": "foo"},
         G, "Invalid block format 'foo'"),
        ("blockdev-snapshot-sync", {"device": "nope", "snapshot-file": ov},
         G, "Cannot find device=nope nor node_name="),
        ("blockdev-snapshot-sync", {"node-name": "n0", "snapshot-file": ov},
         G, "New snapshot node name missing"),
        ("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": ov,
                                    "snapshot-node-name": "n0"},
         G, "New snapshot node name already existing"),
        ("blockdev-snapshot-sync", {"device": "empty", "snapshot-file": ov},
         G, "Device 'empty' has no medium"),
        ("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": ov, "mode": "bogus"},
         G, "Invalid parameter 'bogus'"),
        ("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": ov, "format": "raw"},
         G, "Backing file not supported for file format 'raw'"),
        ("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": "/nonexistent/x"},
         G, "Could not create file: No such file or directory"),
        ("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": ov + ".missing",
                                    "mode": "existing"},
         G, None),
        ("blockdev-snapshot-internal-sync", {"device": "nope", "name": "x"},
         NF, "Device 'nope' not found"),
        ("blockdev-snapshot-internal-sync", {"device": "empty", "name": "x"},
         G, "Device 'empty' has no medium"),
        ("blockdev-snapshot-internal-sync", {"device": "ro0", "name": "x"},
         G, "Device 'ro0' is read only"),
        ("blockdev-snapshot-internal-sync", {"device": "r0", "name": "x"},
         G, "Block format 'raw' used by device 'r0' does not support feature "
            "'internal snapshot'"),
        ("blockdev-snapshot-internal-sync", {"device": "d0", "name": ""},
         G, "Name is empty"),
        ("blockdev-snapshot-internal-sync", {"device": "d0", "name": "s1"},
         G, "Snapshot with name 's1' already exists on device 'd0'"),
        ("blockdev-snapshot-delete-internal-sync", {"device": "nope", "name": "x"},
         NF, "Device 'nope' not found"),
        ("blockdev-snapshot-delete-internal-sync", {"device": "d0"},
         G, "Name or id must be provided"),
        ("blockdev-snapshot-delete-internal-sync", {"device": "r0", "name": "x"},
         G, "Failed to get a snapshot list: Operation not supported"),
        ("blockdev-snapshot-delete-internal-sync", {"device": "d0", "name": "x"},
         G, "Snapshot with id '(null)' and name 'x' does not exist on device 'd0'"),
        ("blockdev-snapshot-delete-internal-sync", {"device": "d0", "id": "1", "name": "x"},
         G, "Snapshot with id '1' and name 'x' does not exist on device 'd0'"),
        # 2.2 compares the names; with "existing" it would open a second writer, where QEMU
        # 7.2's locks refuse (test_image_locking.py)
        ("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": str(img)},
         G, "Error: Trying to create an image with the same filename as the backing file"),
        ("blockdev-snapshot-sync", {"device": "d0", "snapshot-file": str(img),
                                    "mode": "existing"},
         G, 'Failed to get "write" lock'),
        ("transaction", {"actions": [
            {"type": "blockdev-snapshot-sync", "data": {"device": "d0", "snapshot-file": ov}},
            {"type": "blockdev-snapshot-sync", "data": {"node-name": "n0",
                                                        "snapshot-file": ov + "2",
                                                        "snapshot-node-name": "x"}}]},
         G, "Device 'd0' is busy: block device is in use by a transaction"),
        ("blockdev-snapshot-sync", {"snapshot-file": ov}, G,
         "Cannot find device= nor node_name="),
        ("blockdev-snapshot-sync", {"device": "d0"}, G, "Parameter 'snapshot-file' is missing"),
        ("transaction", {"actions": {}}, G,
         "Invalid parameter type for 'actions', expected: list"),
        ("transaction", {"actions": [1]}, G,
         "Invalid parameter type for 'null', expected: QDict"),
        ("transaction", {"actions": [{"type": "nope", "data": {}}]}, G,
         "Invalid parameter 'nope'"),
        ("transaction", {"actions": [{"type": "abort"}]}, G,
         "Invalid parameter type for 'data', expected: QDict"),
        ("transaction", {"actions": [{"type": "abort", "data": {"x": 1}}]}, G,
         "QMP input object member 'x' is unexpected"),
        ("transaction", {"actions": [{"type": "abort", "data": {}, "y": 1}]}, G,
         "QMP input object member 'y' is unexpected"),
        ("transaction", {"actions": [{"type": "blockdev-snapshot-internal-sync",
                                      "data": {"device": 1, "name": "x"}}]}, G,
         "Invalid parameter type for 'device', expected: string"),
    ]
    for name, args, cls, desc in cases:
        got = err(qmp, name, args)
        assert got[0] == cls, (name, args, got)
        if desc is not None:
            assert got[1] == desc, (name, args, got)
    assert not (tmp_path / "o.qcow2").exists() and not (tmp_path / "o.qcow22").exists()
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(img)
    # the empty transaction does nothing
    assert qmp.command("transaction", {"actions": []}) == {}
    quit_vm(vm, qmp)
    check_clean(img)


def test_hmp_snapshot_commands(make_vm, tmp_path, vmm):
    img = new_qcow2(tmp_path / "d.qcow2", pattern=0x44)
    ov = tmp_path / "o.qcow2"
    vm, qmp = snapshot_vm(make_vm, tmp_path, vmm, img)
    assert qmp.hmp("info snapshots") == "There is no snapshot available.\r\n"
    assert qmp.hmp("snapshot_blkdev_internal d0 snap1") == ""
    out = qmp.hmp("info snapshots").split("\r\n")
    if not qemu22(vm):
        out = out[1:]   # QEMU 7.2 starts with "List of snapshots present on all disks:"
    assert out[0].split()[:7] == ["ID", "TAG", "VM", "SIZE", "DATE", "VM", "CLOCK"]
    assert out[1].split()[1] == "snap1"
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d\d:\d\d:\d\d\.\d{3}\s*$", out[1])
    if qemu22(vm):   # QEMU 7.2 shows the id as "--" in this all-disks listing
        assert out[1].split()[:3] == ["1", "snap1", "0"]
        assert out[0] == "%-10s%-20s%7s%20s%15s" % ("ID", "TAG", "VM SIZE", "DATE", "VM CLOCK")
        assert qmp.hmp("snapshot_blkdev_internal d0 snap1") == \
            "Snapshot with name 'snap1' already exists on device 'd0'\r\n"
        assert qmp.hmp("snapshot_blkdev d0") == "Parameter 'snapshot-file' is missing\r\n"
        assert qmp.hmp("snapshot_delete_blkdev_internal d0 snap1 7") == \
            "Snapshot with id '7' and name 'snap1' does not exist on device 'd0'\r\n"
    assert qmp.hmp("snapshot_delete_blkdev_internal d0 snap1 1") == ""
    assert qmp.hmp("snapshot_blkdev d0 %s qcow2" % ov) == ""
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(ov)
    # -n: reuse an existing image (made here with the same backing)
    ov2 = tmp_path / "o2.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-b", ov, "-F", "qcow2", ov2)
    assert qmp.hmp("snapshot_blkdev -n d0 %s" % ov2) == ""
    ins = qmp.command("query-block")[0]["inserted"]
    assert ins["file"] == str(ov2) and ins["backing_file_depth"] == 2
    qmp.hmp('qemu-io d0 "write -P 0x55 0 4k"')
    quit_vm(vm, qmp)
    for f in (img, ov, ov2):
        check_clean(f)
    assert_pattern(img, 0x44, 0, 4096)
    assert_pattern(ov2, 0x55, 0, 4096)
    assert "snap1" not in qemu_img("snapshot", "-l", img)


# ---- a virtio-blk guest (qtest) writing while the snapshot is taken ----

VIRTIO_DEVFN = 4 << 3
GUEST_BS, GUEST_DEPTH = 64 << 10, 16


def guest_writes(qt, d, fill):
    """Fill every slot's buffer with fill and publish all of them at once (not waiting)."""
    qt.ok(f"memset {d.data:#x} {GUEST_BS * GUEST_DEPTH:#x} {fill:#x}")
    d.paused = True
    d._publish(list(range(GUEST_DEPTH)))


def guest_wait(d, total):
    deadline = time.monotonic() + 20
    while d.completed < total:      # poll() asserts every request succeeded
        assert time.monotonic() < deadline, f"{d.completed}/{total} guest writes"
        d.poll()


def start_guest(tmp_path, vmm, img, iothread=False):
    from qtest import QTest
    from virtio_blk_qtest import VirtioBlk
    from qmp_vm import QMP

    sock = str(tmp_path / "qmp.sock")
    dev = f"virtio-blk-pci,drive=d0,addr={VIRTIO_DEVFN >> 3:#x}"
    objs = ["-object", "iothread,id=io0"] if iothread else []
    qt = QTest.start(vmm, ["-m", "128", "-drive", f"if=none,id=d0,file={img},format=qcow2",
                           *objs, "-device", dev + (",iothread=io0" if iothread else ""),
                           "-qmp", f"unix:{sock},server,nowait"])
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    d = VirtioBlk(qt, VIRTIO_DEVFN, 0, depth=GUEST_DEPTH, bs=GUEST_BS, write=True)
    return qt, qmp, d


def slot_offset(slot):
    return 2 * slot * GUEST_BS


@pytest.mark.parametrize("kind", ["external", "internal", "external-iothread"])
def test_snapshot_while_guest_writes(tmp_path, vmm, kind):
    if vmm != "minivmm" and kind != "external":
        pytest.skip("QEMU 7.2 (TCG, -S) sometimes hangs at quit after this scenario")
    img = new_qcow2(tmp_path / "d.qcow2", size="8M")
    overlay = tmp_path / "o.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-b", img, "-F", "qcow2", overlay)
    qt, qmp, d = start_guest(tmp_path, vmm, img, iothread=kind.endswith("iothread"))
    with qt, qmp:
        guest_writes(qt, d, 0xaa)          # in flight while the snapshot is taken
        if kind.startswith("external"):  # "existing": no "Formatting" line on the qtest stdio
            qmp.command("blockdev-snapshot-sync",
                        {"device": "d0", "snapshot-file": str(overlay), "mode": "existing"})
        else:
            qmp.command("blockdev-snapshot-internal-sync", {"device": "d0", "name": "s"})
        guest_wait(d, GUEST_DEPTH)
        guest_writes(qt, d, 0xbb)
        guest_wait(d, 2 * GUEST_DEPTH)
        qmp.command("quit")
        qt.proc.wait(timeout=10)
    check_clean(img)
    if kind.startswith("external"):
        check_clean(overlay)
        chain = json.loads(qemu_img("info", "--backing-chain", "--output=json", overlay))
        assert [c["filename"] for c in chain] == [str(overlay), str(img)]
        before, after = img, overlay
    else:
        after = img
        before = tmp_path / "s.qcow2"
        qemu_img("convert", "-O", "qcow2", "-l", "snapshot.name=s", img, before)
    for s in (0, GUEST_DEPTH // 2, GUEST_DEPTH - 1):
        assert_pattern(before, 0xaa, slot_offset(s), GUEST_BS)
        assert_pattern(after, 0xbb, slot_offset(s), GUEST_BS)
        assert_pattern(before, 0, slot_offset(s) + GUEST_BS, GUEST_BS)


def test_snapshot_of_busy_drive(make_vm, tmp_path, vmm):
    """A block job's op blocker refuses both kinds of snapshot, with 2.2's text."""
    img = new_qcow2(tmp_path / "d.qcow2")
    vm, qmp = snapshot_vm(make_vm, tmp_path, vmm, img)
    qmp.command("drive-mirror", {"device": "d0", "target": str(tmp_path / "m.qcow2"),
                                 "sync": "full", "speed": 1})
    busy = "Device 'd0' is busy: block device is in use by block job: mirror"
    got = err(qmp, "blockdev-snapshot-sync",
              {"device": "d0", "snapshot-file": str(tmp_path / "o.qcow2")})
    assert got[0] == "GenericError" and (got[1] == busy or not qemu22(vm))
    got = err(qmp, "blockdev-snapshot-internal-sync", {"device": "d0", "name": "s"})
    assert got[0] == "GenericError" and (got[1] == busy or not qemu22(vm))
    assert not (tmp_path / "o.qcow2").exists()
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(img)


def test_internal_snapshot_records_guest_clock(tmp_path, vmm):
    """vm-clock-sec/nsec are the guest's virtual clock when the snapshot was taken."""
    if vmm != "minivmm":
        pytest.skip("the virtual clock only moves on clock_step under the qtest accelerator")
    img = new_qcow2(tmp_path / "d.qcow2")
    qt, qmp, d = start_guest(tmp_path, vmm, img)
    with qt, qmp:
        qt.ok("clock_step 3500000000")
        now = int(qt.ok("clock_step 0").split()[0])
        qmp.command("blockdev-snapshot-internal-sync", {"device": "d0", "name": "s"})
        snap = qmp.command("query-block")[0]["inserted"]["image"]["snapshots"][0]
        assert snap["vm-clock-sec"] * 10**9 + snap["vm-clock-nsec"] == now
        assert "00:00:03.500" in qmp.hmp("info snapshots")
        qmp.command("quit")
        qt.proc.wait(timeout=10)
    assert "00:00:03.500" in qemu_img("snapshot", "-l", img)


def test_hmp_delvm(make_vm, tmp_path, vmm):
    """delvm deletes a VM snapshot (by id, else by tag) from every drive that can take one.
    QEMU 2.2 reports each drive where that fails and goes on with the others; 7.2 skips
    drives without the snapshot silently and matches tags only, so the error line and the
    deletion by id are checked on minivmm only."""
    imgs = [new_qcow2(tmp_path / f"d{i}.qcow2") for i in range(2)]
    vm, qmp = snapshot_vm(make_vm, tmp_path, vmm, *imgs)
    for dev in ("d0", "d1"):
        qmp.command("blockdev-snapshot-internal-sync", {"device": dev, "name": "both"})
    qmp.command("blockdev-snapshot-internal-sync", {"device": "d1", "name": "one"})
    out = qmp.hmp("delvm one")
    if qemu22(vm):
        assert out == "Error while deleting snapshot on device 'd0': Can't find the snapshot\r\n"
    assert qmp.hmp("delvm 1" if qemu22(vm) else "delvm both") == ""  # "both" is id 1
    quit_vm(vm, qmp)
    for img in imgs:
        assert "both" not in qemu_img("snapshot", "-l", img)
        assert "one" not in qemu_img("snapshot", "-l", img)
        check_clean(img)


def test_quit_leaves_lazy_refcount_image_clean(make_vm, tmp_path, vmm):
    """`quit` closes the images as QEMU does: a qcow2 with lazy_refcounts=on that the VM wrote
    is no longer marked dirty (incompatible feature bit 0), its refcounts are on the disk and
    the data reads back. minivmm used to exit without closing, leaving the dirty bit set."""
    img = tmp_path / "lazy.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", img, "16M")
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, paused=True, extra=[
        "-drive", f"file={img},if=none,id=d0,format=qcow2"])
    qmp.hmp('qemu-io d0 "write -P 0x5c 64k 128k"')
    assert json.loads(qemu_img("info", "-U", "--output=json", img))["dirty-flag"]
    qmp.command("quit")
    vm.wait_exit()
    with open(img, "rb") as f:
        f.seek(72)
        assert int.from_bytes(f.read(8), "big") & 1 == 0, "image left dirty"
    check_clean(img)
    assert_pattern(img, 0x5c, 64 * 1024, 128 * 1024)
