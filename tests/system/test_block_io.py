"""The block layer end to end through minivmm-io and minivmm-img bench, without a guest.

Raw images (files and a loop device) are written and read back with patterns under every
cache mode and aio engine, including unaligned requests with O_DIRECT and many requests in
flight; discard and detect-zeroes=unmap must punch holes; read-only and probed-raw images
must refuse what QEMU refuses. Debian's qemu-io / qemu-img (QEMU 7.2) are the oracle: they
read back what we wrote, and for the same commands on the same file their output must equal
ours once timings are masked. Tests needing the oracle skip when it is not installed.
"""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# MINIVMM_IO / MINIVMM_IMG pick other builds (e.g. with ASan), as MINIVMM does for the VMM.
IO = os.environ.get("MINIVMM_IO") or os.path.join(ROOT, "minivmm-io")
IMG = os.environ.get("MINIVMM_IMG") or os.path.join(ROOT, "minivmm-img")
MiB = 1 << 20

CACHE_MODES = ["none", "writeback", "writethrough", "directsync", "unsafe"]
# "08.25 sec" or "0:00:01.50", then the two rates, as qemu-io 7.2 prints them.
RATE_LINE = re.compile(r"^(.*, \d+ ops; )(\d\d\.\d\d sec|\d+:\d\d:\d\d\.\d\d) "
                       r"\([0-9.]+ (bytes|KiB|MiB|GiB|TiB)/sec and [0-9.]+ ops/sec\)$")
# The same with -C: bytes,ops,time,bytes/sec,ops/sec.
CSV_LINE = re.compile(r"^(\d+,\d+,)\d+:\d\d:\d\d\.\d\d,[0-9.]+,[0-9.]+$")

needs_qemu_io = pytest.mark.skipif(shutil.which("qemu-io") is None,
                                   reason="qemu-io (Debian qemu-utils) not installed")
needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                    reason="qemu-img (Debian qemu-utils) not installed")


def run(prog, args, cmds=(), image=None, timeout=60):
    argv = [prog] + [str(a) for a in args]
    for c in cmds:
        argv += ["-c", c]
    if image is not None:
        argv.append(str(image))
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def mio(args, cmds=(), image=None, **kw):
    return run(IO, args, cmds, image, **kw)


def qio(args, cmds=(), image=None, **kw):
    return run("qemu-io", args, cmds, image, **kw)


def ok(res):
    """The run succeeded and no command reported a failure."""
    assert res.returncode == 0, res.stdout + res.stderr
    assert "failed" not in res.stdout, res.stdout
    return res


def masked(text, prog):
    """Timings and the program name replaced, so minivmm's and qemu's output compare."""
    lines = []
    for line in text.splitlines():
        line = RATE_LINE.sub(r"\1TIME (RATE)", line)
        line = CSV_LINE.sub(r"\1TIME,RATE", line)
        lines.append(re.sub(r"^%s: " % prog, "PROG: ", line))
    return lines


def assert_same_as_qemu_io(args, cmds, image):
    ours, theirs = mio(args, cmds, image), qio(args, cmds, image)
    assert masked(ours.stdout, "minivmm-io") == masked(theirs.stdout, "qemu-io")
    assert masked(ours.stderr, "minivmm-io") == masked(theirs.stderr, "qemu-io")
    assert ours.returncode == theirs.returncode
    return ours


def make_image(path, size=4 * MiB, data=None):
    """A raw image; with data=b'x' it is fully allocated with that byte."""
    with open(path, "wb") as f:
        if data is None:
            f.truncate(size)
        else:
            f.write(data * size)
            os.fsync(f.fileno())
    return path


