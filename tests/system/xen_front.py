"""A Xen PV guest's side, driven through qtest: what Linux's xenbus and xen-blkfront do, for
the system tests of minivmm's Xen HVM emulation (hw/xen/).

minivmm plays the hypervisor and domain 0 for one guest (domain 1). This host's KVM has no
Xen support, so the guest runs no code: the qtest accelerator's `xen_hypercall NR A0..A5`
runs a hypercall as the guest's vCPU 0 would, with guest-physical pointer arguments, and
guest memory is read and written with qtest's b64read/b64write. Layouts and numbers are
include/hw/xen/xen-abi.h's (x86-64 guest ABI).

  Guest(qt)          hypercalls, guest-RAM page allocation, event channels, shared_info
                     bits, grant table v1 entries; boot() places shared_info and grant
                     frame 0 and opens the xenstore connection (Guest.xs)
  XenStore           a xenstore client over the ring page (XS_* messages, watch events
                     arriving among replies, XS_ERROR as XsError)
  BlkFront           a blkfront: xenbus handshake with the backend, one-page ring, READ /
                     WRITE / FLUSH / DISCARD requests, raw slots for hostile ones
  start_vm(...)      minivmm under qtest with Xen emulation (and a QMP socket if asked)

Everything polls with bounded timeouts (scaled by MINIVMM_TEST_TIMEOUT_SCALE); every qtest
round trip lets minivmm's main loop run, which is where deferred xenstore watches and block
completions happen. Plain standard library.
"""

import base64
import os
import struct
import time

import vm as vmlib
from qtest import QTest, QTestError

XEN_VERSION = 0x4000a  # 4.10
PAGE = 4096
DOMID_SELF = 0x7ff0
GUEST_DOMID = 1
GUEST_HOME = f"/local/domain/{GUEST_DOMID}"

# hypercalls
HC_memory_op, HC_xen_version, HC_grant_table_op = 12, 17, 20
HC_vcpu_op, HC_sched_op, HC_event_channel_op, HC_hvm_op = 24, 29, 32, 34
XENVER_version, XENVER_extraversion, XENVER_get_features, XENVER_pagesize = 0, 1, 6, 7
XENFEAT_writable_page_tables, XENFEAT_writable_descriptor_tables = 0, 1
XENFEAT_auto_translated_physmap, XENFEAT_supervisor_mode_kernel = 2, 3
XENFEAT_hvm_callback_vector = 8
XENMEM_add_to_physmap = 7
XENMAPSPACE_shared_info, XENMAPSPACE_grant_table = 0, 1
HVMOP_set_param, HVMOP_get_param = 0, 1
HVM_PARAM_CALLBACK_IRQ, HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN = 0, 1, 2
HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN = 17, 18
SCHEDOP_yield, SCHEDOP_block, SCHEDOP_shutdown, SCHEDOP_poll = 0, 1, 2, 3
VCPUOP_register_vcpu_info = 10
EVTCHNOP_bind_interdomain, EVTCHNOP_close, EVTCHNOP_send = 0, 3, 4
EVTCHNOP_status, EVTCHNOP_alloc_unbound, EVTCHNOP_unmask = 5, 6, 9
EVTCHNSTAT_closed, EVTCHNSTAT_unbound, EVTCHNSTAT_interdomain = 0, 1, 2
NR_PORTS = 4096
GNTTABOP_setup_table, GNTTABOP_query_size = 2, 6
GNTTABOP_set_version, GNTTABOP_get_version = 8, 10
GTF_permit_access, GTF_readonly, GTF_reading, GTF_writing = 1, 1 << 2, 1 << 3, 1 << 4
GNTST_okay, GNTST_bad_domain = 0, -2
GNTTAB_MAX_FRAMES = 64

# shared_info
SHINFO_PENDING, SHINFO_MASK = 2048, 2560
VCPU_UPCALL_PENDING, VCPU_UPCALL_MASK, VCPU_PENDING_SEL = 0, 1, 8

# errnos as the hypercalls return them
EPERM, ENOENT, ESRCH, EFAULT, EINVAL = -1, -2, -3, -14, -22
ENOSPC, ENOSYS, EOPNOTSUPP = -28, -38, -95

# xenstore
XS_RING_REQ, XS_RING_RSP = 0, 1024
XS_REQ_CONS, XS_REQ_PROD, XS_RSP_CONS, XS_RSP_PROD = 2048, 2052, 2056, 2060
XS_SERVER_FEATURES, XS_CONNECTION, XS_ERROR_FIELD = 2064, 2068, 2072
XS_RING_SIZE = 1024
XS_PAYLOAD_MAX = 4096
(XS_CONTROL, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH, XS_TRANSACTION_START,
 XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE, XS_GET_DOMAIN_PATH, XS_WRITE, XS_MKDIR, XS_RM,
 XS_SET_PERMS, XS_WATCH_EVENT, XS_ERROR, XS_IS_DOMAIN_INTRODUCED, XS_RESUME,
 XS_SET_TARGET) = range(20)
