"""block-stream (QEMU 2.2 semantics): the chain above base is copied into the top image and
the backing link rewritten; events, query-block-jobs, errors, pause/resume/cancel and the
HMP commands. qemu-img is the oracle for the results."""

import pytest

from jobs_lib import (MiB, assert_clean, assert_same, backing_of, chain3, quit_vm,
                      snapshot_raw, vm_with_drive)


def test_stream_whole_chain(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    assert qmp.command("block-stream", device="drive0") == {}
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert ev["data"] == {"type": "stream", "device": "drive0", "len": 8 * MiB,
                          "offset": 8 * MiB, "speed": 0}
    assert qmp.command("query-block-jobs") == []
    ins = qmp.command("query-block")[0]["inserted"]
    assert "backing_file" not in ins and ins["backing_file_depth"] == 0
    quit_vm(vm, qmp)
    assert backing_of(top) is None
    assert_clean(top)
    assert_same(top, expect)


def test_stream_to_base(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("block-stream", device="drive0", base=str(base))
    assert "error" not in qmp.event_wait("BLOCK_JOB_COMPLETED")["data"]
    ins = qmp.command("query-block")[0]["inserted"]
    assert ins["backing_file"] == str(base) and ins["backing_file_depth"] == 1
    quit_vm(vm, qmp)
    assert backing_of(top) == str(base)
    assert_clean(top)
    assert_same(top, expect)
    # The base was not touched; the top now holds mid's data itself.
    assert_same(base, snapshot_raw(base, tmp_path / "b.raw"))


def test_stream_backing_file_string(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("block-stream", device="drive0", base=str(base), **{"backing-file": "base.qcow2"})
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    quit_vm(vm, qmp)
    assert backing_of(top) == "base.qcow2"


def err(qmp, name, **args):
    r = qmp.cmd(name, args)
    assert "error" in r, r
    return r["error"]["class"], r["error"]["desc"]


def test_stream_errors(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    assert err(qmp, "block-stream", device="nope") == (
        "DeviceNotFound", "Device 'nope' not found")
    assert err(qmp, "block-stream", device="drive0", base="/no/such") == (
        "GenericError", "Base '/no/such' not found")
    assert err(qmp, "block-stream", device="drive0", **{"backing-file": "x"}) == (
        "GenericError", "backing file specified, but streaming the entire chain")
    assert err(qmp, "block-stream", device="drive0", **{"on-error": "stop"}) == (
        "GenericError", "Invalid parameter 'on-error'")
    assert err(qmp, "block-stream", device="drive0", **{"on-error": "bogus"}) == (
        "GenericError", "Invalid parameter 'bogus'")
    assert err(qmp, "block-stream", device="drive0", speed=-1) == (
        "GenericError", "Invalid parameter 'speed'")
    for cmd in ("block-job-cancel", "block-job-pause", "block-job-resume",
                "block-job-complete"):
        assert err(qmp, cmd, device="drive0") == (
            "DeviceNotActive", "No active block job on device 'drive0'")
    assert err(qmp, "block-job-set-speed", device="drive0", speed=1) == (
        "DeviceNotActive", "No active block job on device 'drive0'")
    assert qmp.command("query-block-jobs") == []
    assert qmp.hmp("info block-jobs") == "No active jobs\r\n"


def test_stream_pause_resume_cancel_busy(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path, size=64 * MiB)
    before = snapshot_raw(top, tmp_path / "before.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    # speed 1 byte/s: the first chunk goes, then the job sleeps (qtest: virtual clock stands).
    qmp.command("block-stream", device="drive0", speed=1)
    job = qmp.command("query-block-jobs")[0]
    assert job["type"] == "stream" and job["device"] == "drive0"
    assert job["len"] == 64 * MiB and job["speed"] == 1 and job["io-status"] == "ok"
    assert job["paused"] is False and job["ready"] is False
    busy = "Device 'drive0' is busy: block device is in use by block job: stream"
    assert err(qmp, "block-stream", device="drive0") == ("GenericError", busy)
    assert err(qmp, "block-job-complete", device="drive0") == (
        "GenericError", "The active block job for device 'drive0' cannot be completed")
    qmp.command("block-job-pause", device="drive0")
    assert qmp.command("query-block-jobs")[0]["paused"] is True
    assert err(qmp, "block-job-cancel", device="drive0") == (
        "GenericError", "The block job for device 'drive0' is currently paused")
    out = qmp.hmp("info block-jobs")
    assert out.startswith("Streaming device drive0: Completed ")
    assert out.endswith(f" of {64 * MiB} bytes, speed limit 1 bytes/s\r\n")
    qmp.command("block-job-resume", device="drive0")
    assert qmp.command("query-block-jobs")[0]["paused"] is False
    qmp.command("block-job-set-speed", device="drive0", speed=0)
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert ev["data"]["speed"] == 0 and ev["data"]["offset"] == 64 * MiB
    quit_vm(vm, qmp)
    assert_same(top, before)
    assert_clean(top)


def test_stream_cancel_leaves_chain(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path, size=64 * MiB)
    before = snapshot_raw(top, tmp_path / "before.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("block-stream", device="drive0", speed=1)
    assert qmp.hmp("block_job_pause drive0") == ""
    assert qmp.hmp("block_job_cancel drive0") == (
        "The block job for device 'drive0' is currently paused\r\n")
    assert qmp.hmp("block_job_cancel -f drive0") == ""
    ev = qmp.event_wait("BLOCK_JOB_CANCELLED")
    assert ev["data"]["type"] == "stream" and ev["data"]["len"] == 64 * MiB
    assert "error" not in ev["data"]
    assert qmp.command("query-block-jobs") == []
    ins = qmp.command("query-block")[0]["inserted"]
    assert ins["backing_file"] == str(mid) and ins["backing_file_depth"] == 2
    quit_vm(vm, qmp)
    assert backing_of(top) == str(mid)
    assert_same(top, before)
    assert_clean(top)


def test_hmp_block_stream(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    assert qmp.hmp(f"block_stream drive0 0 {base}") == ""
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert qmp.hmp("block_stream nope") == "Device 'nope' not found\r\n"
    quit_vm(vm, qmp)
    assert backing_of(top) == str(base)
    assert_same(top, expect)


def test_job_blocks_other_operations(make_vm, tmp_path):
    """While a job runs, resize, eject, change, drive_del, snapshots and other jobs on its
    drive fail with 2.2's op-blocker texts; after it ends they work again."""
    base, mid, top = chain3(tmp_path, size=64 * MiB)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("block-stream", device="drive0", speed=1)
    busy = "Device 'drive0' is busy: block device is in use by block job: stream"
    assert err(qmp, "block_resize", device="drive0", size=128 * MiB) == (
        "GenericError", "Device 'drive0' is in use")
    assert err(qmp, "eject", device="drive0") == ("GenericError", busy)
    assert err(qmp, "blockdev-snapshot-sync", device="drive0",
               **{"snapshot-file": str(tmp_path / "s.qcow2")}) == ("GenericError", busy)
    r = qmp.cmd("blockdev-snapshot-internal-sync", {"device": "drive0", "name": "s"})
    assert r["error"]["desc"] == busy
    assert err(qmp, "drive-backup", device="drive0", target=str(tmp_path / "b.qcow2"),
               sync="full") == ("GenericError", busy)
    assert err(qmp, "block-commit", device="drive0") == ("GenericError", busy)
    assert qmp.hmp("drive_del drive0") == busy + "\r\n"
    qmp.command("block-job-set-speed", device="drive0", speed=0)
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    qmp.command("block_resize", device="drive0", size=128 * MiB)
    quit_vm(vm, qmp)


def test_job_survives_stop_cont_and_quit(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path, size=64 * MiB)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("block-stream", device="drive0", speed=1)
    qmp.command("stop")
    qmp.command("cont")
    assert qmp.command("query-block-jobs")[0]["type"] == "stream"
    qmp.command("block-job-set-speed", device="drive0", speed=0)
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    # quit while a job runs: the process ends cleanly and the images stay consistent
    qmp.command("drive-mirror", device="drive0", target=str(tmp_path / "m.qcow2"),
                sync="full", speed=1)
    qmp.cmd("quit")
    # the job is cancelled before the drives are drained and flushed at exit
    assert qmp.event_wait("BLOCK_JOB_CANCELLED")["data"]["type"] == "mirror"
    assert vm.wait_exit(30) == 0
    assert_clean(top)
    assert_same(top, expect)


def test_stream_with_guest_writes(tmp_path):
    """The guest writes into the top image while the stream copies the backing data up:
    the guest's data wins wherever it wrote, the rest is the chain's old content."""
    from jobs_lib import GuestVM, create, qemu_io
    base = create(tmp_path / "base.qcow2", 16 * MiB)
    qemu_io(base, "write -P 0x81 0 16M")
    top = create(tmp_path / "top.qcow2", backing=base)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    g = GuestVM(tmp_path, top)
    g.qmp.command("block-stream", device="drive0", speed=4 * MiB)
    for _ in range(20):
        g.qt.ok("clock_step 100000000")
        g.write_burst(10)
    g.qmp.command("block-job-set-speed", device="drive0", speed=0)
    g.write_burst(20)
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert "error" not in ev["data"]
    g.quiesce()
    g.quit()
    g.expect_writes(expect)
    assert backing_of(top) is None
    assert_clean(top)
    assert_same(top, expect)
