"""minivmm-img commit, rebase, resize and info --backing-chain, with qemu-img 7.2 as the oracle.

Chains are made by minivmm-img and written by minivmm-io (data, zero writes, discards);
after each operation every image must pass `qemu-img check`, the guest view must equal a raw
reference (`qemu-img compare`), and the same operation done by qemu-img on copies of the
images must leave the same guest-visible content in every image of the chain. Error texts
and exit codes of the common mistakes must be qemu-img's.
"""

import json
import os
import shutil
import struct

import pytest

from img_lib import IMG, IO, MiB, needs_qemu_utils, run


pytestmark = needs_qemu_utils


def ok(res):
    assert res.returncode == 0, res.stdout + res.stderr
    assert "failed" not in res.stdout, res.stdout
    return res


def io(image, *commands, fmt="qcow2"):
    argv = [IO, "-f", fmt]
    for c in commands:
        argv += ["-c", c]
    return ok(run(argv + [image]))


def check_clean(path):
    res = run(["qemu-img", "check", path])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No errors were found on the image." in res.stdout


def same(a, b):
    res = run(["qemu-img", "compare", a, b])
    assert res.returncode == 0, res.stdout + res.stderr


def to_raw(image, raw):
    ok(run(["qemu-img", "convert", "-O", "raw", image, raw]))


def make_chain(d, compat="1.1", cluster="64k", size="8M"):
    """base <- mid <- top, each with data the layer above partly hides."""
    opts = "compat=%s,cluster_size=%s" % (compat, cluster)
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", opts, "base.qcow2", size], cwd=d))
    for name, back in (("mid.qcow2", "base.qcow2"), ("top.qcow2", "mid.qcow2")):
        ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", opts, "-b", back, "-F", "qcow2", name],
               cwd=d))
    io(d / "base.qcow2", "write -P 0x11 0 8M")
    io(d / "mid.qcow2", "write -P 0x22 1M 2M", "write -z 5M 1M", "write -P 0x23 7M 3k")
    io(d / "top.qcow2", "write -P 0x33 0 100k", "write -P 0x34 2500k 1M", "write -z 6M 512k",
       "discard 7M 1M" if compat == "1.1" else "write -P 0x35 7M 64k")
    return [d / n for n in ("top.qcow2", "mid.qcow2", "base.qcow2")]


def copy_chain(d, q):
    os.makedirs(q)
    for n in ("base.qcow2", "mid.qcow2", "top.qcow2"):
        shutil.copy(d / n, q / n)
    return [q / n for n in ("top.qcow2", "mid.qcow2", "base.qcow2")]


def top_layer_data(image):
    """Ranges the image itself holds (depth 0 with data)."""
    out = json.loads(ok(run(["qemu-img", "map", "--output=json", image])).stdout)
    return [(e["start"], e["length"]) for e in out if e["depth"] == 0 and e["data"]]


# ---- commit ----

COMMITS = [[], ["-d"], ["-b", "base.qcow2"], ["-b", "mid.qcow2"], ["-p"]]


SLOW = pytest.mark.slow


@pytest.mark.parametrize("compat,cluster", [("1.1", "64k"), ("0.10", "4k"),
                                            pytest.param("1.1", "512", marks=SLOW)])
@pytest.mark.parametrize("args", COMMITS, ids=[" ".join(a) or "plain" for a in COMMITS])
def test_commit_like_qemu_img(tmp_path, compat, cluster, args):
    d = tmp_path / "m"
    os.makedirs(d)
    ours = make_chain(d, compat, cluster)
    theirs = copy_chain(d, tmp_path / "q")
    ref = str(tmp_path / "ref.raw")
    to_raw(ours[0], ref)
    res = ok(run([IMG, "commit"] + args + ["top.qcow2"], cwd=d))
    qres = ok(run(["qemu-img", "commit"] + args + ["top.qcow2"], cwd=tmp_path / "q"))
    assert res.stdout.splitlines()[-1] == qres.stdout.splitlines()[-1] == "Image committed."
    target = ours[2] if "base.qcow2" in args else ours[1]
    for mine, qemu in zip(ours, theirs):
        check_clean(mine)
        same(mine, qemu)
    same(target, ref)
    emptied = not args or args == ["-p"]
    assert (top_layer_data(ours[0]) == []) == emptied
    if not emptied:
        same(ours[0], ref)


