"""minivmm-img snapshot -d against qemu-img 7.2: deleting an internal snapshot that shares
clusters with the active layer and with other snapshots.

The image is written by qemu-io (random 4 KiB writes with a fixed seed, a few compressed
clusters) with snapshots taken in between, so both tools start from the same bytes. After
each delete the image must pass `qemu-img check` and `minivmm-img check` with no leaks and no
errors, the remaining snapshots and the active layer must read as before, and the image must
read as the one qemu-img left after the same delete. Freed clusters are discarded in the file
in merged runs as qemu-img does (one synchronous discard per cluster made the delete slow on
a file system mounted with `discard`): counted with strace where it is installed.
"""

import random
import re
import shutil

import pytest

from img_lib import IMG, MiB, needs_qemu_utils, ok, run


pytestmark = needs_qemu_utils


def random_writes(img, seed, count, size):
    rnd = random.Random(seed)
    cmds = "".join("write -q -P %d %d 4k\n" % (rnd.randrange(1, 255),
                                              rnd.randrange(size // 4096) * 4096)
                   for _ in range(count))
    res = ok(run(["qemu-io", "-f", "qcow2", img], stdin=cmds))
    assert "error" not in res.stdout.lower(), res.stdout


def make_image(path, cluster_size, size=16 * MiB):
    """Snapshots s1, s2, s3 with random writes before, between and after them."""
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=%d" % cluster_size,
            path, size]))
    # compressed clusters (qemu-io writes them only into unallocated ones), then data
    ok(run(["qemu-io", "-f", "qcow2", "-c", "write -c -P 0x5a 0 %d" % (4 * cluster_size),
            path]))
    random_writes(path, 1, 600, size)
    for i, name in enumerate(("s1", "s2", "s3")):
        ok(run(["qemu-img", "snapshot", "-c", name, path]))
        random_writes(path, 10 + i, 400, size)


def export(img, snapshot, out):
    argv = ["qemu-img", "convert", "-O", "raw"]
    if snapshot:
        argv += ["-l", "snapshot.name=" + snapshot]
    ok(run(argv + [img, out]))


def views(img, names, tmp_path, tag):
    """The active layer and each named snapshot as raw files."""
    out = {}
    for name in [None] + list(names):
        out[name] = tmp_path / ("%s-%s.raw" % (tag, name or "active"))
        export(img, name, out[name])
    return out


def assert_clean(img):
    res = run(["qemu-img", "check", img])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No errors were found on the image." in res.stdout, res.stdout
    res = run([IMG, "check", img])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No errors were found on the image." in res.stdout, res.stdout


def same(a, b):
    res = run(["qemu-img", "compare", a, b])
    assert res.returncode == 0, res.stdout + res.stderr


def snapshot_names(img):
    res = ok(run(["qemu-img", "snapshot", "-l", img]))
    return [l.split()[1] for l in res.stdout.splitlines()[2:]]


@pytest.mark.parametrize("cluster_size", [512, 4096, 65536])
def test_delete_shared_snapshots(tmp_path, cluster_size):
    base = tmp_path / "base.qcow2"
    make_image(base, cluster_size)
    mine, theirs = tmp_path / "m.qcow2", tmp_path / "q.qcow2"
    shutil.copy(base, mine)
    shutil.copy(base, theirs)
    # the middle one first (shared with s1, s3 and the active layer), then the others
    for victim in ("s2", "s1", "s3"):
        left = [n for n in snapshot_names(mine) if n != victim]
        before = views(mine, left, tmp_path, "before-" + victim)
        ok(run([IMG, "snapshot", "-d", victim, mine]))
        ok(run(["qemu-img", "snapshot", "-d", victim, theirs]))
        assert snapshot_names(mine) == left
        assert_clean(mine)
        after = views(mine, left, tmp_path, "after-" + victim)
        for name in before:
            same(before[name], after[name])
        same(mine, theirs)
        for name in left:
            export(theirs, name, tmp_path / "q.raw")
            same(after[name], tmp_path / "q.raw")


def discards(prog, img):
    """File discards (fallocate calls) made by `prog snapshot -d s2 img`."""
    log = str(img) + ".strace"
    ok(run(["strace", "-f", "-e", "trace=fallocate", "-o", log, prog, "snapshot", "-d", "s2",
            img]))
    with open(log) as f:
        return len([l for l in f if re.search(r"fallocate\(.*PUNCH_HOLE", l)])


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_delete_discards_in_runs(tmp_path):
    base = tmp_path / "base.qcow2"
    make_image(base, 65536)
    mine, theirs = tmp_path / "m.qcow2", tmp_path / "q.qcow2"
    shutil.copy(base, mine)
    shutil.copy(base, theirs)
    n_mine, n_theirs = discards(IMG, mine), discards("qemu-img", theirs)
    # qemu-img merges the runs of freed clusters; so must we (before: one per cluster)
    assert n_mine <= n_theirs + 2, (n_mine, n_theirs)
    assert_clean(mine)
    same(mine, theirs)
