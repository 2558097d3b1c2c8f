"""snapshot=on, copy-on-read, backing.*/file.* options and node names, end to end.

Debian's qemu-img / qemu-io (QEMU 7.2) are the oracle: an image used with snapshot=on
(minivmm-io -s, -drive snapshot=on, -snapshot) is byte-identical afterwards while the
session reads back what it wrote, and the temporary overlay (unlinked from the start)
records the image as backing file and format, as qemu-img sees it; copy-on-read
(minivmm-io -C) leaves the range it read allocated in the top layer (`qemu-img map`, the
same map qemu-io -C makes) with the backing data, and writes racing the copies are kept;
both also through a guest's virtio-blk requests (qtest) on -drive snapshot=on and
copy-on-read=on;
backing.*/file.* options choose another backing file or protocol options; node-name
errors have QEMU 2.2's text, as -drive reports them.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from qmp_vm import start_qmp_vm
from qtest import QTest
from virtio_blk_qtest import VirtioBlk

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IO = os.environ.get("MINIVMM_IO") or os.path.join(ROOT, "minivmm-io")
KiB, MiB = 1 << 10, 1 << 20

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None or
                                shutil.which("qemu-io") is None,
                                reason="qemu-img/qemu-io (Debian qemu-utils) not installed")


def run(argv, timeout=60, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, **kw)


def io_cmds(prog, args, commands, image):
    argv = [prog] + list(args)
    for c in commands:
        argv += ["-c", c]
    return run(argv + [image])


def ok(res):
    assert res.returncode == 0, res.stdout + res.stderr
    assert "failed" not in res.stdout, res.stdout
    assert "Pattern verification" not in res.stdout, res.stdout
    return res


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def qemu_map(path):
    return json.loads(ok(run(["qemu-img", "map", "--output=json", path])).stdout)


def check_clean(path):
    res = run(["qemu-img", "check", path])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No errors were found on the image." in res.stdout


@pytest.fixture
def overlay_dir(tmp_path, monkeypatch):
    """$TMPDIR for the programs under test: where snapshot overlays go (and must not stay)."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    return d


def make_raw(path, pattern, size="4M"):
    ok(run(["qemu-img", "create", "-q", "-f", "raw", path, size]))
    ok(io_cmds("qemu-io", ["-f", "raw"], [f"write -P {pattern:#x} 0 {size}"], path))
    return str(path)


def make_qcow2(path, backing=None, backing_fmt="raw", size="4M"):
    extra = ["-b", str(backing), "-F", backing_fmt] if backing else []
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2"] + extra + [path, size]))
    return str(path)


# ---- snapshot=on ----

SNAPSHOT_SESSION = ["write -P 0xee 64k 100k", "read -P 0xee 64k 100k", "read -P 0x5a 0 64k",
                    "write -z 1M 64k", "read -P 0 1M 64k", "flush",
                    "read -P 0x5a 2M 1M"]


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
@pytest.mark.parametrize("given", [True, False], ids=["format", "probed"])
def test_snapshot_leaves_image(tmp_path, overlay_dir, fmt, given):
    base = make_raw(tmp_path / "base.raw", 0x5a)
    img = base if fmt == "raw" else make_qcow2(tmp_path / "img.qcow2", base)
    before = {p: sha256(p) for p in {base, img}}
    args = ["-s"] + (["-f", fmt] if given else [])
    ours = ok(io_cmds(IO, args, SNAPSHOT_SESSION, img))
    theirs = ok(io_cmds("qemu-io", args, SNAPSHOT_SESSION, img))
    assert [l for l in ours.stdout.splitlines() if "bytes at offset" in l] == \
        [l for l in theirs.stdout.splitlines() if "bytes at offset" in l]
    assert {p: sha256(p) for p in {base, img}} == before
    assert os.listdir(overlay_dir) == []
    # A session without -s does reach the image.
    ok(io_cmds(IO, ["-f", fmt], ["write -P 0xee 64k 4k"], img))
    ok(io_cmds("qemu-io", ["-f", fmt], ["read -P 0xee 64k 4k", "read -P 0x5a 0 64k"], img))


