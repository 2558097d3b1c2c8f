"""qcow2's own AES encryption (crypt_method 1, QEMU 2.2's `-o encryption=on`) in the image
tools, judged by qemu-img/qemu-io 7.2: they still read and write such images when given the
key as a secret object (only 7.2's system emulator refuses them), so each direction is
checked: images qemu-io wrote read back through minivmm-img with the same password, and
images minivmm-img and minivmm-io wrote read back through qemu-img with the secret, which
also checks them. The password comes from standard input after qemu-img 2.2's prompt
("Disk image 'F' is encrypted." then "password: "); `info` asks for none.
"""

import json
import os

import pytest

from img_lib import IMG, IO, MiB, needs_qemu_utils, ok, run

pytestmark = needs_qemu_utils

PW = "hunter2"
SECRET = ["--object", "secret,id=s0,data=" + PW]


def image_opts(path, secret=True):
    opts = "driver=qcow2,file.filename=%s" % path
    return ["--image-opts", opts + (",encrypt.key-secret=s0" if secret else "")]


def qemu_io(path, *cmds):
    argv = ["qemu-io"] + SECRET + image_opts(path)
    for c in cmds:
        argv += ["-c", c]
    res = ok(run(argv))
    assert "failed" not in res.stdout, res.stdout
    return res.stdout


def qemu_create(path, size="4M", extra=""):
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2"] + SECRET +
           ["-o", "encrypt.format=aes,encrypt.key-secret=s0" + extra, path, size]))


def plain(path, out):
    """The guest view of an encrypted image, as raw bytes, by qemu-img."""
    ok(run(["qemu-img", "convert"] + SECRET + image_opts(path) + ["-O", "raw", out]))
    return open(out, "rb").read()


def check_clean(path):
    res = ok(run(["qemu-img", "check"] + SECRET + image_opts(path)))
    assert "No errors were found on the image." in res.stdout, res.stdout


def ours(*args, pw=PW + "\n"):
    return run([IMG] + list(args), stdin=pw)


def test_qemu_image_reads_back(tmp_path):
    q, out = tmp_path / "q.qcow2", tmp_path / "m.raw"
    qemu_create(q)
    qemu_io(q, "write -P 0x5a 0 64k", "write -P 0x33 100352 3072", "write -z 1M 64k")
    res = ok(ours("convert", "-O", "raw", q, out))
    assert res.stdout == "Disk image '%s' is encrypted.\npassword: \n" % q
    assert open(out, "rb").read() == plain(q, tmp_path / "q.raw")


def test_our_image_reads_back_in_qemu(tmp_path):
    m = tmp_path / "m.qcow2"
    res = ok(ours("create", "-f", "qcow2", "-o", "encryption=on", m, "4M"))
    assert res.stdout == ("Formatting '%s', fmt=qcow2 encryption=on cluster_size=65536 "
                          "extended_l2=off compression_type=zlib size=4194304 "
                          "lazy_refcounts=off refcount_bits=16\n" % m)
    ok(run([IO, "-c", "write -P 0x11 0 65536", "-c", "write -P 0x22 70000 1000",
            "-c", "write -P 0x33 131072 512", "-c", "write -z 196608 65536", m],
           stdin=PW + "\n"))
    data = plain(m, tmp_path / "m.raw")
    want = bytearray(4 * MiB)
    want[0:65536] = b"\x11" * 65536
    want[70000:71000] = b"\x22" * 1000
    want[131072:131584] = b"\x33" * 512
    assert data == bytes(want)
    check_clean(m)
    # the file holds no plaintext of what was written
    assert b"\x11" * 512 not in open(m, "rb").read()


def test_convert_into_encrypted_image(tmp_path):
    src, m = tmp_path / "src.raw", tmp_path / "m.qcow2"
    pattern = bytes(range(256)) * 4096 * 3
    src.write_bytes(pattern)
    res = ok(ours("convert", "-O", "qcow2", "-o", "encryption=on", src, m))
    assert "Disk image '%s' is encrypted.\npassword: \n" % m in res.stdout
    assert plain(m, tmp_path / "back.raw") == pattern
    check_clean(m)


