"""Mirror and backup keep several copies in flight (block/job-copy.c); what must still hold:
a paused job does no more I/O once its copies in flight are done (its offset stands still and
the target does not change), a failure of every copy in flight stops the job once (one
BLOCK_JOB_ERROR), cancel of the stopped job waits for the copies, and after resume the
target is exact."""

import os
import time

import pytest

from jobs_lib import (MiB, assert_same, create, qemu_img, qemu_io, quit_vm, snapshot_raw,
                      vm_with_drive)
from qmp_vm import wait_for
from test_block_jobs_errors import rules
from test_block_jobs_mirror import wait_ready

SIZE = 256 * MiB


def job(qmp):
    return qmp.command("query-block-jobs")[0]


def start(qmp, kind, target, **args):
    qmp.command(f"drive-{kind}", device="drive0", target=str(target), sync="full", **args)


@pytest.mark.parametrize("kind", ["mirror", "backup"])
def test_pause_stops_io_then_resume_is_exact(make_vm, tmp_path, kind):
    src = create(tmp_path / "src.qcow2", SIZE)
    qemu_io(src, f"write -P 0x5d 0 {SIZE}")
    target = tmp_path / "t.raw"
    vm, qmp = vm_with_drive(make_vm, tmp_path, src)
    start(qmp, kind, target, format="raw")
    qmp.command("block-job-pause", device="drive0")
    wait_for(lambda: job(qmp)["busy"] is False, what="paused job idle")
    before = (job(qmp)["offset"], os.stat(target).st_blocks)
    time.sleep(0.5)
    assert (job(qmp)["offset"], os.stat(target).st_blocks) == before
    assert before[0] < SIZE, "the job ended before the pause: make SIZE larger"
    qmp.command("block-job-resume", device="drive0")
    if kind == "mirror":
        wait_ready(qmp)
        qmp.command("block-job-complete", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED", timeout=120)
    assert "error" not in ev["data"] and ev["data"]["offset"] == SIZE
    quit_vm(vm, qmp)
    assert_same(target, src)


@pytest.mark.parametrize("kind", ["mirror", "backup"])
def test_every_copy_failing_stops_once(make_vm, tmp_path, kind):
    src = create(tmp_path / "src.qcow2", 32 * MiB)
    qemu_io(src, "write -P 0x6e 0 32M")
    raw = tmp_path / "target.raw"
    qemu_img("create", "-q", "-f", "raw", raw, 32 * MiB)
    r = rules(tmp_path, "write_aio", 5)                  # every write fails
    vm, qmp = vm_with_drive(make_vm, tmp_path, src)
    start(qmp, kind, f"blkdebug:{r}:{raw}", format="raw", mode="existing",
          **{"on-target-error": "stop"})
    ev = qmp.event_wait("BLOCK_JOB_ERROR")
    assert ev["data"] == {"device": "drive0", "operation": "write", "action": "stop"}
    wait_for(lambda: job(qmp)["busy"] is False, what="stopped job idle")
    assert job(qmp)["paused"] is True and job(qmp)["io-status"] == "failed"
    time.sleep(0.3)
    qmp.command("query-block-jobs")                     # collects the events sent meanwhile
    assert not [e for e in qmp.events if e["event"] == "BLOCK_JOB_ERROR"]
    qmp.command("block-job-cancel", device="drive0", force=True)
    ev = qmp.event_wait("BLOCK_JOB_CANCELLED")
    assert ev["data"]["offset"] < 32 * MiB
    assert not [e for e in qmp.events if e["event"] == "BLOCK_JOB_ERROR"]
    assert qmp.command("query-block-jobs") == []
    quit_vm(vm, qmp)


@pytest.mark.parametrize("kind", ["mirror", "backup"])
def test_stop_on_one_chunk_then_resume_is_exact(make_vm, tmp_path, kind):
    src = create(tmp_path / "src.qcow2", 32 * MiB)
    qemu_io(src, "write -P 0x7f 0 32M")
    expect = snapshot_raw(src, tmp_path / "expect.raw")
    raw = tmp_path / "target.raw"
    qemu_img("create", "-q", "-f", "raw", raw, 32 * MiB)
    r = rules(tmp_path, "write_aio", 28, sector=16 * 2048 + 8, once=True)
    vm, qmp = vm_with_drive(make_vm, tmp_path, src)
    start(qmp, kind, f"blkdebug:{r}:{raw}", format="raw", mode="existing",
          **{"on-target-error": "stop"})
    ev = qmp.event_wait("BLOCK_JOB_ERROR")
    assert ev["data"]["action"] == "stop"
    wait_for(lambda: job(qmp)["busy"] is False, what="stopped job idle")
    assert job(qmp)["io-status"] == "nospace"
    qmp.command("block-job-resume", device="drive0")
    if kind == "mirror":
        wait_ready(qmp)
        qmp.command("block-job-complete", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED", timeout=60)
    assert "error" not in ev["data"] and ev["data"]["offset"] == 32 * MiB
    quit_vm(vm, qmp)
    assert_same(raw, expect)
