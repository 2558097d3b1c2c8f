"""virtio-blk with I/O threads (-object iothread, iothread=) under KVM, driven by the test
payload's polling driver over two queues (scenario virtio_blk_bench, tests/guest): a pattern
written in 64 KiB requests and read back and checked in the guest, then checked in the image
file, with the queues in the main loop, in one I/O thread, and spread over two
(iothread=io0:io1); stop/cont, block_resize and query-block while requests are in flight;
system_reset while they are (disowned, the payload's second run passes); quit while they are,
which must end the VMM cleanly (drained, threads joined, status 0). The same pattern with the
I/O thread's polling off (poll-max-ns=0: every request needs its kick) and polling that
goes on and off all the time (a kick lost when polling stops would hang the payload), and
-object's errors for the polling properties.
"""

import struct
import subprocess
import time

import pytest

import vm as vmlib
from qmp_vm import QMP, wait_for
from test_payload import payload_args

C = 0x9e3779b97f4a7c15
MASK = (1 << 64) - 1
SECTOR = 512
SECTORS_PER_REQ = 65536 // SECTOR
DISK_MIB = 32
IOTHREADS = {"main-loop": "", "one": ",iothread=io0", "two": ",iothread=io0:io1"}


def expected_sector(s):
    j = s % SECTORS_PER_REQ
    return struct.pack("<64Q", *(((s * C) & MASK) ^ (j * 64 + w) for w in range(64)))


def vm_args(disk, scenario, iothread, extra=(), io0=""):
    return payload_args(scenario, mem="512") + [
        "-object", "iothread,id=io0" + io0, "-object", "iothread,id=io1",
        "-drive", f"if=none,id=d0,file={disk},format=raw,cache=none,aio=native",
        "-device", f"virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=2{iothread}",
        *extra]


def raw_disk(tmp_path, mib):
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(mib << 20)
    return disk


POLL = {"default": "", "off": ",poll-max-ns=0", "flapping": ",poll-max-ns=3000,poll-shrink=3"}


@pytest.mark.parametrize("where,poll", [(w, "default") for w in sorted(IOTHREADS)] +
                         [("one", "off"), ("one", "flapping")])
