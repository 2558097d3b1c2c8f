"""minivmm-img amend against Debian's qemu-img 7.2: qcow2 compat upgrade and downgrade (zero
clusters, preallocated zero clusters, backing files, internal snapshots), lazy_refcounts,
refcount_bits (every width, several refcount blocks, snapshots, with other options, too
narrow for a refcount), size, -p/-q, -o help, and the option errors with qemu-img's
messages.

Every image is made with qemu-img / qemu-io and every outcome is read with them, never with
the tool under test: `qemu-img info` (compat, lazy refcounts, refcount bits, virtual size,
dirty flag), `qemu-img check`, `qemu-img compare` against a copy qemu-img amended itself and
qemu-io pattern reads. AMEND_TOOL=qemu-img (or another path) runs the tests against that
tool instead of minivmm-img, to check the expectations against the reference.
"""

import hashlib
import json
import os
import shutil

import pytest

from img_lib import IMG, needs_qemu_utils, ok, run

pytestmark = needs_qemu_utils

IS_QEMU = os.path.basename(os.environ.get("AMEND_TOOL", "")) == "qemu-img"
TRY = "Try 'PROG --help' for more information\n"


def tool():
    """The amend under test: minivmm-img, or AMEND_TOOL."""
    return os.environ.get("AMEND_TOOL") or IMG


def amend(img, opts, cwd=None):
    """`TOOL amend opts img`, with the program name in its messages replaced by PROG."""
    res = run([tool(), "amend"] + opts + ([img] if img else []), cwd=cwd)
    name = os.path.basename(tool())
    res.stdout, res.stderr = res.stdout.replace(name, "PROG"), res.stderr.replace(name, "PROG")
    return res


def create(path, size="1M", opts="", backing=None):
    argv = ["qemu-img", "create", "-q", "-f", "qcow2"]
    argv += ["-o", opts] if opts else []
    argv += ["-b", backing, "-F", "qcow2"] if backing else []
    ok(run(argv + [path] + ([] if backing else [size])))


def qio(img, *cmds, fmt="qcow2"):
    argv = ["qemu-io", "-f", fmt]
    for c in cmds:
        argv += ["-c", c]
    res = ok(run(argv + [img]))
    assert not any(w in res.stdout.lower() for w in ("failed", "verification", "error")), \
        res.stdout
    return res


def info(img):
    return json.loads(ok(run(["qemu-img", "info", "--output=json", img])).stdout)


def header(img):
    """What amend may change, as qemu-img info reports it."""
    d = info(img)
    spec = d["format-specific"]["data"]
    return {"compat": spec["compat"], "lazy": spec.get("lazy-refcounts"),
            "refcount-bits": spec["refcount-bits"], "size": d["virtual-size"],
            "dirty": d["dirty-flag"], "backing": d.get("backing-filename"),
            "backing-fmt": d.get("backing-filename-format")}


def assert_clean(img):
    res = run(["qemu-img", "check", img])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No errors were found on the image." in res.stdout, res.stdout


def same(a, b):
    res = run(["qemu-img", "compare", a, b])
    assert (res.returncode, res.stdout) == (0, "Images are identical.\n"), \
        res.stdout + res.stderr


def export(img, out, snapshot=None):
    argv = ["qemu-img", "convert", "-O", "raw"]
    argv += ["-l", "snapshot.name=" + snapshot] if snapshot else []
    ok(run(argv + [img, out]))
    return out


def allocation(img):
    """qemu-img map without host offsets: which ranges are data, zero, unallocated."""
    res = ok(run(["qemu-img", "map", "--output=json", img]))
    return [(e["start"], e["length"], e["depth"], e["present"], e["zero"], e["data"])
            for e in json.loads(res.stdout)]


def zero_kinds(img):
    """{start: 'plain' | 'prealloc'} for the zero clusters of img's own layer."""
    res = ok(run(["qemu-img", "map", "--output=json", img]))
    return {e["start"]: "prealloc" if "offset" in e else "plain"
            for e in json.loads(res.stdout)
            if e["depth"] == 0 and e["present"] and e["zero"] and not e["data"]}


def written_with_copy(tmp_path, size, opts="", *writes):
    """a.qcow2 created with opts and written with qemu-io, and orig.qcow2, a copy of it."""
    img, orig = str(tmp_path / "a.qcow2"), str(tmp_path / "orig.qcow2")
    create(img, size, opts)
    qio(img, *writes)
    shutil.copy(img, orig)
    return img, orig


