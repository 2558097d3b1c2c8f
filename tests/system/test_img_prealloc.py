"""Preallocation in minivmm-img: create -o preallocation=off|metadata|falloc|full (raw and
qcow2) and resize --preallocation=, with qemu-img 7.2 as the oracle for messages, exit
codes, what the images read and how their clusters are mapped; ENOSPC on a small tmpfs."""
import json
import os

import pytest

from img_lib import IMG, MiB, needs_qemu_utils, ok, run

pytestmark = needs_qemu_utils

QCOW2_MODES = ["off", "metadata", "falloc", "full"]


def both(tmp_path, argv):
    """Run argv under qemu-img and minivmm-img, each in its own directory (the same file
    names): [(dir, result)] for qemu-img, then minivmm-img."""
    out = []
    for prog in ("qemu-img", IMG):
        d = tmp_path / os.path.basename(str(prog))
        d.mkdir(exist_ok=True)
        out.append((d, run([prog] + argv, cwd=d)))
    return out


def same_result(results):
    (_, q), (_, m) = results
    assert m.returncode == q.returncode, (q.stderr, m.stderr)
    assert m.stdout == q.stdout
    assert m.stderr.replace("minivmm-img:", "qemu-img:") == q.stderr


def allocated(path):
    return os.stat(path).st_blocks * 512


def cluster_flags(path, cluster=64 << 10):
    """qemu-img map's present/zero/data at the start of every cluster (offsets left out:
    minivmm lays preallocated clusters out compactly where 7.2 reserves a refcount area
    first)."""
    flags = []
    for e in json.loads(ok(run(["qemu-img", "map", "--output=json", path])).stdout):
        first = -(-e["start"] // cluster) * cluster
        for _ in range(first, e["start"] + e["length"], cluster):
            flags.append((e["present"], e["zero"], e["data"]))
    return flags


def check_clean(path):
    res = run(["qemu-img", "check", path])
    assert res.returncode == 0 and "No errors were found" in res.stdout, res.stdout + res.stderr


def reads_zero(path, fmt, length):
    ok(run(["qemu-io", "-f", fmt, "-c", "read -P 0 0 %d" % length, path]))


# ---- create ----

@pytest.mark.parametrize("mode", ["off", "falloc", "full"])
def test_create_raw(tmp_path, mode):
    res = both(tmp_path, ["create", "-f", "raw", "-o", "preallocation=" + mode, "r.img", "3M"])
    same_result(res)
    (qd, _), (md, _) = res
    img = md / "r.img"
    assert os.path.getsize(img) == 3 * MiB
    if mode == "off":
        assert allocated(img) < MiB
    else:
        assert allocated(img) >= 3 * MiB
        assert allocated(img) == allocated(qd / "r.img")
    reads_zero(img, "raw", 3 * MiB)


def test_create_raw_empties_an_existing_file(tmp_path):
    """As qemu-img: create starts from an empty file, whatever was there."""
    img = tmp_path / "r.img"
    img.write_bytes(b"\x5a" * MiB)
    ok(run([IMG, "create", "-q", "-f", "raw", "-o", "preallocation=full", img, "2M"]))
    assert img.read_bytes() == bytes(2 * MiB)


@pytest.mark.parametrize("mode", QCOW2_MODES)
@pytest.mark.parametrize("cluster", ["64k", "512", "2M"])
def test_create_qcow2(tmp_path, mode, cluster):
    size = "16M" if cluster == "2M" else "3M"
    res = both(tmp_path, ["create", "-f", "qcow2", "-o",
                          "preallocation=%s,cluster_size=%s" % (mode, cluster), "q.qcow2", size])
    same_result(res)
    (qd, _), (md, _) = res
    img, ref = md / "q.qcow2", qd / "q.qcow2"
    check_clean(img)
    csize = int(cluster[:-1]) << (10 if cluster.endswith("k") else 20) \
        if cluster[-1] in "kM" else int(cluster)
    assert cluster_flags(img, csize) == cluster_flags(ref, csize)
    if cluster == "64k":  # small enough that 7.2 needs no refcount area: the same layout
        assert (json.loads(run(["qemu-img", "map", "--output=json", img]).stdout) ==
                json.loads(run(["qemu-img", "map", "--output=json", ref]).stdout))
        if mode != "off":  # 7.2 writes a short L1 cluster when nothing follows it
            assert os.path.getsize(img) == os.path.getsize(ref)
    if mode in ("falloc", "full"):
        assert allocated(img) >= os.path.getsize(img) - 64 * 1024
    reads_zero(img, "qcow2", int(size[:-1]) * MiB)
    # the preallocated clusters take the guest's data like any other
    ok(run(["qemu-io", "-c", "write -P 0x3c 512 100k", img]))
    ok(run(["qemu-io", "-c", "read -P 0x3c 512 100k", "-c", "read -P 0 0 512", img]))
    check_clean(img)


def test_create_qcow2_full_reuses_no_stale_cluster(tmp_path):
    """512-byte clusters and 128 MiB: the refcount table outgrows its first cluster and moves
    while data clusters are being handed out; every guest byte still reads zero."""
    img = tmp_path / "q.qcow2"
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", "preallocation=full,cluster_size=512",
            img, "128M"]))
    check_clean(img)
    reads_zero(img, "qcow2", 128 * MiB)
    assert allocated(img) >= 128 * MiB


