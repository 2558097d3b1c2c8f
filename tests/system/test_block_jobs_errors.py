"""Block job error policies (on-source-error / on-target-error / on-error: report, ignore,
stop, enospc) with I/O errors injected by blkdebug into the target of a mirror and the
source of a stream: BLOCK_JOB_ERROR, the job paused with its io-status on stop, resume,
BLOCK_JOB_COMPLETED with the error text on report, and correct data in the end."""

import time

import pytest

from jobs_lib import (MiB, assert_clean, assert_same, create, qemu_img, qemu_io, quit_vm,
                      snapshot_raw, vm_with_drive)
from qmp_vm import wait_for
from test_block_jobs_mirror import err, wait_ready


def rules(tmp_path, event, errno, sector=None, once=False):
    path = tmp_path / f"rules-{event}-{errno}-{once}"
    text = f'[inject-error]\nevent = "{event}"\nerrno = "{errno}"\n'
    if sector is not None:
        text += f'sector = "{sector}"\n'
    if once:
        text += 'once = "on"\n'
    path.write_text(text)
    return path


def start_mirror_vm(make_vm, tmp_path, errno, once, extra=()):
    src = create(tmp_path / "src.qcow2", 4 * MiB)
    qemu_io(src, "write -P 0x6b 0 4M")
    raw = tmp_path / "target.raw"
    qemu_img("create", "-q", "-f", "raw", raw, 4 * MiB)
    r = rules(tmp_path, "write_aio", errno, sector=2048, once=once)
    vm, qmp = vm_with_drive(make_vm, tmp_path, src, extra=extra)
    return src, raw, f"blkdebug:{r}:{raw}", vm, qmp


def mirror(qmp, target, policy):
    qmp.command("drive-mirror", device="drive0", target=target, format="raw", mode="existing",
                sync="full", **{"on-target-error": policy})


def test_target_error_stop_pauses_then_resume(make_vm, tmp_path):
    src, raw, target, vm, qmp = start_mirror_vm(make_vm, tmp_path, 28, once=True)
    mirror(qmp, target, "stop")
    ev = qmp.event_wait("BLOCK_JOB_ERROR")
    assert ev["data"] == {"device": "drive0", "operation": "write", "action": "stop"}
    job = qmp.command("query-block-jobs")[0]
    assert job["paused"] is True and job["io-status"] == "nospace"
    wait_for(lambda: qmp.command("query-block-jobs")[0]["busy"] is False, what="idle job")
    assert err(qmp, "block-job-cancel", device="drive0") == (
        "GenericError", "The block job for device 'drive0' is currently paused")
    qmp.command("block-job-resume", device="drive0")
    wait_ready(qmp)
    job = qmp.command("query-block-jobs")[0]
    assert job["io-status"] == "ok" and job["paused"] is False
    qmp.command("block-job-cancel", device="drive0")
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    quit_vm(vm, qmp)
    assert_same(raw, src)


def test_target_error_report_ends_job(make_vm, tmp_path):
    src, raw, target, vm, qmp = start_mirror_vm(make_vm, tmp_path, 5, once=False)
    before = snapshot_raw(src, tmp_path / "before.raw")
    mirror(qmp, target, "report")
    ev = qmp.event_wait("BLOCK_JOB_ERROR")
    assert ev["data"] == {"device": "drive0", "operation": "write", "action": "report"}
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert ev["data"]["error"] == "Input/output error" and ev["data"]["type"] == "mirror"
    assert qmp.command("query-block-jobs") == []
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(src)
    quit_vm(vm, qmp)
    assert_same(src, before)