def amend_both(tmp_path, img, opts):
    """Amend img with the tool under test and a copy of it with qemu-img; both must end up
    clean, with the same header and the same content. Returns the qemu-img copy."""
    ref = str(tmp_path / ("qemu-" + os.path.basename(img)))
    shutil.copy(img, ref)
    res = amend(img, opts)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    ok(run(["qemu-img", "amend"] + opts + [ref]))
    assert_clean(img)
    assert header(img) == header(ref)
    assert header(img)["dirty"] is False
    same(img, ref)
    return ref


# ---- compat=1.1: upgrade ----

@pytest.mark.parametrize("opts,lazy", [
    (["-o", "compat=1.1"], False),
    (["-o", "compat=v3"], False),
    (["-o", "compat=1.1,lazy_refcounts=on"], True),
    (["-o", "compat=1.1", "-o", "lazy_refcounts=on"], True)],
    ids=["compat=1.1", "compat=v3", "with-lazy", "two-o"])
def test_upgrade_keeps_data(tmp_path, opts, lazy):
    img, orig = written_with_copy(tmp_path, "4M", "compat=0.10", "write -P 0x11 0 64k",
                                  "write -P 0x22 1M 100k", "write -P 0 2M 64k",
                                  "write -P 0x33 4032k 64k")
    amend_both(tmp_path, img, opts)
    assert header(img) == dict(header(orig), compat="1.1", lazy=lazy)
    same(img, orig)
    qio(img, "read -P 0x11 0 64k", "read -P 0x22 1M 100k", "read -P 0 1124k 2908k",
        "read -P 0x33 4032k 64k")


def test_upgrade_with_snapshot(tmp_path):
    img = str(tmp_path / "a.qcow2")
    create(img, "2M", "compat=0.10")
    qio(img, "write -P 0x11 0 1M")
    ok(run(["qemu-img", "snapshot", "-c", "s1", img]))
    qio(img, "write -P 0x22 512k 1M")
    snap = export(img, str(tmp_path / "s1-before.raw"), "s1")
    amend_both(tmp_path, img, ["-o", "compat=1.1"])
    assert header(img)["compat"] == "1.1"
    same(export(img, str(tmp_path / "s1-after.raw"), "s1"), snap)
    qio(img, "read -P 0x11 0 512k", "read -P 0x22 512k 1M", "read -P 0 1536k 512k")


# ---- compat=0.10: downgrade ----

ZERO_LAYOUT = ["write -P 0x11 0 64k",
               "write -z 64k 64k",                           # plain zero cluster
               "write -P 0x22 128k 64k", "write -z 128k 64k",  # preallocated zero cluster
               "write -P 0x33 192k 64k",
               "write -z 256k 128k"]                          # two plain zero clusters


@pytest.mark.parametrize("backed", [False, True], ids=["alone", "overlay"])
def test_downgrade_zero_clusters(tmp_path, backed):
    """v2 has no zero flag: plain zero clusters over a backing file with data must become
    zeroed data clusters, preallocated ones keep their cluster with zeroes written."""
    img, base = str(tmp_path / "a.qcow2"), str(tmp_path / "base.qcow2")
    if backed:
        create(base, "1M")
        qio(base, "write -P 0x77 0 1M")
    create(img, "1M", backing=base if backed else None)
    qio(img, *ZERO_LAYOUT)
    assert zero_kinds(img) == {64 << 10: "plain", 128 << 10: "prealloc", 256 << 10: "plain"}
    before = export(img, str(tmp_path / "before.raw"))
    ref = amend_both(tmp_path, img, ["-o", "compat=0.10"])
    assert header(img)["compat"] == "0.10"
    assert header(img)["backing"] == (base if backed else None)
    same(img, before)
    rest = "0x77" if backed else "0"
    qio(img, "read -P 0x11 0 64k", "read -P 0 64k 128k", "read -P 0x33 192k 64k",
        "read -P 0 256k 128k", "read -P %s 384k 640k" % rest)
    assert allocation(img) == allocation(ref)


