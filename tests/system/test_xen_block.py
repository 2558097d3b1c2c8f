"""The Xen PV block backend ("xen-disk", hw/xen/xen-block*.c) driven by a blkfront in the test
(xen_front.BlkFront over qtest, as Linux's xen-blkfront would drive it): the xenbus
handshake and what the backend advertises, READ/WRITE with up to 11 partial-page segments
checked byte for byte in guest memory and in the host image (raw and qcow2), FLUSH, DISCARD
punching holes, read-only drives, hostile requests (each answered -1, or -2 for what is
not offered, while the VM and later requests carry on), a corrupt ring stopping the device
until the frontend reconnects, guest reset, hotplug and two disks side by side.

Expectations are Linux's blkback/blkfront protocol (xen/include/public/io/blkif.h) and
minivmm's documented subset: one-page rings, no indirect descriptors or persistent grants.
"""

import ctypes
import hashlib
import os
import shutil
import struct
import subprocess
import time

import pytest

import xen_front as xf
from xen_front import (BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_READ,
                       BLKIF_OP_WRITE, BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR,
                       BLKIF_RSP_OKAY, PAGE, SECTOR, BlkFront, Guest, file_bytes, pattern,
                       start_vm, stop_vm)

MiB = 1 << 20
DISK = 16 * MiB
SECTORS = DISK // SECTOR
XVDA, XVDB = 51712, 51728

needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None,
                                    reason="qemu-img (Debian qemu-utils) not installed")

# A write of 11 segments, most of them partial pages, and a read of a wider window with a
# different layout (sectors per page in brackets): 49 and 51 sectors.
WRITE_SEGS = [(0, 7), (1, 7), (0, 0), (3, 5), (0, 7), (7, 7), (2, 6), (0, 7), (4, 4), (0, 3),
              (5, 7)]
READ_SEGS = [(7, 7), (0, 7), (2, 7), (0, 0), (1, 6), (0, 7), (3, 3), (0, 7), (0, 7), (5, 7),
             (0, 0)]
assert sum(b - a + 1 for a, b in WRITE_SEGS) == 49
assert sum(b - a + 1 for a, b in READ_SEGS) == 51


def make_raw(path, size=DISK, fill=None):
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in (fill or {}).items():
            f.seek(offset)
            f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return path


def can_punch_holes(directory):
    """Whether the file system under directory frees the blocks of a punched hole."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    path = directory / "punch-probe"
    with open(path, "wb") as f:
        f.write(b"\x55" * (256 * 1024))
        f.flush()
        os.fsync(f.fileno())
        before = os.fstat(f.fileno()).st_blocks
        ok = libc.fallocate(f.fileno(), 3, 0, 256 * 1024) == 0  # PUNCH_HOLE | KEEP_SIZE
        after = os.fstat(f.fileno()).st_blocks
    path.unlink()
    return ok and after < before


def make_qcow2(path, size=DISK):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), str(size)],
                   check=True, timeout=30)
    return path


def qcow2_to_raw(path, out):
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(out)],
                   check=True, timeout=60)
    return out.read_bytes()


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(autouse=True)
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("the guest is minivmm's qtest command xen_hypercall")


class DiskVM:
    """minivmm with Xen emulation, a QMP socket and the given drives; the guest booted."""

    def __init__(self, tmp_path, drive_args, extra=()):
        self.qt, self.qmp = start_vm(list(drive_args) + list(extra), tmp_path=tmp_path,
                                     qmp=True)
        self.g = Guest(self.qt).boot()
        self.xs = self.g.xs
        self.status = self.stderr = None

    def front(self, vbd=XVDA):
        return BlkFront(self.g, vbd)

    def alive(self):
        assert self.qt.ok("endianness") == "little"
        assert self.qmp.command("query-status")["status"] == "running"
        assert self.g.xen_version() == 0x4000a

    def quit(self):
        if self.status is None:
            self.status, self.stderr = stop_vm(self.qt, self.qmp)
        return self.status, self.stderr


@pytest.fixture
def vms():
    made = []
    yield made
    for v in made:
        v.quit()


@pytest.fixture
def disk_vm(tmp_path, vms):
    def make(drives, extra=()):
        v = DiskVM(tmp_path, drives, extra)
        vms.append(v)
        return v
    return make


def image(tmp_path, fmt, fill=None):
    if fmt == "qcow2":
        if shutil.which("qemu-img") is None:
            pytest.skip("qemu-img (Debian qemu-utils) not installed")
        assert not fill
        return make_qcow2(tmp_path / "disk.qcow2")
    return make_raw(tmp_path / "disk.img", fill=fill)


def host_disk(tmp_path, fmt, path):
    """The image's guest-visible contents, from the host side."""
    if fmt == "qcow2":
        return qcow2_to_raw(path, tmp_path / "converted.raw")
    return path.read_bytes()


# ---- handshake and advertised nodes ----

@pytest.mark.parametrize("fmt,ro", [("raw", None), ("qcow2", None), ("raw", "readonly"),
                                    ("raw", "read-only")])
def test_backend_advertises(tmp_path, disk_vm, fmt, ro):
    img = image(tmp_path, fmt)
    opts = {ro.replace("-", "_"): "on"} if ro else {}
    v = disk_vm(xf.xen_drive(img, fmt=fmt, **opts))
    fe = v.front().probe()
    be = fe.be
    assert be == "/local/domain/0/backend/vbd/1/51712"
    assert v.xs.read(f"{fe.fe}/backend-id") == "0"
    assert v.xs.read(f"{fe.fe}/virtual-device") == "51712"
    assert v.xs.read(f"{fe.fe}/device-type") == "disk"
    expected = {"frontend": fe.fe, "frontend-id": "1", "online": "1", "state": "2",
                "dev": "xvda", "type": "file", "params": str(img), "mode": "r" if ro else "w",
                "device-type": "disk", "removable": "0", "sectors": str(SECTORS),
                "sector-size": "512", "info": "4" if ro else "0",
                "feature-flush-cache": "1", "feature-persistent": "0"}
    assert {n: v.xs.read(f"{be}/{n}") for n in v.xs.directory(be)} == expected
    assert (fe.sectors, fe.sector_size, fe.info) == (SECTORS, 512, 4 if ro else 0)
    assert "feature-discard" not in fe.features
    fe.connect()
    assert v.xs.read(f"{be}/state") == "4"
    assert v.g.evtchn_status(fe.port)[1]["status"] == xf.EVTCHNSTAT_interdomain
    # The ring page is mapped writable by the backend while connected.
    flags = v.g.grant_entry(fe.ring_ref)[0]
    assert flags == xf.GTF_permit_access | xf.GTF_reading | xf.GTF_writing
    assert v.xs.read_or_none(f"{be}/error") is None
    v.alive()


