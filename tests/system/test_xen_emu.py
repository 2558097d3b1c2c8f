"""Xen HVM guest emulation (hw/xen/): the hypercalls, event channels, grant table and the
xenstore, as a guest sees them, driven through qtest's `xen_hypercall` (this host's KVM has
no Xen support, so no guest code runs; see xen_front.py), and the command-line side.

Expectations are Xen's public ABI (include/hw/xen/xen-abi.h) and minivmm's documented
subset: unknown calls -ENOSYS, bad ports -EINVAL, pointers outside RAM -EFAULT, only
domain 0 as the other end of a channel, grant table v1 only; xenstore as xenstored
(docs/misc/xenstore.txt): permissions, relative paths, watches whose first event follows
the reply, transactions that fail with EAGAIN on conflict.
"""

import fcntl
import os
import struct

import pytest

import xen_front as xf
from xen_front import Guest, XsError, start_vm, stop_vm

RAM_END = 128 << 20
OUTSIDE = [RAM_END, 0xf0000000, 1 << 40, RAM_END - 2]  # the last straddles the end of RAM


@pytest.fixture(autouse=True)
def minivmm_only(vmm):
    if vmm != "minivmm":
        pytest.skip("the guest is minivmm's qtest command xen_hypercall")


@pytest.fixture
def vm(tmp_path):
    qt, _ = start_vm()
    yield qt
    stop_vm(qt)


@pytest.fixture
def guest(vm):
    return Guest(vm)


@pytest.fixture
def booted(vm):
    return Guest(vm).boot()


# ---- hypercalls ----

def test_xen_version(guest):
    assert guest.xen_version() == 0x4000a
    assert guest.hypercall(xf.HC_xen_version, xf.XENVER_pagesize, 0) == 4096
    guest.fill(guest.ARGS_GPA, 32, 0xff)
    assert guest.xen_version(xf.XENVER_extraversion, guest.ARGS_GPA) == 0
    assert guest.read(guest.ARGS_GPA, 17) == b".minivmm" + bytes(8) + b"\xff"
    assert guest.xen_version(99, guest.ARGS_GPA) == xf.ENOSYS


def test_get_features(guest):
    assert guest.get_features(0) == (0, 1 << xf.XENFEAT_writable_page_tables
                                     | 1 << xf.XENFEAT_writable_descriptor_tables
                                     | 1 << xf.XENFEAT_auto_translated_physmap
                                     | 1 << xf.XENFEAT_supervisor_mode_kernel
                                     | 1 << xf.XENFEAT_hvm_callback_vector)
    assert guest.get_features(1) == (0, 0)
    assert guest.get_features(0xffffffff) == (0, 0)


@pytest.mark.parametrize("nr", [0, 1, 11, 13, 33, 35, 40, 99, 1 << 32])
def test_unknown_hypercall(guest, nr):
    assert guest.hypercall(nr, 0, guest.ARGS_GPA) == xf.ENOSYS


@pytest.mark.parametrize("nr,cmd", [(xf.HC_memory_op, 0), (xf.HC_memory_op, 6),
                                    (xf.HC_hvm_op, 2), (xf.HC_sched_op, 7),
                                    (xf.HC_vcpu_op, 0), (xf.HC_event_channel_op, 1),
                                    (xf.HC_event_channel_op, 11)])
def test_unknown_subcommand(guest, nr, cmd):
    assert guest.hypercall(nr, cmd, guest.ARGS_GPA, 1) == xf.ENOSYS


def test_other_version_is_reported(tmp_path):
    qt = xf.QTest.minivmm(["-accel", "qtest,xen-version=0x40011", "-m", "128"])
    try:
        assert Guest(qt).xen_version() == 0x40011
    finally:
        stop_vm(qt)


def test_hvm_params(guest):
    assert guest.get_param(xf.HVM_PARAM_STORE_PFN) == (0, 0xfeff9)
    assert guest.get_param(xf.HVM_PARAM_STORE_PFN, domid=xf.GUEST_DOMID) == (0, 0xfeff9)
    ret, port = guest.get_param(xf.HVM_PARAM_STORE_EVTCHN)
    assert ret == 0 and port == 1      # the toolstack's channel is the first port
    assert guest.get_param(xf.HVM_PARAM_CONSOLE_PFN) == (0, 0)
    assert guest.get_param(xf.HVM_PARAM_CALLBACK_IRQ) == (0, 0)
    assert guest.get_param(xf.HVM_PARAM_STORE_PFN, domid=0)[0] == xf.ESRCH
    assert guest.get_param(xf.HVM_PARAM_STORE_PFN, domid=5)[0] == xf.ESRCH
    assert guest.get_param(64)[0] == xf.EINVAL
    assert guest.set_param(xf.HVM_PARAM_STORE_PFN, 0x1234) == xf.EPERM
    assert guest.get_param(xf.HVM_PARAM_STORE_PFN) == (0, 0xfeff9)
    assert guest.set_param(64, 0) == xf.EINVAL
    vector = 2 << 56 | 0xf3
    assert guest.set_param(xf.HVM_PARAM_CALLBACK_IRQ, vector) == 0
    assert guest.get_param(xf.HVM_PARAM_CALLBACK_IRQ) == (0, vector)
    assert guest.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 1 << 56 | 5) == xf.EINVAL  # PCI INTx
    assert guest.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 24) == xf.EINVAL          # no GSI 24
    assert guest.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 3 << 56) == xf.EINVAL
    assert guest.get_param(xf.HVM_PARAM_CALLBACK_IRQ) == (0, vector)
    assert guest.hypercall(xf.HC_hvm_op, 7, guest.ARGS_GPA) == xf.ENOSYS


def test_pointer_outside_ram_faults(guest):
    for addr in OUTSIDE:
        assert guest.hypercall(xf.HC_xen_version, xf.XENVER_get_features, addr) == xf.EFAULT
        assert guest.hypercall(xf.HC_xen_version, xf.XENVER_extraversion, addr) == xf.EFAULT
        assert guest.hypercall(xf.HC_memory_op, xf.XENMEM_add_to_physmap, addr) == xf.EFAULT
        assert guest.hypercall(xf.HC_hvm_op, xf.HVMOP_get_param, addr) == xf.EFAULT
        assert guest.hypercall(xf.HC_hvm_op, xf.HVMOP_set_param, addr) == xf.EFAULT
        for op in (xf.EVTCHNOP_alloc_unbound, xf.EVTCHNOP_status, xf.EVTCHNOP_send,
                   xf.EVTCHNOP_close, xf.EVTCHNOP_unmask):
            assert guest.hypercall(xf.HC_event_channel_op, op, addr) == xf.EFAULT, (op, addr)
        for op in (xf.GNTTABOP_query_size, xf.GNTTABOP_get_version, xf.GNTTABOP_set_version):
            assert guest.hypercall(xf.HC_grant_table_op, op, addr, 1) == xf.EFAULT, (op, addr)
        assert guest.hypercall(xf.HC_sched_op, xf.SCHEDOP_shutdown, addr) == xf.EFAULT
        assert guest.hypercall(xf.HC_vcpu_op, xf.VCPUOP_register_vcpu_info, 0,
                               addr) == xf.EFAULT
    # Nothing was allocated by the faulting calls: the next free port is still 2.
    assert guest.alloc_port() == 2