def test_downgrade_lazy_refcounts(tmp_path):
    """qemu-img 7.2 downgrades an image with lazy refcounts and drops the feature."""
    img, orig = written_with_copy(tmp_path, "1M", "lazy_refcounts=on", "write -P 0x11 0 192k",
                                  "write -z 64k 64k")
    amend_both(tmp_path, img, ["-o", "compat=0.10"])
    assert header(img) == dict(header(orig), compat="0.10", lazy=None)
    same(img, orig)


def test_downgrade_snapshot_zero_clusters(tmp_path):
    """Zero clusters in the active layer and in snapshot s1, in an L2 table they no longer
    share (0-2M) and in one they still share (2M-4M), over a backing file with data."""
    img, base = str(tmp_path / "a.qcow2"), str(tmp_path / "base.qcow2")
    create(base, "4M", "cluster_size=4096")
    qio(base, "write -P 0x77 0 4M")
    create(img, opts="cluster_size=4096", backing=base)
    qio(img, "write -P 0x11 0 64k", "write -z 64k 64k", "write -P 0x22 2M 64k",
        "write -z 2112k 64k", "write -P 0x23 2176k 64k", "write -z 2176k 64k")
    ok(run(["qemu-img", "snapshot", "-c", "s1", img]))
    qio(img, "write -P 0x33 64k 64k", "write -z 128k 64k")
    kinds = zero_kinds(img)
    assert kinds[2112 << 10] == "plain" and kinds[2176 << 10] == "prealloc"
    views = {s: export(img, str(tmp_path / ("%s-before.raw" % s)), s) for s in ("s1", None)}
    ref = amend_both(tmp_path, img, ["-o", "compat=0.10"])
    for s in views:
        same(export(img, str(tmp_path / ("%s-after.raw" % s)), s), views[s])
        same(export(ref, str(tmp_path / ("%s-qemu.raw" % s)), s), views[s])
    qio(img, "read -P 0x33 64k 64k", "read -P 0 128k 64k", "read -P 0 2112k 128k",
        "read -P 0x77 192k 1856k")
    snap = str(tmp_path / "s1.qcow2")
    shutil.copy(img, snap)
    ok(run(["qemu-img", "snapshot", "-a", "s1", snap]))
    qio(snap, "read -P 0x11 0 64k", "read -P 0 64k 64k", "read -P 0x77 128k 1920k",
        "read -P 0 2112k 128k")


@pytest.mark.xfail(IS_QEMU, strict=True, reason="qemu-img 7.2 bug: the downgrade writes "
                   "zeroes into the host cluster of a preallocated zero cluster even when a "
                   "snapshot still references it (refcount 2), and sets OFLAG_COPIED on it")
def test_downgrade_prealloc_zero_shared_with_snapshot(tmp_path):
    img = str(tmp_path / "a.qcow2")
    create(img, "1M")
    qio(img, "write -P 0x11 0 128k")
    ok(run(["qemu-img", "snapshot", "-c", "s1", img]))
    qio(img, "write -z 0 64k")
    assert zero_kinds(img) == {0: "prealloc"}
    res = amend(img, ["-o", "compat=0.10"])
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    qio(export(img, str(tmp_path / "s1.raw"), "s1"), "read -P 0x11 0 128k", fmt="raw")
    qio(img, "read -P 0 0 64k", "read -P 0x11 64k 64k")
    assert_clean(img)


# ---- lazy_refcounts, refcount_bits ----

def test_lazy_refcounts_on_then_off(tmp_path):
    img, orig = written_with_copy(tmp_path, "1M", "", "write -P 0x11 0 256k")
    amend_both(tmp_path, img, ["-o", "lazy_refcounts=on"])
    assert header(img) == dict(header(orig), lazy=True)
    qio(img, "write -P 0x22 512k 64k", "read -P 0x11 0 256k")
    assert header(img)["dirty"] is False
    amend_both(tmp_path, img, ["-o", "lazy_refcounts=off"])
    assert header(img) == dict(header(orig), lazy=False)
    qio(img, "read -P 0x11 0 256k", "read -P 0x22 512k 64k")