def test_commit_grows_base(tmp_path):
    ok(run([IMG, "create", "-q", "-f", "qcow2", "base.qcow2", "1M"], cwd=tmp_path))
    io(tmp_path / "base.qcow2", "write -P 1 0 1M")
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
            "top.qcow2", "3M"], cwd=tmp_path))
    io(tmp_path / "top.qcow2", "write -P 2 2M 512k")
    ok(run([IMG, "commit", "-q", "top.qcow2"], cwd=tmp_path))
    check_clean(tmp_path / "base.qcow2")
    info = json.loads(run([IMG, "info", "--output=json", tmp_path / "base.qcow2"]).stdout)
    assert info["virtual-size"] == 3 * MiB
    ok(run(["qemu-io", "-c", "read -P 1 0 1M", "-c", "read -P 0 1M 1M",
            "-c", "read -P 2 2M 512k", tmp_path / "base.qcow2"]))


def test_commit_raw_base(tmp_path):
    raw = tmp_path / "base.raw"
    ok(run([IMG, "create", "-q", "-f", "raw", raw, "4M"]))
    io(raw, "write -P 5 0 4M", fmt="raw")
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", "top.qcow2"],
           cwd=tmp_path))
    io(tmp_path / "top.qcow2", "write -P 6 1M 100k")
    ok(run([IMG, "commit", "-q", "top.qcow2"], cwd=tmp_path))
    ok(run(["qemu-io", "-f", "raw", "-c", "read -P 5 0 1M", "-c", "read -P 6 1M 100k",
            "-c", "read -P 5 1124k 2972k", raw]))
    assert top_layer_data(tmp_path / "top.qcow2") == []
    check_clean(tmp_path / "top.qcow2")


# ---- rebase ----

REBASES = [["-b", "base.qcow2", "-F", "qcow2"], ["-b", ""],
           ["-u", "-b", "base.qcow2", "-F", "qcow2"], ["-u", "-b", ""],
           ["-b", "other.qcow2", "-F", "qcow2"], ["-p", "-b", "base.qcow2", "-F", "qcow2"]]


@pytest.mark.parametrize("compat,cluster", [("1.1", "64k"), ("0.10", "4k"),
                                            pytest.param("0.10", "512", marks=SLOW)])
@pytest.mark.parametrize("args", REBASES, ids=[" ".join(a) for a in REBASES])
def test_rebase_like_qemu_img(tmp_path, compat, cluster, args):
    d = tmp_path / "m"
    os.makedirs(d)
    ours = make_chain(d, compat, cluster)
    ok(run([IMG, "create", "-q", "-f", "qcow2", "other.qcow2", "6M"], cwd=d))
    io(d / "other.qcow2", "write -P 0x44 512k 3M")
    theirs = copy_chain(d, tmp_path / "q")
    shutil.copy(d / "other.qcow2", tmp_path / "q")
    ref = str(tmp_path / "ref.raw")
    to_raw(ours[0], ref)
    res = ok(run([IMG, "rebase"] + args + ["top.qcow2"], cwd=d))
    ok(run(["qemu-img", "rebase"] + args + ["top.qcow2"], cwd=tmp_path / "q"))
    assert res.stderr == ""
    for mine, qemu in zip(ours, theirs):
        check_clean(mine)
        same(mine, qemu)
    if "-u" not in args:
        same(ours[0], ref)
    info = json.loads(ok(run([IMG, "info", "--output=json", ours[0]])).stdout)
    qinfo = json.loads(ok(run(["qemu-img", "info", "--output=json", ours[0]])).stdout)
    backing = args[args.index("-b") + 1]
    assert info.get("backing-filename") == qinfo.get("backing-filename") == (backing or None)
    assert qinfo.get("backing-filename-format") == ("qcow2" if backing else None)


def test_rebase_header_keeps_extensions(tmp_path):
    """qemu-img's own image (feature table, long name): only the backing fields change."""
    long_name = "b" * 200 + ".qcow2"
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", long_name, "4M"], cwd=tmp_path))
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on",
            "base.qcow2", "4M"], cwd=tmp_path))
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
            "top.qcow2"], cwd=tmp_path))
    with open(tmp_path / "top.qcow2", "rb") as f:
        before = f.read(4096)
    for backing in (long_name, "base.qcow2", ""):
        ok(run([IMG, "rebase", "-u", "-b", backing, "-F", "qcow2", "top.qcow2"], cwd=tmp_path))
        qinfo = json.loads(ok(run(["qemu-img", "info", "--output=json", "top.qcow2"],
                                  cwd=tmp_path)).stdout)
        assert qinfo.get("backing-filename") == (backing or None)
        check_clean(tmp_path / "top.qcow2")
    with open(tmp_path / "top.qcow2", "rb") as f:
        after = f.read(4096)
    # Back to no backing file: the header fields and the feature table are as before.
    assert after[:8] == before[:8] and after[20:104] == before[20:104]
    assert b"lazy refcounts" in after and b"base.qcow2" not in after[:0x100]