def test_result_written_to_rom_faults(guest):
    """The argument is readable (the BIOS ROM) but the result cannot be written back."""
    rom = 0xfffffff0 - 0x100
    before = guest.read(rom, 8)
    assert guest.hypercall(xf.HC_xen_version, xf.XENVER_get_features, rom) == xf.EFAULT
    assert guest.hypercall(xf.HC_xen_version, xf.XENVER_extraversion, rom) == xf.EFAULT
    assert guest.read(rom, 8) == before


def test_hypercall_needs_xen_version():
    qt, _ = start_vm(xen=False)
    try:
        assert (qt.cmd("xen_hypercall 17 0 0")
                == "FAIL Xen emulation is off (-accel ...,xen-version=)")
    finally:
        stop_vm(qt)


def test_hypercall_command_syntax(vm):
    assert vm.cmd("xen_hypercall") == "FAIL invalid arguments"
    assert vm.cmd("xen_hypercall x") == "FAIL invalid arguments"
    assert vm.cmd("xen_hypercall 17 0 zz") == "FAIL invalid arguments"
    assert vm.cmd("xen_hypercall 0x11") == "OK 262154"
    assert vm.cmd("xen_hypercall 17 0 0 0 0 0 0") == "OK 262154"


def test_sched_op(guest, vm):
    assert guest.hypercall(xf.HC_sched_op, xf.SCHEDOP_yield, 0) == 0
    assert guest.hypercall(xf.HC_sched_op, xf.SCHEDOP_block, 0) == 0
    assert guest.hypercall(xf.HC_sched_op, xf.SCHEDOP_poll, 0) == 0
    guest.write(guest.ARGS_GPA, struct.pack("<I", 99))
    assert guest.hypercall(xf.HC_sched_op, xf.SCHEDOP_shutdown, guest.ARGS_GPA) == xf.EINVAL
    assert vm.ok("endianness") == "little"


def test_shutdown_poweroff_exits(vm, guest):
    guest.write(guest.ARGS_GPA, struct.pack("<I", 0))
    assert guest.hypercall(xf.HC_sched_op, xf.SCHEDOP_shutdown, guest.ARGS_GPA) == 0
    assert vm.proc.wait(10 * xf.timeout_scale()) == 0


def test_shutdown_reboot_resets_xen_state(vm):
    g = Guest(vm).boot()
    g.xs.write("data/x", "1")
    port = g.alloc_port()
    assert g.gnttab_query_size()[1] == 1
    g.write(g.ARGS_GPA, struct.pack("<I", 1))
    assert g.hypercall(xf.HC_sched_op, xf.SCHEDOP_shutdown, g.ARGS_GPA) == 0
    wait_reset(g)
    # The new boot finds a toolstack-fresh domain: its store, channels and grants forgotten.
    assert g.evtchn_status(port)[1]["status"] == xf.EVTCHNSTAT_closed
    assert g.get_param(xf.HVM_PARAM_STORE_EVTCHN) == (0, 1)
    g2 = Guest(vm).boot()
    assert g2.xs.read_or_none("data/x") is None
    assert g2.xs.directory(xf.GUEST_HOME) == ["domid", "name"]


def wait_reset(g):
    """The reset a reboot asks for runs from the main loop: wait until the grant table
    (placed by boot()) is forgotten."""
    xf.poll(lambda: g.gnttab_query_size() == (0, 0, 64, 0), 5, "the guest reset")


def test_register_vcpu_info(booted):
    g = booted
    vi_pfn = g.alloc_page(fill=0x5a)
    args = struct.pack("<QII", vi_pfn, 128, 0)
    g.write(g.ARGS_GPA, args)
    assert g.hypercall(xf.HC_vcpu_op, xf.VCPUOP_register_vcpu_info, 32, g.ARGS_GPA) == -2
    g.write(g.ARGS_GPA, struct.pack("<QII", vi_pfn, 4096 - 63, 0))
    assert g.hypercall(xf.HC_vcpu_op, xf.VCPUOP_register_vcpu_info, 0, g.ARGS_GPA) == xf.EINVAL
    g.write(g.ARGS_GPA, struct.pack("<QII", 0x100000, 0, 0))  # 4 GiB: no RAM there
    assert g.hypercall(xf.HC_vcpu_op, xf.VCPUOP_register_vcpu_info, 0, g.ARGS_GPA) == xf.EINVAL
    # vcpu_info 0 moves from shared_info to vi_pfn:128, taking its contents along.
    g.write(g.shinfo, b"\x01\x00" + bytes(6) + struct.pack("<Q", 0x8000000000000001))
    g.write(g.ARGS_GPA, args)
    assert g.hypercall(xf.HC_vcpu_op, xf.VCPUOP_register_vcpu_info, 0, g.ARGS_GPA) == 0
    vi = vi_pfn * xf.PAGE + 128
    assert g.read(vi, 16) == b"\x01\x00" + bytes(6) + struct.pack("<Q", 0x8000000000000001)
    assert g.read(vi - 1, 1) == b"\x5a"
    # Events now land in the new vcpu_info.
    g.write(vi, bytes(16))
    g.write(g.shinfo, bytes(16))
    g.xs.read("domid")
    assert g.pending(g.store_port)
    assert g.read(vi, 1) == b"\x01" and g.r64(vi + 8) == 1
    assert g.upcall_pending() == 0 and g.pending_sel() == 0


@pytest.mark.parametrize("space", [xf.XENMAPSPACE_shared_info, xf.XENMAPSPACE_grant_table],
                         ids=["shared_info", "grant_table"])
