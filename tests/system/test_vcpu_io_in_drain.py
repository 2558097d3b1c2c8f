"""A vCPU's synchronous drive request that meets a drain the main thread is waiting in.

The floppy, SD, pflash and ATAPI models read their drive from the vCPU thread, with the BQL
held. QMP `transaction` drains every node in turn (bdrv_drain_all): it closes the floppy
node's gate, then waits for the in-flight copies of a mirror job on another drive by
iterating the main loop, whose poll drops the BQL. The vCPU, reading floppy tracks (payload
scenario `floppy`, repeated), took the BQL then, was held at the floppy node's closed gate,
and slept with the BQL: the main thread could never take it back to end the drain, and
minivmm hung. A held request now sleeps without the BQL (block/wait.c; the unit test is
tests/unit/test-block-bql.c).
"""

import os
import time

from qmp_vm import QMP
from test_floppy_boot import make_pattern_floppy
from test_payload import payload_args

BUSY_MIB = 256
ROUNDS = 8  # whole-disk floppy reads; the test stops sending well before they end


def write_busy_disk(path):
    """Data everywhere (a mirror copies it all; holes it would skip)."""
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(BUSY_MIB):
            f.write(chunk)


def job_running(qmp):
    jobs = qmp.command("query-block-jobs")
    return bool(jobs) and not jobs[0]["ready"]


def test_floppy_reads_during_transactions_behind_a_busy_job(make_vm, tmp_path):
    floppy = make_pattern_floppy(tmp_path)
    busy = tmp_path / "busy.raw"
    write_busy_disk(busy)
    sock = str(tmp_path / "qmp.sock")
    vm = make_vm(payload_args(f"floppy {ROUNDS}") + ["-no-shutdown",
        "-qmp", f"unix:{sock},server,nowait",
        "-drive", f"if=floppy,file={floppy},format=raw",
        "-drive", f"if=none,id=busy,file={busy},format=raw,cache=none"],
        backend="minivmm", debugcon=False)
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    vm.wait_serial("READY", timeout=30)
    drains = mirrors = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and mirrors < 6 and "PASS" not in vm.serial_text():
        mirrors += 1
        qmp.command("drive-mirror", device="busy", sync="full", format="raw",
                    target=str(tmp_path / f"copy{mirrors}.raw"))
        while job_running(qmp):
            qmp.command("transaction", actions=[])  # drains every node; 10 s QMP timeout
            drains += 1
        qmp.command("block-job-cancel", device="busy")
        while qmp.command("query-block-jobs"):
            time.sleep(0.01)
    assert drains >= 20, f"only {drains} drains behind the job"
    assert vm.wait_serial(r"^(PASS|FAIL[^\r\n]*)\r?$", timeout=120).group(1) == "PASS", (
        vm.serial_text())
    assert f"FLOPPY read {ROUNDS * 160} tracks" in vm.serial_text()
    qmp.command("quit")
    assert vm.wait_exit(30) == 0
