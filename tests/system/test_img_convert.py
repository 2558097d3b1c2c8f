"""minivmm-img convert, map and compare against Debian's qemu-img / qemu-io (QEMU 7.2).

convert: raw <-> qcow2, v2/v3, 512 B to 2 MiB clusters, with and without -c, several inputs,
-n, a backing chain as input; every output passes `qemu-img check`, `qemu-img compare` says
it equals the input, qemu-io reads the patterns back, its allocation (`qemu-img map`, host
offsets aside) is what qemu-img convert makes of the same input with the same -S, and
compressed clusters are byte for byte the streams qemu-img writes. Option errors, -p output,
`map` (both formats) and `compare` (messages, exit codes) are qemu-img's.
"""

import json
import os
import shutil
import struct
import subprocess
import zlib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMG = os.environ.get("MINIVMM_IMG") or os.path.join(ROOT, "minivmm-img")
KiB, MiB = 1 << 10, 1 << 20

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None or
                                shutil.which("qemu-io") is None,
                                reason="qemu-img/qemu-io (Debian qemu-utils) not installed")

# (qemu-io command that makes the source, pattern check that must read back)
SOURCE_WRITES = [("write -P 0x11 0 64k", "read -P 0x11 0 64k"),
                 ("write -P 0x22 100k 3k", "read -P 0x22 100k 3k"),
                 ("write -P 0x33 1000k 1200k", "read -P 0x33 1000k 1200k"),
                 ("write -P 0 3M 1M", "read -P 0 3M 1M"),          # zeroes written as data
                 ("write -P 0x44 5M 4k", "read -P 0x44 5M 4k"),
                 ("write -P 0x55 6M 20k", "read -P 0x55 6M 20k"),
                 ("write -P 0x66 8191k 1k", "read -P 0x66 8191k 1k"),  # the last bytes
                 (None, "read -P 0 7M 1023k")]


def run(argv, cwd=None, timeout=120):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def ok(res):
    assert res.returncode == 0, res.stdout + res.stderr
    assert "failed" not in res.stdout and "verification" not in res.stdout, res.stdout
    return res


def qemu_io(fmt, commands, image):
    argv = ["qemu-io", "-f", fmt]
    for c in commands:
        argv += ["-c", c]
    return ok(run(argv + [image]))


def make_source(path, fmt="raw", size="8M"):
    ok(run(["qemu-img", "create", "-q", "-f", fmt, path, size]))
    qemu_io(fmt, [w for w, _ in SOURCE_WRITES if w], path)


def check_clean(path):
    res = run(["qemu-img", "check", path])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No errors were found on the image." in res.stdout


def compare_equal(a, b):
    res = run(["qemu-img", "compare", a, b])
    assert res.returncode == 0 and res.stdout == "Images are identical.\n", res.stdout + res.stderr


def allocation(path, fmt):
    """qemu-img map of path without host offsets, neighbours with equal status merged."""
    res = ok(run(["qemu-img", "map", "-f", fmt, "--output=json", path]))
    out = []
    for e in json.loads(res.stdout):
        key = (e["depth"], e["present"], e["zero"], e["data"])
        if out and out[-1][2] == key and out[-1][0] + out[-1][1] == e["start"]:
            out[-1][1] += e["length"]
        else:
            out.append([e["start"], e["length"], key])
    return out


def raw_allocation(path):
    """Allocation of a raw output, ignoring the first 4 KiB: qemu-img allocates it when it
    creates a raw file (alignment probing); minivmm-img create leaves it a hole."""
    return [e for e in allocation(path, "raw") if e[0] + e[1] > 4096][1:]


def both_convert(tmp_path, args, inputs, name):
    """Run qemu-img and minivmm-img convert with the same arguments: (ours, theirs)."""
    ours, theirs = str(tmp_path / ("m-" + name)), str(tmp_path / ("q-" + name))
    ok(run([IMG, "convert"] + args + inputs + [ours]))
    ok(run(["qemu-img", "convert"] + args + inputs + [theirs]))
    return ours, theirs


# ---- convert ----