@pytest.mark.parametrize("policy,action", [("enospc", "report"), ("ignore", "ignore")])
def test_target_error_enospc_and_ignore(make_vm, tmp_path, policy, action):
    src, raw, target, vm, qmp = start_mirror_vm(make_vm, tmp_path, 5, once=True)
    mirror(qmp, target, policy)
    ev = qmp.event_wait("BLOCK_JOB_ERROR")
    assert ev["data"]["action"] == action
    if action == "report":
        assert qmp.event_wait("BLOCK_JOB_COMPLETED")["data"]["error"] == "Input/output error"
    else:
        wait_ready(qmp)   # the failed run is copied again later
        qmp.command("block-job-cancel", device="drive0")
        qmp.event_wait("BLOCK_JOB_COMPLETED")
    quit_vm(vm, qmp)
    if action == "ignore":
        assert_same(raw, src)


def test_stream_source_error_stop(make_vm, tmp_path):
    """stream's on-error=stop needs a drive with io-status (a virtio-blk disk here); a read
    error from the backing image pauses the job; after resume the stream completes."""
    base = tmp_path / "base.raw"
    qemu_img("create", "-q", "-f", "raw", base, 4 * MiB)
    qemu_io(base, "write -P 0x19 0 4M", fmt="raw")
    r = rules(tmp_path, "read_aio", 5, sector=4096, once=True)
    top = tmp_path / "top.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-b", f"blkdebug:{r}:{base}", "-F", "raw", top)
    expect = snapshot_raw(base, tmp_path / "expect.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top, extra=[
        "-device", "virtio-blk-pci,drive=drive0"])
    qmp.command("block-stream", device="drive0", **{"on-error": "stop"})
    ev = qmp.event_wait("BLOCK_JOB_ERROR")
    assert ev["data"] == {"device": "drive0", "operation": "read", "action": "stop"}
    job = qmp.command("query-block-jobs")[0]
    assert job["paused"] is True and job["io-status"] == "failed"
    qmp.command("block-job-resume", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert "error" not in ev["data"]
    quit_vm(vm, qmp)
    assert_same(top, expect)


def answered_within(qmp, name, limit):
    t0 = time.monotonic()
    qmp.send(name)
    reply = qmp.response(timeout=limit)
    assert time.monotonic() - t0 < limit, f"{name} answered after {time.monotonic() - t0} s"
    return reply["return"]


@pytest.mark.parametrize("target_kind", ["blkdebug-always", "smaller-existing"])
def test_target_failing_for_good_with_ignore_keeps_monitor_answering(make_vm, tmp_path,
                                                                      target_kind):
    """Found by scripts/chaos-monitor: a mirror whose target fails every write (blkdebug
    without `once`, or a mode=existing target smaller than the source, as 2.2 does not
    check) with on-target-error=ignore copied the failed run again at once, in a loop. Each
    failure queued a BLOCK_JOB_ERROR for the main loop faster than it could send them, so
    the monitor's replies came 4 s, then 20 s late, then not at all. The job now waits a
    slice (100 ms) after an ignored error before copying again."""
    src, raw, target, vm, qmp = start_mirror_vm(make_vm, tmp_path, 5, once=False)
    if target_kind == "smaller-existing":
        target = tmp_path / "small.qcow2"
        create(target, 1 * MiB)
        qmp.command("drive-mirror", device="drive0", target=str(target), mode="existing",
                    sync="full", **{"on-target-error": "ignore"})
    else:
        mirror(qmp, target, "ignore")
    qmp.event_wait("BLOCK_JOB_ERROR")
    qmp.get_events()
    for _ in range(10):
        reply = answered_within(qmp, "query-block-jobs", 1.0)
        assert reply[0]["ready"] is False and reply[0]["io-status"] == "ok"
    events = [e for e in qmp.get_events(wait=1.0) if e["event"] == "BLOCK_JOB_ERROR"]
    assert 0 < len(events) < 200, len(events)  # retried, but not in a loop
    assert all(e["data"]["action"] == "ignore" for e in events)
    qmp.command("block-job-cancel", device="drive0")
    assert qmp.event_wait("BLOCK_JOB_CANCELLED", timeout=5)["data"]["device"] == "drive0"
    assert qmp.command("query-block-jobs") == []
    quit_vm(vm, qmp)
    assert_clean(src)