XS_RESET_WATCHES, XS_DIRECTORY_PART = 21, 22

# xenbus states
(XenbusStateUnknown, XenbusStateInitialising, XenbusStateInitWait, XenbusStateInitialised,
 XenbusStateConnected, XenbusStateClosing, XenbusStateClosed) = range(7)

# blkif
BLKIF_HDR, BLKIF_SLOT, BLKIF_SLOTS = 64, 112, 32
BLKIF_REQ_PROD, BLKIF_REQ_EVENT, BLKIF_RSP_PROD, BLKIF_RSP_EVENT = 0, 4, 8, 12
BLKIF_MAX_SEGS = 11
SECTOR = 512
BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER = 0, 1, 2
BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT = 3, 5, 6
BLKIF_RSP_OKAY, BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP = 0, -1, -2
VDISK_READONLY = 4


def vbd_id(index):
    """The virtual-device number of xvd<'a'+index> (202 major, disk << 4) for index < 16."""
    return 202 << 8 | index << 4


def timeout_scale():
    return vmlib.timeout_scale()


class XenTimeout(AssertionError):
    pass


def poll(pred, timeout, what, interval=0.002):
    """Call pred() until it returns something true; return that. Each call is expected to do
    at least one qtest round trip, so minivmm's main loop runs in between."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout * timeout_scale()
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise XenTimeout(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---- starting a VM ----

def xen_args(version=XEN_VERSION, mem=128):
    return ["-accel", f"qtest,xen-version={version:#x}", "-m", str(mem)]


def xen_drive(path, index=None, fmt="raw", **opts):
    spec = f"if=xen,file={path},format={fmt}"
    if index is not None:
        spec += f",index={index}"
    for k, v in opts.items():
        spec += f",{k.replace('_', '-')}={v}"
    return ["-drive", spec]


def start_vm(extra=(), *, tmp_path=None, xen=True, qmp=False, mem=128):
    """minivmm under qtest with Xen emulation (xen=False: without). Returns (QTest, QMP or
    None); the QTest's stderr is a pipe, read it with stop_vm()."""
    args = (xen_args(mem=mem) if xen else ["-m", str(mem)]) + list(extra)
    if not qmp:
        return QTest.minivmm(args), None
    from qmp_vm import QMP
    sock = str(tmp_path / "qmp.sock")
    qt = QTest.minivmm(["-qmp", f"unix:{sock},server,nowait"] + args)
    q = QMP(sock)
    try:
        q.connect(retry_for=10 * timeout_scale())
    except Exception:
        qt.close()
        raise
    return qt, q


def stop_vm(qt, qmp=None, timeout=10):
    """Quit (QMP "quit" when there is a monitor, else SIGTERM) and reap; returns
    (exit status, stderr text)."""
    proc = qt.proc
    if qmp is not None and proc.poll() is None:
        try:
            qmp.command("quit")
        except Exception:
            pass
        try:
            qmp.close()
        except Exception:
            pass
    elif proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout * timeout_scale())
    except Exception:
        proc.kill()
        proc.wait()
    err = proc.stderr.read().decode(errors="replace")
    qt.close()
    return proc.returncode, err


# ---- the guest ----

