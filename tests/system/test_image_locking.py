"""Image locking (docs/locking.md): a running VMM locks its images as QEMU 2.10+ does, so
minivmm, minivmm-img, QEMU 7.2 and qemu-img 7.2 keep out of each other's way.

The VM under test (--vmm) holds images; minivmm-img and qemu-img (both, always) try them and
must fail with QEMU 7.2's text and leave the image unchanged, or succeed with -U. Second VMs
of both kinds try them too. The locked bytes themselves are read from /proc/locks and must be
the ones QEMU 7.2 locks. The lifecycle cases (drive_del, eject, quit, snapshot, commit) use
minivmm's and QEMU's monitors alike.
"""

import hashlib
import json
import os
import shutil
import subprocess

import pytest

import vm as vmlib
from qmp_vm import QMP, QMPError, base_args, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMG = os.environ.get("MINIVMM_IMG") or os.path.join(ROOT, "minivmm-img")
TOOLS = ["qemu-img", IMG]

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                reason="qemu-img (Debian qemu-utils) not installed")

# What QEMU 7.2 locks for a qcow2 image: 100+i held, 200+i not shared (i: consistent read,
# write, write unchanged, resize).
RW_BYTES = [100, 101, 103, 201, 203]
RO_BYTES = [100, 201, 203]


def run(argv, cwd):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60,
                          cwd=cwd)


def ok(res):
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def lock_bytes(path):
    """The bytes of path that some process holds an OFD lock on (from /proc/locks)."""
    ino = os.stat(path).st_ino
    out = set()
    with open("/proc/locks") as f:
        for line in f:
            fields = line.split()
            if fields[1] == "->":
                fields = fields[:1] + fields[2:]
            if fields[1] == "OFDLCK" and int(fields[5].split(":")[2]) == ino:
                out.update(range(int(fields[6]), int(fields[7]) + 1))
    return sorted(out)


def lock_error(prog, name, shared):
    kind = "shared " if shared else ""
    return (f"{os.path.basename(prog)}: Could not open '{name}': "
            f"Failed to get {kind}\"write\" lock\nIs another process using the image [{name}]?\n")


@pytest.fixture
def chain(tmp_path):
    """base.qcow2 <- top.qcow2, and other.qcow2 (also over base), in tmp_path."""
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "4M"], tmp_path))
    ok(run(["qemu-io", "-c", "write -P 0x5a 0 64k", "base.qcow2"], tmp_path))
    for name in ("top.qcow2", "other.qcow2"):
        ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
                name], tmp_path))
    return tmp_path


def drive(path, id_="d0", extra=""):
    return ["-drive", f"file={path},if=none,id={id_}{extra}"]


def start(make_vm, tmp_path, backend, *args, name="qmp"):
    """A paused VM holding what args open: (vm, QMP); its drives are open once QMP answers."""
    sock = str(tmp_path / f"{name}.sock")
    vm = make_vm(base_args(backend, paused=True) + ["-qmp", f"unix:{sock},server,nowait"]
                 + list(args), backend=backend, name=name)
    qmp = QMP(sock)
    qmp.connect(retry_for=10)
    return vm, qmp


# ---- Tools against a running VM ----

