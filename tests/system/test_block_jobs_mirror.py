"""drive-mirror (QEMU 2.2 semantics plus copy-mode=write-blocking): the target ends up
equal to the source at the pivot, guest writes during the copy included; READY,
block-job-complete, cancel before and after READY, errors, HMP drive_mirror."""

import shutil

import pytest

from qmp_vm import wait_for

from jobs_lib import (MiB, GuestVM, assert_clean, assert_same, backing_of, chain3, create,
                      qemu_io, quit_vm, snapshot_raw, vm_with_drive)


def err(qmp, name, **args):
    r = qmp.cmd(name, args)
    assert "error" in r, r
    return r["error"]["class"], r["error"]["desc"]


def wait_ready(qmp, guest=None):
    import time
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if guest:
            guest.write_burst(20)
        for ev in qmp.get_events(0.01 if guest else 0.2):
            if ev["event"] == "BLOCK_JOB_READY":
                return ev
            assert ev["event"] != "BLOCK_JOB_COMPLETED", ev
    raise AssertionError("no BLOCK_JOB_READY")


@pytest.mark.parametrize("mode", ["background", "write-blocking"])
def test_mirror_full_with_guest_writes(tmp_path, mode):
    src = create(tmp_path / "src.qcow2", 16 * MiB)
    qemu_io(src, "write -P 0x11 0 4M", "write -P 0x22 10M 3M")
    expect = snapshot_raw(src, tmp_path / "expect.raw")
    target = tmp_path / "target.qcow2"
    g = GuestVM(tmp_path, src)
    g.write_burst(5)
    g.qmp.command("drive-mirror", device="drive0", target=str(target), sync="full",
                  **{"copy-mode": mode})
    ev = wait_ready(g.qmp, g)
    assert ev["data"]["type"] == "mirror" and ev["data"]["device"] == "drive0"
    assert ev["data"]["offset"] == ev["data"]["len"]
    job = g.qmp.command("query-block-jobs")[0]
    assert job["ready"] is True and job["type"] == "mirror"
    g.write_burst(50)   # still mirroring
    g.qmp.command("block-job-complete", device="drive0")
    g.write_burst(20)
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert "error" not in ev["data"]
    ins = g.qmp.command("query-block")[0]["inserted"]
    assert ins["file"] == str(target)
    g.write_burst(20)   # the guest keeps writing, now to the target
    g.quiesce()
    g.quit()
    g.expect_writes(expect)
    assert_clean(target)
    assert_same(target, expect)