class Guest:
    """The guest's view of the hypervisor, through qtest.

    Guest-physical layout (all well above 1 MiB, inside -m 128):
      SHINFO_PFN          shared_info, once boot() placed it
      GNTTAB_PFN          grant table frame 0 (v1: 512 entries of 8 bytes)
      ARGS_GPA            scratch page for hypercall argument structures
      from POOL_PFN on    pages handed out by alloc_page()
    Grant refs 0..7 are left unused (Linux reserves them); alloc_gref() hands out the rest.
    """

    SHINFO_PFN = 0x1000      # 16 MiB
    GNTTAB_PFN = 0x1001
    ARGS_GPA = 0x1002000
    POOL_PFN = 0x1010

    def __init__(self, qt):
        self.qt = qt
        self.next_pfn = self.POOL_PFN
        self.next_gref = 8
        self.shinfo = None
        self.gnttab = None
        self.xs = None
        self.store_pfn = None
        self.store_port = None

    # -- memory --
    def read(self, addr, n):
        reply = self.qt.ok(f"b64read {addr:#x} {n}")
        data = base64.b64decode(reply)
        assert len(data) == n, f"b64read {addr:#x} {n} returned {len(data)} bytes"
        return data

    def write(self, addr, data):
        data = bytes(data)
        if not data:
            return
        self.qt.ok(f"b64write {addr:#x} {len(data)} {base64.b64encode(data).decode()}")

    def fill(self, addr, n, byte):
        self.qt.ok(f"memset {addr:#x} {n} {byte:#x}")

    def r8(self, addr):
        return int(self.qt.ok(f"readb {addr:#x}"), 16)

    def r16(self, addr):
        return int(self.qt.ok(f"readw {addr:#x}"), 16)

    def r32(self, addr):
        return int(self.qt.ok(f"readl {addr:#x}"), 16)

    def r64(self, addr):
        return int(self.qt.ok(f"readq {addr:#x}"), 16)

    def w16(self, addr, v):
        self.qt.ok(f"writew {addr:#x} {v & 0xffff:#x}")

    def w32(self, addr, v):
        self.qt.ok(f"writel {addr:#x} {v & 0xffffffff:#x}")

    def w64(self, addr, v):
        self.qt.ok(f"writeq {addr:#x} {v & 0xffffffffffffffff:#x}")

    def alloc_page(self, fill=0):
        pfn = self.next_pfn
        self.next_pfn += 1
        assert self.next_pfn < (120 << 20) // PAGE, "guest page pool exhausted"
        self.fill(pfn * PAGE, PAGE, fill)
        return pfn

    # -- hypercalls --
    def hypercall(self, nr, *args):
        """Run hypercall nr for vCPU 0; return rax (0 or a negative errno)."""
        line = " ".join(["xen_hypercall", str(nr)] + [f"{a & 0xffffffffffffffff:#x}"
                                                     for a in args])
        reply = self.qt.cmd(line)
        if not reply.startswith("OK "):
            raise QTestError(f"{line!r} -> {reply!r}")
        return int(reply[3:])

    def call(self, nr, cmd, fmt, *values, count=None, addr=None):
        """Hypercall nr(cmd, &struct[, count]) with the struct packed from fmt/values at
        ARGS_GPA (or addr); returns (rax, the struct unpacked after the call)."""
        addr = self.ARGS_GPA if addr is None else addr
        self.write(addr, struct.pack("<" + fmt, *values))
        args = (cmd, addr) if count is None else (cmd, addr, count)
        ret = self.hypercall(nr, *args)
        out = struct.unpack("<" + fmt, self.read(addr, struct.calcsize("<" + fmt)))
        return ret, out

    def xen_version(self, cmd=XENVER_version, arg=0):
        return self.hypercall(HC_xen_version, cmd, arg)

    def get_features(self, submap_idx=0):
        ret, (_, submap) = self.call(HC_xen_version, XENVER_get_features, "II", submap_idx, 0)
        return ret, submap

    def add_to_physmap(self, space, idx, gpfn, domid=DOMID_SELF):
        ret, _ = self.call(HC_memory_op, XENMEM_add_to_physmap, "HHIQQ", domid, 0, space, idx,
                           gpfn)
        return ret

    def get_param(self, index, domid=DOMID_SELF):
        ret, (_, _, _, value) = self.call(HC_hvm_op, HVMOP_get_param, "HHIQ", domid, 0, index, 0)
        return ret, value

    def set_param(self, index, value, domid=DOMID_SELF):
        ret, _ = self.call(HC_hvm_op, HVMOP_set_param, "HHIQ", domid, 0, index, value)
        return ret

    # -- boot: what a PVHVM kernel does before xenbus starts --
    def _place(self, space, pfn, what):
        ret = self.add_to_physmap(space, 0, pfn)
        assert ret == 0, f"XENMEM_add_to_physmap({what}, gpfn {pfn:#x}) = {ret}"
        return pfn * PAGE

    def place_shared_info(self, pfn=None):
        pfn = self.SHINFO_PFN if pfn is None else pfn
        self.shinfo = self._place(XENMAPSPACE_shared_info, pfn, "shared_info")
        return pfn

    def place_grant_table(self, pfn=None):
        pfn = self.GNTTAB_PFN if pfn is None else pfn
        self.gnttab = self._place(XENMAPSPACE_grant_table, pfn, "grant_table 0")
        return pfn

    def boot(self):
        """shared_info, grant frame 0, the xenstore page and channel; returns self."""
        self.place_shared_info()
        self.place_grant_table()
        ret, self.store_pfn = self.get_param(HVM_PARAM_STORE_PFN)
        assert ret == 0 and self.store_pfn, f"HVM_PARAM_STORE_PFN: {ret}, {self.store_pfn}"
        ret, self.store_port = self.get_param(HVM_PARAM_STORE_EVTCHN)
        assert ret == 0 and self.store_port, f"HVM_PARAM_STORE_EVTCHN: {ret}, {self.store_port}"
        self.xs = XenStore(self, self.store_pfn, self.store_port)
        return self

    # -- event channels --
    def evtchn_alloc_unbound(self, remote_dom=0, dom=DOMID_SELF):
        """(rax, port)."""
        ret, (_, _, port) = self.call(HC_event_channel_op, EVTCHNOP_alloc_unbound, "HHI", dom,
                                      remote_dom, 0)
        return ret, port

    def alloc_port(self):
        ret, port = self.evtchn_alloc_unbound()
        assert ret == 0 and port > 0, f"EVTCHNOP_alloc_unbound: {ret}, port {port}"
        return port

    def _port_op(self, op, port):
        ret, _ = self.call(HC_event_channel_op, op, "I", port)
        return ret

    def evtchn_send(self, port):
        return self._port_op(EVTCHNOP_send, port)

    def evtchn_close(self, port):
        return self._port_op(EVTCHNOP_close, port)

    def evtchn_unmask(self, port):
        return self._port_op(EVTCHNOP_unmask, port)

    def evtchn_status(self, port, dom=DOMID_SELF):
        """(rax, {status, vcpu, remote_dom, remote_port})."""
        ret, out = self.call(HC_event_channel_op, EVTCHNOP_status, "HHIIIHHI", dom, 0, port,
                             0xffffffff, 0xffffffff, 0xffff, 0, 0xffffffff)
        _, _, _, status, vcpu, rdom, _, rport = out
        return ret, {"status": status, "vcpu": vcpu, "remote_dom": rdom, "remote_port": rport}

    def _bit(self, offset, port):
        word = self.r64(self.shinfo + offset + (port // 64) * 8)
        return bool(word >> (port % 64) & 1)

    def _set_bit(self, offset, port, value):
        addr = self.shinfo + offset + (port // 64) * 8
        word = self.r64(addr)
        word = word | 1 << (port % 64) if value else word & ~(1 << (port % 64))
        self.w64(addr, word)

    def pending(self, port):
        return self._bit(SHINFO_PENDING, port)

    def clear_pending(self, port):
        self._set_bit(SHINFO_PENDING, port, False)

    def masked(self, port):
        return self._bit(SHINFO_MASK, port)

    def mask(self, port, value=True):
        self._set_bit(SHINFO_MASK, port, value)

    def upcall_pending(self):
        return self.r8(self.shinfo + VCPU_UPCALL_PENDING)

    def pending_sel(self):
        return self.r64(self.shinfo + VCPU_PENDING_SEL)

    def ack_upcall(self):
        """What the upcall handler does first: clear upcall_pending and the selector."""
        self.write(self.shinfo + VCPU_UPCALL_PENDING, b"\0")
        self.w64(self.shinfo + VCPU_PENDING_SEL, 0)

    # -- grant table v1 --
    def alloc_gref(self):
        ref = self.next_gref
        self.next_gref += 1
        assert ref < PAGE // 8, "grant frame 0 is full"
        return ref

    def grant(self, ref, pfn, readonly=False, domid=0):
        """Entry {flags, domid, frame}: domid and frame first, flags last, as a guest must."""
        e = self.gnttab + ref * 8
        self.write(e + 2, struct.pack("<HI", domid, pfn))
        self.w16(e, GTF_permit_access | (GTF_readonly if readonly else 0))

    def ungrant(self, ref):
        self.w16(self.gnttab + ref * 8, 0)

    def grant_entry(self, ref):
        """(flags, domid, frame)."""
        return struct.unpack("<HHI", self.read(self.gnttab + ref * 8, 8))

    def gnttab_query_size(self, dom=DOMID_SELF):
        ret, (_, _, nr, mx, status, _) = self.call(HC_grant_table_op, GNTTABOP_query_size,
                                                   "HHIIhh", dom, 0, 0xffffffff, 0xffffffff,
                                                   0x7fff, 0, count=1)
        return ret, nr, mx, status

    def gnttab_get_version(self, dom=DOMID_SELF):
        ret, (_, _, version) = self.call(HC_grant_table_op, GNTTABOP_get_version, "HHI", dom, 0,
                                         0xffffffff, count=1)
        return ret, version

    def gnttab_set_version(self, version):
        ret, (out,) = self.call(HC_grant_table_op, GNTTABOP_set_version, "I", version, count=1)
        return ret, out


# ---- xenstore ----

class XsError(Exception):
    """An XS_ERROR reply: .name is its payload ("EACCES", ...)."""

    def __init__(self, name, request):
        super().__init__(f"{request}: {name}")
        self.name = name


class XenStore:
    """A xenstore client over the ring page, as Linux's xenbus_comms: requests go into req[]
    from req_prod on, then an event on the store port; replies and watch events are taken
    from rsp[] between rsp_cons and rsp_prod."""

    def __init__(self, guest, pfn, port, timeout=5):
        self.g = guest
        self.ring = pfn * PAGE
        self.port = port
        self.timeout = timeout
        self.next_req_id = 0x100
        self.inbuf = b""
        self.replies = {}   # req_id -> (type, tx_id, payload)
        self.events = []    # (path, token) of XS_WATCH_EVENT not yet taken
        self.other = []     # messages matching no request
        self.read_bytes = 0

    # -- the ring --
    def _kick(self):
        ret = self.g.evtchn_send(self.port)
        assert ret == 0, f"EVTCHNOP_send on the xenstore port {self.port}: {ret}"

    def _ring_write(self, msg):
        deadline = time.monotonic() + self.timeout * timeout_scale()
        while msg:
            cons, prod = struct.unpack("<II", self.g.read(self.ring + XS_REQ_CONS, 8))
            space = XS_RING_SIZE - (prod - cons) % (1 << 32)
            if space <= 0:
                if self.g.r32(self.ring + XS_ERROR_FIELD):
                    raise AssertionError("xenstore ring broken (error field "
                                         f"{self.g.r32(self.ring + XS_ERROR_FIELD)})")
                self._kick()
                self.pump()
                if time.monotonic() > deadline:
                    raise XenTimeout("xenstore request ring stays full")
                time.sleep(0.002)
                continue
            pos = prod % XS_RING_SIZE
            n = min(space, len(msg), XS_RING_SIZE - pos)
            self.g.write(self.ring + XS_RING_REQ + pos, msg[:n])
            self.g.w32(self.ring + XS_REQ_PROD, (prod + n) & 0xffffffff)
            msg = msg[n:]
            self._kick()

    def pump(self):
        """Take what the server wrote; file replies and events. True if anything came."""
        cons, prod = struct.unpack("<II", self.g.read(self.ring + XS_RSP_CONS, 8))
        avail = (prod - cons) % (1 << 32)
        assert avail <= XS_RING_SIZE, f"xenstore rsp indexes corrupt: cons {cons} prod {prod}"
        if not avail:
            return False
        pos = cons % XS_RING_SIZE
        first = min(avail, XS_RING_SIZE - pos)
        data = self.g.read(self.ring + XS_RING_RSP + pos, first)
        if first < avail:
            data += self.g.read(self.ring + XS_RING_RSP, avail - first)
        self.g.w32(self.ring + XS_RSP_CONS, prod)
        self.read_bytes += avail
        self.inbuf += data
        while len(self.inbuf) >= 16:
            typ, req_id, tx_id, length = struct.unpack("<IIII", self.inbuf[:16])
            assert length <= XS_PAYLOAD_MAX, f"xenstore reply of {length} bytes"
            if len(self.inbuf) < 16 + length:
                break
            payload = self.inbuf[16:16 + length]
            self.inbuf = self.inbuf[16 + length:]
            if typ == XS_WATCH_EVENT:
                parts = payload.split(b"\0")
                assert len(parts) == 3 and parts[2] == b"", f"watch event payload {payload!r}"
                self.events.append((parts[0].decode(), parts[1].decode()))
            elif req_id in self.replies and self.replies[req_id] is None:
                self.replies[req_id] = (typ, tx_id, payload)
            else:
                self.other.append((typ, req_id, tx_id, payload))
        # The server may hold output back for ring space: tell it there is room now.
        self._kick()
        return True

    # -- requests --
    def send(self, typ, payload, tx=0):
        """Queue one request; returns its req_id."""
        req_id = self.next_req_id
        self.next_req_id += 1
        self.replies[req_id] = None
        self._ring_write(struct.pack("<IIII", typ, req_id, tx, len(payload)) + payload)
        return req_id

    def wait_reply(self, req_id, what="reply"):
        def got():
            while self.replies.get(req_id) is None and self.pump():
                pass
            return self.replies.get(req_id)
        reply = poll(got, self.timeout, f"xenstore {what} (req_id {req_id})")
        del self.replies[req_id]
        return reply

    def raw(self, typ, payload, tx=0):
        """One request, its whole reply: (type, tx_id, payload)."""
        return self.wait_reply(self.send(typ, payload, tx), f"reply to type {typ}")

    def request(self, typ, payload, tx=0):
        """The reply payload; XsError for an XS_ERROR reply."""
        rtyp, rtx, data = self.raw(typ, payload, tx)
        what = f"XS type {typ} {payload!r}"
        if rtyp == XS_ERROR:
            assert data.endswith(b"\0"), f"{what}: error payload {data!r}"
            raise XsError(data[:-1].decode(), what)
        assert rtyp == typ, f"{what}: reply type {rtyp} payload {data!r}"
        assert rtx == tx, f"{what}: reply tx_id {rtx}"
        return data

    @staticmethod
    def _z(*strings):
        return b"".join(s.encode() + b"\0" if isinstance(s, str) else s + b"\0"
                        for s in strings)

    def read(self, path, tx=0):
        return self.request(XS_READ, self._z(path), tx).decode()

    def read_or_none(self, path, tx=0):
        try:
            return self.read(path, tx)
        except XsError as e:
            if e.name == "ENOENT":
                return None
            raise

    def write(self, path, value, tx=0):
        value = value.encode() if isinstance(value, str) else value
        assert self.request(XS_WRITE, path.encode() + b"\0" + value, tx) == b"OK\0"

    def mkdir(self, path, tx=0):
        assert self.request(XS_MKDIR, self._z(path), tx) == b"OK\0"

    def rm(self, path, tx=0):
        assert self.request(XS_RM, self._z(path), tx) == b"OK\0"

    def directory(self, path, tx=0):
        data = self.request(XS_DIRECTORY, self._z(path), tx)
        if not data:
            return []
        assert data.endswith(b"\0"), f"directory payload {data!r}"
        return [n.decode() for n in data[:-1].split(b"\0")]

    def get_perms(self, path, tx=0):
        data = self.request(XS_GET_PERMS, self._z(path), tx)
        assert data.endswith(b"\0")
        return [p.decode() for p in data[:-1].split(b"\0")]

    def set_perms(self, path, perms, tx=0):
        assert self.request(XS_SET_PERMS, self._z(path, *perms), tx) == b"OK\0"

    def watch(self, path, token):
        assert self.request(XS_WATCH, self._z(path, token)) == b"OK\0"

    def unwatch(self, path, token):
        assert self.request(XS_UNWATCH, self._z(path, token)) == b"OK\0"

    def transaction_start(self):
        data = self.request(XS_TRANSACTION_START, b"\0")
        assert data.endswith(b"\0"), data
        tx = int(data[:-1])
        assert tx != 0
        return tx

    def transaction_end(self, tx, commit=True):
        assert self.request(XS_TRANSACTION_END, b"T\0" if commit else b"F\0", tx) == b"OK\0"

    def get_domain_path(self, domid):
        data = self.request(XS_GET_DOMAIN_PATH, self._z(str(domid)))
        assert data.endswith(b"\0")
        return data[:-1].decode()

    def wait_event(self, token=None, path=None, timeout=None):
        """The first queued watch event matching token/path (removed from the queue)."""
        def find():
            while True:
                for i, (p, t) in enumerate(self.events):
                    if (token is None or t == token) and (path is None or p == path):
                        return self.events.pop(i)
                if not self.pump():   # nothing more has come for now
                    return None
        return poll(find, timeout or self.timeout, f"watch event token={token!r} path={path!r}")

    def wait_value(self, path, pred, timeout=None, what=None):
        """Read path until pred(value) holds (value None while absent); return the value."""
        last = []

        def check():
            v = self.read_or_none(path)
            last[:] = [v]
            return (v,) if pred(v) else None
        try:
            return poll(check, timeout or self.timeout, what or f"{path}")[0]
        except XenTimeout as e:
            raise XenTimeout(f"{e} (last value {last[0]!r})") from None


# ---- blkfront ----

class BlkResponse:
    def __init__(self, raw):
        self.id, self.operation, self.status = struct.unpack("<QBxh", raw[:12])

    def __repr__(self):
        return f"BlkResponse(id={self.id}, op={self.operation}, status={self.status})"


class BlkFront:
    """One vbd of the guest, as xen-blkfront drives it: handshake, one-page ring, requests."""

    def __init__(self, guest, vbd=vbd_id(0), timeout=5):
        self.g = guest
        self.xs = guest.xs
        self.vbd = vbd
        self.fe = f"{GUEST_HOME}/device/vbd/{vbd}"
        self.timeout = timeout
        self.be = None
        self.ring = None
        self.ring_ref = None
        self.port = None
        self.req_prod_pvt = 0
        self.rsp_cons = 0
        self.next_id = 1
        self.connected = False
        # Data pages, granted writable once: up to 11 segments per request.
        self.data_pfns = [guest.alloc_page() for _ in range(BLKIF_MAX_SEGS)]
        self.data_refs = [guest.alloc_gref() for _ in range(BLKIF_MAX_SEGS)]
        for ref, pfn in zip(self.data_refs, self.data_pfns):
            guest.grant(ref, pfn)

    # -- xenbus --
    def backend_state(self):
        v = self.xs.read_or_none(f"{self.be}/state")
        return None if v is None else int(v)

    def set_state(self, state):
        self.xs.write(f"{self.fe}/state", str(state))

    def wait_backend_state(self, state, timeout=None):
        return self.xs.wait_value(f"{self.be}/state", lambda v: v == str(state),
                                  timeout or self.timeout,
                                  f"backend {self.be} state {state}")

    def probe(self):
        """Find the backend and wait for InitWait; read what it advertises."""
        self.be = self.xs.read(f"{self.fe}/backend")
        self.wait_backend_state(XenbusStateInitWait)
        self.sectors = int(self.xs.read(f"{self.be}/sectors"))
        self.sector_size = int(self.xs.read(f"{self.be}/sector-size"))
        self.info = int(self.xs.read(f"{self.be}/info"))
        self.features = {}
        for name in self.xs.directory(self.be):
            if name.startswith("feature-"):
                self.features[name] = self.xs.read(f"{self.be}/{name}")
        return self

    def setup_ring(self, start=0):
        """A fresh shared ring page (SHARED_RING_INIT: req_event = rsp_event = start + 1),
        granted, and an unbound event channel for domain 0. start: where the free-running
        indexes begin (Linux: 0; a backend must not assume it)."""
        pfn = self.g.alloc_page()
        self.ring = pfn * PAGE
        start &= 0xffffffff
        self.g.write(self.ring, struct.pack("<IIII", start, (start + 1) & 0xffffffff, start,
                                            (start + 1) & 0xffffffff))
        self.ring_ref = self.g.alloc_gref()
        self.g.grant(self.ring_ref, pfn)
        self.port = self.g.alloc_port()
        self.req_prod_pvt = start
        self.rsp_cons = start

    def publish(self, protocol="x86_64-abi"):
        self.xs.write(f"{self.fe}/ring-ref", str(self.ring_ref))
        self.xs.write(f"{self.fe}/event-channel", str(self.port))
        if protocol is not None:
            self.xs.write(f"{self.fe}/protocol", protocol)

    def connect(self, start=0):
        """The whole handshake: InitWait seen, ring set up and published, Initialised, wait
        for Connected, then Connected ourselves (as blkfront does). Returns self."""
        if self.be is None:
            self.probe()
        else:
            self.wait_backend_state(XenbusStateInitWait)
        self.setup_ring(start)
        self.publish()
        self.set_state(XenbusStateInitialised)
        self.wait_backend_state(XenbusStateConnected)
        self.sectors = int(self.xs.read(f"{self.be}/sectors"))
        self.set_state(XenbusStateConnected)
        self.connected = True
        return self

    def disconnect(self):
        """Closing -> (backend Closing) -> Closed -> (backend Closed); the old channel closed
        and the ring's grant withdrawn."""
        self.set_state(XenbusStateClosing)
        self.wait_backend_state(XenbusStateClosing)
        self.set_state(XenbusStateClosed)
        self.wait_backend_state(XenbusStateClosed)
        assert self.g.evtchn_close(self.port) == 0
        self.g.ungrant(self.ring_ref)
        self.connected = False

    def reconnect(self):
        self.disconnect()
        self.set_state(XenbusStateInitialising)
        self.wait_backend_state(XenbusStateInitWait)
        return self.connect()

    # -- the ring --
    def slot_addr(self, index):
        return self.ring + BLKIF_HDR + (index % BLKIF_SLOTS) * BLKIF_SLOT

    def put_slot(self, slot):
        assert len(slot) <= BLKIF_SLOT
        self.g.write(self.slot_addr(self.req_prod_pvt), slot.ljust(BLKIF_SLOT, b"\0"))
        self.req_prod_pvt = (self.req_prod_pvt + 1) & 0xffffffff

    def push(self, notify=True):
        """Publish req_prod and send on the channel."""
        self.g.w32(self.ring + BLKIF_REQ_PROD, self.req_prod_pvt)
        if notify:
            ret = self.g.evtchn_send(self.port)
            assert ret == 0, f"EVTCHNOP_send on {self.port}: {ret}"

    def new_id(self):
        rid = self.next_id
        self.next_id += 1
        return 0x1d00000000 + rid

    @staticmethod
    def rw_slot(op, rid, sector, segs, nr_segments=None):
        """segs: [(gref, first_sect, last_sect)]."""
        n = len(segs) if nr_segments is None else nr_segments
        slot = struct.pack("<BBHIQQ", op, n, 0, 0, rid, sector)
        for gref, first, last in segs:
            slot += struct.pack("<IBBH", gref, first, last, 0)
        return slot

    @staticmethod
    def discard_slot(rid, sector, count, flag=0):
        return struct.pack("<BBHIQQQ", BLKIF_OP_DISCARD, flag, 0, 0, rid, sector, count)

    def rsp_prod(self):
        return self.g.r32(self.ring + BLKIF_RSP_PROD)

    def take_responses(self):
        prod = self.rsp_prod()
        assert (prod - self.rsp_cons) % (1 << 32) <= BLKIF_SLOTS, \
            f"rsp_prod {prod} far from rsp_cons {self.rsp_cons}"
        out = []
        while self.rsp_cons != prod:
            out.append(BlkResponse(self.g.read(self.slot_addr(self.rsp_cons), 16)))
            self.rsp_cons = (self.rsp_cons + 1) & 0xffffffff
        if out:
            # RING_FINAL_CHECK_FOR_RESPONSES: ask to be told about the next one.
            self.g.w32(self.ring + BLKIF_RSP_EVENT, self.rsp_cons + 1)
        return out

    def wait_responses(self, n, timeout=None):
        got = []

        def enough():
            got.extend(self.take_responses())
            return len(got) >= n
        try:
            poll(enough, timeout or self.timeout, f"{n} responses on {self.vbd}'s ring")
        except XenTimeout as e:
            raise XenTimeout(f"{e}: got {got}") from None
        assert len(got) == n, f"expected {n} responses, got {got}"
        return got

    def submit(self, slot):
        """One raw request slot; its response once it comes (checked for the id)."""
        rid = struct.unpack("<Q", slot[8:16])[0]
        self.put_slot(slot)
        self.push()
        (rsp,) = self.wait_responses(1)
        assert rsp.id == rid, f"response id {rsp.id:#x} for request {rid:#x}"
        return rsp

    def request(self, op, sector, segs, nr_segments=None):
        """Status of a READ/WRITE with segments [(gref, first, last)]; checks the response's
        operation echoes the request's."""
        rid = self.new_id()
        rsp = self.submit(self.rw_slot(op, rid, sector, segs, nr_segments))
        assert rsp.operation == op, rsp
        return rsp.status

    def flush(self):
        rid = self.new_id()
        rsp = self.submit(struct.pack("<BBHIQQ", BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, rid, 0))
        assert rsp.operation == BLKIF_OP_FLUSH_DISKCACHE, rsp
        return rsp.status

    def discard(self, sector, count, flag=0):
        rsp = self.submit(self.discard_slot(self.new_id(), sector, count, flag))
        assert rsp.operation == BLKIF_OP_DISCARD, rsp
        return rsp.status

    # -- whole-sector convenience over the data pages --
    def page(self, i):
        return self.data_pfns[i] * PAGE

    def write_sectors(self, sector, data):
        """Write len(data) (a multiple of 512, at most 44 KiB) at sector; status."""
        assert len(data) % SECTOR == 0 and 0 < len(data) <= BLKIF_MAX_SEGS * PAGE
        segs = []
        for i in range(0, len(data), PAGE):
            chunk = data[i:i + PAGE]
            self.g.write(self.page(i // PAGE), chunk)
            segs.append((self.data_refs[i // PAGE], 0, len(chunk) // SECTOR - 1))
        return self.request(BLKIF_OP_WRITE, sector, segs)

    def read_sectors(self, sector, count):
        """(status, data) of a read of count sectors (at most 88) at sector."""
        assert 0 < count <= BLKIF_MAX_SEGS * 8
        segs, sizes = [], []
        for i in range(0, count, 8):
            n = min(8, count - i)
            segs.append((self.data_refs[i // 8], 0, n - 1))
            sizes.append(n * SECTOR)
        for i in range(len(segs)):
            self.g.fill(self.page(i), PAGE, 0xa5)
        status = self.request(BLKIF_OP_READ, sector, segs)
        data = b"".join(self.g.read(self.page(i), size) for i, size in enumerate(sizes))
        return status, data


def pattern(n, seed=0):
    """n bytes that differ at every sector and offset."""
    out = bytearray(n)
    for i in range(0, n, 4):
        out[i:i + 4] = struct.pack("<I", (i * 2654435761 + seed * 97 + (i >> 9)) & 0xffffffff)
    return bytes(out[:n])


def file_bytes(path, offset, n):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(n)


def allocated_bytes(path):
    return os.stat(path).st_blocks * 512
