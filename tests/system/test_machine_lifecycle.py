"""Machine life cycle from the guest's side: every reset path restarts the machine from the
firmware, ACPI power-off ends the VMM with status 0, -no-reboot and -no-shutdown change that
as in QEMU, and SIGTERM ends it in order.

The guest is tests/system/roms/lifecycle.S, a 64 KiB firmware image built here with the host
assembler: it counts boots in CMOS, prints "BOOT n" on the debug console, resets the machine
on the first boot (by the method under test) and powers off on the second.
"""

import os
import signal
import subprocess
import time

import pytest

ROM_SOURCE = os.path.join(os.path.dirname(__file__), "roms", "lifecycle.S")
METHODS = {
    "cf9": "RESET_CF9",            # PIIX3 reset control register
    "port92": "RESET_PORT92",      # System Control Port A, bit 0
    "i8042": "RESET_I8042",        # keyboard controller pulse command 0xfe
    "triple-fault": "RESET_TRIPLE_FAULT",  # KVM_EXIT_SHUTDOWN
}


def build_rom(tmp_path, method):
    obj = tmp_path / f"{method}.o"
    rom = tmp_path / f"{method}.bin"
    subprocess.run(["gcc", "-c", "-m32", "-x", "assembler-with-cpp", "-D" + METHODS[method],
                    "-o", str(obj), ROM_SOURCE], check=True)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(obj), str(rom)], check=True)
    assert rom.stat().st_size == 65536
    return rom


@pytest.mark.parametrize("method", sorted(METHODS))
def test_reset_then_poweroff(make_vm, tmp_path, method):
    vm = make_vm(["-bios", build_rom(tmp_path, method), "-m", "32"])
    assert vm.wait_exit(20) == 0
    assert vm.debug_text() == "BOOT 1\nBOOT 2\n"


def test_no_reboot_exits_on_reset(make_vm, tmp_path):
    vm = make_vm(["-bios", build_rom(tmp_path, "cf9"), "-m", "32", "-no-reboot"])
    assert vm.wait_exit(20) == 0
    assert vm.debug_text() == "BOOT 1\n"


def test_no_shutdown_stays_after_poweroff(make_vm, tmp_path):
    vm = make_vm(["-bios", build_rom(tmp_path, "cf9"), "-m", "32", "-no-shutdown"])
    vm.wait_debug(r"BOOT 2\n", 20)
    time.sleep(1)
    assert vm.is_running(), "the VMM exited on power-off despite -no-shutdown"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_in_order(make_vm, sig):
    vm = make_vm(["-m", "128"])
    vm.wait_debug(r"^Found QEMU fw_cfg$", 30)
    vm.proc.send_signal(sig)
    assert vm.wait_exit(10) == 0
    assert f"terminating on signal {int(sig)}" in vm.stderr_text()


def test_seabios_hard_reboot(make_vm):
    """SeaBIOS with nothing to boot reboots through 0xcf9 and puts an int3 right after the
    write: the vCPU must stop at the write (as on hardware and in QEMU) instead of running
    into the int3, which this host's emulator cannot execute (a KVM internal error)."""
    vm = make_vm(["-m", "64", "-boot", "reboot-timeout=0"])
    vm.wait_debug(r"(?s)(SeaBIOS \(version.*){3}", 60)
    assert vm.is_running(), vm.describe()
    assert "internal error" not in vm.stderr_text().lower()