def test_add_to_physmap_refuses_gpfn_beyond_physical_space(guest, space):
    """A gpfn whose address does not fit (2^52 and up: gpfn << 12 would wrap) or lies
    beyond any physical address (2^40 and up) names no page: refused, and in particular not
    wrapped onto a low page (2^52 | 0x1000 must not alias 16 MiB)."""
    g = guest
    alias = g.SHINFO_PFN
    g.fill(alias * xf.PAGE, xf.PAGE, 0xcc)
    for gpfn in (1 << 52 | alias, 1 << 40, 1 << 63, 2**64 - 1):
        assert g.add_to_physmap(space, 0, gpfn) == xf.EINVAL, hex(gpfn)
    assert g.read(alias * xf.PAGE, 8) == b"\xcc" * 8, "the aliased low page was taken over"
    if space == xf.XENMAPSPACE_grant_table:
        assert g.gnttab_query_size()[1] == 0


def test_register_vcpu_info_for_missing_vcpu(tmp_path):
    """With -smp 2 there are vCPUs 0 and 1: Xen (do_vcpu_op: domain_vcpu() is NULL) and
    QEMU's Xen emulation (qemu_get_cpu() is NULL) answer -ENOENT for vCPU 2. minivmm checks
    only against its 32-entry table and accepts (and records) vcpu_info for vCPUs the
    machine does not have."""
    qt = xf.QTest.minivmm(xf.xen_args() + ["-smp", "2"])
    try:
        g = Guest(qt)
        pfn = g.alloc_page()
        g.write(g.ARGS_GPA, struct.pack("<QII", pfn, 0, 0))
        assert g.hypercall(xf.HC_vcpu_op, xf.VCPUOP_register_vcpu_info, 1, g.ARGS_GPA) == 0
        g.write(g.ARGS_GPA, struct.pack("<QII", pfn, 64, 0))
        assert g.hypercall(xf.HC_vcpu_op, xf.VCPUOP_register_vcpu_info, 2,
                           g.ARGS_GPA) == xf.ENOENT
    finally:
        stop_vm(qt)


# ---- shared_info and event channels ----

def test_shared_info_placement(guest):
    g = guest
    # Before shared_info is placed an event has nowhere to go, and nothing breaks.
    assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 1, g.SHINFO_PFN) == xf.EINVAL
    assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 0, 0xfffff) == xf.EINVAL  # ROM
    # Not over the VMM's special pages (console, xenstore ring), which stay intact.
    ring = g.read(0xfeff9000, xf.PAGE)
    for pfn in (0xfeff8, 0xfeff9, 0xfeffa, 0xfeffb):
        assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 0, pfn) == xf.EINVAL, hex(pfn)
    assert g.read(0xfeff9000, xf.PAGE) == ring
    assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 0, g.SHINFO_PFN, domid=5) == xf.ESRCH
    assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 0, g.SHINFO_PFN, domid=0) == xf.ESRCH
    assert g.add_to_physmap(7, 0, g.SHINFO_PFN) == xf.EOPNOTSUPP
    g.fill(g.SHINFO_PFN * xf.PAGE, xf.PAGE, 0xcc)
    assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 0, g.SHINFO_PFN,
                            domid=xf.GUEST_DOMID) == 0
    g.shinfo = g.SHINFO_PFN * xf.PAGE
    assert g.read(g.shinfo, xf.PAGE) == bytes(xf.PAGE)   # a first placement starts empty

    g.place_grant_table()
    ret, g.store_pfn = g.get_param(xf.HVM_PARAM_STORE_PFN)
    ret, g.store_port = g.get_param(xf.HVM_PARAM_STORE_EVTCHN)
    g.xs = xf.XenStore(g, g.store_pfn, g.store_port)
    assert g.xs.read("domid") == "1"
    port = g.store_port
    # The reply raised the store port: pending bit, selector bit, upcall flag.
    assert g.pending(port)
    assert g.r64(g.shinfo + xf.SHINFO_PENDING) == 1 << port
    assert g.pending_sel() == 1 << (port // 64)
    assert g.upcall_pending() == 1
    assert g.read(g.shinfo + 1, 1) == b"\0"  # upcall_mask untouched

    # Moving it keeps its contents: the pending state comes along.
    new_pfn = g.alloc_page(fill=0x77)
    assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 0, new_pfn) == 0
    old, g.shinfo = g.shinfo, new_pfn * xf.PAGE
    assert g.pending(port) and g.upcall_pending() == 1
    assert g.read(g.shinfo + xf.SHINFO_MASK, 512) == bytes(512)
    # Events go to the new place only.
    g.clear_pending(port)
    g.ack_upcall()
    g.write(old, bytes(xf.PAGE))
    g.xs.read("domid")
    assert g.pending(port) and g.upcall_pending() == 1
    assert g.read(old, xf.PAGE) == bytes(xf.PAGE)


def test_shared_info_outside_ram(booted):
    """Placed where there is no RAM (the PCI hole, or just above RAM), shared_info gets a
    page of its own mapped there; its contents move along each time, and the place it left
    is empty again."""
    g = booted
    port = g.store_port
    g.xs.read("domid")
    content = g.read(g.shinfo, xf.PAGE)
    assert g.pending(port)
    hole = 0xe0000000
    assert g.read(hole, 16) == b"\xff" * 16          # nothing there yet
    for pfn in (hole >> 12, (hole >> 12) + 5, RAM_END >> 12):
        assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 0, pfn) == 0, hex(pfn)
        g.shinfo = pfn * xf.PAGE
        assert g.read(g.shinfo, xf.PAGE) == content
    assert g.read(hole, 16) == b"\xff" * 16          # the page left
    # Events land in it; it serves as hypercall argument memory like RAM.
    g.clear_pending(port)
    g.ack_upcall()
    g.xs.read("domid")
    assert g.pending(port) and g.upcall_pending() == 1
    content = g.read(g.shinfo, xf.PAGE)
    ret, out = g.call(xf.HC_xen_version, xf.XENVER_get_features, "II", 0, 0,
                      addr=g.shinfo + 4000)
    assert ret == 0 and out[1] != 0
    g.write(g.shinfo + 4000, content[4000:4008])
    # Another Xen page cannot go on top of it; back into RAM, the contents come along.
    assert g.add_to_physmap(xf.XENMAPSPACE_grant_table, 1, RAM_END >> 12) == xf.EINVAL
    pfn = g.alloc_page(fill=0x99)
    assert g.add_to_physmap(xf.XENMAPSPACE_shared_info, 0, pfn) == 0
    assert g.read(pfn * xf.PAGE, xf.PAGE) == content
    assert g.read(RAM_END, 16) == b"\xff" * 16
    g.shinfo = pfn * xf.PAGE
    g.clear_pending(port)
    g.xs.read("domid")
    assert g.pending(port)