def content(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def io_uring_works(path):
    """Whether this kernel lets qemu-io use io_uring (the oracle decides, not our tool)."""
    if shutil.which("qemu-io") is None:
        return False
    res = qio(["-f", "raw", "-t", "none", "-i", "io_uring"], ["read -q 0 512"], path)
    return res.returncode == 0


# ---- patterns under every cache mode and aio engine ----

@pytest.mark.parametrize("cache", CACHE_MODES)
def test_pattern_round_trip_per_cache_mode(tmp_path, cache):
    img = make_image(tmp_path / "t.raw")
    ok(mio(["-f", "raw", "-t", cache],
           ["write -P 0xa5 0 64k", "write -P 0x5a 64k 4k", "writev -P 0x33 128k 4k 8k 512",
            "flush", "read -P 0xa5 0 64k", "readv -P 0x33 128k 12k 512"], img))
    # A second open sees the data, and so does the file itself.
    ok(mio(["-f", "raw", "-t", cache], ["read -P 0x5a 64k 4k", "read -P 0 200k 4k"], img))
    assert content(img, 0, 65536) == b"\xa5" * 65536
    assert content(img, 128 * 1024, 12800) == b"\x33" * 12800


def aio_modes():
    return [("threads", "writeback"), ("threads", "none"), ("native", "none"),
            ("io_uring", "none"), ("io_uring", "writeback")]


@pytest.mark.parametrize("aio,cache", aio_modes())
def test_pattern_round_trip_per_aio_mode(tmp_path, aio, cache):
    img = make_image(tmp_path / "t.raw")
    if aio == "io_uring" and not io_uring_works(img):
        pytest.skip("io_uring is not usable on this host (qemu-io cannot use it either)")
    opts = ["-f", "raw", "-t", cache, "-i", aio]
    n = 64
    writes = ["aio_write -q -P %d %d 4k" % (i + 1, i * 4096) for i in range(n)]
    res = ok(mio(opts, ["aio_write -P 0xee 1M 64k"] + writes + ["aio_flush"], img))
    assert res.stdout.count("wrote ") == 1
    reads = ["aio_read -P %d %d 4k" % (i + 1, i * 4096) for i in range(n)]
    res = ok(mio(opts, reads + ["aio_flush", "read -P 0xee 1M 64k"], img))
    assert res.stdout.count("read 4096/4096 bytes") == n
    assert "Pattern verification failed" not in res.stdout
    for i in range(n):
        assert content(img, i * 4096, 4096) == bytes([i + 1]) * 4096
    # The synchronous path with the same engine.
    ok(mio(opts, ["write -P 0x11 2M 1M", "read -P 0x11 2M 1M", "writev -P 0x12 3M 4k 4k",
                  "readv -P 0x12 3M 8k"], img))


@pytest.mark.parametrize("aio", ["threads", "native", "io_uring"])
def test_unaligned_requests_with_o_direct(tmp_path, aio):
    img = make_image(tmp_path / "t.raw", data=b"\x01")
    if aio == "io_uring" and not io_uring_works(img):
        pytest.skip("io_uring is not usable on this host (qemu-io cannot use it either)")
    opts = ["-f", "raw", "-t", "none", "-i", aio]
    ok(mio(opts, ["write -P 0xab 1 513", "aio_write -P 0xcd 5000 700", "aio_flush",
                  "writev -P 0xef 9001 100 200"], img))
    ok(mio(opts, ["read -P 0xab 1 513", "read -P 1 0 1", "read -P 1 514 4486",
                  "read -P 0xcd 5000 700", "aio_read -P 0xef 9001 300", "aio_flush"], img))
    assert content(img, 0, 516) == b"\x01" + b"\xab" * 513 + b"\x01\x01"
    assert content(img, 9000, 302) == b"\x01" + b"\xef" * 300 + b"\x01"
    if shutil.which("qemu-io"):
        ok(qio(["-f", "raw", "-t", "none"], ["read -P 0xab 1 513", "read -P 0xcd 5000 700",
                                             "read -P 0xef 9001 300", "read -P 1 514 4486"], img))


# ---- discard and zero detection ----

def allocated_bytes(path):
    return os.stat(path).st_blocks * 512


def test_discard_unmap_punches_holes(tmp_path):
    img = make_image(tmp_path / "t.raw", size=8 * MiB, data=b"\x77")
    before = allocated_bytes(img)
    ok(mio(["-f", "raw", "-d", "unmap"], ["discard 1M 4M"], img))
    assert allocated_bytes(img) <= before - 4 * MiB
    ok(mio(["-f", "raw"], ["read -P 0 1M 4M", "read -P 0x77 0 1M", "read -P 0x77 5M 3M"], img))


def test_discard_ignore_keeps_data(tmp_path):
    img = make_image(tmp_path / "t.raw", size=4 * MiB, data=b"\x77")
    before = allocated_bytes(img)
    ok(mio(["-f", "raw", "-d", "ignore"], ["discard 0 4M"], img))
    assert allocated_bytes(img) == before
    assert content(img, 0, 4096) == b"\x77" * 4096


def test_write_zeroes_with_unmap(tmp_path):
    img = make_image(tmp_path / "t.raw", size=4 * MiB, data=b"\x77")
    before = allocated_bytes(img)
    ok(mio(["-f", "raw"], ["write -z -u 0 2M", "aio_write -z 2M 1M", "aio_flush"], img))
    assert content(img, 0, 3 * MiB) == bytes(3 * MiB)
    assert content(img, 3 * MiB, 4096) == b"\x77" * 4096
    assert allocated_bytes(img) <= before - 2 * MiB


def test_detect_zeroes_unmap_makes_holes(tmp_path):
    img = make_image(tmp_path / "t.raw", size=4 * MiB, data=b"\x55")
    before = allocated_bytes(img)
    ok(mio(["-f", "raw", "-o", "detect-zeroes=unmap"], ["write -P 0 0 2M"], img))
    assert allocated_bytes(img) <= before - 2 * MiB
    assert content(img, 0, 2 * MiB) == bytes(2 * MiB)
    # Without the option a zero write is an ordinary write.
    img2 = make_image(tmp_path / "u.raw", size=4 * MiB, data=b"\x55")
    before = allocated_bytes(img2)
    ok(mio(["-f", "raw"], ["write -P 0 0 2M"], img2))
    assert allocated_bytes(img2) == before


def test_detect_zeroes_unmap_needs_discard_unmap(tmp_path):
    img = make_image(tmp_path / "t.raw")
    res = mio(["-f", "raw", "-d", "ignore", "-o", "detect-zeroes=unmap"], ["length"], img)
    assert res.returncode == 1
    assert res.stderr.startswith("minivmm-io: can't open device %s: " % img)


# ---- refusals ----

@needs_qemu_io
def test_read_only_refuses_writes_like_qemu_io(tmp_path):
    img = make_image(tmp_path / "t.raw", data=b"\x42")
    cmds = ["write -P 1 0 512", "writev 0 512", "aio_write 0 512", "write -z 0 512",
            "discard 0 512", "truncate 1M", "read -P 0x42 0 512", "flush"]
    res = assert_same_as_qemu_io(["-r", "-f", "raw"], cmds, img)
    assert res.returncode == 1
    assert res.stderr.count("minivmm-io: Block node is read-only\n") == 6
    assert content(img, 0, 512) == b"\x42" * 512
    for cmd in cmds[:6]:
        single = mio(["-r", "-f", "raw"], [cmd], img)
        assert single.returncode == 1, cmd


def qcow2_magic_file(tmp_path):
    path = tmp_path / "hdr.bin"
    # "QFI\xfb", version 3: what a format probe looks at.
    path.write_bytes(b"QFI\xfb\x00\x00\x00\x03" + bytes(504))
    return path


@needs_qemu_io
def test_probed_raw_refuses_format_header_in_sector_0(tmp_path):
    img = make_image(tmp_path / "t.raw")
    hdr = qcow2_magic_file(tmp_path)
    for prog in (mio, qio):
        res = prog([], ["write -s %s 0 512" % hdr, "aio_write -P 0 0 512", "aio_flush",
                        "write -s %s 0 8" % hdr], img)
        assert res.returncode == 1, (prog, res.stdout, res.stderr)
        assert res.stdout.splitlines()[0] == "write failed: Operation not permitted"
        assert res.stdout.splitlines()[-1] == "write failed: Operation not permitted"
        assert content(img, 0, 512) == bytes(512)


@pytest.mark.parametrize("magic", [b"KDMV", b"conectix", b"QED\0", b"LUKS\xba\xbe"])
def test_probed_raw_refuses_foreign_format_magic(tmp_path, magic):
    # Formats minivmm has no driver for are refused too: another tool would trust them.
    img = make_image(tmp_path / "t.raw")
    hdr = tmp_path / "hdr.bin"
    hdr.write_bytes(magic + bytes(512 - len(magic)))
    res = mio([], ["write -s %s 0 512" % hdr], img)
    assert res.returncode == 1
    assert res.stdout.splitlines()[0] == "write failed: Operation not permitted"
    assert content(img, 0, 512) == bytes(512)
    ok(mio(["-f", "raw"], ["write -s %s 0 512" % hdr], img))
    assert content(img, 0, len(magic)) == magic


def test_probed_raw_allows_other_writes(tmp_path):
    img = make_image(tmp_path / "t.raw")
    hdr = qcow2_magic_file(tmp_path)
    # Ordinary data in sector 0 and a header anywhere else are fine when probed...
    ok(mio([], ["write -P 0x61 0 512", "write -s %s 512 512" % hdr], img))
    assert content(img, 0, 512) == b"\x61" * 512
    # ...and an explicit -f raw lifts the restriction.
    ok(mio(["-f", "raw"], ["write -s %s 0 512" % hdr], img))
    assert content(img, 0, 8) == b"QFI\xfb\x00\x00\x00\x03"


def test_open_failure_message(tmp_path):
    missing = tmp_path / "missing.raw"
    res = mio(["-f", "raw"], ["read 0 512"], missing)
    assert res.returncode == 1
    assert res.stderr == ("minivmm-io: can't open device %s: Could not open '%s': "
                          "No such file or directory\n" % (missing, missing))
    assert res.stdout == ""


# ---- a host block device ----

@pytest.fixture
def loop_device(tmp_path):
    backing = make_image(tmp_path / "loop.raw", size=16 * MiB)
    if shutil.which("losetup") is None:
        pytest.skip("losetup is not installed")
    res = subprocess.run(["losetup", "-f", "--show", str(backing)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        pytest.skip("cannot attach a loop device: %s" % res.stderr.strip())
    dev = res.stdout.strip()
    try:
        yield dev, backing
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def test_host_block_device(loop_device):
    dev, backing = loop_device
    opts = ["-f", "raw", "-t", "none"]
    # 3150728 = 3 MiB + 5000: unaligned, so the block layer reads, modifies, writes.
    ok(mio(opts, ["write -P 0x3c 0 1M", "write -P 0x3d 1M 4k", "write -P 0x3e 3150728 100",
                  "aio_write -P 0x3f 2M 64k", "aio_flush", "flush"], dev))
    res = ok(mio(opts + ["-i", "native"], ["read -P 0x3c 0 1M", "read -P 0x3e 3150728 100",
                                           "read -P 0 3150628 100",
                                           "aio_read -P 0x3f 2M 64k", "aio_flush", "length"],
                 dev))
    assert res.stdout.rstrip().endswith("16 MiB")
    if shutil.which("qemu-io"):
        ok(qio(opts, ["read -P 0x3d 1M 4k", "read -P 0x3f 2M 64k"], dev))
    subprocess.run(["blockdev", "--flushbufs", dev], check=False)
    assert content(backing, 1 * MiB, 4096) == b"\x3d" * 4096


# ---- output equal to qemu-io's ----

@needs_qemu_io
def test_length_truncate_info_map_like_qemu_io(tmp_path):
    cmds = ["length", "info", "map", "truncate 3M", "length", "map", "truncate 1536k",
            "length", "write -P 7 0 4k", "map"]
    ours, theirs = make_image(tmp_path / "a.raw"), make_image(tmp_path / "b.raw")
    res_ours = mio(["-f", "raw"], cmds, ours)
    res_theirs = qio(["-f", "raw"], cmds, theirs)
    assert masked(res_ours.stdout, "minivmm-io") == masked(res_theirs.stdout, "qemu-io")
    assert res_ours.stderr == res_theirs.stderr == ""
    assert os.path.getsize(ours) == os.path.getsize(theirs) == 1536 * 1024
    assert "format name: raw" in res_ours.stdout


@needs_qemu_io
def test_truncate_prealloc_like_qemu_io(tmp_path):
    """truncate -m: falloc and full take the space, shrinking with a mode and metadata on a
    raw image are refused, with qemu-io's texts."""
    cmds = ["write -P 9 0 4k", "truncate -m falloc 6M", "truncate -m full 8M",
            "truncate -m full 1M", "truncate -m metadata 9M", "truncate -m bogus 9M",
            "truncate -m off 10M", "length", "read -P 9 0 4k", "read -P 0 4k 8188k"]
    ours, theirs = make_image(tmp_path / "a.raw"), make_image(tmp_path / "b.raw")
    res_ours = mio(["-f", "raw"], cmds, ours)
    res_theirs = qio(["-f", "raw"], cmds, theirs)
    assert masked(res_ours.stdout, "minivmm-io") == masked(res_theirs.stdout, "qemu-io")
    assert masked(res_ours.stderr, "minivmm-io") == masked(res_theirs.stderr, "qemu-io")
    assert "Cannot use preallocation for shrinking files" in res_ours.stderr
    assert os.path.getsize(ours) == os.path.getsize(theirs) == 10 * MiB
    assert os.stat(ours).st_blocks * 512 >= 4 * MiB  # 4M to 8M taken, the sparse start not


@needs_qemu_io
def test_reports_and_errors_like_qemu_io(tmp_path):
    img = make_image(tmp_path / "t.raw")
    cmds = ["write -P 0x12 100 3000", "read -v 90 40", "read -P 0x12 100 3000",
            "read -P 0x13 100 10", "read -P 0x12 -s 2 -l 10 100 20", "readv -P 0x12 512 1k 512",
            "writev -P 0x21 8k 512 1k", "aio_write -P 0x22 16k 4k", "aio_flush",
            "aio_read -P 0x22 16k 2k 2k", "aio_flush", "write -z 32k 8k", "read -P 0 32k 8k",
            "read 4M 512", "write 4M 1", "discard 4M 512", "read -P 300 0 1", "read 0 5x",
            "read 0 3G", "read", "map 1", "bogus", "write -z -P 1 0 1", "write -u 0 1",
            "read -s 1 0 8", "read -P 1 -l 9 0 8", "read -C 0 512", "write -q 0 1",
            "help read", "help", "help nosuch"]
    res = assert_same_as_qemu_io_help_aware(cmds, img)
    assert res.returncode == 1


def assert_same_as_qemu_io_help_aware(cmds, img):
    """As assert_same_as_qemu_io, minus the option letters minivmm-io does not offer."""
    ours, theirs = mio(["-f", "raw"], cmds, img), qio(["-f", "raw"], cmds, img)
    unsupported = re.compile(r"^ -[bcin], -- |^(abort|alloc|break|close|open|quit|reopen|"
                             r"remove_break|resume|sigraise|sleep|wait_break|aio_discard|"
                             r"zone_\w+) ")
    def clean(lines):
        out = []
        for line in lines:
            if unsupported.search(line):
                continue
            line = re.sub(r"^(\w+) \[(-\w+)\]", lambda m: m.group(1) + " [" + re.sub(
                "[abcin]", "", m.group(2)) + "]", line)
            line = line.replace("blk_co_pwrite_zeroes", "blk_pwrite_zeroes")
            line = line.replace(" without -n, given", ", given")
            out.append(line)
        return out
    assert clean(masked(ours.stdout, "minivmm-io")) == clean(masked(theirs.stdout, "qemu-io"))
    assert masked(ours.stderr, "minivmm-io") == masked(theirs.stderr, "qemu-io")
    assert ours.returncode == theirs.returncode
    return ours


def test_report_line_format(tmp_path):
    img = make_image(tmp_path / "t.raw")
    res = ok(mio(["-f", "raw"], ["write 0 1536", "read 0 512", "read -C 0 4k", "write -q 0 1"],
                 img))
    lines = res.stdout.splitlines()
    assert lines[0] == "wrote 1536/1536 bytes at offset 0"
    assert RATE_LINE.match(lines[1]) and lines[1].startswith("1.500 KiB, 1 ops; ")
    assert lines[2] == "read 512/512 bytes at offset 0"
    assert RATE_LINE.match(lines[3]) and lines[3].startswith("512 bytes, 1 ops; ")
    assert CSV_LINE.match(lines[4]) and lines[4].startswith("4096,1,0:00:")
    assert len(lines) == 5


def test_exit_status(tmp_path):
    img = make_image(tmp_path / "t.raw")
    assert mio(["-f", "raw"], ["read 0 512", "length"], img).returncode == 0
    assert mio(["-f", "raw"], ["read -P 1 0 512", "length"], img).returncode == 1
    assert mio(["-f", "raw"], ["read 8M 512"], img).returncode == 1
    # An aio request counts as done once submitted, as in qemu-io.
    assert mio(["-f", "raw"], ["aio_read 8M 512"], img).returncode == 0
    assert mio(["-f", "raw", "-t", "bogus"], [], img).returncode == 1


# ---- minivmm-img bench ----

def bench(prog, args, image):
    return run(prog, ["bench"] + [str(a) for a in args], image=image, timeout=120)


BENCH_CASES = [
    ["-c", "1000", "-f", "raw"],
    ["-c", "500", "-w", "-d", "4", "-s", "64k", "-o", "512", "-S", "8k", "--pattern=3",
     "--flush-interval=100", "-f", "raw"],
    ["-c", "2000", "-d", "32", "-f", "raw", "-t", "none", "-i", "native"],
    ["-c", "2000", "-d", "32", "-w", "-f", "raw", "-t", "none", "-i", "threads"],
    ["-c", "100", "-w", "-d", "2", "--flush-interval=3", "--no-drain", "-f", "raw"],
    ["-c", "10", "-s", "3M", "-f", "raw"],
    ["-c", "10", "-w", "--flush-interval=3", "-f", "raw"],
    ["-c", "10", "--flush-interval=64", "-f", "raw"],
    ["-c", "x"], ["-d", "x"], ["-s", "1x"], ["-S", "3G"], ["-o", "99E"], ["-t", "bogus"],
    ["-i", "bogus"], ["--pattern=256", "-w"], ["-c", "-1"],
]


@needs_qemu_img
@pytest.mark.parametrize("args", BENCH_CASES, ids=lambda a: " ".join(a))
def test_bench_output_like_qemu_img(tmp_path, args):
    img = make_image(tmp_path / "t.raw", size=8 * MiB)

    def norm(res, prog):
        text = re.sub(r"Run completed in \d+\.\d{3} seconds\.", "Run completed in T seconds.",
                      res.stdout + res.stderr)
        return text.replace(prog + ":", "PROG:"), res.returncode

    assert norm(bench(IMG, args, img), "minivmm-img") == norm(bench("qemu-img", args, img),
                                                               "qemu-img")


def test_bench_writes_pattern(tmp_path):
    img = make_image(tmp_path / "t.raw", size=4 * MiB)
    res = bench(IMG, ["-w", "-c", "64", "-d", "8", "-s", "16k", "-o", "1M", "--pattern=0x5a",
                      "-f", "raw", "-t", "none"], img)
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"Sending 64 write requests, 16384 bytes each, 8 in parallel "
                        r"\(starting at offset 1048576, step size 16384\)\n"
                        r"Run completed in \d+\.\d{3} seconds\.\n", res.stdout)
    assert content(img, 1 * MiB, 1 * MiB) == b"\x5a" * MiB
    assert content(img, 0, 4096) == bytes(4096)


def test_bench_wraps_at_end_of_image(tmp_path):
    img = make_image(tmp_path / "t.raw", size=64 * 1024)
    res = bench(IMG, ["-w", "-c", "100", "-d", "3", "--pattern=7", "-f", "raw"], img)
    assert res.returncode == 0, res.stderr
    assert content(img, 0, 64 * 1024) == b"\x07" * 65536


def test_img_usage_errors():
    res = run(IMG, [])
    assert res.returncode == 1
    assert res.stderr == ("minivmm-img: Not enough arguments\n"
                          "Try 'minivmm-img --help' for more information\n")
    res = run(IMG, ["nosuch"])
    assert res.returncode == 1
    assert res.stderr.startswith("minivmm-img: Command not found: nosuch\n")
    res = run(IMG, ["bench"])
    assert res.returncode == 1
    assert res.stderr.startswith("minivmm-img: Expecting one image file name\n")
    assert run(IMG, ["--help"]).returncode == 0