@pytest.mark.parametrize("compress", [False, True], ids=["plain", "compressed"])
@pytest.mark.parametrize("cluster", [512, 64 * KiB, 2 * MiB])
@pytest.mark.parametrize("compat", ["0.10", "1.1"])
def test_convert_raw_qcow2_raw(tmp_path, compat, cluster, compress):
    src = str(tmp_path / "src.raw")
    make_source(src)
    args = ["-O", "qcow2", "-o", "compat=%s,cluster_size=%d" % (compat, cluster)]
    args += ["-c"] if compress else []
    ours, theirs = both_convert(tmp_path, args, [src], "out.qcow2")
    check_clean(ours)
    compare_equal(src, ours)
    qemu_io("qcow2", [r for _, r in SOURCE_WRITES], ours)
    assert allocation(ours, "qcow2") == allocation(theirs, "qcow2")
    back, qback = both_convert(tmp_path, ["-O", "raw"], [ours], "back.raw")
    compare_equal(src, back)
    assert os.path.getsize(back) == 8 * MiB
    assert raw_allocation(back) == raw_allocation(qback)


def l2_entries(path):
    """Every L2 entry of a qcow2 image, by guest cluster: (header fields, entries)."""
    with open(path, "rb") as f:
        h = f.read(104)
        cluster_bits, = struct.unpack(">I", h[20:24])
        l1_size, l1_off = struct.unpack(">IQ", h[36:48])
        cs = 1 << cluster_bits
        f.seek(l1_off)
        l1 = struct.unpack(">%dQ" % l1_size, f.read(8 * l1_size))
        entries = []
        for e in l1:
            off = e & 0x00fffffffffffe00
            if not off:
                entries += [0] * (cs // 8)
                continue
            f.seek(off)
            entries += struct.unpack(">%dQ" % (cs // 8), f.read(cs))
    return cluster_bits, entries


def compressed_streams(path):
    """guest cluster -> (additional sectors, the compressed bytes) of compressed entries."""
    cluster_bits, entries = l2_entries(path)
    shift = 62 - (cluster_bits - 8)
    out = {}
    with open(path, "rb") as f:
        for i, e in enumerate(entries):
            if not e & (1 << 62):
                continue
            off = e & ((1 << shift) - 1)
            nsec = (e >> shift) & ((1 << (cluster_bits - 8)) - 1)
            f.seek(off)
            data = f.read((nsec + 1) * 512 - off % 512)
            out[i] = (nsec, off % 512, data)
    return out


def test_convert_compressed_streams_as_qemu(tmp_path):
    """Each cluster deflated alone with qemu's parameters: same streams, same descriptors
    (host offsets aside: the packing order may differ), refcounts per compressed cluster."""
    src = str(tmp_path / "src.raw")
    make_source(src)
    with open(src, "r+b") as f:   # one incompressible cluster: stored uncompressed
        f.seek(2 * MiB + 64 * KiB)
        f.write(os.urandom(64 * KiB))
    ours, theirs = both_convert(tmp_path, ["-c", "-O", "qcow2"], [src], "c.qcow2")
    check_clean(ours)
    compare_equal(src, ours)
    mine, qemu = compressed_streams(ours), compressed_streams(theirs)
    assert sorted(mine) == sorted(qemu) and len(mine) > 10
    for i in mine:
        streams = []
        for nsec, start, data in (mine[i], qemu[i]):
            z = zlib.decompressobj(-12)   # raw deflate, 4 KiB window
            assert len(z.decompress(data)) == 64 * KiB
            used = len(data) - len(z.unused_data)
            # the sector count reaches exactly the sector holding the stream's last byte
            assert nsec == (start + used - 1) // 512
            streams.append(data[:used])
        assert streams[0] == streams[1]
    raw_cluster = (2 * MiB + 64 * KiB) // (64 * KiB)
    _, entries = l2_entries(ours)
    assert not entries[raw_cluster] & (1 << 62) and entries[raw_cluster] & 0x00fffffffffffe00
    assert allocation(ours, "qcow2") == allocation(theirs, "qcow2")


def test_convert_several_inputs(tmp_path):
    a, b, c = (str(tmp_path / n) for n in ("a.raw", "b.qcow2", "c.raw"))
    make_source(a)
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", b, "3M"]))
    qemu_io("qcow2", ["write -P 0x77 0 5k", "write -P 0x78 2M 1M", "write -z 1M 64k"], b)
    ok(run(["qemu-img", "create", "-q", "-f", "raw", c, "1536k"]))
    qemu_io("raw", ["write -P 0x79 1M 512k"], c)
    for fmt in ("qcow2", "raw"):
        ours, theirs = both_convert(tmp_path, ["-O", fmt], [a, b, c], "cat." + fmt)
        compare_equal(theirs, ours)
        info = json.loads(ok(run(["qemu-img", "info", "--output=json", ours])).stdout)
        assert info["virtual-size"] == 8 * MiB + 3 * MiB + 1536 * KiB
    qemu_io("qcow2", ["read -P 0x77 8M 5k", "read -P 0x78 10M 1M", "read -P 0 9M 64k",
                      "read -P 0x79 12M 512k"], str(tmp_path / "m-cat.qcow2"))
    check_clean(str(tmp_path / "m-cat.qcow2"))


@pytest.mark.parametrize("sparse", ["4k", "0", "64k", "512"])
def test_convert_sparse_size(tmp_path, sparse):
    """Zero blocks of -S bytes in written data stay holes (the 1 MiB written as zeroes);
    -S 0 allocates everything. Same allocation as qemu-img's."""
    src = str(tmp_path / "src.raw")
    make_source(src)
    for fmt in ("qcow2", "raw"):
        ours, theirs = both_convert(tmp_path, ["-S", sparse, "-O", fmt], [src], "s." + fmt)
        compare_equal(src, ours)
        if fmt == "qcow2":
            assert allocation(ours, fmt) == allocation(theirs, fmt)
            check_clean(ours)
        else:
            assert raw_allocation(ours) == raw_allocation(theirs)
    holes = [e for e in allocation(str(tmp_path / "m-s.qcow2"), "qcow2") if not e[2][3]]
    assert (holes == []) == (sparse == "0")


def test_convert_skip_create(tmp_path):
    """-n: the existing output is overwritten, zero ranges included (no zero-init)."""
    src, out = str(tmp_path / "src.raw"), str(tmp_path / "out.qcow2")
    make_source(src)
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", out, "10M"]))
    qemu_io("qcow2", ["write -P 0xee 0 10M"], out)
    ok(run([IMG, "convert", "-n", "-O", "qcow2", src, out]))
    check_clean(out)
    qemu_io("qcow2", [r for _, r in SOURCE_WRITES] + ["read -P 0 2200k 800k",
                                                      "read -P 0xee 8M 2M"], out)


def test_convert_backing_chain(tmp_path):
    base, top = str(tmp_path / "base.qcow2"), str(tmp_path / "top.qcow2")
    make_source(base, "qcow2")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top]))
    qemu_io("qcow2", ["write -P 0x99 96k 8k", "write -z 1M 64k"], top)
    ours, theirs = both_convert(tmp_path, ["-O", "qcow2"], [top], "flat.qcow2")
    compare_equal(top, ours)
    compare_equal(theirs, ours)
    assert allocation(ours, "qcow2") == allocation(theirs, "qcow2")
    info = json.loads(ok(run(["qemu-img", "info", "--output=json", ours])).stdout)
    assert "backing-filename" not in info


