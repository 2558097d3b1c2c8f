"""HMP `commit DEVICE|all` (QEMU 2.2's synchronous bdrv_commit), which runs the commit job's
copy (block/commit.c) to its end before it answers: what the top image holds itself is in
its backing image when the command returns (checked while the VM still runs, and with
qemu-img compare after), the top image is emptied, no job or job event is left behind, a
base smaller than the top is grown, and 2.2's error texts."""

import json

from jobs_lib import (MiB, assert_clean, assert_same, create, qemu_img, qemu_io, quit_vm,
                      snapshot_raw, vm_with_drive)


def top_allocation(img):
    """The ranges img allocates itself (qemu-img map of the top layer only)."""
    out = qemu_img("map", "-U", "--output=json", img)
    return [m for m in json.loads(out) if m["depth"] == 0 and m["data"]]


def test_hmp_commit_copies_top_into_base_and_empties_top(make_vm, tmp_path):
    base = create(tmp_path / "base.qcow2", 4 * MiB)
    top = create(tmp_path / "top.qcow2", backing=base)
    qemu_img("resize", "-q", top, 8 * MiB)           # the base is smaller than the top
    qemu_io(base, "write -P 0x11 0 4M")
    qemu_io(top, "write -P 0x33 64k 192k", "write -P 0x34 3M 2M", "write -z 1M 64k",
            "write -P 0x35 7M 512k")
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    assert qmp.hmp("commit drive0") == ""
    # synchronous: done when the command returns, with no job and no job event
    assert qmp.command("query-block-jobs") == []
    assert qmp.hmp("info block-jobs") == "No active jobs\r\n"
    assert not [e for e in qmp.events if e["event"].startswith("BLOCK_JOB")]
    assert qemu_img("info", "-U", base).count("virtual size: 8 MiB") == 1
    assert_same(base, expect)
    assert qmp.hmp("commit all") == ""              # nothing left to copy: still fine
    quit_vm(vm, qmp)
    assert_clean(base)
    assert_clean(top)
    assert_same(base, expect)
    assert_same(top, expect)                        # the guest sees the same data
    assert top_allocation(top) == []                # and the top holds nothing itself


def test_hmp_commit_errors(make_vm, tmp_path):
    base = create(tmp_path / "base.qcow2", 4 * MiB)
    top = create(tmp_path / "top.qcow2", backing=base)
    qemu_io(top, "write -P 0x33 0 1M")
    qemu_io(base, "write -P 0x44 2M 2M")  # for the stream below to copy (and stay on at speed=1)
    lone = create(tmp_path / "lone.qcow2", 4 * MiB)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top, extra=[
        "-drive", "if=none,id=empty",
        "-drive", f"file={lone},if=none,id=lone,format=qcow2"])
    assert qmp.hmp("commit nope") == "Device 'nope' not found\r\n"
    assert qmp.hmp("commit empty") == "'commit' error for 'empty': No medium found\r\n"
    assert qmp.hmp("commit lone") == "'commit' error for 'lone': Operation not supported\r\n"
    qmp.command("block-stream", device="drive0", speed=1)
    assert qmp.hmp("commit drive0") == (
        "'commit' error for 'drive0': Device or resource busy\r\n")
    assert qmp.hmp("commit all") == "'commit' error for 'all': Device or resource busy\r\n"
    qmp.command("block-job-cancel", device="drive0")
    qmp.event_wait("BLOCK_JOB_CANCELLED")
    assert qmp.hmp("commit all") == ""
    quit_vm(vm, qmp)
    assert "read 1048576/1048576" in qemu_io(base, "read -P 0x33 0 1M")