@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
@pytest.mark.parametrize("args,shared", [
    (["info", "@"], True), (["check", "@"], True), (["map", "@"], True),
    (["snapshot", "-l", "@"], True), (["compare", "@", "other.qcow2"], True),
    (["convert", "-O", "raw", "@", "out.raw"], True), (["commit", "@"], False),
    (["snapshot", "-c", "s1", "@"], False), (["resize", "@", "8M"], False),
    (["rebase", "-u", "-b", "", "@"], False), (["check", "-r", "all", "@"], False),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_tool_refused_on_image_in_use(chain, make_vm, vmm, prog, args, shared):
    start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    before = digest(chain / "top.qcow2")
    argv = ["top.qcow2" if a == "@" else a for a in args]
    res = run([prog] + argv, chain)
    assert res.returncode != 0
    assert res.stderr == lock_error(prog, "top.qcow2", shared)
    assert digest(chain / "top.qcow2") == before
    assert not os.path.exists(chain / "out.raw")


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
@pytest.mark.parametrize("args,prefix", [
    (["create", "-q", "-f", "qcow2", "@", "1M"], ""),
    (["create", "-q", "-f", "raw", "@", "1M"], ""),
    (["convert", "-O", "qcow2", "other.qcow2", "@"], "error while converting qcow2: "),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_create_refused_over_image_in_use(chain, make_vm, vmm, prog, args, prefix):
    """Creating an image truncates the file: refused while a VM uses it, as qemu-img does."""
    start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    before = digest(chain / "top.qcow2")
    res = run([prog] + ["top.qcow2" if a == "@" else a for a in args], chain)
    assert res.returncode == 1
    assert res.stderr == (f"{os.path.basename(prog)}: top.qcow2: {prefix}Failed to get "
                          "\"write\" lock\nIs another process using the image [top.qcow2]?\n")
    assert digest(chain / "top.qcow2") == before


def formatting(name, size, backing):
    return (f"Formatting '{name}', fmt=qcow2 cluster_size=65536 extended_l2=off "
            f"compression_type=zlib size={size} backing_file={backing} backing_fmt=qcow2 "
            "lazy_refcounts=off refcount_bits=16\n")


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
@pytest.mark.parametrize("extra,held", [("", RW_BYTES), (",read-only=on", RO_BYTES)],
                         ids=["written", "read"])
def test_create_overlay_of_image_in_use(chain, make_vm, vmm, prog, extra, held):
    """create -b opens the backing file, which a VM writes or reads, with force-share
    (qemu-img 7.2): only its format and size are read. The size comes from it when none is
    given; -u opens nothing and then needs a size; without -F the format is detected and
    refused. Also through a chain (top.qcow2 over the VM's base). The VM keeps its locks."""
    start(make_vm, chain, vmm, *drive(chain / "base.qcow2", extra=extra))
    before = digest(chain / "base.qcow2")
    name = os.path.basename(prog)
    fmt = ["-F", "qcow2"]
    for new, backing, opts, size, err in (
            ("o1.qcow2", "base.qcow2", fmt, [], None),
            ("o2.qcow2", "base.qcow2", fmt, ["8M"], None),
            ("o3.qcow2", "base.qcow2", fmt + ["-u"], ["8M"], None),
            ("o4.qcow2", "base.qcow2", fmt + ["-u"], [], "Image creation needs a size "
             "parameter\n"),
            ("o5.qcow2", "base.qcow2", [], [], "Backing file specified without backing "
             "format\nDetected format of qcow2."),
            ("o6.qcow2", "top.qcow2", fmt, [], None)):
        res = run([prog, "create", "-f", "qcow2", "-b", backing] + opts + [new] + size, chain)
        if err:
            assert (res.returncode, res.stdout, res.stderr) == (1, "", f"{name}: {new}: {err}")
            assert not os.path.exists(chain / new)
            continue
        want = 8388608 if size else 4194304
        assert (res.returncode, res.stdout, res.stderr) == (0, formatting(new, want, backing),
                                                            "")
        info = json.loads(ok(run(["qemu-img", "info", "-U", "--output=json", new],
                                 chain)).stdout)
        assert (info["virtual-size"], info["backing-filename"]) == (want, backing)
    assert lock_bytes(chain / "base.qcow2") == held
    assert digest(chain / "base.qcow2") == before


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
def test_overlay_made_for_snapshot_existing(chain, make_vm, vmm, prog):
    """The workflow: while a VM writes its disk, an overlay of it is created (size from the
    disk) and taken on by blockdev-snapshot-sync mode=existing."""
    vm, qmp = start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    ok(run([prog, "create", "-q", "-f", "qcow2", "-b", "top.qcow2", "-F", "qcow2",
            "new.qcow2"], chain))
    qmp.command("blockdev-snapshot-sync", {"device": "d0", "format": "qcow2", "mode": "existing",
                                           "snapshot-file": str(chain / "new.qcow2")})
    # QEMU 7.2 names the node json:{...}, with the new file's name in it
    assert f'{chain / "new.qcow2"}' in qmp.command("query-block")[0]["inserted"]["file"]
    assert lock_bytes(chain / "new.qcow2") == RW_BYTES
    assert lock_bytes(chain / "top.qcow2") == RO_BYTES


def test_snapshot_file_in_use_refused(chain, make_vm, vmm):
    """blockdev-snapshot-sync does not create its overlay over an image another VM uses, nor
    over one of its own."""
    vm, qmp = start(make_vm, chain, vmm, *drive(chain / "top.qcow2"), name="a")
    start(make_vm, chain, "qemu", *drive(chain / "other.qcow2"), name="b")
    for victim in ("other.qcow2", "base.qcow2"):
        before = digest(chain / victim)
        with pytest.raises(QMPError) as e:
            qmp.command("blockdev-snapshot-sync", {"device": "d0", "format": "qcow2",
                                                   "snapshot-file": str(chain / victim)})
        assert e.value.desc == 'Failed to get "write" lock'
        assert digest(chain / victim) == before
    assert lock_bytes(chain / "top.qcow2") == RW_BYTES


LOCKED = 'Failed to get "write" lock'


@pytest.mark.parametrize("target,mode,text", [
    pytest.param("base.qcow2", "absolute-paths", LOCKED, id="backing-new"),
    pytest.param("base.qcow2", "existing", LOCKED, id="backing-existing"),
    pytest.param("top.qcow2", "existing", LOCKED, id="itself-existing"),
    pytest.param("./top.qcow2", "absolute-paths", LOCKED, id="itself-other-name-new"),
    pytest.param("other.qcow2", "existing", LOCKED, id="other-drive-existing"),
    pytest.param("top.qcow2", "absolute-paths",
                 "Error: Trying to create an image with the same filename as the backing file",
                 id="itself-new"),
])
def test_snapshot_onto_file_of_this_vm(chain, make_vm, vmm, target, mode, text):
    """blockdev-snapshot-sync onto an image this VM uses (the drive's own chain, another drive)
    is refused as QEMU 7.2's locks refuse it; the one name 2.2 already compared (the drive's
    image itself as a new overlay) keeps 2.2's text, which 7.2 has too. Nothing changes."""
    vm, qmp = start(make_vm, chain, vmm, *drive(chain / "top.qcow2"),
                    *drive(chain / "other.qcow2", "d1"))
    path = f"{chain}/{target}"
    before = {n: digest(chain / n) for n in ("base.qcow2", "top.qcow2", "other.qcow2")}
    args = {"device": "d0", "format": "qcow2", "snapshot-file": path, "mode": mode}
    with pytest.raises(QMPError) as e:
        qmp.command("blockdev-snapshot-sync", args)
    assert e.value.desc == text
    hint = f"\r\nIs another process using the image [{path}]?" if "lock" in text else ""
    new = "-n " if mode == "existing" else ""
    out = hmp(qmp, f"snapshot_blkdev {new}d0 {path} qcow2")
    assert out == ("" if vmm == "minivmm" else "Error: ") + text + hint + "\r\n"
    assert {n: digest(chain / n) for n in before} == before
    assert qmp.command("query-block")[0]["inserted"]["file"] == str(chain / "top.qcow2")
    assert lock_bytes(chain / "top.qcow2") == RW_BYTES


def test_snapshot_onto_own_chain_unlocked(chain, make_vm, vmm):
    """With locking=off nothing refuses in QEMU (2.2 and 7.2 overwrite the running chain);
    minivmm still refuses a file of the drive's own chain, in its own words."""
    if vmm != "minivmm":
        pytest.skip("QEMU overwrites the image")
    vm, qmp = start(make_vm, chain, vmm, *drive(
        chain / "top.qcow2", extra=",file.locking=off,backing.file.locking=off"))
    assert lock_bytes(chain / "base.qcow2") == []
    before = digest(chain / "base.qcow2")
    for target, mode in (("base.qcow2", "absolute-paths"), ("base.qcow2", "existing"),
                         ("top.qcow2", "existing")):
        with pytest.raises(QMPError) as e:
            qmp.command("blockdev-snapshot-sync", {"device": "d0", "format": "qcow2",
                                                   "snapshot-file": str(chain / target),
                                                   "mode": mode})
        assert e.value.desc == "Could not create file: Device or resource busy"
    assert digest(chain / "base.qcow2") == before


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
@pytest.mark.parametrize("args", [["info", "-U"], ["check", "-U"], ["map", "-U"],
                                  ["snapshot", "-l", "-U"], ["info", "--force-share"]],
                         ids=" ".join)
def test_force_share_peeks(chain, make_vm, vmm, prog, args):
    start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    ok(run([prog] + args + ["top.qcow2"], chain))
    ok(run([prog, "compare", "-U", "top.qcow2", "other.qcow2"], chain))
    ok(run([prog, "convert", "-U", "-O", "raw", "top.qcow2", "out.raw"], chain))


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
@pytest.mark.parametrize("args", [["check", "-r", "leaks", "-U"], ["snapshot", "-U", "-c", "s"]],
                         ids=" ".join)
def test_force_share_needs_read_only(chain, prog, args):
    res = run([prog] + args + ["top.qcow2"], chain)
    assert res.returncode == 1
    assert res.stderr == (f"{os.path.basename(prog)}: Could not open 'top.qcow2': "
                          "force-share=on can only be used with read-only images\n")


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
@pytest.mark.parametrize("opt", ["-U", "--force-share"])
@pytest.mark.parametrize("unsafe", [[], ["-u"]], ids=["safe", "unsafe"])
def test_rebase_force_share(chain, make_vm, vmm, prog, opt, unsafe):
    """rebase -U (qemu-img 7.2): the new backing file, which a VM writes, is read without
    locking it; the image itself is locked as usual."""
    start(make_vm, chain, vmm, *drive(chain / "other.qcow2"))
    ok(run([prog, "rebase", opt] + unsafe + ["-b", "other.qcow2", "-F", "qcow2", "top.qcow2"],
           chain))
    info = ok(run(["qemu-img", "info", "-U", "top.qcow2"], chain)).stdout
    assert "backing file: other.qcow2\n" in info
    res = run([prog, "rebase", opt] + unsafe + ["-b", "base.qcow2", "-F", "qcow2",
                                               "other.qcow2"], chain)
    assert res.returncode == 1
    assert res.stderr == lock_error(prog, "other.qcow2", False)


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
def test_tool_backing_file_in_use_hint(chain, make_vm, vmm, prog):
    """Errors re-wrapped on their way up keep the hint, as qemu-img prints it: a backing file
    opened through the image, rebase's new backing file."""
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "lone.qcow2", "4M"], chain))
    start(make_vm, chain, vmm, *drive(chain / "base.qcow2"))
    name = os.path.basename(prog)
    hint = "Is another process using the image [base.qcow2]?\n"
    backing = f"Could not open backing file: Failed to get shared \"write\" lock\n{hint}"
    opened = f"Could not open 'top.qcow2': {backing}"
    for args, status, text in (
            (["check", "top.qcow2"], 1, opened),
            (["map", "top.qcow2"], 1, opened),
            (["convert", "-O", "raw", "top.qcow2", "out.raw"], 1, opened),
            (["commit", "top.qcow2"], 1, opened),
            (["compare", "lone.qcow2", "other.qcow2"], 2,
             f"Could not open 'other.qcow2': {backing}"),
            (["rebase", "-b", "base.qcow2", "-F", "qcow2", "lone.qcow2"], 1,
             f"Could not open new backing file 'base.qcow2': Failed to get shared \"write\" "
             f"lock\n{hint}")):
        res = run([prog] + args, chain)
        assert res.returncode == status
        assert res.stderr == f"{name}: {text}"


SNAPSHOT_ACTIONS = [["-l"], ["-c", "s1"], ["-a", "s0"], ["-d", "s0"], []]


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
@pytest.mark.parametrize("args", SNAPSHOT_ACTIONS, ids=lambda a: " ".join(a) or "none")
def test_snapshot_opens_backing_chain(chain, make_vm, vmm, prog, args):
    """snapshot opens the image with its backing chain, as qemu-img 7.2: while a VM writes
    the backing file every action (and none) fails with the backing file's lock error and
    the image is unchanged; -U lets -l peek and, as ever, refuses the writing actions."""
    ok(run(["qemu-img", "snapshot", "-c", "s0", "top.qcow2"], chain))
    start(make_vm, chain, vmm, *drive(chain / "base.qcow2"))
    before = digest(chain / "top.qcow2")
    name = os.path.basename(prog)
    res = run([prog, "snapshot"] + args + ["top.qcow2"], chain)
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == (f"{name}: Could not open 'top.qcow2': Could not open backing file: "
                          "Failed to get shared \"write\" lock\nIs another process using the "
                          "image [base.qcow2]?\n")
    res = run([prog, "snapshot", "-U"] + args + ["top.qcow2"], chain)
    if args == ["-l"]:
        assert res.returncode == 0 and "\n1         s0 " in res.stdout
    else:
        assert (res.returncode, res.stderr) == (1, f"{name}: Could not open 'top.qcow2': "
                                                "force-share=on can only be used with "
                                                "read-only images\n")
    assert digest(chain / "top.qcow2") == before
    assert lock_bytes(chain / "base.qcow2") == RW_BYTES


@pytest.mark.parametrize("prog", TOOLS, ids=["qemu-img", "minivmm-img"])
def test_snapshot_backing_file_read_elsewhere(chain, make_vm, vmm, prog):
    """A backing file other VMs only read is shared: every action works."""
    ok(run(["qemu-img", "snapshot", "-c", "s0", "top.qcow2"], chain))
    start(make_vm, chain, vmm, *drive(chain / "other.qcow2"))
    for args in SNAPSHOT_ACTIONS:
        ok(run([prog, "snapshot"] + args + ["top.qcow2"], chain))
    listing = ok(run(["qemu-img", "snapshot", "-l", "top.qcow2"], chain)).stdout
    assert " s0 " not in listing and " s1 " in listing
    assert "No errors were found" in ok(run(["qemu-img", "check", "top.qcow2"], chain)).stdout
    assert lock_bytes(chain / "base.qcow2") == RO_BYTES


def test_hmp_error_hint(chain, make_vm, vmm):
    """HMP prints the hint after the message (QMP leaves it out): QEMU 7.2 does, with its
    "Error: " prefix that 2.2's HMP, and so minivmm's, does not have."""
    vm, qmp = start(make_vm, chain, vmm, *drive(chain / "top.qcow2"), name="a")
    start(make_vm, chain, "qemu", *drive(chain / "other.qcow2"), name="b")
    victim = chain / "other.qcow2"
    before = digest(victim)
    tail = f'Failed to get "write" lock\r\nIs another process using the image [{victim}]?\r\n'
    add = "could not open disk image %s: " % victim if vmm == "minivmm" else ""
    error = "" if vmm == "minivmm" else "Error: "
    assert hmp(qmp, f"drive_add 0 file={victim},if=none,id=x1") == add + tail
    assert hmp(qmp, f"snapshot_blkdev -n d0 {victim} qcow2") == error + tail
    with pytest.raises(QMPError) as e:
        qmp.command("blockdev-snapshot-sync", {"device": "d0", "format": "qcow2",
                                               "snapshot-file": str(victim),
                                               "mode": "existing"})
    assert e.value.desc == 'Failed to get "write" lock'
    assert digest(victim) == before


IO = os.environ.get("MINIVMM_IO") or os.path.join(ROOT, "minivmm-io")


@pytest.mark.parametrize("prog", ["qemu-io", IO], ids=["qemu-io", "minivmm-io"])
def test_io_tool_refused_or_peeks(chain, make_vm, vmm, prog):
    start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    name = os.path.basename(prog)
    hint = "Is another process using the image [top.qcow2]?\n"
    for args, text in ((["-r"], 'Failed to get shared "write" lock\n' + hint),
                       ([], 'Failed to get "write" lock\n' + hint),
                       (["-U"], "force-share=on can only be used with read-only images\n")):
        res = run([prog] + args + ["-c", "read 0 4k", "top.qcow2"], chain)
        assert res.returncode == 1
        assert res.stderr == f"{name}: can't open device top.qcow2: {text}"
    ok(run([prog, "-r", "-U", "-c", "read 0 4k", "top.qcow2"], chain))


def test_locks_the_bytes_qemu_locks(chain, make_vm, vmm):
    """The same bytes on the image and on its backing file as Debian's QEMU 7.2."""
    start(make_vm, chain, vmm, *drive(chain / "top.qcow2"),
          *drive(chain / "other.qcow2", "d1", ",read-only=on"))
    assert lock_bytes(chain / "top.qcow2") == RW_BYTES
    assert lock_bytes(chain / "other.qcow2") == RO_BYTES
    assert lock_bytes(chain / "base.qcow2") == RO_BYTES


# ---- Second VMs ----

@pytest.mark.parametrize("second", ["minivmm", "qemu"])
def test_second_vm_cannot_open_image_in_use(chain, make_vm, run_expect_fail, vmm, second):
    start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    path = chain / "top.qcow2"
    for extra, shared in (("", False), (",read-only=on", True)):
        opt = f"file={path},if=none,id=d0{extra}"
        if second == vmm:
            status, err = run_expect_fail(base_args(second) + ["-drive", opt])
        else:
            status, err = run_other_vm(second, ["-drive", opt])
        assert status == 1
        kind = "shared " if shared else ""
        assert f'Failed to get {kind}"write" lock\nIs another process using the image ' \
               f"[{path}]?\n" in err


@pytest.mark.parametrize("second", ["minivmm", "qemu"])
def test_second_vm_backing_file_in_use_hint(chain, make_vm, run_expect_fail, vmm, second):
    """A backing file another VM writes: the error wrapped by "Could not open backing file"
    keeps its hint (who holds the lock)."""
    start(make_vm, chain, vmm, *drive(chain / "base.qcow2"))
    opt = f"file={chain / 'top.qcow2'},if=none,id=d0"
    if second == vmm:
        status, err = run_expect_fail(base_args(second) + ["-drive", opt])
    else:
        status, err = run_other_vm(second, ["-drive", opt])
    assert status == 1
    prefix = f"could not open disk image {chain / 'top.qcow2'}: " if second == "minivmm" else ""
    assert err.endswith(f"-drive {opt}: {prefix}Could not open backing file: Failed to get "
                        f"shared \"write\" lock\nIs another process using the image "
                        f"[{chain / 'base.qcow2'}]?\n")


def run_other_vm(backend, args):
    cmd = vmlib.base_command(backend, base_args(backend) + ["-S"] + args)
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30)
    return done.returncode, done.stderr