def test_convert_target_backing(tmp_path):
    """-o backing_file: only what the input's top image allocates is copied (its zero
    clusters included), as qemu-img does; the output reads as the input."""
    base, top = str(tmp_path / "base.qcow2"), str(tmp_path / "top.qcow2")
    make_source(base, "qcow2")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top]))
    qemu_io("qcow2", ["write -P 0x99 96k 8k", "write -z 1M 64k", "write -P 0x98 7M 64k"], top)
    args = ["-O", "qcow2", "-o", "backing_file=%s,backing_fmt=qcow2" % base]
    ours, theirs = both_convert(tmp_path, args, [top], "ov.qcow2")
    check_clean(ours)
    compare_equal(top, ours)
    assert allocation(ours, "qcow2") == allocation(theirs, "qcow2")
    assert [e for e in allocation(ours, "qcow2") if e[2][0] == 0 and e[2][3]] == \
        [[64 * KiB, 64 * KiB, (0, True, False, True)], [7 * MiB, 64 * KiB, (0, True, False, True)]]


def test_convert_target_backing_short(tmp_path):
    """-B with a backing file shorter than the input: zeroes past its end are left to it
    (it reads them as zeroes), and zero ranges smaller than the output's clusters become
    zero clusters where the rest of the cluster reads as zeroes, as qemu-img does."""
    base, top = str(tmp_path / "base.qcow2"), str(tmp_path / "top.qcow2")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"]))
    qemu_io("qcow2", ["write -P 0xaa 0 4k"], base)
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "-b", base,
            "-F", "qcow2", top, "2M"]))
    qemu_io("qcow2", ["write -z 4k 4k", "write -z 68k 8k", "write -P 1 200k 4k",
                      "write -z 1100k 12k", "write -P 0 300k 4k", "write -P 2 1500k 4k"], top)
    args = ["-O", "qcow2", "-B", base, "-F", "qcow2"]
    ours, theirs = both_convert(tmp_path, args, [top], "ov.qcow2")
    check_clean(ours)
    compare_equal(top, ours)
    assert allocation(ours, "qcow2") == allocation(theirs, "qcow2")


