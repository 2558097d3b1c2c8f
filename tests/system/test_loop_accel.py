"""Firmware loop acceleration (include/hw/loop-accel.h): a firmware image of our own
(tests/system/roms/loop-accel.S) runs the four idioms minivmm finishes itself -- rep stosb,
gcc's byte-fill loop, rep movsl, gcc's byte-sum loop -- over blocks of RAM in 32-bit protected mode and checks the
bytes at every block edge and the registers each loop leaves. With 4 MiB blocks the guest's
own loops take about 40 s in this host's KVM emulator; accelerated they take well under a
second. With 64 KiB blocks the same image gives the same answer with the acceleration off,
and under QEMU.
"""

import os
import subprocess
import time

import pytest

ROM_SOURCE = os.path.join(os.path.dirname(__file__), "roms", "loop-accel.S")


def build_rom(tmp_path, size):
    obj = tmp_path / f"loop-accel-{size:#x}.o"
    rom = tmp_path / f"loop-accel-{size:#x}.bin"
    subprocess.run(["gcc", "-c", "-m32", "-x", "assembler-with-cpp", f"-DSIZE={size:#x}",
                    "-o", str(obj), ROM_SOURCE], check=True)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(obj), str(rom)], check=True)
    assert rom.stat().st_size == 65536
    return rom


def test_large_loops_finish_fast_and_right(make_vm, vmm, tmp_path):
    if vmm != "minivmm":
        pytest.skip("QEMU runs these loops in the host's emulator (about 40 s here)")
    rom = build_rom(tmp_path, 4 << 20)
    start = time.monotonic()
    vm = make_vm(["-bios", rom, "-m", "64"])
    vm.wait_debug(r"LOOPS (OK|BAD \d)\n", 30)
    elapsed = time.monotonic() - start
    assert vm.debug_text() == "LOOPS OK\n"
    assert elapsed < 5, f"{elapsed:.1f} s: the loops ran in the emulator"


@pytest.mark.parametrize("accel", ["on", "off"])
def test_small_loops_same_answer(make_vm, vmm, tmp_path, accel):
    if vmm != "minivmm" and accel == "off":
        pytest.skip("a minivmm option")
    rom = build_rom(tmp_path, 0x10000)
    args = ["-bios", rom, "-m", "64"]
    if vmm == "minivmm":
        args += ["-machine", f"loop-accel={accel}"]
    vm = make_vm(args)
    vm.wait_debug(r"LOOPS (OK|BAD \d)\n", 30)
    assert vm.debug_text() == "LOOPS OK\n"


def test_option_value_checked(run_expect_fail, vmm):
    if vmm != "minivmm":
        pytest.skip("a minivmm option")
    status, err = run_expect_fail(["-machine", "loop-accel=maybe"])
    assert status == 1
    assert "-machine loop-accel=maybe: Parameter 'loop-accel' expects 'on' or 'off'" in err
