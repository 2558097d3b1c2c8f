"""SeaBIOS POST on the pc machine: memory map, CPU count, -S, and refused options.

Expectations are QEMU 2.2's pc machine: 128 MiB and 1 CPU by default; RAM of 3.5 GiB or more
is split at 3 GiB (gigabyte-aligned) with the rest above 4 GiB, handed to SeaBIOS in fw_cfg
etc/e820 (logged as "qemu/e820: ... [RAM]"). Every test passes with --vmm=qemu, except where
the issue asks for stricter checking than QEMU has.
"""

import re
import time

import pytest

MiB = 1 << 20
GiB = 1 << 30
FOUR_GIB = 4 * GiB
POST_TIMEOUT = 30
NO_BOOT = r"^No bootable device\.$"
# SeaBIOS keeps the top of low RAM for itself and marks it reserved in its final map.
SEABIOS_RESERVE_MAX = 16 * MiB

QEMU_E820_RAM = re.compile(r"^qemu/e820: addr 0x([0-9a-f]+) len 0x([0-9a-f]+) \[RAM\]$",
                           re.MULTILINE)
E820_MAP = re.compile(r"^e820 map has (\d+) items:\n((?:\s*\d+: .*\n?)*)", re.MULTILINE)
E820_ENTRY = re.compile(r"^\s*\d+: ([0-9a-f]{16}) - ([0-9a-f]{16}) = \d+ (\w+)$", re.MULTILINE)
FOUND_CPUS = re.compile(r"^Found (\d+) cpu\(s\) max supported (\d+) cpu\(s\)$", re.MULTILINE)
QEMU_STYLE_ERROR = re.compile(r"^(minivmm|qemu[-\w]*): ", re.MULTILINE)


def ram_layout(size):
    """(below 4 GiB, above 4 GiB) as QEMU 2.2's pc machine splits `size` bytes of RAM."""
    if size >= 0xe0000000:
        return 0xc0000000, size - 0xc0000000
    return size, 0


def hex_pairs(pairs):
    return ", ".join(f"({a:#x}, {b:#x})" for a, b in pairs) or "none"


def e820_map(log):
    """The last "e820 map" SeaBIOS printed, as [(start, end, type)]."""
    maps = E820_MAP.findall(log)
    assert maps, "SeaBIOS printed no e820 map"
    count, body = maps[-1]
    entries = [(int(s, 16), int(e, 16), t) for s, e, t in E820_ENTRY.findall(body)]
    assert len(entries) == int(count), f"e820 map announces {count} items:\n{body}"
    return entries


def check_memory(log, size):
    low, high = ram_layout(size)
    expected = [(0, low)] + ([(FOUR_GIB, high)] if high else [])
    passed = [(int(a, 16), int(n, 16)) for a, n in QEMU_E820_RAM.findall(log)]
    assert passed == expected, (f"etc/e820 RAM (addr, len) {hex_pairs(passed)}, "
                                f"expected {hex_pairs(expected)}")

    entries = e820_map(log)
    ram = [(s, e) for s, e, t in entries if t == "RAM"]
    low_top = max(e for s, e in ram if s < FOUR_GIB)
    assert low - SEABIOS_RESERVE_MAX <= low_top <= low, f"RAM below 4G ends at {low_top:#x}"
    assert any(e == low for s, e, t in entries), f"no e820 entry ends at {low:#x}"
    high_ram = [(s, e) for s, e in ram if e > FOUR_GIB]
    expected_high = [(FOUR_GIB, FOUR_GIB + high)] if high else []
    assert high_ram == expected_high, (f"RAM above 4G (start, end) {hex_pairs(high_ram)}, "
                                       f"expected {hex_pairs(expected_high)}")


def check_cpus(log, cpus):
    found = FOUND_CPUS.findall(log)
    assert found, "SeaBIOS did not report its CPUs"
    n, max_cpus = map(int, found[-1])
    assert n == cpus and max_cpus >= cpus, f"Found {n} cpu(s) max {max_cpus}, expected {cpus}"


def post(make_vm, args):
    """Boot to SeaBIOS's "No bootable device." and return the whole debug log."""
    vm = make_vm(args)
    vm.wait_debug(NO_BOOT, POST_TIMEOUT)
    log = vm.debug_text()
    assert re.search(r"^Found QEMU fw_cfg$", log, re.MULTILINE), "no fw_cfg found"
    # SeaBIOS recognises the board by the host bridge's subsystem IDs (1af4:1100).
    assert re.search(r"^Running on QEMU \(i440fx\)$", log, re.MULTILINE), "board not QEMU pc"
    return log


def test_post_defaults(make_vm):
    log = post(make_vm, [])
    check_memory(log, 128 * MiB)
    check_cpus(log, 1)


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_post_smp(make_vm, cpus):
    log = post(make_vm, ["-m", "128M", "-smp", str(cpus)])
    check_memory(log, 128 * MiB)
    check_cpus(log, cpus)


@pytest.mark.parametrize("mem", ["128M", "1G", "5G"])
def test_post_memory(make_vm, mem):
    log = post(make_vm, ["-m", mem, "-smp", "2"])
    check_memory(log, {"128M": 128 * MiB, "1G": GiB, "5G": 5 * GiB}[mem])
    check_cpus(log, 2)


# Either side of QEMU's split: from 3.5 GiB on, RAM above 3 GiB moves above 4 GiB.
@pytest.mark.slow
@pytest.mark.parametrize("mem,cpus", [("3583M", 1), ("3584M", 1), ("5G", 8)])
def test_post_memory_split(make_vm, mem, cpus):
    log = post(make_vm, ["-m", mem, "-smp", str(cpus)])
    check_memory(log, int(mem[:-1]) << {"M": 20, "G": 30}[mem[-1]])
    check_cpus(log, cpus)


# 1, 2 and 4 are covered above: an AP that never reaches KVM_RUN hangs SeaBIOS's smp_scan.
@pytest.mark.parametrize("cpus", [3, 5, 6, 7, 8])
def test_post_smp_no_hang(make_vm, cpus):
    log = post(make_vm, ["-m", "128M", "-smp", str(cpus)])
    check_cpus(log, cpus)


def test_paused_with_S(make_vm):
    vm = make_vm(["-S", "-m", "128M"])
    time.sleep(2)
    assert vm.is_running(), vm.describe()
    assert vm.debug_text() == "", "the guest ran although -S was given"


def assert_refused(status, err):
    assert status == 1, f"exit status {status}, expected 1; stderr:\n{err}"
    assert QEMU_STYLE_ERROR.search(err), f"no 'minivmm: ...' style message:\n{err}"


def test_bad_memory_size(run_expect_fail):
    status, err = run_expect_fail(["-m", "abc"])
    assert_refused(status, err)
    assert "abc" in err or "invalid" in err.lower(), err


def test_bad_smp(run_expect_fail, vmm):
    if vmm == "qemu":
        pytest.skip("QEMU accepts -smp 0 (2.2: as 1 CPU; 7.2: with a deprecation warning)")
    status, err = run_expect_fail(["-smp", "0"])
    assert_refused(status, err)
    assert re.search(r"smp|cpus", err, re.IGNORECASE), err


def test_unknown_option(run_expect_fail):
    status, err = run_expect_fail(["-foo"])
    assert_refused(status, err)
    assert "-foo: invalid option" in err


def test_missing_bios(run_expect_fail):
    status, err = run_expect_fail(["-bios", "/nonexistent"])
    assert_refused(status, err)
    assert "/nonexistent" in err