@pytest.mark.parametrize("content", ["data", "empty"])
def test_convert_progress_output(tmp_path, content):
    src = str(tmp_path / "src.raw")
    with open(src, "wb") as f:
        f.truncate(8 * MiB)
        if content == "data":
            f.write(os.urandom(8 * MiB))
    outs = []
    for prog in (IMG, "qemu-img"):
        out = str(tmp_path / ("p-%d.raw" % len(outs)))
        res = subprocess.run([prog, "convert", "-p", src, out], capture_output=True)
        assert res.returncode == 0
        outs.append(res.stdout)
    assert outs[0] == outs[1]
    assert outs[0].startswith(b"    (0.00/100%)\r")
    assert outs[0].endswith(b"    (100.00/100%)\r\n")
    assert ok(run([IMG, "convert", "-p", "-q", src, str(tmp_path / "q.raw")])).stdout == ""


CONVERT_ERRORS = [
    [],
    ["src.raw"],
    ["-c", "-O", "raw", "src.raw", "o.raw"],
    ["-O", "foo", "src.raw", "o.raw"],
    ["-O", "qcow2", "-o", "foo=1", "src.raw", "o.qcow2"],
    ["-O", "qcow2", "-o", "cluster_size=3", "src.raw", "o.qcow2"],
    ["-O", "qcow2", "-o", "compat=0.9", "src.raw", "o.qcow2"],
    ["-O", "qcow2", "-o", "lazy_refcounts=x", "src.raw", "o.qcow2"],
    ["-O", "raw", "-o", "cluster_size=4k", "src.raw", "o.raw"],
    ["-c", "-O", "qcow2", "-o", "preallocation=metadata", "src.raw", "o.qcow2"],
    ["-S", "100", "src.raw", "o.raw"],
    ["-S", "1x", "src.raw", "o.raw"],
    ["-S", "-1", "src.raw", "o.raw"],
    ["-f", "qcow2", "src.raw", "o.raw"],
    ["nonexistent", "o.raw"],
    ["-n", "src.raw", "small.raw"],
    ["-n", "-O", "qcow2", "-o", "cluster_size=4k", "src.raw", "o.qcow2"],
    ["-t", "foo", "src.raw", "o.raw"],
    ["-T", "foo", "src.raw", "o.raw"],
    ["-x", "src.raw", "o.raw"],
    ["-m", "17", "src.raw", "o.raw"],
]


