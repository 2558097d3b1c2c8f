"""werror=report and rerror=stop with the test payload's CPL3 virtio-blk driver under KVM
(scenario virtio_blk: 16 MiB of a pattern written eight deep in 64 KiB requests, flushed, read
back and checked in the guest), the two error-policy cases of issue 11 that
test_error_policy.py covers through qtest only (werror=stop on a full filesystem has its
payload test there). A full tmpfs gives real ENOSPC; the read error is injected by blkdebug.
Runs against minivmm and, with --vmm=qemu, Debian's QEMU (whose BLOCK_IO_ERROR also names
the node: the fields of 2.2's event are compared).
"""

import subprocess

import pytest

from qmp_vm import QMP
from test_error_policy import fill, make_image
from test_payload import payload_args
from test_payload_virtio_blk import MIB, SECTOR, expected_sector


@pytest.fixture
def tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def start_payload(make_vm, vmm, tmp_path, scenario, device_args):
    """The payload running scenario with device_args, and a QMP connection to the VMM. The
    VM starts stopped and runs once the monitor is connected: an I/O error event sent
    before that would be lost (on a loaded host the payload can get there first)."""
    sock = str(tmp_path / "qmp.sock")
    args = payload_args(scenario) + device_args + ["-qmp", f"unix:{sock},server,nowait", "-S"]
    vm = make_vm(args, backend=vmm, debugcon=False)
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    qmp.command("cont")
    qmp.event_wait("RESUME")
    return vm, qmp


def start(make_vm, vmm, tmp_path, drive):
    return start_payload(make_vm, vmm, tmp_path, f"virtio_blk {MIB} 8", [
        "-drive", f"if=none,id=d0,{drive}",
        "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"])


def io_error_event(qmp):
    data = qmp.event_wait("BLOCK_IO_ERROR", timeout=30)["data"]
    return {k: data[k] for k in ("device", "operation", "action", "nospace", "reason")
            if k in data}


def serial_lines(vm):
    return vm.serial_text().replace("\r\n", "\n").splitlines()


def read_error_drive(tmp_path, vmm, img):
    """-drive options for img behind blkdebug, rerror=stop: one read at sector 4096 fails
    with EIO. Away from sector 0, which both VMMs and firmware read at start-up. Later QEMU
    fails writes too once the rule is active, unless told the I/O type (not in 2.2)."""
    rules = tmp_path / "rules.cfg"
    iotype = 'iotype = "read"\n' if vmm == "qemu" else ""
    rules.write_text('[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "4096"\n'
                     f'once = "on"\n{iotype}')
    return f"file=blkdebug:{rules}:{img},format=raw,rerror=stop"


def stopped_then_cont(vm, qmp, device):
    """The read error stops the VM as 2.2 reports it; cont resumes it and the guest ends."""
    with qmp:
        assert io_error_event(qmp) == {"device": device, "operation": "read", "action": "stop",
                                       "nospace": False, "reason": "Input/output error"}
        qmp.event_wait("STOP", timeout=10)
        assert qmp.command("query-status")["status"] == "io-error"
        blocks = {b["device"]: b for b in qmp.command("query-block")}
        assert blocks[device]["io-status"] == "failed"
        assert "PASS" not in vm.serial_text()
        qmp.command("cont")
        qmp.event_wait("RESUME", timeout=10)
        assert vm.wait_exit(60) == 0, vm.describe(vm.serial_log)


def report_enospc_lines(start_fn, make_vm, vmm, tmp_path, tmpfs, device, timeout=60):
    """werror=report on a nearly full tmpfs: the write's BLOCK_IO_ERROR, the VM never stops
    and the payload gives up and powers off. Its serial lines (READY first)."""
    img = tmpfs / "disk.img"
    make_image(img, 64 << 20)
    fill(tmpfs, leave=6 << 20)
    vm, qmp = start_fn(make_vm, vmm, tmp_path, f"file={img},format=raw,werror=report")
    with qmp:
        assert io_error_event(qmp) == {"device": device, "operation": "write",
                                       "action": "report", "reason": "No space left on device"}
        assert vm.wait_exit(timeout) == 0, vm.describe(vm.serial_log)
        assert not any(e["event"] == "STOP" for e in qmp.get_events())
    lines = serial_lines(vm)
    assert lines[0] == "READY", "\n".join(lines)
    return lines


def rerror_stop_cont(start_fn, make_vm, vmm, tmp_path, device):
    """rerror=stop with one read failing (blkdebug, EIO): the VM stops, `cont` issues the read
    again and the guest's check passes. The image."""
    img = tmp_path / "disk.img"
    make_image(img, 64 << 20)
    vm, qmp = start_fn(make_vm, vmm, tmp_path, read_error_drive(tmp_path, vmm, img))
    stopped_then_cont(vm, qmp, device)
    lines = serial_lines(vm)
    assert lines[0] == "READY" and lines[-1] == "PASS", "\n".join(lines)
    return img


def test_payload_werror_report_enospc(make_vm, vmm, tmp_path, tmpfs):
    """The guest's writes fail with an I/O error; the VM never stops. (As in 2.2, nospace is
    only sent when the policy may stop: io-status is off with report.)"""
    lines = report_enospc_lines(start, make_vm, vmm, tmp_path, tmpfs, "d0", timeout=30)
    assert lines[-1] == "FAIL I/O error at sector 0", "\n".join(lines)


def test_payload_rerror_stop_then_cont(make_vm, vmm, tmp_path):
    """One read fails (blkdebug, EIO): the VM stops; after cont the read is issued again and
    the guest's check of all 16 MiB passes."""
    img = rerror_stop_cont(start, make_vm, vmm, tmp_path, "d0")
    with open(img, "rb") as f:
        for s in range(0, MIB * 2048, 97):
            f.seek(s * SECTOR)
            assert f.read(SECTOR) == expected_sector(s), f"sector {s}"