def test_pattern_two_queues(make_vm, tmp_path, where, poll):
    disk = raw_disk(tmp_path, DISK_MIB)
    vm = make_vm(vm_args(disk, "virtio_blk_bench 100 patwrite:8 patread:8", IOTHREADS[where],
                         io0=POLL[poll]),
                 backend="minivmm", debugcon=False)
    assert vm.wait_exit(60) == 0, vm.describe(vm.serial_log)
    lines = vm.serial_text().replace("\r\n", "\n").splitlines()
    assert lines[0] == "READY" and lines[-1] == "PASS", "\n".join(lines)
    assert f"VIRTIO-BLK-BENCH queues 2 capacity {DISK_MIB << 11}" in lines
    # The scenario negotiates FLUSH without CONFIG_WCE: the device must turn write-back on.
    assert "VIRTIO-BLK-BENCH write-cache 1" in lines
    last = DISK_MIB * 2048 - 1
    with open(disk, "rb") as f:
        for s in (0, 1, SECTORS_PER_REQ + 1, 4097, last // 2, last):
            f.seek(s * SECTOR)
            assert f.read(SECTOR) == expected_sector(s), f"sector {s}"


def qmp_vm(make_vm, tmp_path, disk, scenario, iothread):
    sock = str(tmp_path / "qmp.sock")
    vm = make_vm(vm_args(disk, scenario, iothread, ["-qmp", f"unix:{sock},server,nowait"]),
                 backend="minivmm", debugcon=False)
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    vm.wait_serial("VIRTIO-BLK-BENCH", timeout=30)
    return vm, qmp


def status(qmp):
    return qmp.command("query-status")["status"]


@pytest.mark.parametrize("where", ["main-loop", "two"])
def test_stop_cont_resize_during_io(make_vm, tmp_path, where):
    disk = raw_disk(tmp_path, DISK_MIB)
    vm, qmp = qmp_vm(make_vm, tmp_path, disk,
                     "virtio_blk_bench 2500 randwrite:32 randread:32", IOTHREADS[where])
    for size_mib in (DISK_MIB + 8, DISK_MIB + 16):
        time.sleep(0.3)
        qmp.command("stop")
        assert status(qmp) == "paused"
        time.sleep(0.2)
        qmp.command("cont")
        assert status(qmp) == "running"
        qmp.command("block_resize", {"device": "d0", "size": size_mib << 20})
        blocks = {b["device"]: b for b in qmp.command("query-block")}
        assert blocks["d0"]["inserted"]["image"]["virtual-size"] == size_mib << 20
    assert vm.wait_exit(60) == 0, vm.describe(vm.serial_log)
    lines = vm.serial_text().replace("\r\n", "\n").splitlines()
    assert lines[-1] == "PASS", "\n".join(lines)
    assert any(line.startswith("RESULT randread32-iops") for line in lines)
    assert disk.stat().st_size == (DISK_MIB + 16) << 20
    assert "error" not in vm.stderr_text().lower()


def ops(qmp):
    stats = next(s for s in qmp.command("query-blockstats") if s["device"] == "d0")["stats"]
    return stats["rd_operations"], stats["wr_operations"]


@pytest.mark.parametrize("where", ["main-loop", "one", "two"])
def test_stopped_machine_does_no_io(make_vm, tmp_path, where):
    """Once `stop` has returned, no request of the guest's reaches the disk until `cont`,
    not even one it made available just before: polling and doorbells wait, as QEMU's
    ioeventfds stop with the VM. The payload's own check at the end sees every write."""
    disk = raw_disk(tmp_path, DISK_MIB)
    vm, qmp = qmp_vm(make_vm, tmp_path, disk, "virtio_blk_bench 3000 randwrite:32 randread:32",
                     IOTHREADS[where])
    for _ in range(12):
        time.sleep(0.1)
        qmp.command("stop")
        before = ops(qmp)
        time.sleep(0.1)
        assert ops(qmp) == before
        qmp.command("cont")
    assert vm.wait_exit(60) == 0, vm.describe(vm.serial_log)
    lines = vm.serial_text().replace("\r\n", "\n").splitlines()
    assert lines[-1] == "PASS", "\n".join(lines)


@pytest.mark.parametrize("where", ["main-loop", "one", "two"])
def test_quit_during_io(make_vm, tmp_path, where):
    disk = raw_disk(tmp_path, DISK_MIB)
    vm, qmp = qmp_vm(make_vm, tmp_path, disk, "virtio_blk_bench 20000 randwrite:32",
                     IOTHREADS[where])
    time.sleep(0.5)
    qmp.command("quit")
    wait_for(lambda: not vm.is_running(), timeout=15, what="minivmm to exit")
    assert vm.returncode == 0, vm.stderr_text()
    assert "PASS" not in vm.serial_text()  # it really was in the middle of its I/O


@pytest.mark.parametrize("where", ["main-loop", "two"])
def test_system_reset_during_io(make_vm, tmp_path, where):
    """A machine reset with 32 writes in flight: the reset does not wait for them (the
    device lock is held), they are disowned, and the payload's second run completes."""
    disk = raw_disk(tmp_path, DISK_MIB)
    vm, qmp = qmp_vm(make_vm, tmp_path, disk, "virtio_blk_bench 1500 randwrite:32",
                     IOTHREADS[where])
    time.sleep(0.5)
    qmp.command("system_reset")
    assert vm.wait_exit(60) == 0, vm.describe(vm.serial_log)
    text = vm.serial_text().replace("\r\n", "\n")
    assert text.count("VIRTIO-BLK-BENCH queues 2") == 2, text
    assert text.splitlines()[-1] == "PASS", text


@pytest.mark.parametrize("prop,msg", [
    ("poll-max-ns=abc", "-object iothread,id=io0,poll-max-ns=abc: "
                        "Parameter 'poll-max-ns' expects an int64 value"),
    ("poll-grow=-1", "poll-grow value must be in range [0, 9223372036854775807]"),
    ("poll-shrink=1,bogus=2", "Property '.bogus' not found"),
])
def test_poll_property_errors(prop, msg):
    proc = subprocess.run([vmlib.minivmm_binary(), "-nodefaults", "-display", "none",
                           "-object", "iothread,id=io0," + prop],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert msg in proc.stderr, proc.stderr


@pytest.mark.parametrize("where,ran_here", [("main-loop", False), ("one", True)])
def test_qcow2_overlay_allocating_writes_at_depth_one(make_vm, tmp_path, where, ran_here):
    """Allocating writes at queue depth 1 into a qcow2 overlay whose 128 KiB clusters each
    take two of the payload's 64 KiB writes: the first copies the other half from the
    backing file. An I/O thread with nothing else in flight runs such writes itself (trace
    bdrv_aio_ran_here) instead of handing them to a worker; the main loop never does.
    Either way the guest reads its pattern back, the image holds it, and `qemu-img check`
    finds nothing wrong."""
    base = tmp_path / "base.raw"
    base.write_bytes(b"\x5a" * (DISK_MIB << 20))
    disk = tmp_path / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=131072",
                    "-b", str(base), "-F", "raw", str(disk)], check=True)
    trace = tmp_path / "trace.log"
    vm = make_vm(payload_args("virtio_blk_bench 100 patwrite:1 patread:1", mem="512") + [
        "-object", "iothread,id=io0",
        "-drive", f"if=none,id=d0,file={disk},format=qcow2,cache=none,aio=native",
        "-device", f"virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=1{IOTHREADS[where]}",
        "-trace", f"enable=bdrv_aio_ran_here,file={trace}"], backend="minivmm", debugcon=False)
    assert vm.wait_exit(60) == 0, vm.describe(vm.serial_log)
    lines = vm.serial_text().replace("\r\n", "\n").splitlines()
    assert lines[-1] == "PASS", "\n".join(lines)
    ran = trace.read_text().count("bdrv_aio_ran_here") if trace.exists() else 0
    clusters = (DISK_MIB << 20) // 131072
    assert (ran >= clusters) if ran_here else (ran == 0), f"{ran} requests ran in the I/O thread"
    check = subprocess.run(["qemu-img", "check", str(disk)], capture_output=True, text=True)
    assert check.returncode == 0 and "No errors were found" in check.stdout, check.stdout
    flat = tmp_path / "flat.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(disk), str(flat)], check=True)
    last = DISK_MIB * 2048 - 1
    with open(flat, "rb") as f:
        for s in (0, 1, SECTORS_PER_REQ - 1, SECTORS_PER_REQ, 4097, last // 2, last):
            f.seek(s * SECTOR)
            assert f.read(SECTOR) == expected_sector(s), f"sector {s}"
