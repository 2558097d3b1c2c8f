"""Encrypted qcow2 images (QEMU 2.2's AES, crypt_method 1) from the monitor: a -drive whose
key is missing keeps the guest in prelaunch, cont refuses with DeviceEncrypted until
block_passwd gives the key, query-block's encrypted / encryption_key_missing, HMP's cont and
change prompting "Password: " on a real HMP socket (human-monitor-command cannot answer a
prompt: "terminal does not support password prompting"), change to an encrypted image
(refused while the guest runs; kept from the device until the key is given, then
DEVICE_TRAY_MOVED), blockdev-add's refusal, and the data QEMU's tools wrote reading back
through the VMM once the key is given.

Legacy AES has no key check: a wrong password is accepted and the data reads back as
garbage (2.2 does the same; `Password incorrect` only comes from a driver refusing a key).

The images are made by Debian's qemu-img / qemu-io 7.2, which still write AES images. QEMU
7.2's system emulator refuses them ("Use of AES-CBC encrypted qcow2 images is no longer
supported in system emulators"), so it cannot be the reference here: these tests run on
minivmm only.
"""

import subprocess

import pytest

from img_lib import IMG, needs_qemu_utils
from qmp_vm import QMPError, qtest_with_qmp, start_qmp_vm
from test_hmp import PROMPT, HMPSocket, typed_echo
from test_qmp_media import NOT_READY, UNIT_ATTENTION, atapi_cmd, expect_error, tray_events, \
    unit_ready

PASSWORD = "PASSWORD"
pytestmark = needs_qemu_utils


@pytest.fixture(autouse=True)
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("QEMU 7.2's emulator refuses AES-encrypted qcow2 images")


def qemu_io(path, cmd, password=PASSWORD):
    res = subprocess.run(["qemu-io", "--object", f"secret,id=s0,data={password}",
                          "--image-opts", f"driver=qcow2,file.filename={path},"
                          "encrypt.key-secret=s0", "-c", cmd],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "failed" not in res.stdout, res.stdout + res.stderr
    return res.stdout


def aes_image(tmp_path, name="enc.qcow2", size="64M"):
    """A qcow2 AES image made by qemu-img 7.2, 64k of 0x5a at offset 0."""
    path = str(tmp_path / name)
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "--object",
                    f"secret,id=s0,data={PASSWORD}", "-o",
                    "encrypt.format=aes,encrypt.key-secret=s0", path, size],
                   check=True, capture_output=True, timeout=60)
    qemu_io(path, "write -P 0x5a 0 64k")
    return path


def plain_image(tmp_path, name="plain.qcow2"):
    path = str(tmp_path / name)
    subprocess.run(["qemu-img", "create", "-f", "qcow2", path, "1M"], check=True,
                   capture_output=True, timeout=60)
    return path


def drive(qmp, name):
    return {b["device"]: b for b in qmp.command("query-block")}[name]


def vmm_io(vm, qmp, device, cmd):
    """HMP qemu-io on a drive; what it printed on the VMM's stdout."""
    before = vm.stdout_log.stat().st_size
    assert qmp.hmp(f'qemu-io {device} "{cmd}"') == ""
    with open(vm.stdout_log) as f:
        f.seek(before)
        return f.read()


def password_echo(n):
    """QEMU readline's echo of n password characters typed at the end of the line."""
    return b"".join(b"\x1b[D" * (i - 1) + b"*" * i + b"\x1b[K" for i in range(1, n + 1))


def hmp_prompted(hmp, line, device, path):
    """Type `line`; it must answer with the password prompt for device."""
    hmp.sock.sendall(line.encode() + b"\n")
    assert hmp.read_until(b"Password: ") == (typed_echo(line) + b"\r\n" +
                                             f"{device} ({path}) is encrypted.\r\n".encode() +
                                             b"Password: ")


def hmp_answer(hmp, password=PASSWORD):
    hmp.sock.sendall(password.encode() + b"\n")
    return hmp.read_until(PROMPT)


def hmp_vm(make_vm, tmp_path, extra):
    path = str(tmp_path / "hmp.sock")
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm",
                           extra=["-monitor", f"unix:{path},server,nowait"] + extra)
    hmp = HMPSocket(path)
    hmp.read_until()  # banner and prompt
    return vm, qmp, hmp


# ---- start-up, cont, query-block, block_passwd ----

