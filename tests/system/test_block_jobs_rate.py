"""Block job speed limits measured exactly on the virtual clock (the qtest accelerator: it
only moves on clock_step), and mirror convergence under a guest writing faster than the
job's speed: the default copy mode never gets in sync, copy-mode=write-blocking does."""

import time

import pytest

from jobs_lib import MiB, GuestVM, create, qemu_io, snapshot_raw, assert_same

SEC = 1_000_000_000
STEP = 100_000_000


def job(g):
    jobs = g.qmp.command("query-block-jobs")
    return jobs[0] if jobs else None


def wait_idle(g):
    """Until the job sleeps on the rate-limit timer (busy false), then one more round trip
    so that the main loop has armed the timer."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        j = job(g)
        if j is None or not j["busy"]:
            job(g)
            return j
        time.sleep(0.001)
    raise AssertionError("the job never went idle")


def write_some(g):
    """At least one guest write completes (on a loaded host a few polls may see none, and a
    step without writes lets the default mode catch up, which is not what is tested)."""
    before = g.disk.completed
    deadline = time.monotonic() + 10
    g.write_burst(3)
    while g.disk.completed == before and time.monotonic() < deadline:
        g.write_burst(1)
    assert g.disk.completed > before, "the guest completed no write in 10 s"


def advance(g, ns, guest_writes=False):
    for _ in range(ns // STEP):
        g.qt.ok(f"clock_step {STEP}")
        if guest_writes:
            write_some(g)
        wait_idle(g)


@pytest.mark.parametrize("kind", ["stream", "backup", "mirror", "commit"])
def test_speed_over_ten_virtual_seconds(tmp_path, kind):
    """Every byte of the 64 MiB is copied; after 2 s of warm-up, 10 s move 10 MiB."""
    speed = 1 * MiB
    base = create(tmp_path / "base.qcow2", 64 * MiB)
    mid = create(tmp_path / "mid.qcow2", backing=base)
    top = create(tmp_path / "top.qcow2", backing=mid)
    qemu_io(mid, "write -P 0x3d 0 64M")
    g = GuestVM(tmp_path, top)
    args = {"device": "drive0", "speed": speed}
    target = str(tmp_path / "t.qcow2")
    start_job = {
        "stream": lambda: g.qmp.command("block-stream", **args),
        "backup": lambda: g.qmp.command("drive-backup", target=target, sync="full", **args),
        "mirror": lambda: g.qmp.command("drive-mirror", target=target, sync="full", **args),
        "commit": lambda: g.qmp.command("block-commit", top=str(mid), base=str(base), **args),
    }
    start_job[kind]()
    wait_idle(g)
    advance(g, 2 * SEC)
    start = job(g)["offset"]
    advance(g, 10 * SEC)
    moved = job(g)["offset"] - start
    assert 0.9 * 10 * speed <= moved <= 1.1 * 10 * speed, moved
    g.qmp.command("block-job-set-speed", device="drive0", speed=0)
    if kind == "mirror":
        g.qmp.event_wait("BLOCK_JOB_READY")
        g.qmp.command("block-job-cancel", device="drive0")
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert ev["data"]["offset"] == ev["data"]["len"] == 64 * MiB
    g.quit()


@pytest.mark.parametrize("mode", ["background", "write-blocking"])
def test_mirror_convergence_under_guest_load(tmp_path, mode):
    """The guest rewrites 128 KiB over and over while the job may copy 64 KiB/s: in the
    default mode the dirty set never empties; write-blocking reaches READY after the bulk
    copy and completes, with the target equal to the source."""
    src = create(tmp_path / "src.qcow2", 512 * 1024)
    qemu_io(src, "write -P 0x21 0 512k")
    expect = snapshot_raw(src, tmp_path / "expect.raw")
    target = tmp_path / "t.qcow2"
    g = GuestVM(tmp_path, src)
    g.write_burst(5)
    g.qmp.command("drive-mirror", device="drive0", target=str(target), sync="full",
                  speed=64 * 1024, **{"copy-mode": mode})
    advance(g, 20 * SEC, guest_writes=True)
    ready = any(e["event"] == "BLOCK_JOB_READY" for e in g.qmp.get_events())
    if mode == "background":
        assert not ready
        assert job(g)["ready"] is False and job(g)["len"] > job(g)["offset"]
        g.qmp.command("block-job-cancel", device="drive0")
        g.qmp.event_wait("BLOCK_JOB_CANCELLED")
        g.quiesce()
        g.quit()
        return
    assert ready and job(g)["ready"] is True
    g.qmp.command("block-job-complete", device="drive0")
    g.write_burst(5)
    ev = g.qmp.event_wait("BLOCK_JOB_COMPLETED")
    assert "error" not in ev["data"]
    assert g.qmp.command("query-block")[0]["inserted"]["file"] == str(target)
    g.quiesce()
    g.quit()
    g.expect_writes(expect)
    assert_same(target, expect)