def test_rebase_refuses_loop(tmp_path):
    ok(run([IMG, "create", "-q", "-f", "qcow2", "a.qcow2", "1M"], cwd=tmp_path))
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2"],
           cwd=tmp_path))
    for args in (["-b", "b.qcow2"], ["-u", "-b", "a.qcow2"]):
        res = run([IMG, "rebase", "-F", "qcow2"] + args + ["a.qcow2"], cwd=tmp_path)
        assert res.returncode == 1
        assert "creates an infinite loop" in res.stderr
    assert json.loads(run([IMG, "info", "--output=json", tmp_path / "a.qcow2"]).stdout).get(
        "backing-filename") is None


# ---- resize ----

RESIZES = [(["+1M"], "8M", "512"), (["100M"], "8M", "512"), (["--shrink", "-3M"], "8M", "512"),
           (["--shrink", "1536k"], "8M", "512"), (["--shrink", "+0"], "8M", "512"),
           (["+1M"], "8M", "64k"), (["--shrink", "-3M"], "8M", "64k"),
           (["--shrink", "1536k"], "8M", "64k"), (["20G"], "1G", "64k"), (["20G"], "1G", "512"),
           (["--shrink", "3M"], "1G", "64k")]


@pytest.mark.parametrize("args,size,cluster", RESIZES,
                         ids=[" ".join(a) + " " + s + " " + c for a, s, c in RESIZES])
def test_resize_qcow2_like_qemu_img(tmp_path, args, size, cluster):
    img, q, raw = tmp_path / "m.qcow2", tmp_path / "q.qcow2", tmp_path / "ref.raw"
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", "cluster_size=" + cluster, img, size]))
    io(img, "write -P 0x51 0 1M", "write -P 0x52 2M 3M", "write -z 6M 1M")
    ok(run([IMG, "snapshot", "-c", "s1", img]))
    io(img, "write -P 0x53 1M 2M")
    shutil.copy(img, q)
    flags = [a for a in args if a.startswith("--")]
    size_arg = [a for a in args if not a.startswith("--")][0]
    res = ok(run([IMG, "resize"] + flags + [img, size_arg]))
    ok(run(["qemu-img", "resize"] + flags + [q, size_arg]))
    assert res.stdout == "Image resized.\n"
    check_clean(img)
    same(img, q)
    info = json.loads(run([IMG, "info", "--output=json", img]).stdout)
    qinfo = json.loads(run(["qemu-img", "info", "--output=json", q]).stdout)
    assert info["virtual-size"] == qinfo["virtual-size"]
    end = info["virtual-size"]
    io(img, "write -P 0x54 %d 512" % (end - 512))
    to_raw(img, raw)
    with open(raw, "rb") as f:
        f.seek(end - 512)
        assert f.read() == b"\x54" * 512
    check_clean(img)
    # the snapshot still reads back as it was
    ok(run([IMG, "snapshot", "-a", "s1", img]))
    ok(run(["qemu-io", "-c", "read -P 0x51 0 1M", "-c", "read -P 0x52 2M 3M", img]))
    check_clean(img)


@pytest.mark.parametrize("args", [["+1M"], ["--shrink", "-1M"], ["5000001"]])
def test_resize_raw(tmp_path, args):
    img, q = tmp_path / "m.raw", tmp_path / "q.raw"
    with open(img, "wb") as f:
        f.write(b"\x61" * 4 * MiB)
    shutil.copy(img, q)
    flags = [a for a in args if a.startswith("--")]
    res = ok(run([IMG, "resize", "-f", "raw"] + flags + [img, args[-1]]))
    ok(run(["qemu-img", "resize", "-f", "raw"] + flags + [q, args[-1]]))
    assert res.stdout == "Image resized.\n"
    with open(img, "rb") as a, open(q, "rb") as b:
        assert a.read() == b.read()


# ---- error texts ----