# ---- data path ----

BLKIF_PAGES = xf.BLKIF_MAX_SEGS   # the frontend's data pages, one per segment


def fill_pages(fe, seed):
    data = pattern(BLKIF_PAGES * PAGE, seed)
    for i in range(BLKIF_PAGES):
        fe.g.write(fe.page(i), data[i * PAGE:(i + 1) * PAGE])
    return data


def segs_of(fe, layout):
    return [(fe.data_refs[i], a, b) for i, (a, b) in enumerate(layout)]


def gather(pages, layout):
    return b"".join(pages[i * PAGE + a * SECTOR:i * PAGE + (b + 1) * SECTOR]
                    for i, (a, b) in enumerate(layout))


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_eleven_segment_write_and_read(tmp_path, disk_vm, fmt):
    img = image(tmp_path, fmt)
    v = disk_vm(xf.xen_drive(img, fmt=fmt))
    fe = v.front().connect()
    sector = 2001   # crosses a 64 KiB qcow2 cluster boundary at 2048
    pages = fill_pages(fe, seed=1)
    expected = gather(pages, WRITE_SEGS)
    assert fe.request(BLKIF_OP_WRITE, sector, segs_of(fe, WRITE_SEGS)) == BLKIF_RSP_OKAY
    assert fe.flush() == BLKIF_RSP_OKAY
    if fmt == "raw":
        assert file_bytes(img, sector * SECTOR, len(expected)) == expected
        assert file_bytes(img, (sector - 1) * SECTOR, SECTOR) == bytes(SECTOR)
        assert file_bytes(img, (sector + 49) * SECTOR, SECTOR) == bytes(SECTOR)
    # The backend only read the pages: they are as we wrote them, grants released.
    assert b"".join(v.g.read(fe.page(i), PAGE) for i in range(BLKIF_PAGES)) == pages
    for ref in fe.data_refs:
        assert v.g.grant_entry(ref)[0] == xf.GTF_permit_access

    # Read sectors 2000..2050 back with another layout; bytes outside the segments stay.
    for i in range(BLKIF_PAGES):
        v.g.fill(fe.page(i), PAGE, 0xa5)
    assert fe.request(BLKIF_OP_READ, sector - 1, segs_of(fe, READ_SEGS)) == BLKIF_RSP_OKAY
    got = b"".join(v.g.read(fe.page(i), PAGE) for i in range(BLKIF_PAGES))
    assert gather(got, READ_SEGS) == bytes(SECTOR) + expected + bytes(SECTOR)
    for i, (a, b) in enumerate(READ_SEGS):
        page = got[i * PAGE:(i + 1) * PAGE]
        assert page[:a * SECTOR] == b"\xa5" * (a * SECTOR), (i, a, b)
        assert page[(b + 1) * SECTOR:] == b"\xa5" * (PAGE - (b + 1) * SECTOR), (i, a, b)
    for ref in fe.data_refs:
        assert v.g.grant_entry(ref)[0] == xf.GTF_permit_access

    # And through the whole-sector helper, the last sector of the disk too.
    last = pattern(SECTOR, seed=9)
    assert fe.write_sectors(SECTORS - 1, last) == BLKIF_RSP_OKAY
    assert fe.read_sectors(SECTORS - 1, 1) == (BLKIF_RSP_OKAY, last)
    assert fe.read_sectors(sector, 49) == (BLKIF_RSP_OKAY, expected)

    status, err = v.quit()
    assert status == 0, err
    disk = host_disk(tmp_path, fmt, img)
    assert len(disk) == DISK
    want = bytearray(DISK)
    want[sector * SECTOR:sector * SECTOR + len(expected)] = expected
    want[-SECTOR:] = last
    assert disk == bytes(want)


