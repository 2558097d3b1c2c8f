"""drive-mirror and drive-backup with mode=existing (QEMU 2.2 semantics): the target must
exist, its format is probed unless given, drive-backup opens the chain its header names at
once, drive-mirror at block-job-complete (which fails, leaving the job running, when that
chain cannot be opened); and HMP `info block-jobs` progress lines, exact."""

import shutil

from qmp_vm import wait_for

from jobs_lib import (MiB, assert_clean, assert_same, chain3, create, qemu_img, quit_vm,
                      snapshot_raw, vm_with_drive)
from test_block_jobs_mirror import err, wait_ready


def open_errors(qmp, tmp_path, command):
    missing = tmp_path / "missing.qcow2"
    raw = create(tmp_path / "plain.raw", 8 * MiB, fmt="raw")
    assert err(qmp, command, device="drive0", target=str(missing), sync="full",
               mode="existing") == (
        "GenericError", f"Could not open '{missing}': No such file or directory")
    assert err(qmp, command, device="drive0", target=str(raw), sync="full", mode="existing",
               format="qcow2") == ("GenericError", "Image is not in qcow2 format")
    assert not missing.exists()


def bad_backing_target(tmp_path):
    t = tmp_path / "badback.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", str(tmp_path / "gone.qcow2"), "-F",
             "qcow2", t, str(8 * MiB))
    return t, f"Could not open backing file: Could not open '{tmp_path / 'gone.qcow2'}': " \
              "No such file or directory"


def test_mirror_existing_opens_target_chain_at_complete(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    mid2 = tmp_path / "mid2.qcow2"
    shutil.copyfile(mid, mid2)   # same content as mid, another file: whose chain is used?
    target = create(tmp_path / "target.qcow2", backing=mid2)
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    open_errors(qmp, tmp_path, "drive-mirror")
    qmp.command("drive-mirror", device="drive0", target=str(target), sync="top",
                mode="existing")   # no format: probed
    wait_ready(qmp)
    qmp.command("block-job-complete", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert "error" not in ev["data"]
    ins = qmp.command("query-block")[0]["inserted"]
    assert ins["file"] == str(target) and ins["backing_file"] == str(mid2)
    assert ins["backing_file_depth"] == 2
    assert ins["image"]["backing-image"]["filename"] == str(mid2)
    assert ins["image"]["backing-image"]["backing-image"]["filename"] == str(base)
    quit_vm(vm, qmp)
    assert "Formatting" not in vm.stdout_log.read_text()
    assert_clean(target)
    assert_same(target, expect)


def test_mirror_existing_unopenable_chain_refuses_complete(make_vm, tmp_path):
    src = create(tmp_path / "src.qcow2", 8 * MiB)
    target, why = bad_backing_target(tmp_path)
    vm, qmp = vm_with_drive(make_vm, tmp_path, src)
    qmp.command("drive-mirror", device="drive0", target=str(target), sync="full",
                mode="existing", format="qcow2")
    wait_ready(qmp)
    assert err(qmp, "block-job-complete", device="drive0") == ("GenericError", why)
    job = qmp.command("query-block-jobs")[0]
    assert job["type"] == "mirror" and job["ready"] is True
    qmp.command("block-job-cancel", device="drive0")
    ev = qmp.event_wait("BLOCK_JOB_COMPLETED")   # cancelled after READY (2.2)
    assert "error" not in ev["data"]
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(src)
    quit_vm(vm, qmp)


def test_backup_existing(make_vm, tmp_path):
    base, mid, top = chain3(tmp_path)
    expect = snapshot_raw(top, tmp_path / "expect.raw")
    vm, qmp = vm_with_drive(make_vm, tmp_path, top)
    open_errors(qmp, tmp_path, "drive-backup")
    bad, why = bad_backing_target(tmp_path)
    assert err(qmp, "drive-backup", device="drive0", target=str(bad), sync="full",
               mode="existing") == ("GenericError", why)
    assert qmp.command("query-block-jobs") == []
    full = create(tmp_path / "full.raw", 8 * MiB, fmt="raw")
    qmp.command("drive-backup", device="drive0", target=str(full), sync="full",
                mode="existing")   # probed: raw
    assert "error" not in qmp.event_wait("BLOCK_JOB_COMPLETED")["data"]
    t = create(tmp_path / "top-copy.qcow2", backing=mid)
    qmp.command("drive-backup", device="drive0", target=str(t), sync="top", mode="existing",
                format="qcow2")
    assert "error" not in qmp.event_wait("BLOCK_JOB_COMPLETED")["data"]
    quit_vm(vm, qmp)
    assert "Formatting" not in vm.stdout_log.read_text()
    assert_same(full, expect)
    assert_clean(t)
    assert_same(t, expect)


def test_hmp_info_block_jobs_progress(make_vm, tmp_path):
    src = create(tmp_path / "src.qcow2", 8 * MiB)
    vm, qmp = vm_with_drive(make_vm, tmp_path, src)
    assert qmp.hmp("info block-jobs") == "No active jobs\r\n"
    qmp.command("drive-backup", device="drive0", target=str(tmp_path / "b.qcow2"),
                sync="full", speed=1)
    wait_for(lambda: qmp.command("query-block-jobs")[0]["offset"] == 65536, what="1st cluster")
    assert qmp.hmp("info block-jobs") == (
        "Type backup, device drive0: Completed 65536 of 8388608 bytes, "
        "speed limit 1 bytes/s\r\n")
    qmp.command("block-job-set-speed", device="drive0", speed=0)
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    qmp.command("drive-mirror", device="drive0", target=str(tmp_path / "m.qcow2"),
                sync="full")
    wait_ready(qmp)
    qmp.command("block-job-set-speed", device="drive0", speed=2 << 20)
    assert qmp.hmp("info block-jobs") == (
        "Type mirror, device drive0: Completed 8388608 of 8388608 bytes, "
        "speed limit 2097152 bytes/s\r\n")
    qmp.command("block-job-cancel", device="drive0")
    qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert qmp.hmp("info block-jobs") == "No active jobs\r\n"
    quit_vm(vm, qmp)
