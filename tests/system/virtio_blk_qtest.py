"""A legacy virtio-blk driver over the qtest protocol, to keep a disk saturated and count.

`VirtioBlk(qt, devfn, index, ...)` finds a transitional virtio-blk-pci at devfn, maps its I/O
BAR, sets up queue 0 in guest RAM and keeps `depth` requests of `bs` bytes in flight (reads or
writes, each slot on its own sectors, none adjacent). `saturate(qt, disks, ...)` drives the
clock and records how many requests each disk completed by given moments. With `virtual=True` (the qtest
accelerator) it moves CLOCK_VIRTUAL with clock_step, after each step resubmits what completed
until nothing more completes for 2 ms of real time, and at each moment waits until every
request the VMM released by then has completed, so counts are exact; otherwise it sleeps in
real time (a VMM started with -S answers qtest while its clocks run), for QEMU comparisons.
"""

import struct
import time

PCI_VENDOR_REDHAT_QUMRANET = 0x1af4
VIRTIO_BLK_TRANSITIONAL = 0x1001
# Legacy virtio PCI registers (I/O BAR 0).
GUEST_FEATURES, QUEUE_PFN, QUEUE_NUM, QUEUE_SEL, QUEUE_NOTIFY, STATUS = 4, 8, 12, 14, 16, 18
ACKNOWLEDGE, DRIVER, DRIVER_OK = 1, 2, 4
T_IN, T_OUT = 0, 1
DESC_F_NEXT, DESC_F_WRITE = 1, 2
QSIZE = 256
STEP_QUIET_S = 0.002


