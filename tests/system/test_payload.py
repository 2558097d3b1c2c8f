"""The test payload (tests/guest/, built by `make`) as firmware (-bios payload.bin), run under
minivmm and Debian's QEMU side by side: each scenario must print the same lines, end with PASS
and power the machine off (exit status 0) under both. The payload reads its scenario from the
fw_cfg file opt/minivmm/args and runs it in CPL3 (see tests/guest/entry.S).

Known differences between the boards are listed in KNOWN_DIFFERENCES, each with its reason;
they are the only lines removed before comparing.
"""

import re
import time

import pytest

import vm as vmlib

PAYLOAD = vmlib.REPO_ROOT / "tests" / "guest" / "payload.bin"
BACKENDS = ("minivmm", "qemu")
TIMING = re.compile(r"^RESULT \S+ \d+ (us|ms|ns|MHz)$")
KNOWN_DIFFERENCES = {
    # QEMU 7.2 on an AMD host reserves the HyperTransport window below 1 TiB;
    # minivmm's e820 (hw/i386/e820.c) has no such entry.
    "qemu": [re.compile(r"^E820 0x000000fd00000000 0x0000000300000000 2\n", re.MULTILINE)],
}


def payload_args(scenario, mem="256"):
    if not PAYLOAD.exists():
        pytest.fail(f"{PAYLOAD} not built: run `make`", pytrace=False)
    return ["-bios", PAYLOAD, "-m", mem, "-fw_cfg", f"name=opt/minivmm/args,string={scenario}"]


def run_payload(make_vm, backend, scenario, mem="256", extra=(), timeout=30):
    """Boot the payload with `scenario` (and the extra VMM arguments); return its serial
    output once the VMM exited 0."""
    vm = make_vm(payload_args(scenario, mem) + list(extra), backend=backend, name=backend,
                 debugcon=False)
    status = vm.wait_exit(timeout)
    assert status == 0, f"{backend} exited with {status}\n{vm.describe(vm.serial_log)}"
    return vm.serial_text().replace("\r\n", "\n")


def passed_lines(make_vm, backend, scenario, extra, timeout=60):
    """run_payload for a scenario that must pass: its lines (READY first, PASS last) without
    the RESULT lines."""
    text = run_payload(make_vm, backend, scenario, extra=extra, timeout=timeout)
    lines = text.splitlines()
    assert lines and lines[0] == "READY" and lines[-1] == "PASS", f"{backend}:\n{text}"
    return [line for line in lines if not line.startswith("RESULT ")]


def comparable(backend, text):
    """The output without timing values and known board differences."""
    for pattern in KNOWN_DIFFERENCES.get(backend, []):
        text = pattern.sub("", text)
    lines = [line for line in text.splitlines() if not TIMING.match(line)]
    # Both tables are valid in any order; QEMU lists its reserved entries first.
    e820 = sorted(line for line in lines if line.startswith("E820 "))
    other = [line for line in lines if not line.startswith("E820 ")]
    return other, e820


def run_both(make_vm, scenario, mem="256"):
    outputs = {b: run_payload(make_vm, b, scenario, mem) for b in BACKENDS}
    for backend, text in outputs.items():
        lines = text.splitlines()
        assert lines and lines[0] == "READY", f"{backend}: no READY line first:\n{text}"
        assert lines[-1] == "PASS", f"{backend}: did not pass:\n{text}"
    return outputs


@pytest.mark.parametrize("scenario", ["pci", "fwcfg", "echo", "echo one two=2 0x3"])
def test_scenario_same_under_both(make_vm, scenario):
    outputs = run_both(make_vm, scenario)
    assert comparable("minivmm", outputs["minivmm"]) == comparable("qemu", outputs["qemu"])


def test_echo_prints_args(make_vm):
    text = run_payload(make_vm, "minivmm", "echo one two=2")
    assert text == "READY\nARG 1 one\nARG 2 two=2\nPASS\n"


def test_pci_lists_board_functions(make_vm):
    text = run_payload(make_vm, "minivmm", "pci")
    assert "PCI 00:00.0 8086:1237 " in text
    assert re.search(r"^PCI 00:01\.0 8086:7000 .* hdr 80$", text, re.MULTILINE)
    assert "PCI 00:01.3 8086:7113 " in text


def test_fwcfg_e820_covers_ram(make_vm):
    text = run_payload(make_vm, "minivmm", "fwcfg", mem="512")
    assert "E820 0x0000000000000000 0x0000000020000000 1" in text


def result(text, name):
    match = re.search(rf"^RESULT {name} (\d+) \S+$", text, re.MULTILINE)
    assert match, f"no RESULT {name} in:\n{text}"
    return int(match.group(1))


def test_clock_sane_under_both(make_vm):
    outputs = run_both(make_vm, "clock")
    mhz = {b: result(t, "tsc_mhz") for b, t in outputs.items()}
    for backend, text in outputs.items():
        assert 100 <= mhz[backend] <= 10000, text
        assert 45000 <= result(text, "pit_50ms_us") <= 80000, text
    # The same host TSC under both VMMs.
    assert abs(mhz["minivmm"] - mhz["qemu"]) <= max(mhz.values()) * 0.05, mhz


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_scenario_fails_and_powers_off(make_vm, backend):
    text = run_payload(make_vm, backend, "no-such-scenario")
    assert text == "READY\nFAIL unknown scenario 'no-such-scenario'\n"


def test_wait_scenario_stays_up(make_vm):
    vm = make_vm(payload_args("wait 400"), backend="minivmm", debugcon=False)
    vm.wait_serial(r"^READY", 10)
    start = time.monotonic()
    assert vm.wait_exit(10) == 0
    assert time.monotonic() - start >= 0.3
    assert vm.serial_text().replace("\r\n", "\n") == "READY\nPASS\n"


def test_reboot_restarts_payload_under_both(make_vm):
    for backend in BACKENDS:
        text = run_payload(make_vm, backend, "reboot")
        assert text == "READY\nBOOT 1\nREADY\nBOOT 2\nPASS\n", f"{backend}:\n{text}"
