"""Where a bench's polling vCPU runs, the same for minivmm and QEMU.

The test payload's vCPU spins, and on a small host the CPU it spins on matters more than
either VMM: on this 2-CPU machine, with the vCPU on the CPU that takes the disk's
interrupts, every completion first interrupts the (nested) guest, and depth-1 rows run at
half speed or less for both VMMs; the scheduler picks that CPU in about half the runs
(measured 2026-11-27: randread:1 15.5-17.8k IOPS with the vCPU on the other CPU, 7.5-8.0k
on that one; randwrite:1 17-18k against 5-6k). So benches pin the VMM's vCPU thread ("CPU
0/KVM": minivmm's name for it, QEMU's with -name debug-threads=on, see QEMU_NAME) as soon
as it exists to the CPU that took the fewest of that disk's interrupts (sysfs and
/proc/interrupts), and nothing else. BENCH_VCPU_CPU=N picks the CPU, =off pins nothing.
"""
import os
import time

# For QEMU's command line: name the threads as minivmm does.
QEMU_NAME = ["-name", "bench,debug-threads=on"]
VCPU_THREAD = "CPU 0/KVM"


def irq_counts(irqs):
    """Per CPU, the interrupts counted so far for the given IRQ numbers (strings)."""
    counts = None
    with open("/proc/interrupts") as f:
        ncpu = len(f.readline().split())
        for line in f:
            fields = line.split()
            if fields and fields[0].rstrip(":") in irqs:
                per = [int(x) for x in fields[1:1 + ncpu]]
                counts = per if counts is None else [a + b for a, b in zip(counts, per)]
    return counts


def disk_quiet_cpu(path):
    """The CPU that took the fewest interrupts of the PCI device behind the block device
    that holds path, or None when that cannot be found out."""
    st = os.stat(path)
    d = os.path.realpath("/sys/dev/block/%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev)))
    if os.path.exists(os.path.join(d, "partition")):
        d = os.path.dirname(d)
    d = os.path.realpath(os.path.join(d, "device"))
    while d != "/" and not os.path.isdir(os.path.join(d, "msi_irqs")):
        d = os.path.dirname(d)
    if d == "/":
        return None
    counts = irq_counts(set(os.listdir(os.path.join(d, "msi_irqs"))))
    if not counts or not sum(counts):
        return None
    allowed = os.sched_getaffinity(0)
    return min((c for c in range(len(counts)) if c in allowed), key=lambda c: counts[c],
               default=None)


def vcpu_cpu(path):
    """Where a vCPU working on the image at path goes (None: anywhere)."""
    want = os.environ.get("BENCH_VCPU_CPU", "auto")
    if want == "off":
        return None
    return int(want) if want != "auto" else disk_quiet_cpu(path)


def comm(pid, tid):
    try:
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            return f.read().strip()
    except OSError:
        return None


def find_vcpu(pid, legacy):
    """The vCPU thread's id, or None. With legacy, minivmm builds from before 2026-11-27,
    which left it the process's name: a thread other than the first with that name. Only
    once no thread has taken VCPU_THREAD, since every new thread carries the process's name
    until it names itself (taken for the vCPU, an I/O thread was pinned instead of it)."""
    main = comm(pid, str(pid))
    for tid in os.listdir("/proc/%d/task" % pid):
        name = comm(pid, tid)
        if name == VCPU_THREAD or (legacy and name == main and tid != str(pid) and
                                   main.endswith("minivmm")):
            return int(tid)
    return None


def pin_vcpu(pid, cpu):
    """Pin the process's vCPU thread to cpu (None: leave it) once it exists (up to 5 s, then
    the legacy rule for 5 s more)."""
    if cpu is None:
        return
    for i in range(2000):
        tid = find_vcpu(pid, i >= 1000)
        if tid is not None:
            os.sched_setaffinity(tid, {cpu})
            return
        time.sleep(0.005)
    raise RuntimeError("no thread named %s in process %d" % (VCPU_THREAD, pid))