ERRORS = [
    ["commit"],
    ["commit", "top.qcow2", "x"],
    ["commit", "base.qcow2"],
    ["commit", "-b", "nonexist", "top.qcow2"],
    ["commit", "-b", "top.qcow2", "top.qcow2"],
    ["commit", "-t", "foo", "top.qcow2"],
    ["commit", "nonexist"],
    ["commit", "-f", "raw", "top.qcow2"],
    ["rebase", "top.qcow2"],
    ["rebase", "-b", "base.qcow2", "top.qcow2"],
    ["rebase", "-u", "-b", "base.qcow2", "top.qcow2"],
    ["rebase", "-b", "nonexist", "-F", "qcow2", "top.qcow2"],
    ["rebase", "-t", "foo", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2"],
    ["rebase", "-T", "foo", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2"],
    ["rebase", "-f", "raw", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2"],
    ["resize", "top.qcow2"],
    ["resize", "top.qcow2", "foo"],
    ["resize", "top.qcow2", "+foo"],
    ["resize", "top.qcow2", "0"],
    ["resize", "top.qcow2", "-100M"],
    ["resize", "top.qcow2", "9E"],
    ["resize", "top.qcow2", "-1M"],
    ["resize", "top.qcow2", "1M"],
    ["resize", "top.qcow2", "5000001"],
    ["resize", "top.qcow2", "x.qcow2", "1M"],
    ["resize", "-x", "top.qcow2", "1M"],
    ["resize", "nonexist", "1M"],
]


@pytest.mark.parametrize("args", ERRORS, ids=[" ".join(a) for a in ERRORS])
def test_errors_like_qemu_img(tmp_path, args):
    outs = []
    for prog in ("qemu-img", IMG):
        d = tmp_path / os.path.basename(prog)
        os.makedirs(d)
        ok(run([IMG, "create", "-q", "-f", "qcow2", "base.qcow2", "4M"], cwd=d))
        ok(run([IMG, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                "top.qcow2"], cwd=d))
        res = run([prog] + args, cwd=d)
        info = run(["qemu-img", "info", "--output=json", "top.qcow2"], cwd=d).stdout
        outs.append((res.returncode, res.stdout,
                     res.stderr.replace(os.path.basename(prog), "PROG"), info))
    assert outs[0] == outs[1]


# ---- info --backing-chain ----

def test_info_backing_chain_like_qemu_img(tmp_path):
    make_chain(tmp_path)
    outs = []
    for prog in ("qemu-img", IMG):
        for extra in ([], ["--output=json"]):
            res = run([prog, "info", "--backing-chain"] + extra + ["top.qcow2"], cwd=tmp_path)
            lines = [l for l in res.stdout.splitlines()
                     if "disk size" not in l and "actual-size" not in l]
            outs.append((res.returncode, lines))
    assert outs[:2] == outs[2:]
    assert outs[0][1].count("") == 2  # a blank line between the three images


def test_info_backing_chain_loop(tmp_path):
    ok(run([IMG, "create", "-q", "-f", "qcow2", "l1.qcow2", "4M"], cwd=tmp_path))
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-b", "l1.qcow2", "-F", "qcow2", "l2.qcow2"],
           cwd=tmp_path))
    ok(run(["qemu-img", "rebase", "-u", "-b", "l2.qcow2", "-F", "qcow2", "l1.qcow2"],
           cwd=tmp_path))
    outs = []
    for prog in ("qemu-img", IMG):
        res = run([prog, "info", "--backing-chain", "l2.qcow2"], cwd=tmp_path)
        outs.append((res.returncode, res.stdout,
                     res.stderr.replace(os.path.basename(prog), "PROG")))
    assert outs[0] == outs[1]
    assert outs[1][0] == 1 and "creates an infinite loop" in outs[1][2]
    res = run([IO, "-c", "read 0 1k", tmp_path / "l2.qcow2"])
    assert "infinite loop" in res.stdout + res.stderr


@pytest.mark.parametrize("compat", ["1.1", "0.10"])
def test_resize_over_longer_backing(tmp_path, compat):
    """The grown area reads as zeroes, not as the longer backing file's data (qemu-img 7.2)."""
    opts = ["-o", "compat=" + compat]
    ok(run([IMG, "create", "-q", "-f", "qcow2"] + opts + ["base.qcow2", "4M"], cwd=tmp_path))
    io(tmp_path / "base.qcow2", "write -P 7 0 4M")
    ok(run([IMG, "create", "-q", "-f", "qcow2"] + opts + ["-b", "base.qcow2", "-F", "qcow2",
                                                          "top.qcow2", "1000k"], cwd=tmp_path))
    shutil.copy(tmp_path / "top.qcow2", tmp_path / "q.qcow2")
    ok(run([IMG, "resize", "top.qcow2", "+2M"], cwd=tmp_path))
    check_clean(tmp_path / "top.qcow2")
    ok(run(["qemu-io", "-c", "read -P 7 0 1000k", "-c", "read -P 0 1000k 2M",
            tmp_path / "top.qcow2"]))
    if compat == "1.1":  # qemu-img 7.2 cannot zero the area of a v2 image and fails
        ok(run(["qemu-img", "resize", "q.qcow2", "+2M"], cwd=tmp_path))
        same(tmp_path / "top.qcow2", tmp_path / "q.qcow2")


@pytest.mark.parametrize("op", [["resize", "--shrink", "X", "1M"], ["commit", "X"],
                                ["rebase", "-b", "", "X"]])
def test_hostile_l1_entry(tmp_path, op):
    """An unaligned L2 offset in the L1: refused with QEMU's corruption message, no crash."""
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "b.qcow2", "4M"],
           cwd=tmp_path))
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "-b", "b.qcow2",
            "-F", "qcow2", "t.qcow2"], cwd=tmp_path))
    io(tmp_path / "t.qcow2", "write -P 1 0 4M")
    with open(tmp_path / "t.qcow2", "r+b") as f:
        f.seek(40)
        l1 = struct.unpack(">Q", f.read(8))[0]
        f.seek(l1 + 8)
        entry = struct.unpack(">Q", f.read(8))[0]
        f.seek(l1 + 8)
        f.write(struct.pack(">Q", entry + 0x200))
    res = run([IMG] + [("t.qcow2" if a == "X" else a) for a in op], cwd=tmp_path)
    assert res.returncode == 1
    assert "qcow2: Marking image as corrupt: L2 table offset" in res.stderr
    assert "unaligned" in res.stderr
    assert '"corrupt": true' in run([IMG, "info", "--output=json", "t.qcow2"],
                                    cwd=tmp_path).stdout