@pytest.mark.parametrize("second", ["minivmm", "qemu"])
def test_backing_file_shared_read_only(chain, make_vm, vmm, second):
    """Two VMs over one backing file: both run; neither tool may then write the base."""
    start(make_vm, chain, vmm, *drive(chain / "top.qcow2"), name="a")
    start(make_vm, chain, second, *drive(chain / "other.qcow2"), name="b")
    assert lock_bytes(chain / "base.qcow2") == RO_BYTES
    ok(run(["qemu-img", "info", "base.qcow2"], chain))
    ok(run([IMG, "info", "base.qcow2"], chain))
    for prog in TOOLS:
        res = run([prog, "resize", "base.qcow2", "8M"], chain)
        assert res.stderr == lock_error(prog, "base.qcow2", False)


def test_locking_off(chain, make_vm, vmm):
    start(make_vm, chain, vmm, *drive(chain / "top.qcow2", extra=",file.locking=off"))
    assert lock_bytes(chain / "top.qcow2") == []
    ok(run([IMG, "info", "top.qcow2"], chain))


def test_locking_bad_value(chain, run_expect_fail, vmm):
    status, err = run_expect_fail(base_args(vmm) + drive(chain / "top.qcow2",
                                                         extra=",file.locking=maybe"))
    assert status == 1
    assert "invalid parameter value: maybe" in err