def test_startup_waits_for_key(make_vm, tmp_path):
    img, plain = aes_image(tmp_path), plain_image(tmp_path)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm", extra=[
        "-drive", f"file={img},if=ide,id=disk0",
        "-drive", f"file={plain},if=none,id=plain"])
    assert qmp.command("query-status")["status"] == "prelaunch"    # no -S given
    expect_error(qmp, "DeviceEncrypted", f"'disk0' ({img}) is encrypted", "cont")
    assert qmp.command("query-status") == {"status": "prelaunch", "singlestep": False,
                                           "running": False}
    ins = drive(qmp, "disk0")["inserted"]
    assert (ins["encrypted"], ins["encryption_key_missing"]) == (True, True)
    assert ins["image"]["encrypted"] is True
    ins = drive(qmp, "plain")["inserted"]
    assert (ins["encrypted"], ins["encryption_key_missing"]) == (False, False)
    assert "encrypted" not in ins["image"]
    info = qmp.hmp("info block -v disk0")
    assert info.startswith(f"disk0: {img} (qcow2, encrypted)\r\n")
    assert "\r\ndisk size: " in info and "\r\nencrypted: yes\r\ncluster_size: 65536\r\n" in info
    # The guest's I/O to it fails until the key comes; nothing else happens.
    assert "read failed: Required key not available" in vmm_io(vm, qmp, "disk0",
                                                               "read -P 0x5a 0 64k")
    assert qmp.command("query-status")["status"] == "prelaunch"


def test_block_passwd_errors(make_vm, tmp_path):
    img, plain = aes_image(tmp_path), plain_image(tmp_path)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm", extra=[
        "-drive", f"file={img},if=none,id=enc,node-name=encnode",
        "-drive", f"file={plain},if=none,id=plain", "-drive", "if=none,id=empty"])
    for dev in ("plain", "empty"):
        expect_error(qmp, "GenericError", f"Device '{dev}' is not encrypted", "block_passwd",
                     {"device": dev, "password": PASSWORD})
    assert qmp.hmp(f"block_passwd plain {PASSWORD}") == "Device 'plain' is not encrypted\r\n"
    expect_error(qmp, "GenericError", "Cannot find device=nope nor node_name=",
                 "block_passwd", {"device": "nope", "password": PASSWORD})
    # By node name, then cont (the only key missing was that one).
    qmp.command("block_passwd", {"node-name": "encnode", "password": PASSWORD})
    assert drive(qmp, "enc")["inserted"]["encryption_key_missing"] is False
    qmp.command("cont")
    qmp.event_wait("RESUME")


def test_key_given_data_reads_back(make_vm, tmp_path):
    img = aes_image(tmp_path)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm", extra=[
        "-drive", f"file={img},if=ide,id=disk0"])
    assert qmp.command("block_passwd", {"device": "disk0", "password": PASSWORD}) == {}
    assert drive(qmp, "disk0")["inserted"]["encryption_key_missing"] is False
    assert qmp.command("cont") == {}
    qmp.event_wait("RESUME")
    assert qmp.command("query-status")["status"] == "running"
    out = vmm_io(vm, qmp, "disk0", "read -P 0x5a 0 64k")
    assert "read 65536/65536 bytes at offset 0" in out and "verification failed" not in out
    out = vmm_io(vm, qmp, "disk0", "write -P 0xa5 64k 64k")
    assert "wrote 65536/65536 bytes at offset 65536" in out
    qmp.command("quit")
    assert vm.wait_exit(10) == 0
    qemu_io(img, "read -P 0xa5 64k 64k")    # QEMU's tools read what the VMM encrypted


def test_wrong_password_reads_garbage(make_vm, tmp_path):
    img = aes_image(tmp_path)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm", extra=[
        "-drive", f"file={img},if=ide,id=disk0"])
    assert qmp.command("block_passwd", {"device": "disk0", "password": "WRONG"}) == {}
    assert drive(qmp, "disk0")["inserted"]["encryption_key_missing"] is False
    out = vmm_io(vm, qmp, "disk0", "read -P 0x5a 0 64k")
    assert "Pattern verification failed at offset 0, 65536 bytes" in out
    # A second block_passwd replaces the key.
    qmp.command("block_passwd", {"device": "disk0", "password": PASSWORD})
    assert "verification failed" not in vmm_io(vm, qmp, "disk0", "read -P 0x5a 0 64k")