@pytest.mark.parametrize("compat", ["0.10", "1.1"])
def test_refcount_bits_unchanged(tmp_path, compat):
    img, orig = written_with_copy(tmp_path, "1M", "compat=" + compat,
                                  "write -P 0x11 0 256k")
    amend_both(tmp_path, img, ["--force", "-o", "refcount_bits=16"])
    assert header(img) == header(orig)
    same(img, orig)


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 32, 64])
def test_refcount_bits_change(tmp_path, bits):
    img, orig = written_with_copy(tmp_path, "1M", "", "write -P 0x11 0 256k")
    amend_both(tmp_path, img, ["-o", f"refcount_bits={bits}"])
    assert header(img) == dict(header(orig), **{"refcount-bits": bits})
    qio(img, "read -P 0x11 0 256k", "read -P 0 256k 768k")


def test_refcount_bits_many_blocks_and_snapshots(tmp_path):
    """4 KiB clusters (2048 16-bit counts per block): 40 MiB of data spans several refcount
    blocks; two snapshots put refcounts of 3 on it. 16 -> 2 bits and back, then 64 bits."""
    img, orig = written_with_copy(tmp_path, "64M", "cluster_size=4096",
                                  "write -P 0x11 0 40M")
    for name in ("s1", "s2"):
        ok(run(["qemu-img", "snapshot", "-c", name, img]))
    qio(img, "write -P 0x22 8M 1M", "write -z 16M 1M")
    views = {s: export(img, str(tmp_path / f"{s}-before.raw"), s) for s in ("s1", None)}
    for bits in (2, 16, 64):
        amend_both(tmp_path, img, ["-o", f"refcount_bits={bits}"])
        assert header(img)["refcount-bits"] == bits
        for s in views:
            same(export(img, str(tmp_path / f"{s}-{bits}.raw"), s), views[s])
    qio(img, "write -P 0x33 60M 4M", "read -P 0x33 60M 4M", "read -P 0x22 8M 1M")
    assert_clean(img)


@pytest.mark.parametrize("create_opts,opts,after", [
    ("compat=0.10", "compat=1.1,refcount_bits=8", {"compat": "1.1", "refcount-bits": 8,
                                                   "lazy": False}),
    ("refcount_bits=8", "compat=0.10,refcount_bits=16", {"compat": "0.10",
                                                          "refcount-bits": 16}),
    ("refcount_bits=1", "refcount_bits=64,lazy_refcounts=on", {"refcount-bits": 64,
                                                                 "lazy": True}),
    ("", "refcount_bits=4,size=4M", {"refcount-bits": 4, "size": 4 << 20}),
], ids=["upgrade", "downgrade", "lazy", "size"])
def test_refcount_bits_with_other_options(tmp_path, create_opts, opts, after):
    img, orig = written_with_copy(tmp_path, "1M", create_opts, "write -P 0x11 0 512k",
                                  "write -z 512k 64k")
    amend_both(tmp_path, img, ["-o", opts])
    expect = dict(header(orig), **after)
    if expect["compat"] == "0.10":
        expect["lazy"] = None      # qemu-img info leaves it out for v2
    assert header(img) == expect
    qio(img, "read -P 0x11 0 512k", "read -P 0 512k 512k")


def test_refcount_bits_too_narrow(tmp_path):
    """A refcount the new width cannot hold: qemu-img's message, and not a byte changed
    (qemu-img too, as the check comes before any write; with an upgrade in the same command
    qemu-img would have upgraded first)."""
    img = str(tmp_path / "a.qcow2")
    create(img, "1M")
    qio(img, "write -P 0x11 0 256k")
    for name in ("s1", "s2"):
        ok(run(["qemu-img", "snapshot", "-c", name, img]))
    digest = sha(img)
    res = amend(img, ["-o", "refcount_bits=1"])
    assert (res.returncode, res.stdout, res.stderr) == (
        1, "", "PROG: Cannot decrease refcount entry width to 1 bits: Cluster at offset "
        "0x40000 has a refcount of 3\n")     # the L2 table, in the active L1 and two snapshots
    assert sha(img) == digest
    amend_both(tmp_path, img, ["-o", "refcount_bits=2"])      # 3 fits in 2 bits


# ---- size ----

@pytest.mark.parametrize("compat", ["0.10", "1.1"])
def test_size_grow(tmp_path, compat):
    img = str(tmp_path / "a.qcow2")
    create(img, "1M", "compat=" + compat)
    qio(img, "write -P 0x11 0 1M")
    amend_both(tmp_path, img, ["-o", "size=5M"])
    assert header(img)["size"] == 5 << 20
    qio(img, "read -P 0x11 0 1M", "read -P 0 1M 4M")