def test_same_data_in_two_sectors_is_ciphered_apart(tmp_path):
    """The sector number is the initial vector: equal plaintext sectors differ on disk (so
    copy-on-write must copy by guest offset, never move bytes between sectors)."""
    m = tmp_path / "m.qcow2"
    ok(ours("create", "-q", "-f", "qcow2", "-o", "encryption=on", m, "1M"))
    ok(run([IO, "-c", "write -P 0x44 0 1024", m], stdin=PW + "\n"))
    raw = open(m, "rb").read()
    l2 = raw[-65536:]  # the data cluster came first, its L2 table last
    host = int.from_bytes(l2[0:8], "big") & 0x00fffffffffffe00
    data = raw[host:host + 65536]
    assert b"\x44" * 16 not in raw
    assert data[0:512] != data[512:1024]
    assert data[0:512] != bytes(512) and data[512:1024] != bytes(512)
    assert plain(m, tmp_path / "m.raw")[:1024] == b"\x44" * 1024


def test_info_asks_no_password(tmp_path):
    q = tmp_path / "q.qcow2"
    qemu_create(q)
    res = ok(run([IMG, "info", q], stdin=""))
    ref = ok(run(["qemu-img", "info", q]))
    assert "encrypted: yes\n" in res.stdout
    strip = lambda s: [l for l in s.splitlines() if not l.startswith("disk size")]
    assert strip(res.stdout) == strip(ref.stdout)
    mine = json.loads(ok(run([IMG, "info", "--output=json", q])).stdout)
    theirs = json.loads(ok(run(["qemu-img", "info", "--output=json", q])).stdout)
    for key in ("encrypted", "format-specific"):
        assert mine[key] == theirs[key]


@pytest.mark.parametrize("argv", [
    ["convert", "-O", "raw", "IMG", "out.raw"],
    ["check", "IMG"],
    ["map", "IMG"],
    ["snapshot", "-l", "IMG"],
    ["compare", "IMG", "IMG"],
])
def test_no_password_given(tmp_path, argv):
    q = tmp_path / "q.qcow2"
    qemu_create(q)
    res = run([IMG] + [str(q) if a == "IMG" else a for a in argv], cwd=tmp_path, stdin="")
    assert res.returncode != 0
    assert res.stderr == "minivmm-img: No password given\n"
    assert res.stdout.startswith("Disk image '%s' is encrypted.\npassword: " % q)


def test_quiet_keeps_the_prompt_only(tmp_path):
    q = tmp_path / "q.qcow2"
    qemu_create(q)
    res = ok(ours("convert", "-q", "-O", "raw", q, tmp_path / "o.raw"))
    assert res.stdout == "password: \n"


def test_wrong_password_reads_garbage(tmp_path):
    """The legacy scheme has no way to check a key: a wrong password is taken, as in QEMU
    2.2, and what it reads is not the data."""
    q, out = tmp_path / "q.qcow2", tmp_path / "o.raw"
    qemu_create(q, "1M")
    qemu_io(q, "write -P 0x5a 0 64k")
    ok(ours("convert", "-O", "raw", q, out, pw="letmein\n"))
    data = open(out, "rb").read()
    assert data[:65536] != b"\x5a" * 65536
    assert data[65536:] == bytes(1 * MiB - 65536)  # unallocated: zeroes, not deciphered


def test_long_password_uses_its_first_16_bytes(tmp_path):
    q, out = tmp_path / "q.qcow2", tmp_path / "o.raw"
    pw = "0123456789abcdefIGNORED"
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", "--object", "secret,id=s0,data=" + pw,
            "-o", "encrypt.format=aes,encrypt.key-secret=s0", q, "1M"]))
    ok(run(["qemu-io", "--object", "secret,id=s0,data=" + pw] + image_opts(q) +
           ["-c", "write -P 0x61 512 512"]))
    ok(ours("convert", "-O", "raw", q, out, pw="0123456789abcdefOTHER\n"))
    assert open(out, "rb").read()[512:1024] == b"\x61" * 512


