"""drive-backup (QEMU 2.2 semantics): the target holds the drive's content at the moment the
job started, although the guest writes during the job (copy-before-write); sync full, top
and none; cancel; errors; HMP drive_backup."""

from jobs_lib import (MiB, GuestVM, assert_clean, assert_same, backing_of, chain3, create,
                      qemu_io, quit_vm, snapshot_raw, vm_with_drive)
from test_block_jobs_mirror import err


def test_backup_full_point_in_time(tmp_path):
    src = create(tmp_path / "src.qcow2", 16 * MiB)
    qemu_io(src, "write -P 0x11 0 4M", "write -P 0x22 10M 3M")
    at_start = snapshot_raw(src, tmp_path / "start.raw")
    target = tmp_path / "backup.qcow2"
    g = GuestVM(tmp_path, src)
    # speed 1: the job copies its first cluster and sleeps; the guest then overwrites clusters
    # the job has not copied, which must reach the target with their old content.
    g.qmp.command("drive-backup", device="drive0", target=str(target), sync="full", speed=1)
    job = g.qmp.command("query-block-jobs")[0]
    assert job["type"] == "backup" and job["len"] == 16 * MiB
    g.write_burst(100)
    g.quiesce()
    g.qmp.command("block-job-set-speed", device="drive0", speed=0)
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert ev["data"]["type"] == "backup" and "error" not in ev["data"]
    assert ev["data"]["offset"] == ev["data"]["len"] == 16 * MiB
    assert g.qmp.command("query-block")[0]["inserted"]["file"] == str(src)
    g.quit()
    assert_clean(target)
    assert_same(target, at_start)
    after = snapshot_raw(src, tmp_path / "after.raw")
    g.expect_writes(at_start)
    assert_same(after, at_start)   # the guest's writes did land on the source


def test_backup_top_and_none(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    t1 = tmp_path / "t1.qcow2"
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("drive-backup", device="drive0", target=str(t1), sync="top")
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    t2 = tmp_path / "t2.qcow2"
    qmp.command("drive-backup", device="drive0", target=str(t2), sync="none")
    job = qmp.command("query-block-jobs")[0]
    assert job["type"] == "backup" and job["offset"] == 0
    qmp.command("block-job-cancel", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_CANCELLED")
    assert ev["data"]["type"] == "backup"
    quit_vm(vm, qmp)
    assert backing_of(t1) == str(mid)
    assert_clean(t1)
    assert_same(t1, expect)
    assert backing_of(t2) == str(top)


def test_backup_none_keeps_old_data_of_written_clusters(tmp_path):
    src = create(tmp_path / "src.qcow2", 4 * MiB)
    qemu_io(src, "write -P 0x77 0 4M")
    target = tmp_path / "cbw.qcow2"
    g = GuestVM(tmp_path, src, depth=8)
    g.qmp.command("drive-backup", device="drive0", target=str(target), sync="none")
    g.write_burst(50)
    g.quiesce()
    g.qmp.command("block-job-cancel", device="drive0")
    g.qmp.event_wait("BLOCK_JOB_CANCELLED")
    g.quit()
    # The clusters the guest wrote were copied before the write: the target alone (without
    # its backing, the source, which now has the new data) holds 0x77 there.
    for slot in range(8):
        qemu_io(target, f"read -P 0x77 {2 * slot * 4096} 4096")
    qemu_io(src, "read -P 0x5a 0 4096")
    assert_clean(target)


def test_backup_errors_and_hmp(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top, extra=["-drive", "if=none,id=empty"])
    t = str(tmp_path / "t.qcow2")
    assert err(qmp, "drive-backup", device="nope", target=t, sync="full") == (
        "DeviceNotFound", "Device 'nope' not found")
    assert err(qmp, "drive-backup", device="empty", target=t, sync="full") == (
        "GenericError", "Device 'empty' has no medium")
    assert err(qmp, "drive-backup", device="drive0", target=t, sync="full", format="xyz") == (
        "GenericError", "Invalid block format 'xyz'")
    assert err(qmp, "drive-backup", device="drive0", target=t, sync="full",
               **{"on-source-error": "enospc"}) == (
        "GenericError", "Invalid parameter 'on-source-error'")
    assert err(qmp, "drive-backup", device="drive0", target=t, sync="full", speed=-5) == (
        "GenericError", "Invalid parameter 'speed'")
    assert err(qmp, "drive-backup", device="drive0", target=t, sync="bogus") == (
        "GenericError", "Invalid parameter 'bogus'")
    assert qmp.hmp(f"drive_backup -f drive0 {t}") == ""
    busy = "Device 'drive0' is busy: block device is in use by block job: backup"
    assert err(qmp, "drive-backup", device="drive0", target=t + "2", sync="full") == (
        "GenericError", busy)
    assert err(qmp, "drive-mirror", device="drive0", target=t + "2", sync="full") == (
        "GenericError", busy)
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    quit_vm(vm, qmp)
    assert backing_of(t) is None
    assert_same(t, top)


def test_transaction_backups_and_abort(make_vm, tmp_path):
    a = create(tmp_path / "a.qcow2", 4 * MiB)
    b = create(tmp_path / "b.qcow2", 4 * MiB)
    qemu_io(a, "write -P 0xa1 0 4M")
    qemu_io(b, "write -P 0xb2 0 4M")
    vm, qmp = vm_with_drive(make_vm, tmp_path, a, extra=[
        "-drive", f"file={b},if=none,id=drive1,format=qcow2"])
    ta, tb = tmp_path / "ta.qcow2", tmp_path / "tb.qcow2"
    qmp.command("transaction", actions=[
        {"type": "drive-backup", "data": {"device": "drive0", "target": str(ta),
                                          "sync": "full"}},
        {"type": "drive-backup", "data": {"device": "drive1", "target": str(tb),
                                          "sync": "full"}}])
    done = {qmp.event_wait("BLOCK_JOB_COMPLETED")["data"]["device"] for _ in range(2)}
    assert done == {"drive0", "drive1"}
    # abort after a started backup: the job is cancelled before the command returns
    tc = tmp_path / "tc.qcow2"
    r = qmp.cmd("transaction", actions=[
        {"type": "drive-backup", "data": {"device": "drive0", "target": str(tc),
                                          "sync": "full", "speed": 1}},
        {"type": "abort", "data": {}}])
    assert r["error"] == {"class": "GenericError",
                          "desc": "Transaction aborted using Abort action"}
    assert qmp.command("query-block-jobs") == []
    ev = qmp.event_wait("BLOCK_JOB_CANCELLED")
    assert ev["data"]["device"] == "drive0" and ev["data"]["type"] == "backup"
    r = qmp.cmd("transaction", actions=[
        {"type": "drive-backup", "data": {"device": "drive0", "target": str(tc),
                                          "sync": "sideways"}}])
    assert r["error"]["desc"] == "Invalid parameter 'sideways'"
    quit_vm(vm, qmp)
    assert_same(ta, a)
    assert_same(tb, b)
    assert_clean(ta)