@pytest.mark.parametrize("fmt,mode", [("raw", "metadata"), ("raw", "bogus"),
                                      ("qcow2", "bogus")])
def test_create_bad_mode(tmp_path, fmt, mode):
    same_result(both(tmp_path, ["create", "-f", fmt, "-o", "preallocation=" + mode, "x", "1M"]))


def test_create_qcow2_backing_and_prealloc(tmp_path):
    for d in ("qemu-img", "minivmm-img"):
        (tmp_path / d).mkdir()
        ok(run(["qemu-img", "create", "-q", "-f", "raw", tmp_path / d / "b.raw", "1M"]))
    same_result(both(tmp_path, ["create", "-f", "qcow2", "-b", "b.raw", "-F", "raw", "-o",
                                "preallocation=falloc", "q.qcow2"]))


def test_help_lists_the_modes():
    raw = ok(run([IMG, "create", "-f", "raw", "-o", "help", "x"])).stdout
    qcow2 = ok(run([IMG, "create", "-f", "qcow2", "-o", "help", "x"])).stdout
    assert "Preallocation mode (allowed values: off, falloc, full)" in raw
    assert "Preallocation mode (allowed values: off, metadata, falloc, full)" in qcow2


# ---- resize ----

@pytest.mark.parametrize("mode", ["off", "falloc", "full"])
def test_resize_raw(tmp_path, mode):
    res = []
    for d, prog in (("q", "qemu-img"), ("m", IMG)):
        (tmp_path / d).mkdir()
        img = tmp_path / d / "r.img"
        img.write_bytes(b"\x61" * MiB)
        res.append(run([prog, "resize", "-f", "raw", "--preallocation=" + mode, img, "+2M"]))
    assert res[1].stdout == res[0].stdout == "Image resized.\n"
    img = tmp_path / "m" / "r.img"
    assert img.read_bytes() == b"\x61" * MiB + bytes(2 * MiB)
    if mode != "off":
        assert allocated(img) >= 3 * MiB


@pytest.mark.parametrize("v3", [True, False], ids=["v3", "v2"])
def test_resize_qcow2_every_mode(tmp_path, v3):
    """The same chain of resizes as qemu-img: data written first, one grow per mode; the
    images read the same, check clean and map the same clusters."""
    imgs = []
    for d, prog in (("q", "qemu-img"), ("m", IMG)):
        (tmp_path / d).mkdir()
        img = tmp_path / d / "q.qcow2"
        ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                "compat=" + ("1.1" if v3 else "0.10"), img, "1M"]))
        ok(run(["qemu-io", "-c", "write -P 1 0 100k", img]))
        for mode in QCOW2_MODES:
            res = ok(run([prog, "resize", "--preallocation=" + mode, img, "+1M"]))
            assert res.stdout == "Image resized.\n"
        imgs.append(img)
    ref, img = imgs
    check_clean(img)
    ok(run(["qemu-img", "compare", ref, img]))
    assert cluster_flags(img) == cluster_flags(ref)


@pytest.mark.parametrize("base_len", [2 * MiB, MiB + 16 * 1024], ids=["longer", "shorter"])
def test_resize_qcow2_over_a_backing_file(tmp_path, base_len):
    """The old end (1M+32k) inside an unallocated cluster over a backing file, longer or
    shorter than the image: the image reads as qemu-img's after the same resize (the
    backing file's data below the old end, zeroes after) and the whole new area is taken."""
    imgs = []
    for d, prog in (("q", "qemu-img"), ("m", IMG)):
        (tmp_path / d).mkdir()
        base, top = tmp_path / d / "b.raw", tmp_path / d / "t.qcow2"
        base.write_bytes(b"\x42" * base_len)
        ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", top,
                str(MiB + 32 * 1024)]))
        res = ok(run([prog, "resize", "--preallocation=full", top, "3M"]))
        assert res.stdout == "Image resized.\n"
        imgs.append(top)
    ref, top = imgs
    check_clean(top)
    ok(run(["qemu-img", "compare", ref, top]))
    shown = min(base_len, MiB + 32 * 1024)
    ok(run(["qemu-io", "-c", "read -P 0x42 0 %d" % shown,
            "-c", "read -P 0 %d %d" % (shown, 3 * MiB - shown), top]))
    flags = cluster_flags(top)
    assert all(f == (True, False, True) for f in flags[17:]), flags[17:]