def test_read_existing_data(tmp_path, disk_vm):
    head, tail = pattern(64 * 1024, seed=3), pattern(8 * 1024, seed=4)
    img = make_raw(tmp_path / "disk.img", fill={MiB: head, DISK - len(tail): tail})
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect()
    assert fe.read_sectors(MiB // SECTOR, 88) == (BLKIF_RSP_OKAY, head[:88 * SECTOR])
    assert fe.read_sectors(MiB // SECTOR + 7, 3) == (BLKIF_RSP_OKAY,
                                                     head[7 * SECTOR:10 * SECTOR])
    assert fe.read_sectors(SECTORS - 16, 16) == (BLKIF_RSP_OKAY, tail)
    assert fe.read_sectors(0, 1) == (BLKIF_RSP_OKAY, bytes(SECTOR))


@pytest.mark.parametrize("opt", ["readonly", "read_only"])
def test_read_only_drive_refuses_writes(tmp_path, disk_vm, opt):
    data = pattern(8192, seed=5)
    img = make_raw(tmp_path / "disk.img", fill={0: data})
    before = sha(img)
    v = disk_vm(xf.xen_drive(img, **{opt: "on"}))
    fe = v.front().connect()
    assert fe.info == xf.VDISK_READONLY
    assert fe.write_sectors(0, pattern(4096, seed=6)) == BLKIF_RSP_ERROR
    assert fe.write_sectors(100, pattern(512, seed=6)) == BLKIF_RSP_ERROR
    assert fe.read_sectors(0, 16) == (BLKIF_RSP_OKAY, data)
    assert fe.flush() == BLKIF_RSP_OKAY
    assert fe.discard(0, 8) == BLKIF_RSP_EOPNOTSUPP
    status, err = v.quit()
    assert status == 0, err
    assert sha(img) == before


def test_flush_and_data_survive_quit(tmp_path, disk_vm):
    img = make_raw(tmp_path / "disk.img")
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect()
    data = pattern(11 * PAGE, seed=7)
    assert fe.write_sectors(4096, data) == BLKIF_RSP_OKAY
    assert fe.flush() == BLKIF_RSP_OKAY
    assert file_bytes(img, 4096 * SECTOR, len(data)) == data
    data2 = pattern(3 * SECTOR, seed=8)
    assert fe.write_sectors(77, data2) == BLKIF_RSP_OKAY
    status, err = v.quit()
    assert status == 0, err
    assert file_bytes(img, 77 * SECTOR, len(data2)) == data2


def test_full_ring_batches_and_index_wrap(tmp_path, disk_vm):
    """32 requests in one go, three times over, with the free-running indexes starting just
    below 2^32 so that they wrap; each response names its request."""
    img = make_raw(tmp_path / "disk.img")
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect(start=0xffffffff - 40)
    ref = fe.data_refs[0]
    # Page 0 holds 8 distinct sectors; request k writes sector (k % 8) of it to 5000 + k.
    sector_data = [pattern(SECTOR, seed=100 + k) for k in range(8)]
    v.g.write(fe.page(0), b"".join(sector_data))
    for rnd in range(3):
        ids = []
        for k in range(xf.BLKIF_SLOTS):
            rid = fe.new_id()
            ids.append(rid)
            fe.put_slot(fe.rw_slot(BLKIF_OP_WRITE, rid, 5000 + rnd * 32 + k,
                                   [(ref, k % 8, k % 8)]))
        fe.push()
        rsps = fe.wait_responses(xf.BLKIF_SLOTS)
        assert sorted(r.id for r in rsps) == sorted(ids)
        assert all(r.status == BLKIF_RSP_OKAY and r.operation == BLKIF_OP_WRITE
                   for r in rsps), rsps
    assert fe.rsp_cons < 100   # wrapped
    assert fe.flush() == BLKIF_RSP_OKAY
    disk = file_bytes(img, 5000 * SECTOR, 96 * SECTOR)
    for k in range(96):
        assert disk[k * SECTOR:(k + 1) * SECTOR] == sector_data[(k % 32) % 8], k


def test_response_notification_hold_off(tmp_path, disk_vm):
    """The backend raises the channel only when rsp_event falls among the responses it
    publishes (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY)."""
    img = make_raw(tmp_path / "disk.img")
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect()
    g = v.g
    g.clear_pending(fe.port)
    assert fe.read_sectors(0, 1)[0] == BLKIF_RSP_OKAY
    assert g.pending(fe.port)       # rsp_event was rsp_cons + 1
    g.clear_pending(fe.port)
    # Ask to be told only at the 4th response from now.
    g.w32(fe.ring + xf.BLKIF_RSP_EVENT, fe.rsp_cons + 4)
    for i in range(3):
        rid = fe.new_id()
        fe.put_slot(fe.rw_slot(BLKIF_OP_READ, rid, i, [(fe.data_refs[0], 0, 0)]))
        fe.push()
        xf.poll(lambda: fe.rsp_prod() == fe.req_prod_pvt, 5, "response published")
        assert not g.pending(fe.port), i
    rid = fe.new_id()
    fe.put_slot(fe.rw_slot(BLKIF_OP_READ, rid, 3, [(fe.data_refs[0], 0, 0)]))
    fe.push()
    xf.poll(lambda: fe.rsp_prod() == fe.req_prod_pvt, 5, "response published")
    assert g.pending(fe.port)
    assert [r.status for r in fe.take_responses()] == [0, 0, 0, 0]


def test_requests_queued_before_connect(tmp_path, disk_vm):
    """Requests already on the ring when the backend connects are served right away."""
    data = pattern(PAGE, seed=11)
    img = make_raw(tmp_path / "disk.img", fill={0: data})
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().probe()
    fe.setup_ring()
    fe.publish()
    v.g.fill(fe.page(1), PAGE, 0)
    fe.put_slot(fe.rw_slot(BLKIF_OP_READ, 0x51, 0, [(fe.data_refs[1], 0, 7)]))
    fe.push(notify=False)   # the port is not bound yet
    fe.set_state(xf.XenbusStateInitialised)
    fe.wait_backend_state(xf.XenbusStateConnected)
    (rsp,) = fe.wait_responses(1)
    assert (rsp.id, rsp.operation, rsp.status) == (0x51, BLKIF_OP_READ, BLKIF_RSP_OKAY)
    assert v.g.read(fe.page(1), PAGE) == data


@pytest.mark.parametrize("how", ["closing", "unplug"])
def test_disconnect_with_requests_in_flight(tmp_path, disk_vm, how):
    """32 requests of 44 KiB are on the ring when the frontend says Closing (or the device is
    unplugged): the backend waits for them, and every one is answered on the ring and on
    disk before the backend lets the ring go."""
    img = make_raw(tmp_path / "disk.img")
    if how == "closing":
        v = disk_vm(xf.xen_drive(img))
        fe = v.front().connect()
    else:
        v = disk_vm(["-drive", f"if=none,id=d0,file={img},format=raw",
                     "-device", "xen-disk,id=x0,drive=d0,vdev=xvda"])
        fe = v.front().connect()
    pages = fill_pages(fe, seed=55)
    segs = [(ref, 0, 7) for ref in fe.data_refs]
    ids = []
    for k in range(xf.BLKIF_SLOTS):
        ids.append(fe.new_id())
        fe.put_slot(fe.rw_slot(BLKIF_OP_WRITE, ids[-1], k * 88, segs))
    fe.push()
    if how == "closing":
        fe.set_state(xf.XenbusStateClosing)
        fe.wait_backend_state(xf.XenbusStateClosing)
    else:
        assert v.qmp.command("device_del", {"id": "x0"}) == {}
        xf.poll(lambda: v.xs.read_or_none(fe.fe) is None, 5, "the unplug")
    assert v.g.evtchn_status(fe.port)[1]["status"] == xf.EVTCHNSTAT_unbound
    rsps = fe.take_responses()
    assert sorted(r.id for r in rsps) == sorted(ids)
    assert all(r.status == BLKIF_RSP_OKAY for r in rsps), rsps
    for ref in fe.data_refs + [fe.ring_ref]:
        assert v.g.grant_entry(ref)[0] == xf.GTF_permit_access
    status, err = v.quit()
    assert status == 0, err
    disk = img.read_bytes()
    for k in range(xf.BLKIF_SLOTS):
        assert disk[k * 88 * SECTOR:(k + 1) * 88 * SECTOR] == pages, k


def test_grant_frame_outside_ram_and_moving(tmp_path, disk_vm):
    """Grant frame 0 in the PCI hole (a page of the VMM's own), moved there and back while
    connected: the backend finds the entries wherever the frame is, and the in-use flags of
    the ring page's grant move along."""
    img = make_raw(tmp_path / "disk.img")
    v = disk_vm(xf.xen_drive(img))
    g = v.g
    g.place_grant_table(0xe0000)
    fe = v.front().connect()
    data = pattern(PAGE, seed=99)
    assert fe.write_sectors(0, data) == BLKIF_RSP_OKAY
    busy = xf.GTF_permit_access | xf.GTF_reading | xf.GTF_writing
    for pfn in (0xe0010, g.alloc_page(), 0xe0000):
        g.place_grant_table(pfn)
        assert g.grant_entry(fe.ring_ref)[0] == busy, hex(pfn)
        assert fe.read_sectors(0, 8) == (BLKIF_RSP_OKAY, data), hex(pfn)
        assert g.grant_entry(fe.data_refs[0])[0] == xf.GTF_permit_access
    # Withdrawn in the frame where it now lives, a grant is refused.
    g.ungrant(fe.data_refs[0])
    assert fe.read_sectors(0, 8)[0] == BLKIF_RSP_ERROR


def test_io_errors_are_reported(tmp_path, disk_vm):
    """I/O errors (injected by blkdebug) answer BLKIF_RSP_ERROR and nothing else happens:
    the VM runs on and the other requests succeed."""
    img = make_raw(tmp_path / "disk.img", fill={0: pattern(PAGE, seed=13)})
    cfg = tmp_path / "rules.cfg"
    cfg.write_text('[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "4096"\n'
                   '[inject-error]\nevent = "write_aio"\nerrno = "28"\nsector = "8192"\n')
    v = disk_vm(["-drive", f"if=xen,file=blkdebug:{cfg}:{img},format=raw"])
    fe = v.front().connect()
    assert fe.read_sectors(4096, 8)[0] == BLKIF_RSP_ERROR
    assert fe.write_sectors(8192, pattern(PAGE, seed=14)) == BLKIF_RSP_ERROR
    assert fe.read_sectors(0, 8) == (BLKIF_RSP_OKAY, pattern(PAGE, seed=13))
    assert fe.write_sectors(16, pattern(PAGE, seed=15)) == BLKIF_RSP_OKAY
    assert fe.read_sectors(16, 8) == (BLKIF_RSP_OKAY, pattern(PAGE, seed=15))
    v.alive()
    for ref in fe.data_refs:
        assert v.g.grant_entry(ref)[0] == xf.GTF_permit_access


@pytest.mark.parametrize("opt", ["werror=stop", "rerror=stop", "werror=report"])
def test_error_policy_refused_for_xen(tmp_path, run_expect_fail, vmm, opt):
    if vmm != "minivmm":
        pytest.skip("minivmm only")
    img = make_raw(tmp_path / "a.img")
    spec = f"if=xen,file={img},format=raw,{opt}"
    status, err = run_expect_fail(["-machine", "accel=qtest", "-qtest", "null", "-nodefaults",
                                   "-display", "none"] + xf.xen_args() + ["-drive", spec])
    name = opt.split("=")[0]
    assert status == 1, err
    assert err == f"minivmm: -drive {spec}: {name} is not supported by this bus type\n"


# ---- hostile requests ----

def hostile_cases(fe, g):
    """(name, slot, expected status, pages that must stay unchanged)."""
    ok_ref = fe.data_refs[0]
    unfilled = 300                       # an entry the guest never wrote
    beyond = 512                         # one frame only: refs 0..511
    ro_pfn = g.alloc_page(fill=0x3c)
    ro_ref = g.alloc_gref()
    g.grant(ro_ref, ro_pfn, readonly=True)
    other_dom = g.alloc_gref()
    g.grant(other_dom, fe.data_pfns[1], domid=5)
    outside = g.alloc_gref()
    g.grant(outside, 0x100000)           # 4 GiB: no RAM there
    rid = fe.new_id
    rw = BlkFront.rw_slot
    n = fe.sectors
    R, W = BLKIF_OP_READ, BLKIF_OP_WRITE
    E, NS = BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP
    return [
        ("unfilled grant", rw(R, rid(), 0, [(unfilled, 0, 0)]), E, []),
        ("grant ref beyond the table", rw(R, rid(), 0, [(beyond, 0, 0)]), E, []),
        ("grant ref 0xffffffff", rw(W, rid(), 0, [(0xffffffff, 0, 0)]), E, []),
        ("grant to another domain", rw(R, rid(), 0, [(other_dom, 0, 0)]), E, []),
        ("granted frame outside RAM", rw(R, rid(), 0, [(outside, 0, 0)]), E, []),
        ("read into a read-only grant", rw(R, rid(), 0, [(ro_ref, 0, 7)]), E, [ro_pfn]),
        ("read: 0 segments", rw(R, rid(), 0, [(ok_ref, 0, 0)], nr_segments=0), E, []),
        ("read: 12 segments", rw(R, rid(), 0, [(ok_ref, 0, 0)] * 11, nr_segments=12), E, []),
        ("write: 255 segments", rw(W, rid(), 0, [(ok_ref, 0, 0)] * 11, nr_segments=255), E,
         []),
        ("first_sect 5 > last_sect 2", rw(R, rid(), 0, [(ok_ref, 5, 2)]), E, []),
        ("last_sect 8", rw(R, rid(), 0, [(ok_ref, 0, 8)]), E, []),
        ("first_sect 8 last_sect 8", rw(W, rid(), 0, [(ok_ref, 8, 8)]), E, []),
        ("sector_number at the end", rw(R, rid(), n, [(ok_ref, 0, 0)]), E, []),
        ("running past the end", rw(W, rid(), n - 1, [(ok_ref, 0, 1)]), E, []),
        ("sector_number 2^64-1", rw(R, rid(), 2**64 - 1, [(ok_ref, 0, 1)]), E, []),
        ("sector_number 2^55 (byte offset overflows)", rw(R, rid(), 2**55, [(ok_ref, 0, 0)]),
         E, []),
        ("second segment bad", rw(R, rid(), 0, [(ok_ref, 0, 7), (unfilled, 0, 7)]), E, []),
        ("unknown operation 42", struct.pack("<BBHIQQ", 42, 1, 0, 0, rid(), 0), NS, []),
        ("write barrier", rw(xf.BLKIF_OP_WRITE_BARRIER, rid(), 0, [(ok_ref, 0, 0)]), NS, []),
        ("indirect", struct.pack("<BBHIQQ", xf.BLKIF_OP_INDIRECT, 1, 0, 0, rid(), 0), NS, []),
        ("discard not offered", BlkFront.discard_slot(rid(), 0, 8), NS, []),
        ("flush with a segment", rw(BLKIF_OP_FLUSH_DISKCACHE, rid(), 0, [(ok_ref, 0, 0)]), E,
         []),
    ], (ro_ref, other_dom, unfilled)


def test_hostile_requests(tmp_path, disk_vm):
    good = pattern(PAGE, seed=21)
    img = make_raw(tmp_path / "disk.img", fill={0: good})
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect()
    g = v.g
    cases, (ro_ref, other_dom, unfilled) = hostile_cases(fe, g)
    failures = []
    for name, slot, want, keep in cases:
        snap = {pfn: g.read(pfn * PAGE, PAGE) for pfn in keep}
        rsp = fe.submit(slot)
        if rsp.status != want or rsp.operation != slot[0]:
            failures.append(f"{name}: {rsp} (expected status {want})")
        for pfn, data in snap.items():
            if g.read(pfn * PAGE, PAGE) != data:
                failures.append(f"{name}: page {pfn:#x} changed")
        # The device carries on: a good read right after.
        st, data = fe.read_sectors(0, 8)
        if (st, data) != (BLKIF_RSP_OKAY, good):
            failures.append(f"{name}: the next good read got status {st}")
    assert not failures, "\n".join(failures)
    # No grant was left marked in use, and what was not ours to map stays as written.
    for ref in fe.data_refs:
        assert g.grant_entry(ref)[0] == xf.GTF_permit_access, ref
    assert g.grant_entry(ro_ref)[0] == xf.GTF_permit_access | xf.GTF_readonly
    assert g.grant_entry(other_dom)[0] == xf.GTF_permit_access
    assert g.grant_entry(unfilled) == (0, 0, 0)
    # A write from a read-only grant is fine: the backend only reads the page.
    g.write(fe.page(0), pattern(PAGE, seed=22))
    ro2 = g.alloc_gref()
    g.grant(ro2, fe.data_pfns[0], readonly=True)
    assert fe.request(BLKIF_OP_WRITE, 16, [(ro2, 0, 7)]) == BLKIF_RSP_OKAY
    assert fe.read_sectors(16, 8) == (BLKIF_RSP_OKAY, pattern(PAGE, seed=22))
    v.alive()
    status, err = v.quit()
    assert status == 0, err
    assert file_bytes(img, 0, PAGE) == good
    assert file_bytes(img, 16 * SECTOR, PAGE) == pattern(PAGE, seed=22)
    assert os.path.getsize(img) == DISK


def test_bad_write_leaves_disk_unchanged(tmp_path, disk_vm):
    """A WRITE whose third segment cannot be mapped writes nothing at all."""
    img = make_raw(tmp_path / "disk.img")
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect()
    fill_pages(fe, seed=31)
    segs = [(fe.data_refs[0], 0, 7), (fe.data_refs[1], 0, 7), (400, 0, 7)]
    assert fe.request(BLKIF_OP_WRITE, 800, segs) == BLKIF_RSP_ERROR
    assert fe.flush() == BLKIF_RSP_OKAY
    assert file_bytes(img, 800 * SECTOR, 24 * SECTOR) == bytes(24 * SECTOR)
    assert fe.read_sectors(800, 24) == (BLKIF_RSP_OKAY, bytes(24 * SECTOR))
    for ref in fe.data_refs:
        assert v.g.grant_entry(ref)[0] == xf.GTF_permit_access


def test_read_into_the_ring_page_itself(tmp_path, disk_vm):
    """A READ whose segment is the ring page: the disk's bytes land on the shared header
    (req_prod 0xffffffff ...), the response is still written and published from the
    backend's own indexes, and once the frontend restores its header the ring goes on."""
    img = make_raw(tmp_path / "disk.img", fill={0: b"\xff" * PAGE})
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect()
    rid = fe.new_id()
    fe.put_slot(fe.rw_slot(BLKIF_OP_READ, rid, 0, [(fe.ring_ref, 0, 7)]))
    fe.push()
    xf.poll(lambda: v.g.r32(fe.ring + xf.BLKIF_RSP_PROD) == fe.req_prod_pvt, 5,
            "the response to be published")
    assert v.g.r32(fe.ring + xf.BLKIF_REQ_PROD) == 0xffffffff
    (rsp,) = fe.take_responses()
    assert (rsp.id, rsp.operation, rsp.status) == (rid, BLKIF_OP_READ, BLKIF_RSP_OKAY)
    v.g.w32(fe.ring + xf.BLKIF_REQ_PROD, fe.req_prod_pvt)
    v.g.w32(fe.ring + xf.BLKIF_RSP_EVENT, fe.rsp_cons + 1)
    data = pattern(PAGE, seed=45)
    assert fe.write_sectors(8, data) == BLKIF_RSP_OKAY
    assert fe.read_sectors(8, 8) == (BLKIF_RSP_OKAY, data)
    status, err = v.quit()
    assert status == 0 and RING_MSG not in err, err


RING_MSG = ("xen-disk xvda: the frontend's ring indexes are corrupt; ignoring the ring until "
            "it reconnects")


def test_ring_overflow_stops_device_until_reconnect(tmp_path, disk_vm):
    data = pattern(PAGE, seed=41)
    img = make_raw(tmp_path / "disk.img", fill={0: data})
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect()
    assert fe.read_sectors(0, 8) == (BLKIF_RSP_OKAY, data)
    rsp_prod = fe.rsp_prod()
    # req_prod 1000 ahead of what the backend has taken.
    fe.put_slot(fe.rw_slot(BLKIF_OP_READ, fe.new_id(), 0, [(fe.data_refs[0], 0, 0)]))
    v.g.w32(fe.ring + xf.BLKIF_REQ_PROD, fe.req_prod_pvt + 999)
    assert v.g.evtchn_send(fe.port) == 0
    v.alive()
    # Nothing is answered any more, even once req_prod is sane again.
    v.g.w32(fe.ring + xf.BLKIF_REQ_PROD, fe.req_prod_pvt)
    assert v.g.evtchn_send(fe.port) == 0
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        assert fe.rsp_prod() == rsp_prod
        time.sleep(0.01)
    v.alive()
    assert v.qmp.command("query-block")[0]["device"] == "xen0"
    assert v.xs.read(f"{fe.be}/state") == "4"

    # Closing -> Closed -> Initialising -> a new ring -> Connected, and it works again.
    fe.set_state(xf.XenbusStateClosing)
    fe.wait_backend_state(xf.XenbusStateClosing)
    # The backend let go of our channel and ring page.
    assert v.g.evtchn_status(fe.port)[1]["status"] == xf.EVTCHNSTAT_unbound
    assert v.g.grant_entry(fe.ring_ref)[0] == xf.GTF_permit_access
    fe.set_state(xf.XenbusStateClosed)
    fe.wait_backend_state(xf.XenbusStateClosed)
    assert v.g.evtchn_close(fe.port) == 0
    v.g.ungrant(fe.ring_ref)
    fe.set_state(xf.XenbusStateInitialising)
    fe.wait_backend_state(xf.XenbusStateInitWait)
    fe.connect()
    assert fe.read_sectors(0, 8) == (BLKIF_RSP_OKAY, data)
    assert fe.write_sectors(8, data) == BLKIF_RSP_OKAY
    assert fe.read_sectors(8, 8) == (BLKIF_RSP_OKAY, data)

    # A second corrupt ring is not reported again (once per device).
    v.g.w32(fe.ring + xf.BLKIF_REQ_PROD, fe.req_prod_pvt - 5)
    assert v.g.evtchn_send(fe.port) == 0
    v.alive()
    fe.reconnect()
    assert fe.read_sectors(8, 8) == (BLKIF_RSP_OKAY, data)
    status, err = v.quit()
    assert status == 0, err
    assert err.count(RING_MSG) == 1, err


@pytest.mark.parametrize("what", ["ring-ref read-only", "ring-ref unfilled", "port not unbound",
                                  "port closed", "protocol x86_32-abi", "no ring-ref",
                                  "ring-ref not a number"])
def test_bad_handshake_then_recovery(tmp_path, disk_vm, what):
    img = make_raw(tmp_path / "disk.img")
    v = disk_vm(xf.xen_drive(img))
    g, xs = v.g, v.xs
    fe = v.front().probe()
    fe.setup_ring()
    fe.publish()
    if what == "ring-ref read-only":
        g.grant(fe.ring_ref, fe.ring // PAGE, readonly=True)
        error = f"grant reference {fe.ring_ref} is read-only"
    elif what == "ring-ref unfilled":
        xs.write(f"{fe.fe}/ring-ref", "333")
        error = "grant reference 333 is not granted to domain 0"
    elif what == "port not unbound":
        xs.write(f"{fe.fe}/event-channel", str(g.store_port))
        error = f"event channel {g.store_port} is not an unbound port for domain 0"
    elif what == "port closed":
        assert g.evtchn_close(fe.port) == 0
        error = f"event channel {fe.port} is not an unbound port for domain 0"
    elif what == "protocol x86_32-abi":
        xs.write(f"{fe.fe}/protocol", "x86_32-abi")
        error = "unsupported protocol 'x86_32-abi'"
    elif what == "no ring-ref":
        xs.rm(f"{fe.fe}/ring-ref")
        error = f"reading {fe.fe}/ring-ref"
    else:
        xs.write(f"{fe.fe}/ring-ref", "8x")
        error = f"reading {fe.fe}/ring-ref"
    fe.set_state(xf.XenbusStateInitialised)
    fe.wait_backend_state(xf.XenbusStateClosing)
    assert xs.read(f"{fe.be}/error") == error
    # Nothing stays mapped or bound.
    assert g.grant_entry(fe.ring_ref)[0] & (xf.GTF_reading | xf.GTF_writing) == 0
    if what not in ("port not unbound", "port closed"):
        assert g.evtchn_status(fe.port)[1]["status"] == xf.EVTCHNSTAT_unbound
    assert g.evtchn_status(g.store_port)[1]["status"] == xf.EVTCHNSTAT_interdomain
    assert xs.read("domid") == "1"   # the xenstore channel still works
    # Start over properly.
    fe.set_state(xf.XenbusStateClosed)
    fe.wait_backend_state(xf.XenbusStateClosed)
    fe.set_state(xf.XenbusStateInitialising)
    fe.wait_backend_state(xf.XenbusStateInitWait)
    xs.write(f"{fe.fe}/protocol", "x86_64-abi")
    fe.connect()
    assert xs.read_or_none(f"{fe.be}/error") is None
    data = pattern(PAGE, seed=51)
    assert fe.write_sectors(0, data) == BLKIF_RSP_OKAY
    assert fe.read_sectors(0, 8) == (BLKIF_RSP_OKAY, data)


def test_no_protocol_node_means_native(tmp_path, disk_vm):
    img = make_raw(tmp_path / "disk.img")
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().probe()
    fe.setup_ring()
    fe.publish(protocol=None)
    fe.set_state(xf.XenbusStateInitialised)
    fe.wait_backend_state(xf.XenbusStateConnected)
    assert fe.read_sectors(0, 1) == (BLKIF_RSP_OKAY, bytes(SECTOR))


# ---- discard ----

def test_discard_punches_holes(tmp_path, disk_vm):
    if not can_punch_holes(tmp_path):
        pytest.skip(f"the file system of {tmp_path} cannot punch holes")
    data = pattern(3 * MiB, seed=61)
    img = make_raw(tmp_path / "disk.img", fill={4 * MiB: data})
    v = disk_vm(xf.xen_drive(img, discard="unmap"))
    fe = v.front().probe()
    if fe.features.get("feature-discard") != "1":
        pytest.skip("the backend does not advertise feature-discard")
    be = fe.be
    assert v.xs.read(f"{be}/discard-granularity") == "512"
    assert v.xs.read(f"{be}/discard-alignment") == "0"
    assert v.xs.read(f"{be}/discard-secure") == "0"
    fe.connect()
    before = xf.allocated_bytes(img)
    assert before >= 2 * MiB
    start = 4 * MiB // SECTOR + 2048   # the second MiB of the data
    assert fe.discard(start, 2048) == BLKIF_RSP_OKAY
    assert fe.flush() == BLKIF_RSP_OKAY
    after = xf.allocated_bytes(img)
    assert before - after >= MiB - 64 * 1024, (before, after)
    with open(img, "rb") as f:
        assert os.lseek(f.fileno(), 4 * MiB, os.SEEK_HOLE) == 5 * MiB
        assert os.lseek(f.fileno(), 5 * MiB, os.SEEK_DATA) == 6 * MiB
    assert fe.read_sectors(start, 88) == (BLKIF_RSP_OKAY, bytes(88 * SECTOR))
    assert fe.read_sectors(start - 8, 8) == (BLKIF_RSP_OKAY, data[MiB - PAGE:MiB])
    assert fe.read_sectors(start + 2048, 8) == (BLKIF_RSP_OKAY, data[2 * MiB:2 * MiB + PAGE])
    assert file_bytes(img, 4 * MiB, MiB) == data[:MiB]
    assert file_bytes(img, 6 * MiB, MiB) == data[2 * MiB:]
    # Secure erase is not offered; the range is checked; nothing to discard is fine.
    assert fe.discard(0, 8, flag=1) == BLKIF_RSP_EOPNOTSUPP
    assert fe.discard(SECTORS - 8, 9) == BLKIF_RSP_ERROR
    assert fe.discard(SECTORS, 1) == BLKIF_RSP_ERROR
    assert fe.discard(2**64 - 1, 2) == BLKIF_RSP_ERROR
    assert fe.discard(0, 0) == BLKIF_RSP_OKAY
    assert fe.discard(SECTORS - 8, 8) == BLKIF_RSP_OKAY
    assert os.path.getsize(img) == DISK


# ---- several disks, hotplug, reset ----

def test_two_disks_are_independent(tmp_path, disk_vm):
    a = make_raw(tmp_path / "a.img")
    b = make_raw(tmp_path / "b.img", size=8 * MiB)
    v = disk_vm(xf.xen_drive(a, index=0) + xf.xen_drive(b, index=1))
    assert v.xs.directory("device/vbd") == ["51712", "51728"]
    fa, fb = v.front(XVDA).connect(), v.front(XVDB).connect()
    assert fa.be.endswith("/51712") and fb.be.endswith("/51728")
    assert v.xs.read(f"{fb.be}/dev") == "xvdb"
    assert (fa.sectors, fb.sectors) == (SECTORS, 8 * MiB // SECTOR)
    assert fa.port != fb.port
    da, db = pattern(PAGE, seed=71), pattern(PAGE, seed=72)
    assert fa.write_sectors(10, da) == BLKIF_RSP_OKAY
    assert fb.write_sectors(10, db) == BLKIF_RSP_OKAY
    assert fa.read_sectors(10, 8) == (BLKIF_RSP_OKAY, da)
    assert fb.read_sectors(10, 8) == (BLKIF_RSP_OKAY, db)
    # b's size bounds b's requests only.
    assert fb.read_sectors(8 * MiB // SECTOR, 1)[0] == BLKIF_RSP_ERROR
    assert fa.read_sectors(8 * MiB // SECTOR, 1)[0] == BLKIF_RSP_OKAY
    # Taking b down leaves a alone.
    fb.disconnect()
    assert fa.read_sectors(10, 8) == (BLKIF_RSP_OKAY, da)
    assert v.xs.read(f"{fa.be}/state") == "4"
    assert fa.flush() == BLKIF_RSP_OKAY
    assert file_bytes(a, 10 * SECTOR, PAGE) == da
    assert file_bytes(b, 10 * SECTOR, PAGE) == db


def test_port_reused_by_second_disk(tmp_path, disk_vm):
    """Linux's blkfront closes its event channel (blkif_free) before it reports Closed, so
    the port number can go to another device meanwhile: the first backend's disconnect must
    not take the channel from the second."""
    a, b = make_raw(tmp_path / "a.img"), make_raw(tmp_path / "b.img")
    v = disk_vm(xf.xen_drive(a, index=0) + xf.xen_drive(b, index=1))
    g = v.g
    fa = v.front(XVDA).connect()
    port = fa.port
    assert g.evtchn_close(port) == 0        # blkif_free
    fb = v.front(XVDB).connect()
    assert fb.port == port                  # the lowest free port again
    data = pattern(PAGE, seed=81)
    assert fb.write_sectors(0, data) == BLKIF_RSP_OKAY
    fa.set_state(xf.XenbusStateClosing)
    fa.wait_backend_state(xf.XenbusStateClosing)
    fa.set_state(xf.XenbusStateClosed)
    fa.wait_backend_state(xf.XenbusStateClosed)
    assert g.evtchn_status(port)[1]["status"] == xf.EVTCHNSTAT_interdomain
    assert fb.read_sectors(0, 8) == (BLKIF_RSP_OKAY, data)


def test_guest_reset_reconnects(tmp_path, disk_vm):
    data = pattern(PAGE, seed=91)
    img = make_raw(tmp_path / "disk.img", fill={0: data})
    v = disk_vm(xf.xen_drive(img))
    fe = v.front().connect()
    assert fe.read_sectors(0, 8) == (BLKIF_RSP_OKAY, data)
    old_ring = v.g.read(fe.ring, PAGE)
    v.qmp.command("system_reset")
    # After the reset: a toolstack-fresh store with the device published again.
    g = Guest(v.qt)
    g.next_pfn = v.g.next_pfn     # keep clear of the old pages, to check them below
    xf.poll(lambda: g.gnttab_query_size()[1] == 0, 5, "the grant table to be reset")
    g.boot()
    fe2 = BlkFront(g, XVDA)
    fe2.probe()
    assert g.xs.read(f"{fe2.fe}/state") == "1"
    assert g.xs.read_or_none(f"{fe2.fe}/ring-ref") is None
    assert v.g.read(fe.ring, PAGE) == old_ring   # nothing written to the old ring
    fe2.connect()
    assert fe2.read_sectors(0, 8) == (BLKIF_RSP_OKAY, data)
    assert fe2.write_sectors(8, data) == BLKIF_RSP_OKAY
    assert fe2.read_sectors(8, 8) == (BLKIF_RSP_OKAY, data)


def test_hotplug_and_unplug(tmp_path, disk_vm):
    img = make_raw(tmp_path / "disk.img")
    v = disk_vm(["-drive", f"if=none,id=d0,file={img},format=raw"])
    assert v.xs.read_or_none("device/vbd") is None
    assert v.qmp.command("device_add", {"driver": "xen-disk", "drive": "d0",
                                        "vdev": "51760", "id": "x0"}) == {}
    assert v.xs.directory("device/vbd") == ["51760"]
    fe = v.front(51760).connect()
    data = pattern(PAGE, seed=95)
    assert fe.write_sectors(0, data) == BLKIF_RSP_OKAY
    v.xs.watch(f"{fe.be}/state", "be")
    assert v.xs.wait_event("be") == (f"{fe.be}/state", "be")
    assert v.qmp.command("device_del", {"id": "x0"}) == {}
    xf.poll(lambda: v.xs.read_or_none(fe.fe) is None, 5, "the frontend directory to go")
    assert v.xs.wait_event("be") == (f"{fe.be}/state", "be")   # its removal
    assert v.xs.directory("device/vbd") == []
    with pytest.raises(xf.XsError) as e:
        v.xs.read(f"{fe.be}/state")
    assert e.value.name in ("ENOENT", "EACCES")
    # The backend let go of the channel and the ring page.
    assert v.g.evtchn_status(fe.port)[1]["status"] == xf.EVTCHNSTAT_unbound
    assert v.g.grant_entry(fe.ring_ref)[0] == xf.GTF_permit_access
    assert v.g.evtchn_send(fe.port) == 0
    v.alive()
    assert file_bytes(img, 0, PAGE) == data


DEVICE_REFUSED = [
    ("vdev=xvda", "vdev 'xvda': virtual-device 51712 is in use already"),
    ("vdev=51712", "vdev '51712': virtual-device 51712 is in use already"),
    ("vdev=hda", "invalid virtual disk specifier 'hda'\n"
                 "Use xvdX (X from a to z) or a decimal virtual-device number."),
    ("vdev=0", "invalid virtual disk specifier '0'\n"
               "Use xvdX (X from a to z) or a decimal virtual-device number."),
    ("", "vdev property not set"),
]


@pytest.mark.parametrize("dev,message", DEVICE_REFUSED,
                         ids=[c[0] or "no-vdev" for c in DEVICE_REFUSED])
def test_xen_disk_device_refused(tmp_path, run_expect_fail, vmm, dev, message):
    if vmm != "minivmm":
        pytest.skip("minivmm only")
    a, b = make_raw(tmp_path / "a.img"), make_raw(tmp_path / "b.img")
    opt = "xen-disk,drive=d1" + (f",{dev}" if dev else "")
    status, err = run_expect_fail(["-machine", "accel=qtest", "-qtest", "null", "-nodefaults",
                                   "-display", "none"] + xf.xen_args()
                                  + xf.xen_drive(a) + ["-drive",
                                                       f"if=none,id=d1,file={b},format=raw",
                                                       "-device", opt])
    assert status == 1, err
    assert err == f"minivmm: -device {opt}: {message}\n"