# ---- The locks follow the drive's life ----

def hmp(qmp, line):
    return qmp.command("human-monitor-command", {"command-line": line})


def test_released_by_drive_del(chain, make_vm, vmm):
    vm, qmp = start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    assert lock_bytes(chain / "top.qcow2") == RW_BYTES
    hmp(qmp, "drive_del d0")
    assert lock_bytes(chain / "top.qcow2") == []
    assert lock_bytes(chain / "base.qcow2") == []
    ok(run([IMG, "commit", "top.qcow2"], chain))


def test_released_by_eject(chain, make_vm, vmm, tmp_path):
    iso = tmp_path / "cd.raw"
    with open(iso, "wb") as f:
        f.truncate(1 << 20)
    vm, qmp = start(make_vm, chain, vmm, "-drive", f"file={iso},format=raw,media=cdrom,if=ide,index=2")
    assert lock_bytes(iso)
    res = run([IMG, "resize", "-f", "raw", iso, "2M"], chain)
    assert "Failed to get \"write\" lock" in res.stderr
    qmp.command("eject", {"device": "ide1-cd0"})
    assert lock_bytes(iso) == []
    ok(run([IMG, "resize", "-f", "raw", iso, "2M"], chain))


def test_released_on_quit(chain, make_vm, vmm):
    vm, qmp = start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    qmp.command("quit")
    vm.wait_exit()
    assert lock_bytes(chain / "top.qcow2") == []
    ok(run([IMG, "snapshot", "-c", "s1", "top.qcow2"], chain))