def test_minivmm_img_encryption_on(make_vm, tmp_path):
    path = str(tmp_path / "mine.qcow2")
    res = subprocess.run([IMG, "create", "-f", "qcow2", "-o", "encryption=on", path, "1M"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm", extra=[
        "-drive", f"file={path},if=none,id=d0"])
    assert qmp.command("query-status")["status"] == "prelaunch"
    qmp.command("block_passwd", {"device": "d0", "password": PASSWORD})
    vmm_io(vm, qmp, "d0", "write -P 0x3c 0 4k")
    qmp.command("quit")
    assert vm.wait_exit(10) == 0
    qemu_io(path, "read -P 0x3c 0 4k")


# ---- HMP's password prompt ----

def test_hmp_cont_without_terminal(make_vm, tmp_path):
    img = aes_image(tmp_path)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm", extra=[
        "-drive", f"file={img},if=ide,id=disk0"])
    assert qmp.hmp("c") == (f"disk0 ({img}) is encrypted.\r\n"
                            "terminal does not support password prompting\r\n")
    assert qmp.command("query-status")["status"] == "prelaunch"
    assert qmp.hmp(f"block_passwd disk0 {PASSWORD}") == ""
    assert qmp.hmp("c") == ""
    qmp.event_wait("RESUME")


def test_hmp_cont_prompts_once_per_cont(make_vm, tmp_path):
    """2.2's HMP cont asks for the first missing key; after it, cont runs once more quietly,
    so a second encrypted drive needs a second cont. The password is echoed as '*' and
    stays out of the history."""
    a, b = aes_image(tmp_path, "a.qcow2"), aes_image(tmp_path, "b.qcow2")
    vm, qmp, hmp = hmp_vm(make_vm, tmp_path, [
        "-drive", f"file={a},if=none,id=d0", "-drive", f"file={b},if=none,id=d1"])
    hmp_prompted(hmp, "c", "d0", a)
    assert hmp_answer(hmp) == password_echo(len(PASSWORD)) + b"\r\n" + PROMPT
    assert qmp.command("query-status")["status"] == "prelaunch"
    assert drive(qmp, "d0")["inserted"]["encryption_key_missing"] is False
    # Up recalls "c", not the password.
    hmp.sock.sendall(b"\x1b[A\n")
    assert hmp.read_until(b"Password: ").endswith(f"d1 ({b}) is encrypted.\r\nPassword: "
                                                  .encode())
    hmp_answer(hmp)
    qmp.event_wait("RESUME")
    assert qmp.command("query-status")["status"] == "running"


def test_hmp_change_prompts(make_vm, tmp_path):
    img = aes_image(tmp_path)
    vm, qmp, hmp = hmp_vm(make_vm, tmp_path, ["-drive", "if=ide,index=2,media=cdrom,id=cd0"])
    hmp.run("stop")
    qmp.event_wait("STOP")
    hmp_prompted(hmp, f"change cd0 {img}", "cd0", img)
    assert tray_events(qmp, "cd0") == [True]           # the empty drive's eject
    assert drive(qmp, "cd0")["tray_open"] is True
    hmp_answer(hmp)
    assert tray_events(qmp, "cd0") == [False]          # the key given: the device hears
    cd = drive(qmp, "cd0")
    assert cd["tray_open"] is False and cd["inserted"]["encryption_key_missing"] is False
    assert qmp.hmp(f"change cd0 {img}") == (f"cd0 ({img}) is encrypted.\r\n"
                                            "terminal does not support password prompting\r\n")


def test_hmp_prompt_outlives_medium(make_vm, tmp_path):
    """The medium goes while the prompt is up: the password finds no drive to take it."""
    img = aes_image(tmp_path)
    vm, qmp, hmp = hmp_vm(make_vm, tmp_path, ["-drive", "if=ide,index=2,media=cdrom,id=cd0"])
    hmp.run("stop")
    hmp_prompted(hmp, f"change cd0 {img}", "cd0", img)
    qmp.command("eject", {"device": "cd0"})
    assert hmp_answer(hmp).endswith(b"\r\ninvalid password\r\n" + PROMPT)
    assert "inserted" not in drive(qmp, "cd0")


# ---- change ----

