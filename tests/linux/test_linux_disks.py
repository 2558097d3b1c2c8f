"""Linux's own drivers on our disks: virtio_blk (-drive if=virtio), ata_piix + sd_mod (IDE
disk), ata_piix + sr_mod (ATAPI CD-ROM) and floppy (-drive if=floppy), all in one boot of the
test guest per VMM (a boot costs about 30 s under QEMU's TCG here).

In the guest, each device is read whole with dd and hashed, and its size read from
/sys/block; the disks get 64 KiB of a known pattern written with dd (conv=fsync), the page
cache is dropped and each is hashed again; a write to the CD must fail. On the host the
hashes must match the images the test made, and afterwards the images must hold exactly the
bytes the guest wrote (the CD image unchanged).
"""

import hashlib
import random

import pytest

import guest

PATTERN_LINE = b"minivmm-linux-tier\n"
WRITE_LEN = 65536
GUEST_EXIT = 7  # the command's own exit status, which the guest must report

# device in the guest -> (-drive interface, index, CD?, image size, write offset in 4 KiB blocks)
DEVICES = {
    "vda": ("virtio", None, False, 8 << 20, 256),
    "sda": ("ide", 0, False, 8 << 20, 512),
    "sr0": ("ide", 2, True, 2 << 20, None),
    "fd0": ("floppy", 0, False, 1474560, 100),
}
DISKS = [name for name, dev in DEVICES.items() if dev[4] is not None]

SCRIPT = "\n".join([
    "h() { dd if=/dev/$1 bs=64k 2>/dev/null | sha256sum | cut -d' ' -f1; }",
    f"for d in {' '.join(DEVICES)}; do",
    '    echo "$d sum $(h $d)"; echo "$d size $(cat /sys/block/$d/size)"',
    "done",
    f"wr() {{ yes {PATTERN_LINE.decode().strip()} | head -c {WRITE_LEN} |",
    '    dd of=/dev/$1 bs=4096 seek=$2 conv=fsync 2>/dev/null; echo "$1 write $?"; }',
    *(f"wr {name} {DEVICES[name][4]}" for name in DISKS),
    'dd if=/dev/zero of=/dev/sr0 bs=2048 count=1 2>/dev/null; echo "sr0 write $?"',
    "echo 3 >/proc/sys/vm/drop_caches",
    f'for d in {" ".join(DISKS)}; do echo "$d sum2 $(h $d)"; done',
    f"exit {GUEST_EXIT}",
])


def written(original, block):
    data = bytearray(original)
    offset = block * 4096
    data[offset:offset + WRITE_LEN] = (PATTERN_LINE * (WRITE_LEN // len(PATTERN_LINE) + 1))[
        :WRITE_LEN]
    return bytes(data)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def disk_run(vmm, tmp_path_factory):
    backend, accel = vmm
    workdir = tmp_path_factory.mktemp(f"linux-{backend}")
    rng = random.Random(6)
    originals, drives = {}, []
    for name, (interface, index, cdrom, size, _) in DEVICES.items():
        path = workdir / f"{name}.img"
        originals[name] = rng.randbytes(size)
        path.write_bytes(originals[name])
        drives.append(guest.Drive(interface, path, index, cdrom))
    run = guest.run_guest(backend, SCRIPT, drives, workdir, qemu_accel=accel,
                          wait=list(DEVICES))
    results = {}
    for line in run.output.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] in DEVICES:
            results[(fields[0], fields[1])] = fields[2]
    return run, results, originals, workdir


def test_guest_runs_the_command_and_powers_off(disk_run):
    run, _, _, _ = disk_run
    assert run.guest_status == GUEST_EXIT, run.describe()
    assert run.vmm_status == 0, run.describe()
    assert "not loaded" not in run.serial, run.describe()


@pytest.mark.parametrize("name", list(DEVICES))
def test_read_whole_device(disk_run, name):
    run, results, originals, _ = disk_run
    assert results.get((name, "sum")) == sha256(originals[name]), run.describe()
    assert results.get((name, "size")) == str(len(originals[name]) // 512), run.describe()


@pytest.mark.parametrize("name", DISKS)
def test_guest_write_reaches_the_image(disk_run, name):
    run, results, originals, workdir = disk_run
    expected = written(originals[name], DEVICES[name][4])
    assert results.get((name, "write")) == "0", run.describe()
    assert results.get((name, "sum2")) == sha256(expected), run.describe()
    image = (workdir / f"{name}.img").read_bytes()
    assert len(image) == len(expected)
    assert image == expected, "the image on the host differs from what the guest wrote"


def test_cdrom_refuses_writes(disk_run):
    run, results, originals, workdir = disk_run
    assert results.get(("sr0", "write")) not in (None, "0"), run.describe()
    assert (workdir / "sr0.img").read_bytes() == originals["sr0"]
