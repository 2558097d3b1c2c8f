"""minivmm-img measure against qemu-img 7.2 measure: the same stdout, stderr and exit code
for virtual sizes with every qcow2 creation option that changes the sums, for sources of
each kind (raw with data, qcow2 v2/v3 with snapshots, zero and compressed clusters, a
backing chain, a metadata-preallocated image), and for the refusals."""
import os

import pytest

from img_lib import IMG, MiB, needs_qemu_utils, ok, run

pytestmark = needs_qemu_utils


def same_as_qemu_img(args, cwd):
    theirs = run(["qemu-img", "measure"] + args, cwd=cwd)
    ours = run([IMG, "measure"] + args, cwd=cwd)
    assert ours.returncode == theirs.returncode, (theirs.stderr, ours.stderr)
    assert ours.stdout == theirs.stdout
    assert ours.stderr.replace("minivmm-img:", "qemu-img:") == theirs.stderr
    return ours


SIZES = [
    ["-O", "qcow2", "--size", "1G"],
    ["-O", "qcow2", "--size", "0"],
    ["-O", "qcow2", "--size", "100000"],
    ["-O", "qcow2", "--size", "2T"],
    ["-O", "qcow2", "-o", "cluster_size=512", "--size", "10G"],
    ["-O", "qcow2", "-o", "cluster_size=2M", "--size", "64T"],
    ["-O", "qcow2", "-o", "cluster_size=4k,refcount_bits=1", "--size", "3G"],
    ["-O", "qcow2", "-o", "refcount_bits=64", "--size", "1T"],
    ["-O", "qcow2", "-o", "extended_l2=on", "--size", "100G"],
    ["-O", "qcow2", "-o", "compat=0.10", "--size", "1G"],
    ["-O", "qcow2", "-o", "preallocation=metadata", "--size", "1G"],
    ["-O", "qcow2", "-o", "preallocation=falloc", "--size", "1G"],
    ["-O", "qcow2", "-o", "preallocation=full,cluster_size=8k", "--size", "1G"],
    ["-O", "qcow2", "-o", "encryption=on", "--size", "1G"],
    ["-O", "qcow2", "-o", "size=5M", "--size", "100M"],
    ["-O", "qcow2", "-o", "cluster_size=4k", "-o", "lazy_refcounts=on", "--size", "1G"],
    ["--output=json", "-O", "qcow2", "--size", "1G"],
    ["-O", "raw", "--size", "1G"],
    ["--size", "100000"],
    ["-O", "raw", "-o", "preallocation=full", "--size", "1M"],
    ["-O", "raw", "--size", "9223372036854775807"],
]