def test_event_channel_status(booted):
    g = booted
    ret, st = g.evtchn_status(g.store_port)
    assert ret == 0
    assert st == {"status": xf.EVTCHNSTAT_interdomain, "vcpu": 0, "remote_dom": 0,
                  "remote_port": g.store_port}
    ret, port = g.evtchn_alloc_unbound(remote_dom=0)
    assert (ret, port) == (0, 2)
    ret, st = g.evtchn_status(port)
    assert ret == 0
    assert st == {"status": xf.EVTCHNSTAT_unbound, "vcpu": 0, "remote_dom": 0,
                  "remote_port": 0}
    assert g.evtchn_status(4095) == (0, {"status": xf.EVTCHNSTAT_closed, "vcpu": 0,
                                         "remote_dom": 0, "remote_port": 0})
    assert g.evtchn_status(port, dom=xf.GUEST_DOMID)[0] == 0
    assert g.evtchn_status(port, dom=0)[0] == xf.EPERM
    assert g.evtchn_status(port, dom=5)[0] == xf.EPERM
    for bad in (0, 4096, 5000, 0xffffffff):
        assert g.evtchn_status(bad)[0] == xf.EINVAL


def test_event_channel_alloc_send_close(booted):
    g = booted
    assert g.evtchn_alloc_unbound(remote_dom=5)[0] == xf.ESRCH
    assert g.evtchn_alloc_unbound(remote_dom=xf.DOMID_SELF)[0] == xf.EINVAL
    assert g.evtchn_alloc_unbound(remote_dom=xf.GUEST_DOMID)[0] == xf.EINVAL
    assert g.evtchn_alloc_unbound(dom=5)[0] == xf.EPERM
    assert g.evtchn_alloc_unbound(dom=0)[0] == xf.EPERM
    a = g.alloc_port()
    b = g.alloc_port()
    assert (a, b) == (2, 3)
    # Nobody listens on an unbound port: the send is dropped, no event anywhere.
    assert g.evtchn_send(a) == 0
    assert not g.pending(a)
    assert g.evtchn_close(a) == 0
    assert g.evtchn_status(a)[1]["status"] == xf.EVTCHNSTAT_closed
    assert g.evtchn_close(a) == xf.EINVAL
    assert g.evtchn_send(a) == xf.EINVAL
    for bad in (0, 5000, 4096):
        assert g.evtchn_send(bad) == xf.EINVAL
        assert g.evtchn_close(bad) == xf.EINVAL
        assert g.evtchn_unmask(bad) == xf.EINVAL
    # The lowest free port is reused, its stale pending bit cleared.
    g._set_bit(xf.SHINFO_PENDING, a, True)
    assert g.alloc_port() == a
    assert not g.pending(a)
    assert g.evtchn_status(b)[1]["status"] == xf.EVTCHNSTAT_unbound
    # No loopback or interdomain binding to other domains.
    ret, _ = g.call(xf.HC_event_channel_op, xf.EVTCHNOP_bind_interdomain, "HHII", 0, 0, 1, 0)
    assert ret == xf.EINVAL


def test_event_channel_ports_run_out(booted):
    g = booted
    ports = [g.alloc_port() for _ in range(2, 4096)]
    assert ports == list(range(2, 4096))
    assert g.evtchn_alloc_unbound()[0] == xf.ENOSPC
    assert g.evtchn_close(4095) == 0
    assert g.alloc_port() == 4095


def test_send_on_store_port_and_mask(booted):
    g = booted
    port = g.store_port
    g.clear_pending(port)
    g.ack_upcall()
    # Masked: the pending bit is set but no selector, no upcall.
    g.mask(port)
    assert g.xs.read("domid") == "1"
    assert g.pending(port)
    assert g.pending_sel() == 0 and g.upcall_pending() == 0
    # Unmasking a pending port delivers it.
    assert g.evtchn_unmask(port) == 0
    assert not g.masked(port)
    assert g.pending_sel() == 1 and g.upcall_pending() == 1
    # Unmasking again, or a port that is not pending, changes nothing.
    g.ack_upcall()
    assert g.evtchn_unmask(port) == 0
    assert g.pending_sel() == 0 and g.upcall_pending() == 0
    g.clear_pending(port)
    g.mask(port)
    assert g.evtchn_unmask(port) == 0
    assert g.pending_sel() == 0 and g.upcall_pending() == 0
    # A port already pending is not raised again (edge, as Xen).
    g.xs.read("domid")
    assert g.pending(port) and g.upcall_pending() == 1
    g.ack_upcall()
    g.xs.read("domid")
    assert g.upcall_pending() == 0


def test_callback_gsi_follows_upcall_pending(booted, vm):
    g = booted
    vm.ok("irq_intercept_in ioapic")
    g.clear_pending(g.store_port)
    g.ack_upcall()
    assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 10) == 0   # GSI 10
    assert g.xs.read("domid") == "1"
    assert "IRQ raise 10" in vm.irqs
    assert "IRQ lower 10" not in vm.irqs
    # Level-triggered: it stays up until the guest clears upcall_pending, then the next
    # hypercall lowers it.
    assert g.xen_version() == 0x4000a
    assert "IRQ lower 10" not in vm.irqs
    g.ack_upcall()
    assert g.xen_version() == 0x4000a
    assert vm.irqs[-1] == "IRQ lower 10"
    # Switching to a vector callback leaves no GSI raised.
    g.clear_pending(g.store_port)
    assert g.xs.read("domid") == "1"
    assert vm.irqs[-1] == "IRQ raise 10"
    assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 2 << 56 | 0xf3) == 0
    assert vm.irqs[-1] == "IRQ lower 10"
    # A reboot with the GSI up lowers it and forgets the callback.
    assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 7) == 0
    g.clear_pending(g.store_port)
    g.ack_upcall()
    assert g.xs.read("domid") == "1"
    assert vm.irqs[-1] == "IRQ raise 7"
    g.write(g.ARGS_GPA, struct.pack("<I", 1))
    assert g.hypercall(xf.HC_sched_op, xf.SCHEDOP_shutdown, g.ARGS_GPA) == 0
    wait_reset(g)
    assert vm.irqs[-1] == "IRQ lower 7"
    assert g.get_param(xf.HVM_PARAM_CALLBACK_IRQ) == (0, 0)