def test_change_while_running_refused(tmp_path):
    img = aes_image(tmp_path)
    qt, qmp = qtest_with_qmp(tmp_path, ["-drive", "if=ide,index=2,media=cdrom,id=cd0"])
    with qt:
        assert qmp.command("query-status")["status"] == "running"
        expect_error(qmp, "GenericError", "Guest must be stopped for opening of encrypted image",
                     "change", {"device": "cd0", "target": img})
        assert tray_events(qmp, "cd0") == [True]
        assert "inserted" not in drive(qmp, "cd0")


def test_change_while_stopped_kept_from_device(tmp_path):
    img = aes_image(tmp_path)
    qt, qmp = qtest_with_qmp(tmp_path, ["-drive", "if=ide,index=2,media=cdrom,id=cd0"])
    with qt:
        qmp.command("stop")
        expect_error(qmp, "DeviceEncrypted", f"'cd0' ({img}) is encrypted", "change",
                     {"device": "cd0", "target": img})
        assert tray_events(qmp, "cd0") == [True]
        cd = drive(qmp, "cd0")
        assert cd["tray_open"] is True and cd["inserted"]["file"] == img
        assert cd["inserted"]["encryption_key_missing"] is True
        assert [unit_ready(qt) for _ in range(3)][-1] == NOT_READY  # the guest sees no disc
        expect_error(qmp, "DeviceEncrypted", f"'cd0' ({img}) is encrypted", "cont")
        qmp.command("block_passwd", {"device": "cd0", "password": PASSWORD})
        assert tray_events(qmp, "cd0") == [False]
        keys = [unit_ready(qt) for _ in range(3)]
        assert UNIT_ATTENTION in keys, keys
        atapi_cmd(qt, b"\x03\x00\x00\x00\x12")         # REQUEST SENSE clears it
        assert unit_ready(qt) == 0
        qmp.command("block_passwd", {"device": "cd0", "password": PASSWORD})
        assert tray_events(qmp, "cd0") == []           # the key was there already
        qmp.command("cont")


def test_startup_cd_key_tells_device(tmp_path):
    """As 2.2's bdrv_set_key: the key of a drive's medium becoming valid reaches the device
    like a change, also for a medium the device had from the start."""
    img = aes_image(tmp_path)
    qt, qmp = qtest_with_qmp(tmp_path, ["-drive", f"if=ide,index=2,media=cdrom,id=cd0,"
                                                  f"file={img}"])
    with qt:
        assert qmp.command("query-status")["status"] == "prelaunch"
        qmp.command("block_passwd", {"device": "cd0", "password": PASSWORD})
        assert tray_events(qmp, "cd0") == [True, False]
        assert drive(qmp, "cd0")["tray_open"] is False


# ---- blockdev-add, drive_add ----

def test_blockdev_add_refused(make_vm, tmp_path):
    img, plain = aes_image(tmp_path), plain_image(tmp_path)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm")

    def add(path):
        return qmp.command("blockdev-add", {"options": {
            "driver": "qcow2", "id": "enc", "node-name": "encnode",
            "file": {"driver": "file", "filename": path}}})

    with pytest.raises(QMPError) as e:
        add(img)
    assert e.value.desc == ("could not open disk image enc: Guest must be stopped for "
                            "opening of encrypted image")
    qmp.command("stop")
    with pytest.raises(QMPError) as e:
        add(img)
    assert (e.value.cls, e.value.desc) == ("GenericError",
                                           "blockdev-add doesn't support encrypted devices")
    assert qmp.command("query-block") == []
    assert qmp.command("query-named-block-nodes") == []
    assert add(plain) == {}                            # the name and node name are free
    assert drive(qmp, "enc")["inserted"]["encrypted"] is False


def test_drive_add_while_running(make_vm, tmp_path):
    img = aes_image(tmp_path)
    vm, qmp = start_qmp_vm(make_vm, tmp_path, "minivmm")
    out = qmp.hmp(f"drive_add dummy file={img},if=none,id=enc")
    assert "Guest must be stopped for opening of encrypted image" in out
    assert qmp.command("query-block") == []
    qmp.command("stop")
    assert qmp.hmp(f"drive_add dummy file={img},if=none,id=enc") == "OK\r\n"
    assert drive(qmp, "enc")["inserted"]["encryption_key_missing"] is True
    expect_error(qmp, "DeviceEncrypted", f"'enc' ({img}) is encrypted", "cont")
