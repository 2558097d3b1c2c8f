"""The Linux boot protocol's 64-bit entry for -kernel: tests/guest/bzImage64 is the test
payload behind a protocol 2.12 header with XLF_KERNEL_64, whose startup_64 sits 0x200 past
the 32-bit entry. minivmm enters it there in long mode (identity page tables for the low
4 GiB, the protocol's GDT, RSI = boot_params); the payload's `entry` scenario reports which
entry ran. The zero page must be the same as through the 32-bit entry (bzImage, same core):
command line, initrd, e820 with RAM above 4 GiB. QEMU enters such kernels through its
real-mode setup, so the 32-bit entry there.
"""

import pytest

from test_direct_boot import boot, kernel_args, BZIMAGE
import vm as vmlib

BZIMAGE64 = vmlib.REPO_ROOT / "tests" / "guest" / "bzImage64"


def test_entered_at_startup_64(make_vm):
    text = boot(make_vm, "minivmm", kernel_args(BZIMAGE64, scenario="entry"))
    assert "ENTRY 64\nBOOT_PARAMS 0x20000 HdrS\n" in text


def test_bzimage_without_flag_stays_32bit(make_vm):
    text = boot(make_vm, "minivmm", kernel_args(BZIMAGE, scenario="entry"))
    assert "ENTRY 32\nBOOT_PARAMS 0x20000 HdrS\n" in text


@pytest.mark.parametrize("mem", ["256M", "5G"])
def test_boot_params_as_through_32bit_entry(make_vm, tmp_path, mem):
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(bytes(range(199)) * 700)
    extra = ["-append", "console=ttyS0 quiet", "-initrd", initrd]
    text64 = boot(make_vm, "minivmm", kernel_args(BZIMAGE64, mem=mem, extra=extra))
    text32 = boot(make_vm, "minivmm", kernel_args(BZIMAGE, mem=mem, extra=extra))
    assert text64 == text32
    assert "LINUX cmdline 'console=ttyS0 quiet'" in text64
    assert "LINUX ramdisk size 139300 " in text64
    if mem == "5G":
        assert "LINUX e820 0x0000000100000000 0x0000000080000000 1" in text64


def test_reset_enters_64bit_again(make_vm):
    text = boot(make_vm, "minivmm", kernel_args(BZIMAGE64, scenario="reboot"))
    assert text == "READY\nBOOT 1\nREADY\nBOOT 2\nPASS\n"


def test_qemu_runs_it_through_the_32bit_setup(make_vm):
    text = boot(make_vm, "qemu", kernel_args(BZIMAGE64, scenario="entry"))
    assert "ENTRY 32\n" in text and "HdrS" in text