@pytest.mark.parametrize("before", ["none", "vector", "gsi10"])
def test_callback_set_while_upcall_pending_is_raised(booted, vm, before):
    """Xen's hvm_set_callback_via() ends by asserting the new callback for every vCPU whose
    evtchn_upcall_pending is already set (hvm_assert_evtchn_irq), so an event that came
    before the guest chose its callback (or while it switched) is not lost. minivmm's
    xen_set_callback() only records the new callback: the GSI stays low, and since
    upcall_pending stays 1 no later event raises it either -- the guest never hears of
    its events again."""
    g = booted
    vm.ok("irq_intercept_in ioapic")
    if before == "vector":
        assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 2 << 56 | 0xf3) == 0
    elif before == "gsi10":
        assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 10) == 0
    g.clear_pending(g.store_port)
    g.ack_upcall()
    assert g.xs.read("domid") == "1"          # an event: upcall_pending is now 1
    assert g.upcall_pending() == 1
    assert g.set_param(xf.HVM_PARAM_CALLBACK_IRQ, 7) == 0
    assert "IRQ raise 7" in vm.irqs, vm.irqs
    # And a later event must not find the guest deaf either.
    g.clear_pending(g.store_port)
    assert g.xs.read("domid") == "1"
    assert "IRQ raise 7" in vm.irqs, vm.irqs


# ---- grant table ----

def test_grant_table_ops(guest):
    g = guest
    assert g.gnttab_query_size() == (0, 0, 64, xf.GNTST_okay)
    g.fill(g.GNTTAB_PFN * xf.PAGE, xf.PAGE, 0xee)
    g.place_grant_table()
    assert g.read(g.gnttab, xf.PAGE) == bytes(xf.PAGE)  # the frame starts out empty
    assert g.gnttab_query_size() == (0, 1, 64, xf.GNTST_okay)
    assert g.gnttab_query_size(dom=xf.GUEST_DOMID) == (0, 1, 64, xf.GNTST_okay)
    ret, _, _, status = g.gnttab_query_size(dom=5)
    assert (ret, status) == (0, xf.GNTST_bad_domain)
    assert g.gnttab_get_version() == (0, 1)
    assert g.gnttab_get_version(dom=5)[0] == xf.ESRCH
    assert g.gnttab_set_version(2)[0] == xf.EINVAL
    assert g.gnttab_set_version(1) == (0, 1)
    assert g.gnttab_set_version(0) == (0, 1)
    assert g.gnttab_get_version() == (0, 1)
    # count: 0 does nothing, more than one is refused.
    assert g.hypercall(xf.HC_grant_table_op, xf.GNTTABOP_query_size, g.ARGS_GPA, 0) == 0
    assert g.hypercall(xf.HC_grant_table_op, xf.GNTTABOP_query_size, g.ARGS_GPA,
                       2) == xf.EINVAL
    assert g.hypercall(xf.HC_grant_table_op, xf.GNTTABOP_setup_table, g.ARGS_GPA,
                       1) == xf.ENOSYS
    # Frames: up to 64, in RAM; a frame placed again elsewhere moves with its entries.
    assert g.add_to_physmap(xf.XENMAPSPACE_grant_table, 64, g.POOL_PFN) == xf.EINVAL
    assert g.add_to_physmap(xf.XENMAPSPACE_grant_table, 0, 0xfeff9) == xf.EINVAL
    frame3 = g.alloc_page(fill=0x11)
    assert g.add_to_physmap(xf.XENMAPSPACE_grant_table, 3, frame3) == 0
    assert g.gnttab_query_size() == (0, 4, 64, xf.GNTST_okay)
    g.grant(9, 0x1234, readonly=True)
    moved = g.alloc_page(fill=0x22)
    assert g.add_to_physmap(xf.XENMAPSPACE_grant_table, 0, moved) == 0
    assert g.read(moved * xf.PAGE + 9 * 8, 8) == struct.pack("<HHI", 5, 0, 0x1234)


# ---- xenstore over the ring ----

def test_xenstore_ring_setup(booted):
    g = booted
    ring = g.store_pfn * xf.PAGE
    assert g.store_pfn == 0xfeff9
    assert g.r32(ring + xf.XS_SERVER_FEATURES) == 2   # XENSTORE_SERVER_FEATURE_ERROR
    assert g.r32(ring + xf.XS_CONNECTION) == 0
    assert g.r32(ring + xf.XS_ERROR_FIELD) == 0


def test_xenstore_read_write(booted):
    xs = booted.xs
    assert xs.request(xf.XS_READ, b"/local/domain/1/domid\0") == b"1"
    assert xs.read("domid") == "1"
    assert xs.read("name") == "guest"
    assert xs.get_domain_path(1) == "/local/domain/1"
    assert xs.get_domain_path(7) == "/local/domain/7"
    assert xs.request(xf.XS_IS_DOMAIN_INTRODUCED, b"0\0") == b"T\0"
    assert xs.request(xf.XS_IS_DOMAIN_INTRODUCED, b"7\0") == b"F\0"
    # Relative paths are under the guest's home; values are any bytes.
    xs.write("data/a/b", "hello")
    assert xs.read("/local/domain/1/data/a/b") == "hello"
    xs.write("/local/domain/1/data/bin", b"x\0y\xff")
    assert xs.request(xf.XS_READ, b"data/bin\0") == b"x\0y\xff"
    assert xs.directory("data") == ["a", "bin"]
    assert xs.request(xf.XS_DIRECTORY, b"data\0") == b"a\0bin\0"
    assert xs.read("data/a") == ""           # a parent made on the way has no value
    assert xs.get_perms("data/a/b") == ["n1"]
    xs.mkdir("data/dir")
    xs.mkdir("data/dir")                     # making an existing node is no error
    assert xs.directory("data/dir") == []
    xs.rm("data/a")
    with pytest.raises(XsError) as e:
        xs.read("data/a/b")
    assert e.value.name == "ENOENT"
    xs.rm("data/a")                          # absent, parent exists: fine
    with pytest.raises(XsError) as e:
        xs.rm("data/nothere/x")
    assert e.value.name == "ENOENT"
    for bad in (b"data//x\0", b"data/x/\0", b"data/sp ace\0", b"@other\0"):
        with pytest.raises(XsError) as e:
            xs.request(xf.XS_READ, bad)
        assert e.value.name == "EINVAL", bad
    with pytest.raises(XsError) as e:        # not NUL-terminated
        xs.request(xf.XS_READ, b"domid")
    assert e.value.name == "EINVAL"