def test_size_shrink_then_grow(tmp_path):
    """7.2 shrinks without --shrink; the clusters past the end are gone, growing again
    reads zeroes there."""
    img = str(tmp_path / "a.qcow2")
    create(img, "4M")
    qio(img, "write -P 0x11 0 4M")
    amend_both(tmp_path, img, ["-o", "size=1M"])
    assert header(img)["size"] == 1 << 20
    qio(img, "read -P 0x11 0 1M")
    amend_both(tmp_path, img, ["-o", "size=3M"])
    qio(img, "read -P 0x11 0 1M", "read -P 0 1M 2M")


def test_size_zero_changes_nothing(tmp_path):
    """qemu-img 7.2 reads size=0 as "not given": the image keeps its size and data."""
    img = str(tmp_path / "a.qcow2")
    create(img, "4M")
    qio(img, "write -P 0x11 0 4M")
    amend_both(tmp_path, img, ["-o", "size=0"])
    assert header(img)["size"] == 4 << 20
    qio(img, "read -P 0x11 0 4M")


def test_size_and_upgrade_v2_with_snapshot(tmp_path):
    """A v2 image with snapshots cannot be resized, but compat=1.1,size= upgrades first."""
    img = str(tmp_path / "a.qcow2")
    create(img, "1M", "compat=0.10")
    qio(img, "write -P 0x11 0 1M")
    ok(run(["qemu-img", "snapshot", "-c", "s1", img]))
    amend_both(tmp_path, img, ["-o", "size=2M,compat=1.1"])
    assert (header(img)["compat"], header(img)["size"]) == ("1.1", 2 << 20)
    qio(img, "read -P 0x11 0 1M", "read -P 0 1M 1M")


def test_quiet_and_progress(tmp_path):
    img = str(tmp_path / "a.qcow2")
    create(img, "1M")
    qio(img, *ZERO_LAYOUT)
    res = amend(img, ["-q", "-o", "size=2M"])
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    res = amend(img, ["-p", "-o", "compat=0.10"])
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert res.stdout.split()[-1] == "(100.00/100%)", repr(res.stdout)
    assert header(img)["compat"] == "0.10" and header(img)["size"] == 2 << 20
    assert_clean(img)
    qio(img, "read -P 0x11 0 64k", "read -P 0 64k 128k", "read -P 0 256k 1792k")


# ---- -o help ----

HELP_HEADER = "Amend options for 'qcow2':"
HELP_LINES = [
    "  backing_file=<str>     - File name of a base image",
    "  backing_fmt=<str>      - Image format of the base image",
    "  compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])",
    "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates",
    "  refcount_bits=<num>    - Width of a reference count entry in bits",
    "  size=<size>            - Virtual disk size"]


@pytest.mark.parametrize("args", [["-o", "help", "a.qcow2"], ["-f", "qcow2", "-o", "help"],
                                  ["-o", "compat=1.1,help", "a.qcow2"]], ids=" ".join)
def test_help(tmp_path, args):
    create(str(tmp_path / "a.qcow2"), "1M", "compat=0.10")
    res = amend(None, args, cwd=tmp_path)
    assert (res.returncode, res.stderr) == (0, "")
    lines = res.stdout.splitlines()
    assert lines[0] == HELP_HEADER
    assert [l for l in lines if l in HELP_LINES] == HELP_LINES, res.stdout
    if not IS_QEMU:
        assert not [l for l in lines if "data_file" in l or "encrypt." in l], res.stdout
    assert header(str(tmp_path / "a.qcow2"))["compat"] == "0.10"


# ---- errors ----

def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def error_images(d):
    create(str(d / "v2.qcow2"), "1M", "compat=0.10")
    create(str(d / "v3.qcow2"), "1M")
    create(str(d / "r8.qcow2"), "1M", "refcount_bits=8")
    create(str(d / "v2snap.qcow2"), "1M", "compat=0.10")
    ok(run(["qemu-img", "snapshot", "-c", "s1", d / "v2snap.qcow2"]))
    ok(run(["qemu-img", "create", "-q", "-f", "raw", d / "r.raw", "1M"]))
    for name in ("v2.qcow2", "v3.qcow2"):
        qio(str(d / name), "write -P 0x11 0 64k", "write -z 64k 64k")