@pytest.mark.parametrize("args", CONVERT_ERRORS, ids=lambda a: " ".join(a) or "none")
def test_convert_errors(tmp_path, args):
    ok(run(["qemu-img", "create", "-q", "-f", "raw", tmp_path / "src.raw", "1M"]))
    results = []
    for prog, name in ((IMG, "minivmm-img"), ("qemu-img", "qemu-img")):
        ok(run(["qemu-img", "create", "-q", "-f", "raw", tmp_path / "small.raw", "512k"]))
        res = run([prog, "convert"] + args, cwd=tmp_path)
        results.append((res.returncode, res.stdout, res.stderr.replace(name, "PROG")))
        for leftover in ("o.raw", "o.qcow2"):
            if os.path.exists(tmp_path / leftover):
                os.unlink(tmp_path / leftover)
    assert results[0] == results[1]
    assert results[0][0] == 1


def test_convert_o_help(tmp_path):
    res = ok(run([IMG, "convert", "-O", "qcow2", "-o", "help", "a", "b"], cwd=tmp_path))
    assert res.stdout.startswith("Supported options:\n")
    assert "cluster_size=<size>" in res.stdout


# ---- map ----

def map_images(tmp_path):
    """Images with every kind of range: data, zero clusters, unallocated, backing data at
    depth 1 and 2, compressed clusters, raw holes."""
    d = tmp_path
    imgs = {}
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", d / "base.qcow2", "4M"]))
    qemu_io("qcow2", ["write -P 1 0 128k", "write -P 2 2M 64k"], str(d / "base.qcow2"))
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
            d / "mid.qcow2", "6M"]))
    qemu_io("qcow2", ["write -P 3 64k 64k", "write -z 2M 64k", "write -P 4 5M 64k"],
            str(d / "mid.qcow2"))
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2",
            d / "top.qcow2"]))
    qemu_io("qcow2", ["write -P 5 1M 4k", "write -z 3M 128k"], str(d / "top.qcow2"))
    imgs["chain"] = ("qcow2", d / "top.qcow2")
    imgs["base"] = ("qcow2", d / "base.qcow2")
    ok(run(["qemu-img", "convert", "-c", "-O", "qcow2", d / "base.qcow2", d / "comp.qcow2"]))
    imgs["compressed"] = ("qcow2", d / "comp.qcow2")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10,cluster_size=512",
            d / "v2.qcow2", "1M"]))
    qemu_io("qcow2", ["write -P 6 1000 3000", "write -P 7 600k 1k"], str(d / "v2.qcow2"))
    imgs["v2-512"] = ("qcow2", d / "v2.qcow2")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata",
            d / "prealloc.qcow2", "1M"]))
    imgs["prealloc"] = ("qcow2", d / "prealloc.qcow2")
    with open(d / "sparse.raw", "wb") as f:
        f.truncate(3 * MiB)
        f.seek(64 * KiB)
        f.write(b"x" * 8192)
        f.seek(2 * MiB)
        f.write(b"y" * 4096)
    imgs["raw"] = ("raw", d / "sparse.raw")
    return imgs


@pytest.mark.parametrize("output", ["human", "json"])
def test_map_as_qemu(tmp_path, output):
    for name, (fmt, path) in map_images(tmp_path).items():
        # absolute names: the human format prints the backing files' names as opened
        got = [run([prog, "map", "-f", fmt, "--output=" + output, path], cwd=tmp_path)
               for prog in (IMG, "qemu-img")]
        assert got[0].stdout == got[1].stdout, name
        assert got[0].returncode == got[1].returncode, name
        assert got[0].stderr.replace("minivmm-img", "qemu-img") == got[1].stderr, name


def test_map_errors(tmp_path):
    for args in (["map"], ["map", "--output=xml", "x"], ["map", "-x", "x"],
                 ["map", "nonexistent"]):
        got = [run([prog] + args, cwd=tmp_path) for prog in (IMG, "qemu-img")]
        assert got[0].returncode == got[1].returncode == 1
        assert got[0].stderr.replace("minivmm-img", "qemu-img") == got[1].stderr


# ---- compare ----