def test_xenstore_permissions(booted):
    xs = booted.xs
    for path in ("/local/domain/0/foo", "/local/domain/2/x", "/local/x", "/x"):
        with pytest.raises(XsError) as e:
            xs.write(path, "1")
        assert e.value.name == "EACCES", path
    for path in ("/local", "/", "/local/domain/0"):
        with pytest.raises(XsError) as e:
            xs.directory(path)
        assert e.value.name == "EACCES", path
    # Hidden: what exists and what does not look the same from below an unreadable node.
    with pytest.raises(XsError) as e:
        xs.read("/local/domain/0/nothing")
    assert e.value.name == "EACCES"
    # A guest cannot give its nodes away; it can share them.
    xs.write("data/p", "v")
    with pytest.raises(XsError) as e:
        xs.set_perms("data/p", ["n0"])
    assert e.value.name == "EPERM"
    xs.set_perms("data/p", ["n1", "r0", "b5"])
    assert xs.get_perms("data/p") == ["n1", "r0", "b5"]
    # Domain management is the toolstack's; XS_CONTROL is refused; unknown types too.
    for typ, payload, name in ((xf.XS_INTRODUCE, b"2\0" b"1\0" b"1\0", "EACCES"),
                               (xf.XS_RELEASE, b"1\0", "EACCES"),
                               (xf.XS_RESUME, b"1\0", "EACCES"),
                               (xf.XS_SET_TARGET, b"1\0" b"2\0", "EACCES"),
                               (xf.XS_CONTROL, b"print\0", "EINVAL"),
                               (99, b"", "EINVAL"), (xf.XS_ERROR, b"", "EINVAL")):
        with pytest.raises(XsError) as e:
            xs.request(typ, payload)
        assert e.value.name == name, typ


def test_xenstore_watch(booted):
    xs = booted.xs
    xs.watch("data/w", "tok")
    # The first event follows the reply, with the path as the guest named it.
    assert xs.wait_event("tok") == ("data/w", "tok")
    xs.write("data/w/child", "1")
    assert xs.wait_event("tok") == ("data/w/child", "tok")
    xs.write("data/other", "1")
    xs.watch("/local/domain/1/data/other", "abs")
    assert xs.wait_event("abs") == ("/local/domain/1/data/other", "abs")
    xs.rm("data")   # an ancestor's removal fires with the watch's own path
    got = {xs.wait_event("tok"), xs.wait_event("abs")}
    assert got == {("data/w", "tok"), ("/local/domain/1/data/other", "abs")}
    with pytest.raises(XsError) as e:
        xs.watch("data/w", "tok")
    assert e.value.name == "EEXIST"
    xs.unwatch("data/w", "tok")
    with pytest.raises(XsError) as e:
        xs.unwatch("data/w", "tok")
    assert e.value.name == "ENOENT"
    xs.write("data/w", "2")
    xs.read("domid")
    xs.pump()
    assert [ev for ev in xs.events if ev[1] == "tok"] == []
    # Nodes the guest may not read fire no event for it.
    xs.watch("/local/domain/0", "dom0")
    assert xs.wait_event("dom0") == ("/local/domain/0", "dom0")
    xs.watch("@introduceDomain", "intro")
    assert xs.wait_event("intro") == ("@introduceDomain", "intro")
    with pytest.raises(XsError) as e:
        xs.watch("@other", "x")
    assert e.value.name == "EINVAL"


def test_xenstore_transactions(booted):
    xs = booted.xs
    xs.write("data/t", "old")
    tx = xs.transaction_start()
    xs.write("data/t", "new", tx)
    xs.write("data/t2", "made", tx)
    assert xs.read("data/t", tx) == "new"
    assert xs.read("data/t") == "old"
    assert xs.read_or_none("data/t2") is None
    xs.transaction_end(tx)
    assert xs.read("data/t") == "new" and xs.read("data/t2") == "made"
    # A node the transaction used changed meanwhile: EAGAIN, nothing applied.
    tx = xs.transaction_start()
    assert xs.read("data/t", tx) == "new"
    xs.write("data/t3", "x", tx)
    xs.write("data/t", "outside")
    with pytest.raises(XsError) as e:
        xs.transaction_end(tx)
    assert e.value.name == "EAGAIN"
    assert xs.read("data/t") == "outside" and xs.read_or_none("data/t3") is None
    # Aborted.
    tx = xs.transaction_start()
    xs.write("data/t4", "x", tx)
    xs.transaction_end(tx, commit=False)
    assert xs.read_or_none("data/t4") is None
    # The transaction is over either way, and unknown ids are refused.
    for bad_tx in (tx, 12345):
        with pytest.raises(XsError) as e:
            xs.read("domid", bad_tx)
        assert e.value.name == "ENOENT"
    # A watch fires for a committed transaction's changes only once committed.
    xs.watch("data/t5", "t5")
    assert xs.wait_event("t5") == ("data/t5", "t5")
    tx = xs.transaction_start()
    xs.write("data/t5", "y", tx)
    xs.read("domid")
    xs.pump()
    assert not [ev for ev in xs.events if ev[1] == "t5"]
    xs.transaction_end(tx)
    assert xs.wait_event("t5") == ("data/t5", "t5")


def test_xenstore_messages_larger_than_the_ring(booted):
    """A 4000-byte value goes over the 1 KiB request ring in pieces, and its reply comes
    back over the 1 KiB response ring in pieces; the indexes wrap many times."""
    xs = booted.xs
    value = bytes((i * 7 + 3) % 251 + 1 for i in range(4000))
    xs.write("data/big", value)
    assert xs.request(xf.XS_READ, b"data/big\0") == value
    for i in range(60):
        xs.write(f"data/k{i}", str(i) * 10)
    assert xs.directory("data") == ["big"] + [f"k{i}" for i in range(60)]
    assert [xs.read(f"data/k{i}") for i in range(60)] == [str(i) * 10 for i in range(60)]
    ring = booted.store_pfn * xf.PAGE
    assert booted.r32(ring + xf.XS_REQ_PROD) > 6 * xf.XS_RING_SIZE
    assert booted.r32(ring + xf.XS_ERROR_FIELD) == 0