LAZY = ("Lazy refcounts only supported with compatibility level 1.1 and above "
        "(use compat=1.1 or greater)\n")
CREATE_ONLY = "This option is only supported for image creation\n"
BACKING = "Cannot amend the backing file\nYou can use 'PROG rebase' instead.\n"
SIZE = ("Parameter 'size' expects a non-negative number below 2^64\nOptional suffix k, M, "
        "G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.\n")
WIDTH = "Refcount width must be a power of two and may not exceed 64 bits\n"
V2_WIDTH = ("Refcount widths other than 16 bits require compatibility level 1.1 or above "
            "(use compat=1.1 or greater)\n")
ERRORS = [
    (["v3.qcow2"], "Must specify options (-o)\n" + TRY),
    (["-o", "compat=1.1"], "Expecting one image file name\n"),
    (["-o", "help"], "Expecting one image file name\n"),
    (["-o", "compat=1.1", "v2.qcow2", "v3.qcow2"], "Expecting one image file name\n"),
    (["-f", "raw", "-o", "size=2M", "r.raw"],
     "Format driver 'raw' does not support option amendment\n"),
    (["-f", "raw", "-o", "help", "r.raw"],
     "Format driver 'raw' does not support option amendment\n"),
    (["-o", "compat=0.9", "v3.qcow2"], "Unknown compatibility level 0.9\n"),
    (["-o", "lazy_refcounts=on", "v2.qcow2"], LAZY),
    (["-o", "compat=0.10,lazy_refcounts=on", "v3.qcow2"], LAZY),
    (["-o", "lazy_refcounts=maybe", "v3.qcow2"],
     "Parameter 'lazy_refcounts' expects 'on' or 'off'\n"),
    (["-o", "", "v3.qcow2"], "Invalid option list: \n"),
    (["-o", "cluster_size=4k", "v3.qcow2"], "Invalid parameter 'cluster_size'\n" + CREATE_ONLY),
    (["-o", "preallocation=full", "v3.qcow2"],
     "Invalid parameter 'preallocation'\n" + CREATE_ONLY),
    (["-o", "foo=1", "v3.qcow2"], "Invalid parameter 'foo'\n"),
    (["-o", "backing_file=v2.qcow2", "v3.qcow2"], BACKING),
    (["-o", "backing_fmt=raw", "v3.qcow2"], BACKING),
    (["-o", "compat=0.10", "r8.qcow2"], "compat=0.10 requires refcount_bits=16\n"),
    (["-o", "refcount_bits=3", "v3.qcow2"], WIDTH),
    (["-o", "refcount_bits=128", "v3.qcow2"], WIDTH),
    (["-o", "refcount_bits=0", "r8.qcow2"], WIDTH),
    (["-o", "refcount_bits=foo", "v3.qcow2"], "Parameter 'refcount_bits' expects a number\n"),
    (["-o", "refcount_bits=8", "v2.qcow2"], V2_WIDTH),
    (["-o", "compat=0.10,refcount_bits=8", "v3.qcow2"], V2_WIDTH),
    (["-o", "refcount_bits=3", "v2.qcow2"], WIDTH),
    (["-o", "size=1000000", "v3.qcow2"], "The new size must be a multiple of 512\n"),
    (["-o", "size=foo", "v3.qcow2"], SIZE),
    (["-o", "size=2M", "v2snap.qcow2"], "Can't resize a v2 image which has snapshots\n"),
    (["-t", "bogus", "-o", "size=2M", "v3.qcow2"], "Invalid cache option: bogus\n"),
    (["-o", "size=2M", "none.qcow2"], "Could not open 'none.qcow2': Could not open "
     "'none.qcow2': No such file or directory\n"),
]


@pytest.mark.parametrize("args,text", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_errors(tmp_path, args, text):
    """qemu-img's message and exit code 1, and every image left byte for byte as it was."""
    error_images(tmp_path)
    digests = {p: sha(p) for p in tmp_path.iterdir()}
    res = amend(None, args, cwd=tmp_path)
    assert (res.returncode, res.stdout, res.stderr) == (1, "", "PROG: " + text)
    assert {p: sha(p) for p in tmp_path.iterdir()} == digests