def overlay_fds(pid, directory):
    """(fd, link) of the process's files in directory."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith(str(directory) + "/vl."):
            found.append((fd, link))
    return found


def start_io_shell(args, image):
    proc = subprocess.Popen([IO] + args + [image], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    prompt = proc.stdout.read(len("minivmm-io> "))
    assert prompt == "minivmm-io> ", prompt + proc.stderr.read()
    return proc


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_snapshot_overlay_is_unlinked_qcow2_over_image(tmp_path, overlay_dir, fmt):
    base = make_raw(tmp_path / "base.raw", 0x5a)
    img = base if fmt == "raw" else make_qcow2(tmp_path / "img.qcow2", base)
    proc = start_io_shell(["-s", "-f", fmt], os.path.relpath(img))
    try:
        fds = overlay_fds(proc.pid, overlay_dir)
        assert len(fds) == 1 and fds[0][1].endswith(" (deleted)"), fds
        assert os.listdir(overlay_dir) == []
        copy = tmp_path / "overlay-copy.qcow2"
        shutil.copyfile(f"/proc/{proc.pid}/fd/{fds[0][0]}", copy)
        info = json.loads(ok(run(["qemu-img", "info", "--output=json", "-U", copy])).stdout)
        assert info["format"] == "qcow2"
        assert info["backing-filename"] == os.path.realpath(img)
        assert info["backing-filename-format"] == fmt
        assert info["virtual-size"] == 4 * MiB
        out, err = proc.communicate("write -P 0x11 0 4k\nread -P 0x11 0 4k\nquit\n", 30)
        assert "read 4096/4096 bytes at offset 0" in out and proc.returncode == 0, out + err
    finally:
        proc.kill()
        proc.wait()
    assert os.listdir(overlay_dir) == []


def test_snapshot_sigkill_leaves_nothing(tmp_path, overlay_dir):
    img = make_raw(tmp_path / "base.raw", 0x5a)
    before = sha256(img)
    proc = start_io_shell(["-s", "-f", "raw"], img)
    proc.stdin.write("write -P 0x11 0 1M\n")
    proc.stdin.flush()
    time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert os.listdir(overlay_dir) == []
    assert sha256(img) == before


@pytest.mark.parametrize("drive_args", [
    ["-drive", "file={img},if=none,snapshot=on"],
    ["-drive", "file={img},if=none,format=qcow2,snapshot=on,copy-on-read=on"],
    ["-snapshot", "-drive", "file={img},if=none,id=d0,node-name=real"],
], ids=["snapshot=on", "format+copy-on-read", "-snapshot"])
def test_vmm_snapshot_drive(tmp_path, overlay_dir, drive_args):
    base = make_raw(tmp_path / "base.raw", 0x5a)
    img = make_qcow2(tmp_path / "img.qcow2", base)
    before = (sha256(base), sha256(img))
    with QTest.minivmm([a.format(img=img) for a in drive_args]) as qt:
        qt.ok("clock_step 1000")
        fds = overlay_fds(qt.proc.pid, overlay_dir)
        assert len(fds) == 1 and fds[0][1].endswith(" (deleted)"), fds
    assert (sha256(base), sha256(img)) == before
    assert os.listdir(overlay_dir) == []
    check_clean(img)


def test_query_block_shows_overlay(make_vm, tmp_path, vmm, overlay_dir):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 shows the overlay as a json: pseudo-filename")
    base = make_raw(tmp_path / "base.raw", 0x5a)
    img = make_qcow2(tmp_path / "img.qcow2", base)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={img},if=none,id=d0,snapshot=on,node-name=real"])
    ins = {b["device"]: b for b in qmp.command("query-block")}["d0"]["inserted"]
    assert ins["drv"] == "qcow2" and ins["ro"] is False and "node-name" not in ins
    assert ins["file"].startswith(f"{overlay_dir}/vl.") and not os.listdir(overlay_dir)
    assert ins["backing_file"] == img and ins["backing_file_depth"] == 2
    chain = ins["image"]["backing-image"]
    assert chain["filename"] == img and chain["format"] == "qcow2"
    assert chain["backing-image"]["filename"] == base
    qmp.close()
    vm.kill()
    assert not os.listdir(overlay_dir)


# ---- copy-on-read ----

def depth_map(path, start, end):
    """[(offset, length, depth, data)] of qemu-img map entries overlapping [start, end)."""
    return [(e["start"], e["length"], e["depth"], e["data"]) for e in qemu_map(path)
            if e["start"] < end and start < e["start"] + e["length"]]


def test_cor_fills_top_like_qemu(tmp_path):
    base = make_raw(tmp_path / "base.raw", 0x11)
    ours = make_qcow2(tmp_path / "ours.qcow2", base)
    theirs = make_qcow2(tmp_path / "theirs.qcow2", base)
    reads = ["read -P 0x11 100k 200k", "read -P 0x11 1M 4k", "read -P 0x11 3M 1M"]
    ok(io_cmds(IO, ["-C"], ["write -P 0x22 2M 64k"] + reads, ours))
    ok(io_cmds("qemu-io", ["-C"], ["write -P 0x22 2M 64k"] + reads, theirs))
    # The same guest ranges in the top layer (host offsets depend on allocation order).
    assert depth_map(ours, 0, 4 * MiB) == depth_map(theirs, 0, 4 * MiB)
    for start, length, depth, data in depth_map(ours, 64 * KiB, 320 * KiB):
        assert depth == 0 and data, qemu_map(ours)
    assert all(d == 1 for _, _, d, _ in depth_map(ours, 0, 64 * KiB))
    check_clean(ours)
    # The top alone holds the copies; the base is untouched.
    only_top = json.dumps({"driver": "qcow2", "backing": None,
                           "file": {"driver": "file", "filename": ours}})
    only_top = "json:" + only_top
    ok(io_cmds("qemu-io", [], ["read -P 0x11 64k 256k", "read -P 0x22 2M 64k",
                               "read -P 0x11 3M 1M", "read -P 0 0 64k"], only_top))
    ok(io_cmds("qemu-io", ["-f", "raw"], ["read -P 0x11 0 4M"], base))


def test_cor_concurrent_writes_kept(tmp_path):
    base = make_raw(tmp_path / "base.raw", 0x11)
    top = make_qcow2(tmp_path / "top.qcow2", base)
    cmds, checks = [], []
    for k in range(48):
        off = k * 64 * KiB
        woff, wlen, pat = off + (k % 8) * 4 * KiB, 4 * KiB * (1 + k % 5), 0x40 + k
        cmds += [f"aio_read {off} 128k", f"aio_write -P {pat:#x} {woff} {wlen}"]
        checks.append((woff, wlen, pat))
    ok(io_cmds(IO, ["-C", "-t", "none"], cmds + ["aio_flush"], top))
    check_clean(top)
    verify = []
    for woff, wlen, pat in checks:
        verify.append(f"read -P {pat:#x} {woff} {wlen}")
    ok(io_cmds("qemu-io", ["-f", "qcow2"], verify + ["read -P 0x11 3200k 800k"], top))
    # Everything read is now in the top layer.
    assert all(d == 0 for _, _, d, _ in depth_map(top, 0, 49 * 64 * KiB))


# ---- through a guest: virtio-blk requests over qtest ----

def virtio_blk_request(qt, write, data_or_len):
    """One request of a guest virtio-blk driver on 00:04.0 at sector 0; returns the data."""
    length = len(data_or_len) if write else data_or_len
    disk = VirtioBlk(qt, 4 << 3, 0, depth=1, bs=length, write=write)
    disk.paused = True
    if write:
        qt.memwrite(disk.data, data_or_len)
    disk.start()
    deadline = time.monotonic() + 10
    while not disk.poll():
        assert time.monotonic() < deadline, "virtio-blk request did not complete"
        time.sleep(0.002)
    return qt.memread(disk.data, length)


def test_vmm_guest_writes_stay_in_overlay(tmp_path, overlay_dir):
    base = make_raw(tmp_path / "base.raw", 0x5a)
    img = make_qcow2(tmp_path / "img.qcow2", base)
    before = (sha256(base), sha256(img))
    with QTest.minivmm(["-drive", f"if=none,id=d0,file={img},snapshot=on",
                        "-device", "virtio-blk-pci,drive=d0,addr=0x4"]) as qt:
        assert virtio_blk_request(qt, False, 4096) == b"\x5a" * 4096
        virtio_blk_request(qt, True, b"\xee" * 4096)
        assert virtio_blk_request(qt, False, 8192) == b"\xee" * 4096 + b"\x5a" * 4096
    assert (sha256(base), sha256(img)) == before
    assert os.listdir(overlay_dir) == []


def test_vmm_guest_reads_copy_on_read(tmp_path):
    base = make_raw(tmp_path / "base.raw", 0x5a)
    img = make_qcow2(tmp_path / "img.qcow2", base)
    with QTest.minivmm(["-drive", f"if=none,id=d0,file={img},copy-on-read=on",
                        "-device", "virtio-blk-pci,drive=d0,addr=0x4"]) as qt:
        assert virtio_blk_request(qt, False, 8192) == b"\x5a" * 8192
    assert depth_map(img, 0, 64 * KiB) == [(0, 64 * KiB, 0, True)]
    assert all(d == 1 for _, _, d, _ in depth_map(img, 64 * KiB, 4 * MiB))
    check_clean(img)
    ok(io_cmds("qemu-io", [], ["read -P 0x5a 0 4M"], img))


# ---- backing.* and file.* options ----

def test_backing_options_choose_file(tmp_path):
    base = make_raw(tmp_path / "base.raw", 0x11)
    other = make_raw(tmp_path / "other.raw", 0x22)
    top = make_qcow2(tmp_path / "top.qcow2", base)
    ok(io_cmds(IO, ["-o", f"backing.file.filename={other}"], ["read -P 0x22 0 4M"], top))
    ok(io_cmds(IO, ["-o", "backing="], ["read -P 0 0 4M"], top))
    ok(io_cmds(IO, ["-o", "backing.node-name=b,backing.file.driver=file,"
                          "backing.file.aio=native,backing.file.cache.direct=on"],
               ["read -P 0x11 0 4M"], top))
    ok(io_cmds(IO, ["-o", "file.driver=file,file.aio=native,file.cache.direct=on"],
               ["write -P 0x33 0 64k", "read -P 0x33 0 64k"], top))
    ok(io_cmds("qemu-io", [], ["read -P 0x33 0 64k", "read -P 0x11 64k 1M"], top))
    res = io_cmds(IO, ["-o", "file.aio=native"], ["read 0 4k"], top)
    assert res.returncode == 1
    assert res.stderr == (f"minivmm-io: can't open device {top}: "
                          "aio=native requires cache.direct=true\n")


def test_backing_loop_refused(tmp_path):
    loop = make_qcow2(tmp_path / "loop.qcow2")
    ok(run(["qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "loop.qcow2", "-F", "qcow2", loop]))
    assert "creates an infinite loop" in run(["qemu-img", "info", "--backing-chain", loop]).stderr
    res = io_cmds(IO, [], ["read 0 4k"], loop)
    assert res.returncode == 1
    assert res.stderr == (f"minivmm-io: can't open device {loop}: Could not open backing file: "
                          "Backing file 'loop.qcow2' creates an infinite loop\n")


def drive_error(run_expect_fail, args, opts, message):
    status, err = run_expect_fail(args)
    assert status == 1, err
    assert err == f"minivmm: -drive {opts}: {message}\n"


@pytest.fixture
def chain(tmp_path):
    base = make_raw(tmp_path / "base.raw", 0x11)
    return base, make_qcow2(tmp_path / "top.qcow2", base)


@pytest.mark.parametrize("opts,message", [
    ("node-name=n1,file.node-name=n1", "Duplicate node name"),
    ("backing.node-name=n1,node-name=n1", "Could not open backing file: Duplicate node name"),
    ("node-name=a%b", "Invalid node name"),
    ("backing.file.node-name=9x", "Could not open backing file: Invalid node name"),
    ("file.node-name=", "Invalid node name"),
    ("backing.file.filename=/nonexistent/b.img",
     "Could not open backing file: Could not open '/nonexistent/b.img': "
     "No such file or directory"),
    ("format=raw,backing.file.filename=x", "Driver doesn't support backing files"),
])
def test_drive_node_errors(run_expect_fail, vmm, chain, opts, message):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 words these differently from 2.2")
    top = chain[1]
    drive = f"file={top},if=none,{opts}"
    drive_error(run_expect_fail, ["-drive", drive], drive,
                f"could not open disk image {top}: {message}")


def test_drive_node_names_across_drives(run_expect_fail, vmm, chain):
    if vmm == "qemu":
        pytest.skip("QEMU 7.2 words these differently from 2.2")
    base, top = chain
    first = f"file={base},if=none,id=d0,format=raw,node-name=n1"
    second = f"file={top},if=none,id=d1,backing.node-name=n1"
    drive_error(run_expect_fail, ["-drive", first, "-drive", second], second,
                f"could not open disk image {top}: Could not open backing file: "
                "Duplicate node name")
    second = f"file={top},if=none,id=d1,file.node-name=d0"
    drive_error(run_expect_fail, ["-drive", first, "-drive", second], second,
                f"could not open disk image {top}: node-name=d0 is conflicting with a device id")


def test_drive_nested_options_reach_guest(tmp_path, chain):
    base, top = chain
    other = make_raw(tmp_path / "other.raw", 0x22)
    drive = (f"file={top},if=none,id=d0,node-name=top,file.driver=file,file.node-name=top-file,"
             "file.aio=native,file.cache.direct=on,backing.node-name=base,"
             f"backing.file.filename={other},backing.file.node-name=base-file")
    with QTest.minivmm(["-drive", drive, "-device", "virtio-blk-pci,drive=d0,addr=0x4"]) as qt:
        assert virtio_blk_request(qt, False, 4096) == b"\x22" * 4096