def test_xenstore_output_flow_control(booted):
    """Watch events far larger than the 1 KiB response ring wait in the server and come out
    as the guest consumes (each kick moves more); more than 256 KiB waiting at once breaks
    the connection (error field XENSTORE_ERROR_COMM) instead of growing the VMM."""
    g, xs = booted, booted.xs
    tokens = [f"t{i:03d}-" + "y" * 3000 for i in range(100)]
    for t in tokens[:60]:
        xs.watch("data/x", t)
        assert xs.wait_event(t) == ("data/x", t)
    xs.write("data/x", "1")           # 60 events of 3 KiB: 180 KiB through the ring
    got = [xs.wait_event(t) for t in tokens[:60]]
    assert got == [("data/x", t) for t in tokens[:60]]
    assert xs.events == []
    ring = g.store_pfn * xf.PAGE
    assert g.r32(ring + xf.XS_ERROR_FIELD) == 0
    for t in tokens[60:]:
        xs.watch("data/x", t)
        assert xs.wait_event(t) == ("data/x", t)
    xs.send(xf.XS_WRITE, b"data/x\0" b"2")   # 100 x 3 KiB at once: too much
    assert g.r32(ring + xf.XS_ERROR_FIELD) == 1
    assert g.xen_version() == 0x4000a


def test_xenstore_oversized_request_breaks_ring(booted):
    """A header announcing more than 4096 bytes breaks the connection (error field
    XENSTORE_ERROR_PROTO) and the VM carries on."""
    g = booted
    ring = g.store_pfn * xf.PAGE
    g.write(ring + xf.XS_RING_REQ, struct.pack("<IIII", xf.XS_READ, 1, 0, 4097))
    g.w32(ring + xf.XS_REQ_PROD, 16)
    assert g.evtchn_send(g.store_port) == 0
    assert g.r32(ring + xf.XS_ERROR_FIELD) == 3
    assert g.xen_version() == 0x4000a


def test_xenstore_directory_part(booted):
    """A directory too long for one reply: XS_DIRECTORY answers E2BIG, XS_DIRECTORY_PART
    hands it out in pieces (generation, then whole names, then an empty name at the end)."""
    xs = booted.xs
    names = [f"node-with-a-longish-name-{i:04d}" for i in range(200)]
    for n in names:
        xs.write(f"data/{n}", "v")
    with pytest.raises(XsError) as e:
        xs.directory("data")
    assert e.value.name == "E2BIG"
    got, off, gens = [], 0, set()
    for _ in range(10):
        reply = xs.request(xf.XS_DIRECTORY_PART, f"data\0{off}\0".encode())
        assert len(reply) <= xf.XS_PAYLOAD_MAX
        gen, rest = reply.split(b"\0", 1)
        gens.add(int(gen))
        done = rest.endswith(b"\0\0") or rest == b"\0"
        got += [n.decode() for n in rest.split(b"\0") if n]
        off += len(rest) - (1 if done else 0)
        if done:
            break
    assert got == names
    assert len(gens) == 1
    # Past the end: just the generation and the empty name.
    assert xs.request(xf.XS_DIRECTORY_PART, f"data\0{off + 100}\0".encode()) == \
        f"{gens.pop()}\0\0".encode()
    with pytest.raises(XsError) as e:
        xs.request(xf.XS_DIRECTORY_PART, b"data\0x\0")
    assert e.value.name == "EINVAL"


def test_xenstore_quotas(booted):
    """xenstored's default quotas: 1000 nodes owned by the guest (its home, domid and name
    are 3 of them), 5 entries per permission list, 128 watches, 10 transactions."""
    xs = booted.xs
    xs.mkdir("data")
    for i in range(996):
        xs.write(f"data/{i}", "")
    with pytest.raises(XsError) as e:
        xs.write("data/996", "")
    assert e.value.name == "ENOSPC"
    xs.rm("data/0")
    xs.write("data/996", "")
    with pytest.raises(XsError) as e:
        xs.set_perms("data/1", ["n1", "r0", "r2", "r3", "r4", "r5"])
    assert e.value.name == "ENOSPC"
    xs.set_perms("data/1", ["n1", "r0", "r2", "r3", "r4"])
    for i in range(128):
        xs.watch(f"data/{i + 1}", "w")
    with pytest.raises(XsError) as e:
        xs.watch("data/500", "w")
    assert e.value.name == "E2BIG"
    txs = [xs.transaction_start() for _ in range(10)]
    with pytest.raises(XsError) as e:
        xs.transaction_start()
    assert e.value.name == "ENOSPC"
    with pytest.raises(XsError) as e:     # no nesting
        xs.request(xf.XS_TRANSACTION_START, b"\0", txs[0])
    assert e.value.name == "EBUSY"
    # XS_RESET_WATCHES drops the watches and the transactions.
    assert xs.request(xf.XS_RESET_WATCHES, b"") == b"OK\0"
    xs.watch("data/500", "w")
    xs.transaction_end(xs.transaction_start())
    with pytest.raises(XsError) as e:
        xs.read("data/1", txs[0])
    assert e.value.name == "ENOENT"


def test_xenstore_transaction_budget(booted):
    """A transaction holds at most 512 KiB of copies: once over, its next operation is
    refused with ENOSPC, and committing it changes nothing."""
    xs = booted.xs
    value = b"v" * 4000
    tx = xs.transaction_start()
    n = 0
    with pytest.raises(XsError) as e:
        for n in range(200):
            xs.write(f"data/{n}", value, tx)
    assert e.value.name == "ENOSPC"
    assert 120 <= n <= 131, n      # about 512 KiB of 4000-byte values
    with pytest.raises(XsError) as e:
        xs.read("domid", tx)
    assert e.value.name == "ENOSPC"
    xs.transaction_end(tx, commit=False)
    assert xs.read_or_none("data/0") is None
    xs.write("data/0", value)       # the connection is fine
    assert xs.read("data/0") == value.decode()


def test_xenstore_ring_index_corruption(booted, vm):
    """req_prod more than a ring ahead breaks the connection (error field
    XENSTORE_ERROR_RINGIDX); a guest reset brings a working store back."""
    g = booted
    ring = g.store_pfn * xf.PAGE
    g.w32(ring + xf.XS_REQ_PROD, g.r32(ring + xf.XS_REQ_CONS) + 2000)
    assert g.evtchn_send(g.store_port) == 0
    assert g.r32(ring + xf.XS_ERROR_FIELD) == 2
    g.write(g.ARGS_GPA, struct.pack("<I", 1))
    assert g.hypercall(xf.HC_sched_op, xf.SCHEDOP_shutdown, g.ARGS_GPA) == 0
    wait_reset(g)
    g2 = Guest(vm).boot()
    assert g2.r32(ring + xf.XS_ERROR_FIELD) == 0
    assert g2.xs.read("domid") == "1"


# ---- the block backend's xenstore side, from the guest ----