def add_unknown_extension(path, ext_type=0x12345678, data=b"minivmm!"):
    """Insert an extension qemu does not know before the end marker of cluster 0."""
    with open(path, "r+b") as f:
        head = bytearray(f.read(65536))
        version = struct.unpack(">I", head[4:8])[0]
        off = 72 if version == 2 else struct.unpack(">I", head[100:104])[0]
        while struct.unpack(">I", head[off:off + 4])[0] != 0:
            off += 8 + ((struct.unpack(">I", head[off + 4:off + 8])[0] + 7) & ~7)
        backing_off = struct.unpack(">Q", head[8:16])[0]
        ext = struct.pack(">II", ext_type, len(data)) + data
        if backing_off:
            name = bytes(head[backing_off:backing_off + struct.unpack(">I", head[16:20])[0]])
            head[off:off + len(ext) + 8 + len(name)] = ext + bytes(8) + name
            head[8:16] = struct.pack(">Q", off + len(ext) + 8)
        else:
            head[off:off + len(ext) + 8] = ext + bytes(8)
        f.seek(0)
        f.write(head[:4096])


@pytest.mark.parametrize("compat", ["1.1", "0.10"])
def test_rebase_keeps_unknown_extension(tmp_path, compat):
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", "compat=" + compat, "base.qcow2", "1M"],
           cwd=tmp_path))
    ok(run([IMG, "create", "-q", "-f", "qcow2", "-o", "compat=" + compat, "-b", "base.qcow2",
            "-F", "qcow2", "top.qcow2"], cwd=tmp_path))
    ok(run([IMG, "create", "-q", "-f", "raw", "other-name.qcow2", "1M"], cwd=tmp_path))
    add_unknown_extension(tmp_path / "top.qcow2")
    check_clean(tmp_path / "top.qcow2")
    for backing in ("other-name.qcow2", ""):
        ok(run([IMG, "rebase", "-u", "-b", backing, "-F", "raw", "top.qcow2"], cwd=tmp_path))
        qinfo = json.loads(ok(run(["qemu-img", "info", "--output=json", "top.qcow2"],
                                  cwd=tmp_path)).stdout)
        assert qinfo.get("backing-filename") == (backing or None)
        assert qinfo.get("backing-filename-format") == ("raw" if backing else None)
        with open(tmp_path / "top.qcow2", "rb") as f:
            assert struct.pack(">II", 0x12345678, 8) + b"minivmm!" in f.read(4096)
        check_clean(tmp_path / "top.qcow2")
