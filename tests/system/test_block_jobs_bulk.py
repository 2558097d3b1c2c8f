"""Bulk copies larger than the job core's write-behind step (64 MiB: a helper thread flushes
the target's protocol node while mirror and backup go on copying, and the top image's while
block-stream copies into it): the copies stay right with a guest writing meanwhile, and a
flush that fails during the bulk copy is a target write error (BLOCK_JOB_ERROR, and the job
ends with its error at the next step, before the copy is done; mirror never gets READY,
stream leaves the chain as it was)."""

import pytest

from jobs_lib import (MiB, GuestVM, assert_clean, assert_same, backing_of, create, qemu_img,
                      qemu_io, quit_vm, snapshot_raw, vm_with_drive)
from test_block_jobs_errors import rules

SIZE = 96 * MiB
ERR_SIZE = 192 * MiB   # the first flush fails at 64 MiB and is found at 128 MiB


@pytest.mark.parametrize("kind", ["mirror", "backup"])
def test_write_behind_flush_error_ends_job(make_vm, tmp_path, kind):
    src = create(tmp_path / "src.qcow2", ERR_SIZE)
    qemu_io(src, f"write -P 0x2c 0 {ERR_SIZE}")
    raw = tmp_path / "target.raw"
    qemu_img("create", "-q", "-f", "raw", raw, ERR_SIZE)
    r = rules(tmp_path, "flush_to_disk", 5)
    vm, qmp = vm_with_drive(make_vm, tmp_path, src)
    qmp.command(f"drive-{kind}", device="drive0", target=f"blkdebug:{r}:{raw}", format="raw",
                mode="existing", sync="full")
    ev = qmp.event_wait("BLOCK_JOB_ERROR")
    assert ev["data"] == {"device": "drive0", "operation": "write", "action": "report"}
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert ev["data"]["error"] == "Input/output error" and ev["data"]["type"] == kind
    assert 64 * MiB <= ev["data"]["offset"] < ERR_SIZE
    assert not [e for e in qmp.events if e["event"] == "BLOCK_JOB_READY"]
    assert qmp.command("query-block-jobs") == []
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(src)
    quit_vm(vm, qmp)


def end_under_guest(g):
    """The job completes whole with the guest writing; the guest writes on, then stops."""
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED", timeout=60)
    assert "error" not in ev["data"] and ev["data"]["offset"] == SIZE
    g.write_burst(20)
    g.quiesce()
    g.quit()


@pytest.mark.parametrize("kind", ["mirror", "backup"])
def test_bulk_copy_with_guest_writes(tmp_path, kind):
    src = create(tmp_path / "src.qcow2", SIZE)
    qemu_io(src, f"write -P 0x4e 0 {SIZE}")
    at_start = snapshot_raw(src, tmp_path / "start.raw")
    target = tmp_path / "t.qcow2"
    g = GuestVM(tmp_path, src)
    if kind == "mirror":
        g.write_burst(5)
        g.qmp.command("drive-mirror", device="drive0", target=str(target), sync="full",
                      **{"copy-mode": "write-blocking"})
        g.write_burst(50)
        g.qmp.event_wait("BLOCK_JOB_READY", timeout=60)
        g.qmp.command("block-job-complete", device="drive0")
    else:
        g.qmp.command("drive-backup", device="drive0", target=str(target), sync="full")
        g.write_burst(50)
    end_under_guest(g)
    if kind == "mirror":
        g.expect_writes(at_start)   # the target holds every guest write
    assert_clean(target)
    assert_same(target, at_start)


def test_stream_write_behind_flush_error_ends_job(make_vm, tmp_path):
    base = create(tmp_path / "base.qcow2", ERR_SIZE)
    qemu_io(base, f"write -P 0x2c 0 {ERR_SIZE}")
    top = create(tmp_path / "top.qcow2", backing=base)
    r = rules(tmp_path, "flush_to_disk", 5)
    vm, qmp = vm_with_drive(make_vm, tmp_path, f"blkdebug:{r}:{top}")
    qmp.command("block-stream", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_ERROR")
    assert ev["data"] == {"device": "drive0", "operation": "write", "action": "report"}
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert ev["data"]["error"] == "Input/output error" and ev["data"]["type"] == "stream"
    assert 64 * MiB <= ev["data"]["offset"] < ERR_SIZE
    assert qmp.command("query-block-jobs") == []
    assert qmp.command("query-block")[0]["inserted"]["backing_file"] == str(base)
    quit_vm(vm, qmp)
    assert backing_of(top) == str(base)


def test_stream_bulk_copy_with_guest_writes(tmp_path):
    base = create(tmp_path / "base.qcow2", SIZE)
    qemu_io(base, f"write -P 0x4e 0 {SIZE}")
    top = create(tmp_path / "top.qcow2", backing=base)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    g = GuestVM(tmp_path, top)
    g.qmp.command("block-stream", device="drive0")
    g.write_burst(50)
    end_under_guest(g)
    g.expect_writes(expect)   # the guest's writes won over the copies
    assert backing_of(top) is None
    assert_clean(top)
    assert_same(top, expect)
