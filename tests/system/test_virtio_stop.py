"""virtio-blk while the machine is stopped (`stop`, an error policy's stop): no request is
taken from a ring but on a kick written to the notify register, as in QEMU, whose
ioeventfds stop with the VM. What the guest made available before the stop, unkicked, waits
and is served when the machine runs again (`cont`).

The guest is the qtest protocol on minivmm's qtest accelerator, which runs unless -S: the
machine can be stopped and resumed over QMP. Under it a queue in the main loop or in an
I/O thread is polled as under KVM, so a request made available without a kick is found
by polling, and must not be while the machine is stopped. minivmm only: QEMU has no qtest
accelerator, and under -S its machine never runs.
"""

import time

import pytest

from qmp_vm import QMP, wait_for
from qtest import QTest
from virtio_blk_qtest import VirtioBlk

BS = 4096
DEVFN = 4 << 3
WHERE = {"main-loop": "", "iothread": ",iothread=io0"}


@pytest.fixture(autouse=True)
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("the machine is minivmm's qtest accelerator, stopped and resumed")


def pattern(slot):
    return bytes([0x40 + slot]) * BS


def start(tmp_path, where):
    img = tmp_path / "disk.img"
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    sock = str(tmp_path / "qmp.sock")
    qt = QTest.minivmm(["-m", "128", "-object", "iothread,id=io0",
                        "-drive", f"if=none,id=d0,file={img},format=raw",
                        "-device", f"virtio-blk-pci,drive=d0,addr=4{WHERE[where]}",
                        "-qmp", f"unix:{sock},server,nowait"])
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    vb = VirtioBlk(qt, DEVFN, 0, depth=2, bs=BS, write=True)
    for slot in range(2):
        qt.memwrite(vb.data + slot * BS, pattern(slot))
    return img, qt, qmp, vb


def on_disk(img, slot):
    with open(img, "rb") as f:
        f.seek(2 * slot * BS)
        return f.read(BS)


def writes(qmp):
    stats = next(s for s in qmp.command("query-blockstats") if s["device"] == "d0")
    return stats["stats"]["wr_operations"]


def completed(vb, n, timeout=5):
    done = [0]

    def seen():
        done[0] += vb.poll()
        return done[0] >= n
    wait_for(seen, timeout=timeout, what=f"{n} completion(s)")


def stop(qmp):
    qmp.command("stop")
    qmp.event_wait("STOP")


def cont(qmp):
    qmp.command("cont")
    qmp.event_wait("RESUME")


@pytest.mark.parametrize("where", sorted(WHERE))
def test_unkicked_request_waits_for_cont(tmp_path, where):
    img, qt, qmp, vb = start(tmp_path, where)
    vb.paused = True                      # poll() must not resubmit what completed
    try:
        vb._publish([0])                  # running: a kicked request is served
        completed(vb, 1)
        assert on_disk(img, 0) == pattern(0)

        stop(qmp)
        vb._publish([1], kick=False)      # available, not kicked: polling would find it
        time.sleep(0.5)
        assert vb.poll() == 0
        assert on_disk(img, 1) == bytes(BS)
        assert writes(qmp) == 1

        cont(qmp)                         # the machine runs: the ring is looked at again
        completed(vb, 1)
        assert on_disk(img, 1) == pattern(1)
        assert writes(qmp) == 2

        for n in range(3, 13):            # again and again, the waits short
            stop(qmp)
            vb._publish([n % 2], kick=False)
            time.sleep(0.02)
            assert writes(qmp) == n - 1
            cont(qmp)
            completed(vb, 1)
            assert writes(qmp) == n
    finally:
        qmp.close()
        qt.close()


@pytest.mark.parametrize("where", sorted(WHERE))
def test_kick_while_stopped_is_served(tmp_path, where):
    """A register write's kick is served while stopped, as QEMU serves one (only qtest can
    write the register then): tests that drive a stopped machine keep working."""
    img, qt, qmp, vb = start(tmp_path, where)
    vb.paused = True
    try:
        stop(qmp)
        vb._publish([0])
        completed(vb, 1)
        assert on_disk(img, 0) == pattern(0)
        assert qmp.command("query-status")["status"] == "paused"
        cont(qmp)
        vb._publish([1])
        completed(vb, 1)
        assert on_disk(img, 1) == pattern(1)
    finally:
        qmp.close()
        qt.close()