def test_snapshot_downgrades_old_image(chain, make_vm, vmm):
    """blockdev-snapshot-sync reopens the old top read-only: readers may open it again."""
    vm, qmp = start(make_vm, chain, vmm, *drive(chain / "top.qcow2"))
    qmp.command("blockdev-snapshot-sync", {"device": "d0", "format": "qcow2",
                                           "snapshot-file": str(chain / "snap.qcow2")})
    assert lock_bytes(chain / "top.qcow2") == RO_BYTES
    assert lock_bytes(chain / "snap.qcow2") == RW_BYTES
    ok(run(["qemu-img", "info", "top.qcow2"], chain))
    res = run([IMG, "commit", "snap.qcow2"], chain)
    assert res.stderr == lock_error(IMG, "snap.qcow2", False)


def test_block_commit_takes_and_drops_write(chain, make_vm, vmm):
    """block-commit writes into base (taking write on it) and then gives it back; while
    another VM reads base, the commit is refused with the lock error and nothing changes."""
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "top.qcow2", "-F", "qcow2",
            "active.qcow2"], chain))
    ok(run(["qemu-io", "-c", "write -P 0xa5 0 64k", "top.qcow2"], chain))
    vm, qmp = start(make_vm, chain, vmm, *drive(chain / "active.qcow2"), name="a")
    other, oqmp = start(make_vm, chain, "qemu", *drive(chain / "other.qcow2"), name="b")
    before = digest(chain / "base.qcow2")
    args = {"device": "d0", "top": str(chain / "top.qcow2"), "base": str(chain / "base.qcow2")}
    with pytest.raises(QMPError) as e:
        qmp.command("block-commit", args)
    assert 'Failed to get "write" lock' in str(e.value)
    assert digest(chain / "base.qcow2") == before
    assert lock_bytes(chain / "base.qcow2") == RO_BYTES
    oqmp.command("quit")
    other.wait_exit()
    qmp.command("block-commit", args)
    wait_for(lambda: not qmp.command("query-block-jobs"), what="the commit job to end")
    assert lock_bytes(chain / "base.qcow2") == RO_BYTES
    assert lock_bytes(chain / "top.qcow2") == []
    ok(run(["qemu-io", "-r", "-U", "-c", "read -P 0xa5 0 64k", "base.qcow2"], chain))


