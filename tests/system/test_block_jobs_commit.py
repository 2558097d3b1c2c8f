"""block-commit (QEMU 2.2 semantics): intermediate commit into base with the chain relinked,
active commit as a mirror-style job (READY, block-job-complete pivots onto base) with a
guest writing during the job; errors in 2.2's order and texts."""

from jobs_lib import (MiB, GuestVM, assert_clean, assert_same, backing_of, chain3, create,
                      qemu_io, quit_vm, snapshot_raw, vm_with_drive)
from test_block_jobs_mirror import err, wait_ready


def test_commit_intermediate(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    expect_mid = snapshot_raw(mid, tmp_path / "mid.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("block-commit", device="drive0", top=str(mid), base=str(base))
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert ev["data"]["type"] == "commit" and "error" not in ev["data"]
    assert ev["data"]["offset"] == ev["data"]["len"] == 8 * MiB
    ins = qmp.command("query-block")[0]["inserted"]
    assert ins["backing_file"] == str(base) and ins["backing_file_depth"] == 1
    quit_vm(vm, qmp)
    assert backing_of(top) == str(base)
    assert_clean(top)
    assert_clean(base)
    assert_same(top, expect)
    # base now holds what mid showed (commit base = former top)
    assert_same(base, expect_mid)


def test_commit_intermediate_backing_file_and_default_base(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    qmp.command("block-commit", device="drive0", top=str(mid),
                **{"backing-file": "base.qcow2"})
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    quit_vm(vm, qmp)
    assert backing_of(top) == "base.qcow2"
    assert_same(top, expect)


def test_commit_active_with_guest_writes(tmp_path):
    base, mid, top = chain3(tmp_path, size=16 * MiB)
    qemu_io(top, "write -P 0x44 8M 4M")
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    g = GuestVM(tmp_path, top)
    g.write_burst(5)
    g.qmp.command("block-commit", device="drive0")
    ev = wait_ready(g.qmp, g)
    assert ev["data"]["type"] == "commit"
    assert g.qmp.command("query-block-jobs")[0]["type"] == "commit"
    g.write_burst(30)
    g.qmp.command("block-job-complete", device="drive0")
    g.write_burst(10)
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert "error" not in ev["data"]
    ins = g.qmp.command("query-block")[0]["inserted"]
    assert ins["file"] == str(base) and "backing_file" not in ins
    g.write_burst(10)
    g.quiesce()
    g.quit()
    g.expect_writes(expect)
    assert_clean(base)
    assert_same(base, expect)


def test_commit_errors(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    lone = create(tmp_path / "lone.qcow2", MiB)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top, extra=[
        "-drive", f"file={lone},if=none,id=lone"])
    assert err(qmp, "block-commit", device="nope") == (
        "DeviceNotFound", "Device 'nope' not found")
    assert err(qmp, "block-commit", device="drive0", top="/x") == (
        "GenericError", "Top image file /x not found")
    assert err(qmp, "block-commit", device="drive0", base="/x") == (
        "GenericError", "Base '/x' not found")
    # reverse order: base above top
    assert err(qmp, "block-commit", device="drive0", top=str(base), base=str(mid)) == (
        "GenericError", f"Base '{mid}' not found")
    assert err(qmp, "block-commit", device="lone") == (
        "GenericError", "cannot commit an image into itself")
    assert err(qmp, "block-commit", device="drive0", **{"backing-file": "x"}) == (
        "GenericError", "'backing-file' specified, but 'top' is the active layer")
    assert err(qmp, "block-commit", device="drive0", top=str(mid), speed=-1) == (
        "GenericError", "Invalid parameter 'speed'")
    qmp.command("block-commit", device="drive0", top=str(mid), speed=1)
    assert err(qmp, "block-commit", device="drive0") == (
        "GenericError", "Device 'drive0' is busy: block device is in use by block job: commit")
    assert err(qmp, "block-job-complete", device="drive0") == (
        "GenericError", "The active block job for device 'drive0' cannot be completed")
    qmp.command("block-job-cancel", device="drive0")
    qmp.event_wait("BLOCK_JOB_CANCELLED")
    ins = qmp.command("query-block")[0]["inserted"]
    assert ins["backing_file"] == str(mid) and ins["backing_file_depth"] == 2
    quit_vm(vm, qmp)
    assert backing_of(top) == str(mid)


def test_commit_intermediate_with_guest_writes(tmp_path):
    """The guest writes the active layer while mid is committed into base."""
    base, mid, top = chain3(tmp_path, size=16 * MiB)
    qemu_io(mid, "write -P 0x55 4M 8M")
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    g = GuestVM(tmp_path, top)
    g.qmp.command("block-commit", device="drive0", top=str(mid), base=str(base),
                  speed=8 * MiB)
    for _ in range(10):
        g.qt.ok("clock_step 100000000")
        g.write_burst(10)
    g.qmp.command("block-job-set-speed", device="drive0", speed=0)
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert "error" not in ev["data"]
    g.write_burst(10)
    g.quiesce()
    g.quit()
    g.expect_writes(expect)
    assert backing_of(top) == str(base)
    assert_clean(top)
    assert_clean(base)
    assert_same(top, expect)
