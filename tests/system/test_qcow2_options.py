"""qcow2 runtime options on -drive and blockdev-add, with QEMU 7.2's messages.

Covered: lazy-refcounts (the header's dirty bit while a write allocates, clear after quit),
pass-discard-request (host blocks given back, or kept while qcow2 still frees the clusters),
overlap-check with its modes, template and per-kind flags (a write aimed by a forged L2 entry
at the refcount block or the L1 table: BLOCK_IMAGE_CORRUPTED and the corrupt bit, or written
through; new metadata allocated over old metadata whose refcount was dropped), the cache sizes (refused combinations; accepted ones do correct I/O), and refused
values of all of them. Data goes in and out through the monitor's qemu-io; Debian's qemu-img
makes the images and judges them afterwards. A refused option reads
"PROG: -drive OPTS: MESSAGE"; minivmm, as QEMU 2.2, puts "could not open disk image FILE: "
before the message, which QEMU 7.2 leaves out. The blockdev-add tests use 2.2's schema (id,
options) and run on minivmm only: QEMU 7.2's blockdev-add takes node-name and no id.
"""

import json
import os
import shutil
import struct
import subprocess

import pytest

from qmp_vm import QMPError, start_qmp_vm

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                reason="qemu-img (Debian qemu-utils) not installed")

MiB = 1 << 20
INCOMPAT, COMPAT = 72, 80          # header offsets of the feature bitmaps (big-endian u64)
DIRTY, CORRUPT = 1 << 0, 1 << 1    # incompatible feature bits
COPIED = 1 << 63                   # L2 entry flag: refcount exactly one, write in place
OFFSET_MASK = 0x00fffffffffffe00


def run(*argv):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60)


def create(path, size="64M", opts=""):
    res = run("qemu-img", "create", "-q", "-f", "qcow2", *(["-o", opts] if opts else []),
              path, size)
    assert res.returncode == 0, res.stderr
    return path