@pytest.mark.parametrize("args", SIZES, ids=[" ".join(a) for a in SIZES])
def test_size_like_qemu_img(tmp_path, args):
    res = same_as_qemu_img(args, tmp_path)
    assert res.returncode == 0 and "required" in res.stdout


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Images made by qemu-img/qemu-io, read by both tools."""
    d = tmp_path_factory.mktemp("sources")

    def io(img, *cmds, fmt="qcow2"):
        argv = ["qemu-io", "-f", fmt]
        for c in cmds:
            argv += ["-c", c]
        ok(run(argv + [str(d / img)]))

    ok(run(["qemu-img", "create", "-q", "-f", "raw", d / "data.raw", "5M"]))
    io("data.raw", "write -P 1 1M 64k", "write -P 2 3000k 5k", fmt="raw")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", d / "v3.qcow2", "64M"]))
    io("v3.qcow2", "write -P 1 0 3M", "write -z 8M 4M", "write -P 3 20M 100k")
    ok(run(["qemu-img", "snapshot", "-c", "s1", d / "v3.qcow2"]))
    io("v3.qcow2", "write -P 4 40M 1M", "write -z 0 1M")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10,cluster_size=4k",
            d / "v2.qcow2", "10M"]))
    io("v2.qcow2", "write -P 5 0 1M", "write -z 2M 1M")
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "v2.qcow2", "-F", "qcow2",
            d / "top.qcow2", "12M"]))
    io("top.qcow2", "write -P 6 5M 64k", "write -z 0 64k")
    ok(run(["qemu-img", "convert", "-c", "-O", "qcow2", d / "data.raw", d / "comp.qcow2"]))
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata",
            d / "meta.qcow2", "8M"]))
    io("meta.qcow2", "write -P 7 1M 64k")
    return d


SOURCES = [
    ["-O", "qcow2", "-f", "raw", "data.raw"],
    ["-O", "qcow2", "-o", "cluster_size=4k", "-f", "raw", "data.raw"],
    ["-O", "raw", "-f", "raw", "data.raw"],
    ["-O", "qcow2", "v3.qcow2"],
    ["--output=json", "-O", "qcow2", "v3.qcow2"],
    ["-O", "qcow2", "-o", "compat=0.10", "v3.qcow2"],
    ["-O", "qcow2", "-l", "s1", "v3.qcow2"],
    ["-O", "qcow2", "-l", "snapshot.id=1", "v3.qcow2"],
    ["-O", "qcow2", "-o", "cluster_size=512", "-U", "v3.qcow2"],
    ["-O", "qcow2", "-o", "backing_file=x", "v3.qcow2"],
    ["-O", "qcow2", "-o", "preallocation=full", "v3.qcow2"],
    ["-O", "raw", "v3.qcow2"],
    ["-O", "qcow2", "v2.qcow2"],
    ["--output=json", "-O", "qcow2", "v2.qcow2"],
    ["-O", "qcow2", "top.qcow2"],
    ["-O", "qcow2", "-o", "cluster_size=2M", "top.qcow2"],
    ["-O", "qcow2", "comp.qcow2"],
    ["-O", "qcow2", "meta.qcow2"],
]


@pytest.mark.parametrize("args", SOURCES, ids=[" ".join(a) for a in SOURCES])
def test_source_like_qemu_img(sources, args):
    res = same_as_qemu_img(args, sources)
    assert res.returncode == 0


def test_required_fits_a_real_conversion(sources, tmp_path):
    """What measure says is required holds the image convert makes."""
    out = tmp_path / "o.qcow2"
    res = ok(run([IMG, "measure", "--output=json", "-O", "qcow2", sources / "v3.qcow2"]))
    required = int(res.stdout.split('"required": ')[1].split(",")[0])
    ok(run([IMG, "convert", "-O", "qcow2", sources / "v3.qcow2", out]))
    assert os.path.getsize(out) <= required
    ok(run([IMG, "convert", "-O", "qcow2", "-o", "preallocation=full", sources / "v3.qcow2",
            out]))
    full = ok(run([IMG, "measure", "-O", "qcow2", "-o", "preallocation=full",
                   sources / "v3.qcow2"])).stdout.splitlines()[0].split(": ")[1]
    assert os.path.getsize(out) <= int(full)
    assert os.stat(out).st_blocks * 512 >= 64 * MiB


ERRORS = [
    [],
    ["-O", "qcow2"],
    ["-O", "qcow2", "--size", "1G", "data.raw"],
    ["-O", "qcow2", "data.raw", "data.raw"],
    ["-f", "raw", "--size", "1M"],
    ["-l", "s1", "--size", "1M"],
    ["--size", "1x"],
    ["--size", "-1"],
    ["--size", "8E"],
    ["--output=xml", "--size", "1M"],
    ["-O", "nosuch", "--size", "1M"],
    ["-O", "qcow2", "-o", "help", "--size", "1M"],
    ["-O", "qcow2", "-o", "bogus=1", "--size", "1M"],
    ["-O", "qcow2", "-o", "lazy_refcounts=bogus", "--size", "1M"],
    ["-O", "qcow2", "-o", "cluster_size=3k", "--size", "1M"],
    ["-O", "qcow2", "-o", "cluster_size=4M", "--size", "1M"],
    ["-O", "qcow2", "-o", "extended_l2=on,cluster_size=8k", "--size", "1M"],
    ["-O", "qcow2", "-o", "compat=v3", "--size", "1M"],
    ["-O", "qcow2", "-o", "refcount_bits=3", "--size", "1M"],
    ["-O", "qcow2", "-o", "compat=0.10,refcount_bits=8", "--size", "1M"],
    ["-O", "qcow2", "-o", "preallocation=bogus", "--size", "1M"],
    ["-O", "qcow2", "-o", "cluster_size=512", "--size", "512G"],
    ["-O", "qcow2", "-o", ",", "--size", "1M"],
    ["-O", "qcow2", "nonexist"],
    ["-O", "qcow2", "-l", "nosuch", "v3.qcow2"],
    ["-O", "qcow2", "-l", "snapshot.foo=1", "v3.qcow2"],
]


@pytest.mark.parametrize("args", ERRORS, ids=[" ".join(a) for a in ERRORS])
def test_errors_like_qemu_img(sources, args):
    res = same_as_qemu_img(args, sources)
    assert res.returncode == 1