def test_blockdev_add_locking_options(chain, make_vm, vmm):
    """minivmm's blockdev-add (QEMU 2.2's schema) takes QEMU 2.10's locking and force-share."""
    if vmm != "minivmm":
        pytest.skip("QEMU 7.2's blockdev-add has another schema")
    vm, qmp = start(make_vm, chain, vmm)

    def add(id_, name, file_extra=None, **extra):
        opts = {"id": id_, "driver": "qcow2",
                "file": {"driver": "file", "filename": str(chain / name), **(file_extra or {})},
                **extra}
        return qmp.command("blockdev-add", {"options": opts})

    with pytest.raises(QMPError) as e:
        add("a", "top.qcow2", {"locking": "maybe"})
    assert e.value.desc == "could not open disk image a: invalid parameter value: maybe"
    add("a", "top.qcow2", {"locking": "off"})
    assert lock_bytes(chain / "top.qcow2") == []
    with pytest.raises(QMPError) as e:
        add("b", "other.qcow2", **{"force-share": True})
    assert e.value.desc == ("could not open disk image b: force-share=on can only be used "
                            "with read-only images")
    add("b", "other.qcow2", **{"force-share": True, "read-only": True})
    assert lock_bytes(chain / "other.qcow2") == []
    assert lock_bytes(chain / "base.qcow2") == RO_BYTES  # a's backing file, locked as usual