def test_xenstore_sees_vbd(tmp_path):
    img = tmp_path / "d.img"
    img.write_bytes(bytes(1 << 20))
    qt, _ = start_vm(xf.xen_drive(img))
    try:
        xs = Guest(qt).boot().xs
        vbd = "/local/domain/1/device/vbd"
        assert xs.request(xf.XS_DIRECTORY, (vbd + "\0").encode()) == b"51712\0"
        fe = f"{vbd}/51712"
        assert xs.directory(fe) == ["backend", "backend-id", "state", "virtual-device",
                                    "device-type"]
        assert xs.read(f"{fe}/backend") == "/local/domain/0/backend/vbd/1/51712"
        assert xs.read(f"{fe}/backend-id") == "0"
        assert xs.read(f"{fe}/virtual-device") == "51712"
        assert xs.read(f"{fe}/state") == "1"
        assert xs.get_perms(fe) == ["n1", "r0"]
        be = xs.read(f"{fe}/backend")
        assert xs.get_perms(be) == ["n0", "r1"]
        assert xs.read(f"{be}/state") == "2"
        assert xs.read(f"{be}/frontend") == fe
        assert xs.read(f"{be}/frontend-id") == "1"
        assert xs.read(f"{be}/dev") == "xvda"
        # The guest cannot write the backend's nodes, nor list dom0's directories above.
        with pytest.raises(XsError) as e:
            xs.write(f"{be}/state", "4")
        assert e.value.name == "EACCES"
        with pytest.raises(XsError) as e:
            xs.directory("/local/domain/0/backend/vbd")
        assert e.value.name == "EACCES"
        # A watch on the backend's state node reports the backend's moves.
        xs.watch(f"{be}/state", "be")
        assert xs.wait_event("be") == (f"{be}/state", "be")
        xs.watch("device", "rel")
        assert xs.wait_event("rel") == ("device", "rel")
        g = xs.g
        port = g.alloc_port()
        ring = g.alloc_page()
        g.grant(8, ring)
        g.write(ring * xf.PAGE, struct.pack("<IIII", 0, 1, 0, 1))
        xs.write(f"{fe}/ring-ref", "8")
        xs.write(f"{fe}/event-channel", str(port))
        xs.write(f"{fe}/protocol", "x86_64-abi")
        g.clear_pending(g.store_port)
        xs.write(f"{fe}/state", "3")
        assert xs.wait_event("rel", path="device/vbd/51712/state")
        assert xs.wait_event("be") == (f"{be}/state", "be")
        assert xs.read(f"{be}/state") == "4"
        assert g.pending(g.store_port)   # the event came with a notification
        assert g.evtchn_status(port)[1] == {"status": xf.EVTCHNSTAT_interdomain, "vcpu": 0,
                                            "remote_dom": 0, "remote_port": port}
        assert g.grant_entry(8)[0] == xf.GTF_permit_access | xf.GTF_reading | xf.GTF_writing
    finally:
        stop_vm(qt)


# ---- the command line ----

def kvm_has_xen():
    """KVM_CHECK_EXTENSION(KVM_CAP_XEN_HVM) on /dev/kvm: None without KVM."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return None
    try:
        return fcntl.ioctl(fd, 0xae03, 38)
    finally:
        os.close(fd)


def test_kvm_without_xen_support(run_expect_fail, vmm):
    if vmm != "minivmm":
        pytest.skip("minivmm's message")
    caps = kvm_has_xen()
    if caps is None:
        pytest.skip("no /dev/kvm")
    if caps & 0x7 == 0x7:
        pytest.skip("this host's KVM supports Xen HVM guests")
    status, err = run_expect_fail(["-nodefaults", "-display", "none",
                                   "-accel", "kvm,xen-version=0x4000a"])
    assert status == 1, err
    assert err == "minivmm: kvm: Xen HVM guest support not present or insufficient\n"


ACCEL_REFUSED = [
    ("kvm,foo=1", "-accel kvm,foo=1: Property 'kvm-accel.foo' not found"),
    ("kvm,kernel-irqchip=foo",
     "-accel kvm,kernel-irqchip=foo: Parameter 'kernel-irqchip' does not accept value 'foo'"),
    ("kvm,xen-version=0x100000000",
     "-accel kvm,xen-version=0x100000000: Parameter 'xen-version' expects uint32_t"),
    ("kvm,xen-version=foo",
     "-accel kvm,xen-version=foo: Parameter 'xen-version' expects a number"),
    ("kvm,kernel-irqchip=off",
     "-accel kvm,kernel-irqchip=off: kernel-irqchip=off is not supported by minivmm"),
]


@pytest.mark.parametrize("accel,message", ACCEL_REFUSED, ids=[c[0] for c in ACCEL_REFUSED])
def test_accel_options_refused(run_expect_fail, vmm, accel, message):
    if vmm != "minivmm":
        pytest.skip("minivmm's messages")
    status, err = run_expect_fail(["-nodefaults", "-display", "none", "-accel", accel])
    assert status == 1, err
    assert err == f"minivmm: {message}\n"


@pytest.mark.parametrize("xen", [False, True], ids=["no-xen", "xen"])
def test_xen_drive_orphan_warning(tmp_path, xen):
    img = tmp_path / "d.img"
    img.write_bytes(bytes(1 << 20))
    qt, _ = start_vm(["-drive", f"if=xen,file={img},format=raw"], xen=xen)
    assert qt.ok("endianness") == "little"   # the machine is up
    status, err = stop_vm(qt)
    warning = (f"Warning: Orphaned drive without device: id=xen0,file={img},if=xen,bus=0,"
               "unit=0")
    if xen:
        assert "Orphaned drive" not in err, err
    else:
        assert warning in err.splitlines(), err


def test_xen_special_pages_reserved_in_e820(tmp_path):
    """The special pages (console, xenstore) are not RAM the guest may use: the e820 table
    minivmm gives the firmware reserves them (fw_cfg file etc/e820)."""
    qt, _ = start_vm()
    try:
        entries = read_fw_cfg_e820(qt)
    finally:
        stop_vm(qt)
    assert (0xfeff8000, 0x4000, 2) in entries, entries


def read_fw_cfg_e820(qt):
    def select(key):
        qt.outw(0x510, key)

    def read(n):
        return bytes(qt.inb(0x511) for _ in range(n))
    select(0x19)                                  # FW_CFG_FILE_DIR
    count = struct.unpack(">I", read(4))[0]
    for _ in range(count):
        size, key, _, name = struct.unpack(">IHH56s", read(64))
        if name.rstrip(b"\0") == b"etc/e820":
            select(key)
            data = read(size)
            return [struct.unpack("<QQI", data[i:i + 20]) for i in range(0, size, 20)]
    raise AssertionError("no etc/e820 in fw_cfg")