def compare_images(d):
    ok(run(["qemu-img", "create", "-q", "-f", "raw", d / "x.raw", "1M"]))
    qemu_io("raw", ["write -P 1 1000 10"], str(d / "x.raw"))
    ok(run(["qemu-img", "create", "-q", "-f", "raw", d / "y.raw", "2M"]))
    ok(run(["qemu-img", "create", "-q", "-f", "raw", d / "z.raw", "1M"]))
    ok(run(["qemu-img", "create", "-q", "-f", "raw", d / "w.raw", "2M"]))
    qemu_io("raw", ["write -P 1 1500k 10"], str(d / "w.raw"))
    ok(run(["qemu-img", "convert", "-O", "qcow2", d / "x.raw", d / "x.qcow2"]))
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "x.qcow2", "-F", "qcow2",
            d / "ov.qcow2", "2M"]))
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "x.qcow2", "-F", "qcow2",
            d / "ov2.qcow2"]))
    qemu_io("qcow2", ["write -P 2 64k 4k"], str(d / "ov2.qcow2"))


COMPARES = [["x.raw", "x.raw"], ["x.raw", "y.raw"], ["y.raw", "x.raw"], ["z.raw", "y.raw"],
            ["z.raw", "w.raw"], ["w.raw", "z.raw"], ["-s", "x.raw", "y.raw"],
            ["-s", "y.raw", "y.raw"], ["-q", "x.raw", "y.raw"], ["x.raw", "x.qcow2"],
            ["x.qcow2", "ov.qcow2"], ["ov.qcow2", "x.raw"], ["ov2.qcow2", "x.qcow2"],
            ["-f", "raw", "-F", "qcow2", "x.raw", "x.qcow2"], ["-p", "x.raw", "x.raw"],
            ["-f", "qcow2", "x.raw", "x.raw"], ["-F", "qcow2", "x.raw", "x.raw"],
            ["nonexistent", "x.raw"], ["x.raw", "nonexistent"], ["x.raw"], ["-x", "a", "b"],
            ["-T", "foo", "x.raw", "x.raw"], ["-s", "x.raw", "x.qcow2"],
            ["-s", "x.qcow2", "x.qcow2"], ["-s", "ov2.qcow2", "ov2.qcow2"]]


def test_compare_as_qemu(tmp_path):
    compare_images(tmp_path)
    for args in COMPARES:
        got = [run([prog, "compare"] + args, cwd=tmp_path) for prog in (IMG, "qemu-img")]
        assert got[0].returncode == got[1].returncode, args
        assert got[0].stdout == got[1].stdout, args
        assert got[0].stderr.replace("minivmm-img", "qemu-img") == got[1].stderr, args


# ---- bench on qcow2 (the asynchronous fast path and allocating writes) ----

@pytest.mark.parametrize("size,step", [("4k", "4k"), ("64k", "32k"), ("12k", "8k")])
def test_bench_qcow2_concurrent_writes(tmp_path, size, step):
    """32 writes in flight, many into the same new clusters (overlapping with step < size):
    every byte written reads back, and the image is clean."""
    img = str(tmp_path / "b.qcow2")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", img, "32M"]))
    n = 32 * MiB // (int(step[:-1]) * KiB)
    for pattern in ("0x5a", "0xa5"):   # the second run overwrites in place
        res = ok(run([IMG, "bench", "-f", "qcow2", "-w", "-d", "32", "-s", size, "-S", step,
                      "-c", str(n - 2), "--pattern=" + pattern, img]))
        assert "Run completed" in res.stdout
        check_clean(img)
        qemu_io("qcow2", ["read -P %s 0 %d" % (pattern, (n - 2) * int(step[:-1]) * KiB)],
                img)
    res = ok(run([IMG, "bench", "-f", "qcow2", "-d", "32", "-s", size, "-c", "1000", img]))
    assert "Run completed" in res.stdout


def test_convert_progress_on_a_terminal(tmp_path):
    """On a terminal convert shows its progress without -p (the issue asks for it; qemu-img
    needs -p); -q silences it."""
    import pty
    src, dst = tmp_path / "s.raw", tmp_path / "d.qcow2"
    with open(src, "wb") as f:
        f.write(os.urandom(4 * MiB))

    def on_tty(*args):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(IMG, [IMG, "convert", "-O", "qcow2", *args, str(src), str(dst)])
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        return out.decode()

    assert "(100.00/100%)" in on_tty()
    assert on_tty("-q") == ""