def header_u64(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        return struct.unpack(">Q", f.read(8))[0]


def program(vmm):
    return "minivmm" if vmm == "minivmm" else "qemu-system-x86_64"


def drive(img, extra=""):
    return ["-drive", f"file={img},if=none,id=d0,format=qcow2{extra}"]


def start(make_vm, tmp_path, vmm, args=()):
    """A paused VM with a QMP socket: (vm, qmp)."""
    return start_qmp_vm(make_vm, tmp_path, vmm, extra=list(args), paused=True)


def qemu_io(vm, qmp, command, device="d0"):
    """One qemu-io command through HMP; what it printed (on the VMM's stdout)."""
    before = len(vm.stdout_log.read_bytes())
    assert qmp.hmp(f'qemu-io {device} "{command}"') == ""
    return vm.stdout_log.read_bytes()[before:].decode()


def io_ok(vm, qmp, command, device="d0"):
    out = qemu_io(vm, qmp, command, device)
    assert "failed" not in out and ("wrote " in out or "read " in out or "discard " in out), out
    return out


def quit_vm(vm, qmp):
    qmp.command("quit")
    assert vm.wait_exit() == 0


def check_clean(img):
    res = run("qemu-img", "check", img)
    assert res.returncode == 0 and "No errors were found on the image." in res.stdout, \
        res.stdout + res.stderr


# ---- refused values ----

LAZY_V2 = "Lazy refcounts require a qcow2 image with at least qemu 1.1 compatibility level"
BAD_SIZE = "Parameter 'cache-size' expects a non-negative number below 2^64"
REFUSED = [
    ("lazy-refcounts=maybe", "Parameter 'lazy-refcounts' expects 'on' or 'off'"),
    ("pass-discard-request=maybe", "Parameter 'pass-discard-request' expects 'on' or 'off'"),
    ("pass-discard-snapshot=2", "Parameter 'pass-discard-snapshot' expects 'on' or 'off'"),
    ("pass-discard-other=yes!", "Parameter 'pass-discard-other' expects 'on' or 'off'"),
    ("overlap-check=blubb", "Unsupported value 'blubb' for qcow2 option 'overlap-check'. "
     "Allowed are any of the following: none, constant, cached, all"),
    ("overlap-check.template=blubb", "Unsupported value 'blubb' for qcow2 option "
     "'overlap-check'. Allowed are any of the following: none, constant, cached, all"),
    ("overlap-check=constant,overlap-check.template=all", "Conflicting values for qcow2 "
     "options 'overlap-check' ('constant') and 'overlap-check.template' ('all')"),
    ("overlap-check.refcount-block=maybe",
     "Parameter 'overlap-check.refcount-block' expects 'on' or 'off'"),
    ("cache-size=1M,l2-cache-size=512k,refcount-cache-size=256k",
     "cache-size, l2-cache-size and refcount-cache-size may not be set at the same time"),
    ("cache-size=1M,l2-cache-size=2M", "l2-cache-size may not exceed cache-size"),
    ("cache-size=1M,refcount-cache-size=2M", "refcount-cache-size may not exceed cache-size"),
    # QEMU 2.2 (and minivmm's other size options) word garbage so; 7.2 as for -1.
    ("cache-size=foo", {"minivmm": "Parameter 'cache-size' expects a size", "qemu": BAD_SIZE}),
    ("cache-size=-1", BAD_SIZE),
]


def expect_refused(run_expect_fail, vmm, img, extra, message):
    message = message[vmm] if isinstance(message, dict) else message
    opts = f"file={img},if=none,id=d0,format=qcow2,{extra}"
    status, err = run_expect_fail(["-drive", opts])
    prefix = f"could not open disk image {img}: " if vmm == "minivmm" else ""
    assert status == 1, err
    # QEMU 7.2 adds a second line about size suffixes to BAD_SIZE: only the first counts.
    assert f"{program(vmm)}: -drive {opts}: {prefix}{message}" in err.splitlines(), err


@pytest.mark.parametrize("extra,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(run_expect_fail, vmm, tmp_path, extra, message):
    expect_refused(run_expect_fail, vmm, create(tmp_path / "v3.qcow2"), extra, message)


def test_lazy_refcounts_need_v3(run_expect_fail, vmm, tmp_path, make_vm):
    v2 = create(tmp_path / "v2.qcow2", opts="compat=0.10")
    expect_refused(run_expect_fail, vmm, v2, "lazy-refcounts=on", LAZY_V2)
    vm, qmp = start(make_vm, tmp_path, vmm, drive(v2, ",lazy-refcounts=off"))
    io_ok(vm, qmp, "write -P 0x5a 0 64k")


def test_options_go_to_the_image_under_snapshot(run_expect_fail, vmm, tmp_path):
    """With snapshot=on the qcow2 options are the image's, not the temporary overlay's (a v3
    image that would take lazy-refcounts): both VMMs refuse them for a v2 image."""
    v2 = create(tmp_path / "v2.qcow2", opts="compat=0.10")
    expect_refused(run_expect_fail, vmm, v2, "snapshot=on,lazy-refcounts=on", LAZY_V2)


# ---- lazy-refcounts ----

@pytest.mark.parametrize("create_opts,extra,dirty", [
    ("", ",lazy-refcounts=on", True),
    ("lazy_refcounts=on", "", True),
    ("lazy_refcounts=on", ",lazy-refcounts=off", False),
    ("", "", False),
])
def test_lazy_refcounts_dirty_bit(make_vm, vmm, tmp_path, create_opts, extra, dirty):
    img = create(tmp_path / "l.qcow2", opts=create_opts)
    compat = header_u64(img, COMPAT)
    vm, qmp = start(make_vm, tmp_path, vmm, drive(img, extra))
    assert header_u64(img, INCOMPAT) == 0
    io_ok(vm, qmp, "write -P 0x5a 1M 64k")          # allocates a cluster
    assert header_u64(img, INCOMPAT) == (DIRTY if dirty else 0)
    io_ok(vm, qmp, "read -P 0x5a 1M 64k")
    quit_vm(vm, qmp)
    assert header_u64(img, INCOMPAT) == 0
    assert header_u64(img, COMPAT) == compat      # a runtime choice, not written to the image
    check_clean(img)


# ---- pass-discard-* ----

def discard_4m(vm, qmp, img, passed, device="d0"):
    """Write 4 MiB and discard it through qemu-io: the host file gives its blocks back only
    if the discard is `passed` down; qcow2 frees the clusters either way."""
    io_ok(vm, qmp, "write -P 0x5a 0 4M", device)
    assert qemu_io(vm, qmp, "flush", device) == ""
    before = os.stat(img).st_blocks
    assert before >= 4 * MiB // 512, before
    io_ok(vm, qmp, "discard 0 4M", device)
    after = os.stat(img).st_blocks
    quit_vm(vm, qmp)
    if passed:
        assert after <= before - 4 * MiB // 512, (before, after)
    else:
        assert after >= before, (before, after)
    check_clean(img)
    res = run("qemu-img", "map", "--output=json", img)
    discarded = [e for e in json.loads(res.stdout) if e["start"] < 4 * MiB]
    assert all(not e["data"] and e["zero"] for e in discarded), res.stdout


@pytest.mark.parametrize("extra,passed", [
    (",discard=unmap", True),
    (",discard=unmap,pass-discard-request=on", True),
    (",discard=unmap,pass-discard-request=off", False),
])
def test_pass_discard_request(make_vm, vmm, tmp_path, extra, passed):
    img = create(tmp_path / "d.qcow2", "8M")
    vm, qmp = start(make_vm, tmp_path, vmm, drive(img, ",cache=writeback" + extra))
    discard_4m(vm, qmp, img, passed)


def test_pass_discard_flags_accepted(make_vm, vmm, tmp_path):
    img = create(tmp_path / "d.qcow2", "8M")
    vm, qmp = start(make_vm, tmp_path, vmm, drive(img, ",pass-discard-snapshot=off,"
                                                       "pass-discard-other=on"))
    io_ok(vm, qmp, "write -P 0x5a 0 64k")
    io_ok(vm, qmp, "read -P 0x5a 0 64k")


# ---- overlap-check ----

def forge_l2_entry(img, target):
    """Write guest cluster 0, then point its L2 entry at the image's own `target` metadata
    cluster ("rb": the first refcount block, "l1": the L1 table), COPIED kept; its offset."""
    res = run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", img)
    assert res.returncode == 0, res.stderr
    l1_offset, reftable_offset = header_u64(img, 40), header_u64(img, 48)
    l2_offset = header_u64(img, l1_offset) & OFFSET_MASK
    host = {"rb": header_u64(img, reftable_offset), "l1": l1_offset}[target]
    with open(img, "r+b") as f:
        f.seek(l2_offset)
        f.write(struct.pack(">Q", host | COPIED))
    return host


KIND = {"rb": "refcount block", "l1": "active L1 table"}
OVERLAP = [  # (target, extra options, whether the write is refused)
    ("rb", "", True),
    ("rb", ",overlap-check=cached", True),
    ("rb", ",overlap-check=constant", False),    # constant checks no refcount blocks
    ("rb", ",overlap-check=none", False),
    ("rb", ",overlap-check.refcount-block=off", False),
    ("rb", ",overlap-check=none,overlap-check.refcount-block=on", True),
    ("l1", ",overlap-check=constant", True),
    ("l1", ",overlap-check.template=all,overlap-check.active-l1=off", False),
]


def write_over_metadata(vm, qmp, img, host, target, refused, device="d0"):
    out = qemu_io(vm, qmp, "write -P 0x5a 4k 4k", device)
    corrupted = [e for e in qmp.get_events() if e["event"] == "BLOCK_IMAGE_CORRUPTED"]
    if refused:
        assert out.splitlines() == ["write failed: Input/output error"], out
        expect_corruption_event(corrupted, vm, device, KIND[target], host + 4096)
        assert qemu_io(vm, qmp, "read 0 4k", device).splitlines() == [
            "read failed: No medium found"]                 # fatal: the node is unusable
        block = [b for b in qmp.command("query-block") if b["device"] == device]
        assert "inserted" not in block[0], block            # as a drive without a medium
    else:
        assert not corrupted
        assert out.startswith("wrote 4096/4096 bytes at offset 4096"), out
        io_ok(vm, qmp, "read -P 0x5a 4k 4k", device)
    quit_vm(vm, qmp)
    assert header_u64(img, INCOMPAT) == (CORRUPT if refused else 0)
    with open(img, "rb") as f:
        f.seek(host + 4096)
        assert (f.read(4096) == b"\x5a" * 4096) is not refused


def expect_corruption_event(events, vm, device, kind, offset):
    msg = f"Preventing invalid write on metadata (overlaps with {kind})"
    assert len(events) == 1, events
    # QEMU 2.2 sends device, msg, offset, size and fatal; 7.2 adds node-name.
    data = events[0]["data"]
    got = {k: data.get(k) for k in ("device", "msg", "offset", "size", "fatal")}
    assert got == {"device": device, "msg": msg, "offset": offset, "size": 4096,
                   "fatal": True}, data
    assert (f"qcow2: Marking image as corrupt: {msg}; further corruption events will be "
            "suppressed") in vm.stderr_text().splitlines()


@pytest.mark.parametrize("target,extra,refused", OVERLAP,
                         ids=[f"{t}{e or '-default'}" for t, e, _ in OVERLAP])
def test_overlap_check(make_vm, vmm, tmp_path, target, extra, refused):
    img = create(tmp_path / "c.qcow2", "4M")
    host = forge_l2_entry(img, target)
    vm, qmp = start(make_vm, tmp_path, vmm, drive(img, extra))
    write_over_metadata(vm, qmp, img, host, target, refused)



# ---- overlap-check on metadata writes ----
# Each case gives a metadata cluster of a fresh image a refcount of 0 (qemu-img check would
# call it a leak in reverse), so that the lowest-free-cluster allocator of both VMMs hands it
# out for new metadata: a new L2 table, a grown L1 table, a snapshot's L1 table. The check
# must refuse that write (the new metadata is not the kind already there) and keep the
# cluster's bytes.

REFBLOCK, L2_TABLE = 0x20000, 0x40000   # a fresh 4M image after one 64k write at 0


def drop_refcount(img, cluster_offset):
    """Set the refcount of the cluster at cluster_offset to 0 (64k clusters, 16-bit counts,
    the whole image in the first refcount block); the cluster's bytes before."""
    refblock = header_u64(img, header_u64(img, 48))
    with open(img, "r+b") as f:
        f.seek(refblock + 2 * (cluster_offset >> 16))
        f.write(b"\0\0")
        f.seek(cluster_offset)
        return f.read(1 << 16)


def expect_metadata_kept(vm, qmp, img, offset, before, kind, device="d0", qemu_bug=None):
    corrupted = [e for e in qmp.get_events() if e["event"] == "BLOCK_IMAGE_CORRUPTED"]
    msg = f"Preventing invalid write on metadata (overlaps with {kind})"
    assert len(corrupted) == 1, corrupted
    data = corrupted[0]["data"]
    assert (data["device"], data["msg"], data["offset"], data["fatal"]) == (
        device, msg, offset, True), data
    assert qemu_io(vm, qmp, "read 0 4k", device).splitlines() == [
        "read failed: No medium found"]
    quit_vm(vm, qmp)
    assert header_u64(img, INCOMPAT) == CORRUPT
    with open(img, "rb") as f:
        f.seek(offset)
        kept = f.read(len(before)) == before
    if qemu_bug and not kept:
        pytest.xfail(qemu_bug)
    assert kept


@pytest.mark.parametrize("extra,refused", [
    ("", True), (",overlap-check=constant", False), (",overlap-check.refcount-block=off", False),
], ids=["default", "constant", "refcount-block-off"])
def test_overlap_new_l2_table(make_vm, vmm, tmp_path, extra, refused):
    """The first write allocates an L2 table, at the refcount block's cluster. A whole-cluster
    zero write allocates no data cluster, which the check for guest data would catch."""
    img = create(tmp_path / "c.qcow2", "4M")
    before = drop_refcount(img, REFBLOCK)
    vm, qmp = start(make_vm, tmp_path, vmm, drive(img, extra))
    out = qemu_io(vm, qmp, "write -z 0 64k")
    if not refused:     # what QEMU does too: the L2 table goes over the refcount block
        assert out.startswith("wrote 65536/65536 bytes at offset 0"), out
        assert not [e for e in qmp.get_events() if e["event"] == "BLOCK_IMAGE_CORRUPTED"]
        quit_vm(vm, qmp)
        return
    assert out.splitlines() == ["write failed: Input/output error"], out
    # QEMU 7.2 frees the refused table's cluster with a discard that always reaches the file,
    # and so punches out the refcount block it had just protected. minivmm keeps it.
    expect_metadata_kept(vm, qmp, img, REFBLOCK, before, "refcount block",
                         qemu_bug="QEMU 7.2 discards the refcount block" if vmm == "qemu"
                         else None)


def written_at_zero(tmp_path):
    img = create(tmp_path / "c.qcow2", "4M")
    res = run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", img)
    assert res.returncode == 0, res.stderr
    return img


def test_overlap_grown_l1_table(make_vm, vmm, tmp_path):
    """block_resize to 1G grows the L1 table, into the L2 table's cluster."""
    img = written_at_zero(tmp_path)
    before = drop_refcount(img, L2_TABLE)
    vm, qmp = start(make_vm, tmp_path, vmm, drive(img))
    with pytest.raises(QMPError) as e:
        qmp.command("block_resize", {"device": "d0", "size": 1 << 30})
    assert e.value.desc == {"minivmm": "Could not resize: Input/output error",
                            "qemu": "Failed to grow the L1 table: Input/output error"}[vmm]
    expect_metadata_kept(vm, qmp, img, L2_TABLE, before, "active L2 table")


def test_overlap_snapshot_l1_table(make_vm, vmm, tmp_path):
    """An internal snapshot's copy of the L1 table, allocated at the L2 table's cluster."""
    img = written_at_zero(tmp_path)
    before = drop_refcount(img, L2_TABLE)
    vm, qmp = start(make_vm, tmp_path, vmm, drive(img))
    with pytest.raises(QMPError) as e:
        qmp.command("blockdev-snapshot-internal-sync", {"device": "d0", "name": "s1"})
    assert e.value.desc == "Failed to create snapshot 's1' on device 'd0': Input/output error"
    expect_metadata_kept(vm, qmp, img, L2_TABLE, before, "active L2 table")


# ---- cache sizes ----

CACHES = ["l2-cache-size=64k", "l2-cache-size=8k", "cache-size=8M", "refcount-cache-size=1M",
          "l2-cache-size=1T", "cache-size=1M,l2-cache-size=512k",
          "cache-size=1M,refcount-cache-size=256k", "l2-cache-size=0,refcount-cache-size=0"]
REGIONS = [(i * 8 * MiB, 0x51 + i) for i in range(8)]   # one per 2 MiB L2 table, apart


def cache_io(vm, qmp, device="d0"):
    """Writes spread over many L2 tables of a 4 KiB-cluster image, read back after all."""
    for offset, pattern in REGIONS:
        io_ok(vm, qmp, f"write -P {pattern:#x} {offset} 1M", device)
    for offset, pattern in REGIONS:
        io_ok(vm, qmp, f"read -P {pattern:#x} {offset} 1M", device)
        io_ok(vm, qmp, f"read -P 0 {offset + MiB} 7M", device)


@pytest.mark.parametrize("extra", CACHES)
def test_cache_sizes(make_vm, vmm, tmp_path, extra):
    img = create(tmp_path / "s.qcow2", opts="cluster_size=4096")
    vm, qmp = start(make_vm, tmp_path, vmm, drive(img, "," + extra))
    cache_io(vm, qmp)
    quit_vm(vm, qmp)
    check_clean(img)
    res = run("qemu-io", "-f", "qcow2", "-c", "read -P 0x55 32M 1M", img)
    assert res.returncode == 0 and "failed" not in res.stdout, res.stdout + res.stderr


# ---- blockdev-add (QEMU 2.2's schema: minivmm only) ----

@pytest.fixture
def qmp_vm(make_vm, vmm, tmp_path):
    if vmm != "minivmm":
        pytest.skip("QEMU 7.2's blockdev-add takes node-name and no id (2.2's schema)")
    return start_qmp_vm(make_vm, tmp_path, vmm)


def blockdev_add(qmp, img, **opts):
    options = {"driver": "qcow2", "id": "d1",
               "file": {"driver": "file", "filename": str(img)}, **opts}
    return qmp.command("blockdev-add", {"options": options})


@pytest.mark.parametrize("compat,opts,message", [
    ("0.10", {"lazy-refcounts": True}, LAZY_V2),
    ("0.10", {"overlap-check": {"template": "constant"}, "lazy-refcounts": True}, LAZY_V2),
    ("1.1", {"cache-size": MiB, "l2-cache-size": 2 * MiB},
     "l2-cache-size may not exceed cache-size"),
    ("1.1", {"cache-size": MiB, "refcount-cache-size": 2 * MiB},
     "refcount-cache-size may not exceed cache-size"),
    ("1.1", {"cache-size": MiB, "l2-cache-size": MiB // 2, "refcount-cache-size": MiB // 4},
     "cache-size, l2-cache-size and refcount-cache-size may not be set at the same time"),
], ids=["lazy-v2", "lazy-v2-overlap-object", "l2-over-total", "refcount-over-total",
        "all-three"])
def test_blockdev_add_refused(qmp_vm, tmp_path, compat, opts, message):
    vm, qmp = qmp_vm
    img = create(tmp_path / "i.qcow2", opts=f"compat={compat}")
    with pytest.raises(QMPError) as e:
        blockdev_add(qmp, img, **opts)
    assert (e.value.cls, e.value.desc) == ("GenericError",
                                           f"could not open disk image d1: {message}")
    assert "d1" not in [b["device"] for b in qmp.command("query-block")]


@pytest.mark.parametrize("value,dirty", [(True, True), (False, False)])
def test_blockdev_add_lazy_refcounts(qmp_vm, tmp_path, value, dirty):
    vm, qmp = qmp_vm
    img = create(tmp_path / "l.qcow2", opts="lazy_refcounts=on" if not value else "")
    blockdev_add(qmp, img, **{"lazy-refcounts": value})
    io_ok(vm, qmp, "write -P 0x5a 0 64k", "d1")
    assert header_u64(img, INCOMPAT) == (DIRTY if dirty else 0)
    quit_vm(vm, qmp)
    assert header_u64(img, INCOMPAT) == 0
    check_clean(img)


@pytest.mark.parametrize("check,refused", [
    (None, True), ("none", False), ("cached", True),
    ({"template": "all", "refcount-block": False}, False),
    ({"template": "none", "refcount-block": True}, True),
    ({"active-l2": False}, True),
], ids=["default", "none", "cached", "all-but-refcount-block", "only-refcount-block",
        "cached-but-active-l2"])
def test_blockdev_add_overlap_check(qmp_vm, tmp_path, check, refused):
    vm, qmp = qmp_vm
    img = create(tmp_path / "c.qcow2", "4M")
    host = forge_l2_entry(img, "rb")
    blockdev_add(qmp, img, **({} if check is None else {"overlap-check": check}))
    write_over_metadata(vm, qmp, img, host, "rb", refused, "d1")


@pytest.mark.parametrize("passed", [True, False])
def test_blockdev_add_pass_discard_request(qmp_vm, tmp_path, passed):
    vm, qmp = qmp_vm
    img = create(tmp_path / "d.qcow2", "8M")
    blockdev_add(qmp, img, discard="unmap", **{"pass-discard-request": passed})
    discard_4m(vm, qmp, img, passed, "d1")


@pytest.mark.parametrize("opts", [
    {"cache-size": 8 * MiB}, {"l2-cache-size": 8192}, {"refcount-cache-size": MiB},
    {"cache-size": MiB, "l2-cache-size": MiB // 2},
], ids=lambda opts: ",".join(f"{k}={v}" for k, v in opts.items()))
def test_blockdev_add_cache_sizes(qmp_vm, tmp_path, opts):
    vm, qmp = qmp_vm
    img = create(tmp_path / "s.qcow2", opts="cluster_size=4096")
    blockdev_add(qmp, img, **opts)
    cache_io(vm, qmp, "d1")
    quit_vm(vm, qmp)
    check_clean(img)
