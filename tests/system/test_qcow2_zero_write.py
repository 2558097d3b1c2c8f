"""Zero writes into qcow2 images against QEMU 7.2: which clusters become zero clusters and
which get data.

Each case builds the same images with qemu-img/qemu-io (a backing file with data, a
compressed cluster and zeroes, shorter than the overlay; an overlay, v3 or v2, with or
without the backing file, sometimes with clusters of its own), then runs the same write
commands with qemu-io in one copy and with minivmm-io in the other. Both results must pass
`qemu-img check`, read the same (`qemu-img compare`), and have the same `qemu-img map`
(offsets left out): QEMU widens a zero write over part of a cluster to the whole cluster when
the rest of it already reads as zeroes and the cluster holds no data, and writes a zero
cluster; everything else is written as data. v2 has no zero flag: without a backing file
QEMU leaves (or makes) the clusters unallocated, with one it writes zeroes as data. The
discard cases compare the same way.
"""

import json
import os

import pytest

from img_lib import IO, needs_qemu_utils, run

K = 1024

pytestmark = needs_qemu_utils


def ok(res):
    assert res.returncode == 0, res.stdout + res.stderr
    assert "failed" not in res.stdout and "error" not in res.stdout.lower(), res.stdout
    return res


def io(prog, image, commands, opts=()):
    argv = [prog] + list(opts)
    for c in commands:
        argv += ["-c", c]
    return ok(run(argv + [image]))


# The backing file: 1 MiB + 32 KiB (its last cluster is half past its end), data in
# [0, 4k), a compressed cluster at 128k, zeroes written as data at 256k.
BASE = ["write -P 0xaa 0 4k", "write -c -P 0xbb 128k 64k", "write -P 0 256k 64k"]


def build(d, compat, backing, pre):
    base, img = d / "base.qcow2", d / "img.qcow2"
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", base, str(1024 * K + 32 * K)]))
    io("qemu-io", base, BASE, ["-f", "qcow2"])
    argv = ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=" + compat]
    if backing:
        argv += ["-b", "base.qcow2", "-F", "qcow2"]
    ok(run(argv + [img, str(2 * 1024 * K + 4 * K)], cwd=d))
    if pre:
        io("qemu-io", img, pre, ["-f", "qcow2"])
    return img


def layout(img):
    """qemu-img map without host offsets (only whether there is one: a zero cluster that
    keeps its host cluster has one), adjacent entries of the same kind merged."""
    out = []
    for e in json.loads(ok(run(["qemu-img", "map", "--output=json", img])).stdout):
        key = (e["depth"], e["present"], e["data"], e["zero"], "offset" in e)
        if out and out[-1][2:] == key and out[-1][0] + out[-1][1] == e["start"]:
            out[-1] = (out[-1][0], out[-1][1] + e["length"]) + key
        else:
            out.append((e["start"], e["length"]) + key)
    return out


CASES = {
    # no backing file: the rest of the cluster is unallocated, reads as zeroes
    "head-tail-no-backing": ("1.1", False, [], ["write -z 4k 8k", "write -z 60k 200k"]),
    # past the end of the backing file, and across it (its last cluster is half inside)
    "past-backing-end": ("1.1", True, [], ["write -z 1092k 8k", "write -z 1032k 4k"]),
    "straddling-backing-end": ("1.1", True, [], ["write -z 1060k 4k"]),
    # backing data beside the range: must stay data (a zero cluster would hide it)
    "beside-backing-data": ("1.1", True, [], ["write -z 4k 8k", "write -z 132k 4k"]),
    # the backing file's zeroes written as data count as data, as block status says
    "beside-backing-zero-data": ("1.1", True, [], ["write -z 260k 4k"]),
    # unallocated everywhere in the chain: zero cluster; whole clusters in the middle too
    "unallocated-in-chain": ("1.1", True, [], ["write -z 516k 4k", "write -z 700k 300k"]),
    # the image's own clusters: data stays data (zeroed in place), zero stays zero
    "own-data": ("1.1", True, ["write -P 0xcc 576k 64k"], ["write -z 580k 4k"]),
    "own-zero": ("1.1", True, ["write -z 576k 64k"], ["write -z 580k 4k"]),
    # a zero cluster that kept its host cluster keeps it (without -u)
    "own-zero-alloc": ("1.1", False, ["write -P 0xcc 576k 64k", "write -z 576k 64k"],
                       ["write -z 576k 64k", "write -z 580k 4k"]),
    "own-compressed": ("1.1", False, ["write -c -P 0xdd 576k 64k"], ["write -z 580k 4k"]),
    # the end of the disk is not cluster aligned: the tail past it does not count
    "disk-end": ("1.1", True, [], ["write -z 2049k 3k"]),
    # byte granularity, below a sector
    "sub-sector": ("1.1", True, [], ["write -z 1000 3000", "write -z 517000 100"]),
    # v2 has no zero flag: with a backing file zeroes are written as data; without one,
    # unallocated clusters read as zeroes and zeroed ones are unmapped
    "v2-backing": ("0.10", True, [], ["write -z 516k 4k", "write -z 1092k 8k"]),
    "v2-no-backing": ("0.10", False, ["write -P 1 0 64k", "write -P 1 128k 4k"],
                      ["write -z 4k 8k", "write -z 128k 64k", "write -z 260k 4k"]),
    # discard: v3 makes allocated (and, over a backing file, unallocated) clusters zero
    # clusters; v2 unallocates them without a backing file and leaves them with one
    "discard-v3-no-backing": ("1.1", False, ["write -P 0xcc 576k 64k", "write -z 704k 64k"],
                              ["discard 576k 64k", "discard 640k 192k", "discard 4k 8k"]),
    "discard-v3-backing": ("1.1", True, ["write -P 0xcc 576k 64k"],
                           ["discard 512k 192k", "discard 0 64k"]),
    "discard-v2-no-backing": ("0.10", False, ["write -P 0xcc 576k 64k"], ["discard 512k 192k"]),
    "discard-v2-backing": ("0.10", True, ["write -P 0xcc 576k 64k"], ["discard 512k 192k"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_zero_write_layout(tmp_path, name):
    compat, backing, pre, cmds = CASES[name]
    images = {}
    for prog, sub in (("qemu-io", "q"), (IO, "m")):
        d = tmp_path / sub
        os.makedirs(d)
        images[sub] = build(d, compat, backing, pre)
        io(prog, images[sub], cmds, ["-f", "qcow2"])
        res = run(["qemu-img", "check", images[sub]])
        assert res.returncode == 0, res.stdout + res.stderr
    ok(run(["qemu-img", "compare", images["q"], images["m"]]))
    assert layout(images["m"]) == layout(images["q"])


def test_detect_zeroes_guest_writes(tmp_path):
    """detect-zeroes=on: a guest write of zeroes over part of a cluster becomes a zero write."""
    images = {}
    cmds = ["write -P 0 516k 4k", "write -P 0 1092k 8k", "write -P 0 4k 4k"]
    for sub in ("q", "m"):
        d = tmp_path / sub
        os.makedirs(d)
        images[sub] = build(d, "1.1", True, [])
    io("qemu-io", "driver=qcow2,file.filename=%s,detect-zeroes=on" % images["q"], cmds,
       ["--image-opts"])
    io(IO, images["m"], cmds, ["-f", "qcow2", "-o", "detect-zeroes=on"])
    for img in images.values():
        res = run(["qemu-img", "check", img])
        assert res.returncode == 0, res.stdout + res.stderr
    ok(run(["qemu-img", "compare", images["q"], images["m"]]))
    assert layout(images["m"]) == layout(images["q"])