class VirtioBlk:
    def __init__(self, qt, devfn, index, depth=80, bs=4096, write=False):
        assert 3 * depth <= QSIZE
        self.qt, self.devfn, self.depth, self.bs, self.write = qt, devfn, depth, bs, write
        base = 0x400000 + index * 0x1000000
        self.ring, self.hdr, self.status, self.data = base, base + 0x4000, base + 0x5000, \
            base + 0x10000
        self.avail, self.used = self.ring + 16 * QSIZE, self.ring + 0x2000
        self.port = 0xc000 + index * 0x100
        self.avail_idx = self.used_seen = 0
        self.completed = 0
        self.paused = False
        self._init_device()

    # ---- PCI and device set-up ----
    def _cfg_addr(self, off):
        self.qt.outl(0xcf8, 0x80000000 | self.devfn << 8 | (off & ~3))

    def _cfg_writel(self, off, v):
        self._cfg_addr(off)
        self.qt.outl(0xcfc, v)

    def _init_device(self):
        ident = self.qt.pci_cfg_readl(self.devfn, 0)
        assert ident == VIRTIO_BLK_TRANSITIONAL << 16 | PCI_VENDOR_REDHAT_QUMRANET, hex(ident)
        self._cfg_writel(0x10, self.port | 1)             # BAR0: I/O
        self._cfg_writel(0x04, 0x7)                       # I/O, memory, bus master
        qt, p = self.qt, self.port
        qt.outb(p + STATUS, 0)
        qt.outb(p + STATUS, ACKNOWLEDGE | DRIVER)
        qt.outl(p + GUEST_FEATURES, 0)
        qt.outw(p + QUEUE_SEL, 0)
        assert qt.inw(p + QUEUE_NUM) == QSIZE
        qt.ok(f"memset {self.ring:#x} {0x3000:#x} 0")
        qt.ok(f"memset {self.status:#x} {self.depth:#x} 0xff")
        qt.outl(p + QUEUE_PFN, self.ring >> 12)
        qt.outb(p + STATUS, ACKNOWLEDGE | DRIVER | DRIVER_OK)
        for slot in range(self.depth):
            self._write_slot(slot)

    def _write_slot(self, slot):
        """The three descriptors of slot (header, data, status) and its header. Slots are a
        request apart on the disk, so that no VMM can merge them into fewer requests."""
        sector = 2 * slot * self.bs // 512
        hdr, status, data = self.hdr + 16 * slot, self.status + slot, self.data + slot * self.bs
        descs = struct.pack("<QIHH", hdr, 16, DESC_F_NEXT, 3 * slot + 1)
        descs += struct.pack("<QIHH", data, self.bs,
                             DESC_F_NEXT | (0 if self.write else DESC_F_WRITE), 3 * slot + 2)
        descs += struct.pack("<QIHH", status, 1, DESC_F_WRITE, 0)
        self.qt.memwrite(self.ring + 16 * 3 * slot, descs)
        self.qt.memwrite(hdr, struct.pack("<IIQ", T_OUT if self.write else T_IN, 0, sector))

    # ---- requests ----
    def _publish(self, slots, kick=True):
        if not slots:
            return
        entries = b"".join(struct.pack("<H", 3 * s) for s in slots)
        first = self.avail_idx % QSIZE
        room = QSIZE - first
        self.qt.memwrite(self.avail + 4 + 2 * first, entries[:2 * room])
        if len(slots) > room:
            self.qt.memwrite(self.avail + 4, entries[2 * room:])
        self.avail_idx = (self.avail_idx + len(slots)) & 0xffff
        self.qt.ok(f"writew {self.avail + 2:#x} {self.avail_idx:#x}")
        if kick:
            self.qt.outw(self.port + QUEUE_NOTIFY, 0)

    def start(self):
        self._publish(list(range(self.depth)))

    def poll(self):
        """Count the requests completed since the last poll and resubmit them; returns them."""
        idx = int(self.qt.ok(f"readw {self.used + 2:#x}"), 16)
        n = (idx - self.used_seen) & 0xffff
        if not n:
            return 0
        first = self.used_seen % QSIZE
        raw = self.qt.memread(self.used + 4 + 8 * first, 8 * min(n, QSIZE - first))
        if n > QSIZE - first:
            raw += self.qt.memread(self.used + 4, 8 * (n - (QSIZE - first)))
        slots = [struct.unpack_from("<I", raw, 8 * i)[0] // 3 for i in range(n)]
        # A slot's status byte stays as the device wrote it until the slot completes again.
        statuses = self.qt.memread(self.status, self.depth)
        for s in slots:
            assert statuses[s] == 0, f"request of slot {s} failed with status {statuses[s]}"
        self.used_seen = idx
        self.completed += n
        if not self.paused:
            self._publish(slots)
        return n


def settle(disks, quiet_s=0.25):
    """Poll until no disk completed anything for quiet_s of real time."""
    last = time.monotonic()
    while time.monotonic() - last < quiet_s:
        if sum(d.poll() for d in disks):
            last = time.monotonic()
        else:
            time.sleep(0.002)


def saturate(qt, disks, moments_ns, step_ns=5_000_000, virtual=True, elapsed=None):
    """Keep every disk busy; return {moment: [completed per disk]} for each moment (ns).
    In real time the counts are taken a little after each moment: elapsed, if given, gets
    {moment: ns actually elapsed since the first request when they were taken}."""
    for d in disks:
        d.start()
    counts, now = {}, 0
    start = time.monotonic()
    for moment in sorted(moments_ns):
        while now < moment:
            step = min(step_ns, moment - now)
            if virtual:
                qt.ok(f"clock_step {step}")
            else:
                time.sleep(max(0.0, start + (now + step) / 1e9 - time.monotonic()))
            now += step
            if virtual:
                # What this step released completes in real time: resubmit it before the
                # next step, or a stall of the host's I/O drains the disk's queue while the
                # clock runs on (seen once in CI: 894 reads of 1600 in the first 10 s).
                settle(disks, STEP_QUIET_S)
            else:
                for d in disks:
                    d.poll()
        if virtual:
            settle(disks)
        counts[moment] = [d.completed for d in disks]
        if elapsed is not None:
            elapsed[moment] = moment if virtual else int((time.monotonic() - start) * 1e9)
    return counts


def run_unthrottled(disks, n, timeout=10.0):
    """Poll, never moving the clock, until every disk completed n more requests; return how
    many each completed. With no limit left nothing waits for CLOCK_VIRTUAL, so under the
    qtest accelerator this ends; a disk still throttled makes it fail after timeout s. A poll
may collect more than the goal."""
    goal = [d.completed + n for d in disks]
    deadline = time.monotonic() + timeout
    while any(d.completed < g for d, g in zip(disks, goal)):
        assert time.monotonic() < deadline, "requests still wait for the clock"
        if not sum(d.poll() for d in disks):
            time.sleep(0.001)
    return [d.completed - g + n for d, g in zip(disks, goal)]


class Saturator:
    """saturate() in steps, so that a test can change the VMM's settings between them:
    run_to(moment) keeps every disk busy up to moment (ns since start) and returns the counts
    there; settle() takes them again now (virtual clock: after everything released at this
    moment completed). elapsed_ns() is the time since the first request, virtual or real."""

    def __init__(self, qt, disks, step_ns=5_000_000, virtual=True):
        self.qt, self.disks, self.step_ns, self.virtual = qt, disks, step_ns, virtual
        self.now = 0
        self.t0 = time.monotonic()
        for d in disks:
            d.start()

    def counts(self):
        return [d.completed for d in self.disks]

    def elapsed_ns(self):
        return self.now if self.virtual else int((time.monotonic() - self.t0) * 1e9)

    def settle(self):
        if self.virtual:
            settle(self.disks)
        else:
            for d in self.disks:
                d.poll()
        return self.counts()

    def run_to(self, moment_ns):
        while self.now < moment_ns:
            step = min(self.step_ns, moment_ns - self.now)
            if self.virtual:
                self.qt.ok(f"clock_step {step}")
            else:
                time.sleep(max(0.0, self.t0 + (self.now + step) / 1e9 - time.monotonic()))
            self.now += step
            for d in self.disks:
                d.poll()
        return self.settle()