def test_compression_and_encryption_refused(tmp_path):
    src = tmp_path / "s.raw"
    src.write_bytes(bytes(MiB))
    res = ours("convert", "-c", "-O", "qcow2", "-o", "encryption=on", src, tmp_path / "o.qcow2")
    ref = run(["qemu-img", "convert", "-c", "-O", "qcow2", "-o", "encryption=on", src,
               tmp_path / "r.qcow2"])
    assert res.returncode == ref.returncode == 1
    assert res.stderr == "minivmm-img: Compression and encryption not supported at the same time\n"
    assert ref.stderr == res.stderr.replace("minivmm-img", "qemu-img")
    assert not os.path.exists(tmp_path / "o.qcow2")


def test_metadata_preallocation_refused(tmp_path):
    """qemu-img 7.2 makes such an image, whose preallocated clusters read as garbage."""
    res = ours("create", "-f", "qcow2", "-o", "encryption=on,preallocation=metadata",
               tmp_path / "o.qcow2", "1M")
    assert res.returncode == 1
    assert "Preallocation is not supported for encrypted images" in res.stderr


def test_encrypted_overlay_over_plain_backing(tmp_path):
    """Copy-on-write from a plain backing file into an encrypted overlay, then commit the
    overlay down: the base gets the guest's plaintext."""
    base, top = tmp_path / "base.qcow2", tmp_path / "top.qcow2"
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"]))
    ok(run(["qemu-io", "-c", "write -P 0x0b 0 128k", base]))
    ok(ours("create", "-q", "-f", "qcow2", "-o", "encryption=on", "-b", base, "-F", "qcow2",
            top))
    ok(run([IO, "-c", "write -P 0x7f 4096 512", top], stdin=PW + "\n"))
    want = bytearray(MiB)
    want[0:131072] = b"\x0b" * 131072
    want[4096:4608] = b"\x7f" * 512
    ok(ours("convert", "-O", "raw", top, tmp_path / "t.raw"))
    assert (tmp_path / "t.raw").read_bytes() == bytes(want)
    check_clean(top)
    ok(ours("commit", top))
    ok(run(["qemu-img", "convert", "-O", "raw", base, tmp_path / "b.raw"]))
    assert (tmp_path / "b.raw").read_bytes() == bytes(want)


def test_plain_overlay_over_encrypted_backing(tmp_path):
    """The key goes to the backing file when the top image is not encrypted (2.2)."""
    base, top = tmp_path / "base.qcow2", tmp_path / "top.qcow2"
    qemu_create(base, "1M")
    qemu_io(base, "write -P 0x3c 0 64k")
    ok(ours("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top))
    res = ok(ours("convert", "-O", "raw", top, tmp_path / "t.raw"))
    assert res.stdout.startswith("Disk image '%s' is encrypted." % top)
    assert (tmp_path / "t.raw").read_bytes()[:65536] == b"\x3c" * 65536


def test_downgrade_keeps_zeroes_encrypted(tmp_path):
    """compat=0.10 turns zero clusters over a backing file into data clusters of zeroes:
    in an encrypted image those zeroes must be encrypted, or they read as garbage."""
    base, top = tmp_path / "base.qcow2", tmp_path / "top.qcow2"
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"]))
    ok(run(["qemu-io", "-c", "write -P 0x0b 0 1M", base]))
    ok(ours("create", "-q", "-f", "qcow2", "-o", "encryption=on", "-b", base, "-F", "qcow2",
            top))
    ok(run([IO, "-c", "write -z 65536 131072", "-c", "write -P 0x21 0 65536", top],
           stdin=PW + "\n"))
    ok(ours("amend", "-o", "compat=0.10", top))
    want = bytearray(b"\x0b" * MiB)
    want[0:65536] = b"\x21" * 65536
    want[65536:196608] = bytes(131072)
    assert plain(top, tmp_path / "t.raw") == bytes(want)
    check_clean(top)
    assert "compat: 0.10" in ok(run(["qemu-img", "info", top])).stdout


def test_unsupported_method(tmp_path):
    m = tmp_path / "m.qcow2"
    ok(run(["qemu-img", "create", "-q", "-f", "qcow2", m, "1M"]))
    with open(m, "r+b") as f:
        f.seek(32)
        f.write((7).to_bytes(4, "big"))
    res = run([IMG, "info", m])
    assert res.returncode == 1
    assert "Unsupported encryption method: 7" in res.stderr