def test_resize_encrypted_refuses_prealloc(tmp_path):
    img = tmp_path / "e.qcow2"
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", "encryption=on", img, "1M"],
           stdin="pw\n"))
    res = run([IMG, "resize", "--preallocation=falloc", img, "2M"], stdin="pw\n")
    assert res.returncode == 1
    assert "Preallocation is not supported for encrypted images" in res.stderr


RESIZE_ERRORS = [
    ["resize", "--preallocation=bogus", "q.qcow2", "+1M"],
    ["resize", "--preallocation=full", "q.qcow2", "1M"],
    ["resize", "--preallocation=full", "q.qcow2", "512k"],
    ["resize", "--preallocation=full", "--shrink", "q.qcow2", "512k"],
    ["resize", "-f", "raw", "--preallocation=metadata", "r.img", "+1M"],
]


@pytest.mark.parametrize("args", RESIZE_ERRORS, ids=[" ".join(a) for a in RESIZE_ERRORS])
def test_resize_errors_like_qemu_img(tmp_path, args):
    for d in ("qemu-img", "minivmm-img"):
        (tmp_path / d).mkdir()
        ok(run(["qemu-img", "create", "-q", "-f", "qcow2", tmp_path / d / "q.qcow2", "1M"]))
        ok(run(["qemu-img", "create", "-q", "-f", "raw", tmp_path / d / "r.img", "1M"]))
    same_result(both(tmp_path, args))


# ---- out of space ----

@pytest.mark.parametrize("fmt,mode", [("raw", "falloc"), ("raw", "full"),
                                      ("qcow2", "falloc"), ("qcow2", "full")])
def test_create_out_of_space(small_fs, fmt, mode):
    """qemu-img's message; a raw file is left empty, a qcow2 one removed."""
    res = both(small_fs, ["create", "-f", fmt, "-o", "preallocation=" + mode, "x.img", "4M"])
    same_result(res)
    assert res[1][1].returncode == 1 and "No space left on device" in res[1][1].stderr
    md = res[1][0]
    if fmt == "raw":
        assert os.path.getsize(md / "x.img") == 0
    else:
        assert not (md / "x.img").exists()


@pytest.mark.parametrize("mode", ["falloc", "full"])
def test_resize_qcow2_out_of_space_leaves_the_image_whole(small_fs, mode):
    """The failed grow leaves the old size and nothing linked past the end of the file; a
    second attempt fails the same way instead of "succeeding" over missing clusters."""
    for d in ("qemu-img", "minivmm-img"):
        (small_fs / d).mkdir()
        ok(run(["qemu-img", "create", "-q", "-f", "qcow2", small_fs / d / "q.qcow2", "1M"]))
        ok(run(["qemu-io", "-c", "write -P 9 0 64k", small_fs / d / "q.qcow2"]))
    for _ in range(2):
        res = both(small_fs, ["resize", "--preallocation=" + mode, "q.qcow2", "4M"])
        same_result(res)
        assert res[1][1].returncode == 1
    img = small_fs / "minivmm-img" / "q.qcow2"
    check_clean(img)
    info = json.loads(ok(run(["qemu-img", "info", "--output=json", img])).stdout)
    assert info["virtual-size"] == MiB
    ok(run(["qemu-io", "-c", "read -P 9 0 64k", img]))
    # and a grow that fits still works
    ok(run([IMG, "resize", "--preallocation=" + mode, img, "1536k"]))
    check_clean(img)
    ok(run(["qemu-io", "-c", "read -P 9 0 64k", "-c", "read -P 0 64k 1472k", img]))


@pytest.mark.parametrize("mode", ["falloc", "full"])
def test_resize_raw_out_of_space_keeps_the_size(small_fs, mode):
    for d in ("qemu-img", "minivmm-img"):
        (small_fs / d).mkdir()
        (small_fs / d / "r.img").write_bytes(b"\x61" * MiB)
    same_result(both(small_fs, ["resize", "-f", "raw", "--preallocation=" + mode, "r.img",
                                "4M"]))
    assert (small_fs / "minivmm-img" / "r.img").read_bytes() == b"\x61" * MiB