def test_mirror_top_keeps_backing(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    target = tmp_path / "target.qcow2"
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("drive-mirror", device="drive0", target=str(target), sync="top")
    wait_ready(qmp)
    qmp.command("block-job-complete", device="drive0")
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    ins = qmp.command("query-block")[0]["inserted"]
    assert ins["file"] == str(target) and ins["backing_file"] == str(mid)
    assert ins["backing_file_depth"] == 2
    quit_vm(vm, qmp)
    assert backing_of(target) == str(mid)
    assert_clean(target)
    assert_same(target, expect)


def test_mirror_cancel_before_and_after_ready(make_vm, tmp_path):
    src = create(tmp_path / "src.qcow2", 64 * MiB)
    qemu_io(src, "write -P 0x33 0 64M")
    vm, qmp = vm_with_drive(make_vm, tmp_path, src)
    t1 = tmp_path / "t1.qcow2"
    qmp.command("drive-mirror", device="drive0", target=str(t1), sync="full", speed=1)
    assert qmp.command("query-block-jobs")[0]["ready"] is False
    wait_for(lambda: qmp.command("query-block-jobs")[0]["offset"] == 65536, what="1st run")
    assert qmp.command("query-block")[0]["dirty-bitmaps"] == [
        {"granularity": 65536, "count": 64 * MiB - 65536}]
    qmp.command("block-job-cancel", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_CANCELLED")
    assert ev["data"]["type"] == "mirror" and ev["data"]["len"] == 64 * MiB
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(src)
    assert "dirty-bitmaps" not in qmp.command("query-block")[0]
    t2 = tmp_path / "t2.qcow2"
    qmp.command("drive-mirror", device="drive0", target=str(t2), sync="full")
    wait_ready(qmp)
    qmp.command("block-job-cancel", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")   # 2.2: not CANCELLED after READY
    assert ev["data"]["offset"] == ev["data"]["len"] == 64 * MiB
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(src)
    quit_vm(vm, qmp)
    assert_same(t2, src)
    assert_clean(t2)


def test_mirror_errors(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top, extra=[
        "-drive", "if=none,id=empty"])
    t = str(tmp_path / "t.qcow2")
    assert err(qmp, "drive-mirror", device="drive0", target=t, sync="full", granularity=256) \
        == ("GenericError", "Parameter 'granularity' expects a value in range [512B, 64MB]")
    assert err(qmp, "drive-mirror", device="drive0", target=t, sync="full",
               granularity=128 << 20)[1] == \
        "Parameter 'granularity' expects a value in range [512B, 64MB]"
    assert err(qmp, "drive-mirror", device="drive0", target=t, sync="full", granularity=3072) \
        == ("GenericError", "Parameter 'granularity' expects power of 2")
    assert err(qmp, "drive-mirror", device="nope", target=t, sync="full") == (
        "DeviceNotFound", "Device 'nope' not found")
    assert err(qmp, "drive-mirror", device="empty", target=t, sync="full") == (
        "GenericError", "Device 'empty' has no medium")
    assert err(qmp, "drive-mirror", device="drive0", target=t, sync="full", format="bogus") == (
        "GenericError", "Invalid block format 'bogus'")
    assert err(qmp, "drive-mirror", device="drive0", target=t, sync="full",
               replaces="x") == (
        "GenericError", "a node-name must be provided when replacing a named node of the graph")
    assert err(qmp, "drive-mirror", device="drive0", target=t, sync="full",
               **{"on-source-error": "stop"}) == (
        "GenericError", "Invalid parameter 'on-source-error'")
    assert err(qmp, "drive-mirror", device="drive0", target=t, sync="full", speed=-1) == (
        "GenericError", "Invalid parameter 'speed'")
    assert err(qmp, "drive-mirror", device="drive0", target=t, sync="sideways") == (
        "GenericError", "Invalid parameter 'sideways'")
    qmp.command("drive-mirror", device="drive0", target=t, sync="full")
    busy = "Device 'drive0' is busy: block device is in use by block job: mirror"
    assert err(qmp, "drive-mirror", device="drive0", target=t + "2", sync="full") == (
        "GenericError", busy)
    assert err(qmp, "block-stream", device="drive0") == ("GenericError", busy)
    wait_ready(qmp)
    qmp.command("block-job-pause", device="drive0")
    assert err(qmp, "block-job-complete", device="drive0") == (
        "GenericError", "The active block job for device 'drive0' cannot be completed")
    qmp.command("block-job-resume", device="drive0")
    qmp.command("block-job-complete", device="drive0")
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    quit_vm(vm, qmp)


def test_hmp_drive_mirror(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    t = tmp_path / "t.qcow2"
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    assert qmp.hmp(f"drive_mirror -f drive0 {t} qcow2") == ""
    wait_ready(qmp)
    out = qmp.hmp("info block-jobs")
    assert out.startswith("Type mirror, device drive0: Completed ")
    assert qmp.hmp("block_job_complete drive0") == ""
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    quit_vm(vm, qmp)
    assert (f"Formatting '{t}', fmt=qcow2 size={8 * MiB} encryption=off cluster_size=65536 "
            "lazy_refcounts=off \n") in vm.stdout_log.read_text()
    assert backing_of(t) is None
    assert_same(t, expect)
    # -n: an existing target, sync=top
    t2 = create(tmp_path / "t2.qcow2", backing=mid)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    assert qmp.hmp(f"drive_mirror -n drive0 {t2}") == ""
    wait_ready(qmp)
    qmp.hmp("block_job_complete drive0")
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    quit_vm(vm, qmp)
    assert_same(t2, expect)


@pytest.mark.parametrize("kind", ["mirror", "backup"])
def test_drains_during_job_and_guest_writes(tmp_path, kind):
    """stop/cont drain every drive while the guest writes and the job copies (mirror in
    write-blocking mode, backup with copy-before-write): nothing hangs, data is right."""
    src = create(tmp_path / "src.qcow2", 32 * MiB)
    qemu_io(src, "write -P 0x4e 0 32M")
    at_start = snapshot_raw(src, tmp_path / "start.raw")
    target = tmp_path / "t.qcow2"
    g = GuestVM(tmp_path, src)
    if kind == "mirror":
        g.write_burst(5)
        g.qmp.command("drive-mirror", device="drive0", target=str(target), sync="full",
                      **{"copy-mode": "write-blocking"})
    else:
        g.qmp.command("drive-backup", device="drive0", target=str(target), sync="full")
    for _ in range(15):
        g.write_burst(5)
        g.qmp.command("stop")
        g.qmp.command("cont")
    if kind == "mirror":
        wait_ready(g.qmp, g)
        g.qmp.command("block-job-complete", device="drive0")
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert "error" not in ev["data"]
    g.quiesce()
    g.quit()
    if kind == "backup":
        assert_same(target, at_start)
    else:
        g.expect_writes(at_start)
        assert_same(target, at_start)
    assert_clean(target)
