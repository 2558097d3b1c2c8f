"""What the image-tool tests share (test_img_*.py, test_qcow2_zero_write.py): the tools'
paths, the skip when Debian's qemu-utils are missing, and running a command."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IO = os.environ.get("MINIVMM_IO") or os.path.join(ROOT, "minivmm-io")
IMG = os.environ.get("MINIVMM_IMG") or os.path.join(ROOT, "minivmm-img")
MiB = 1 << 20

needs_qemu_utils = pytest.mark.skipif(
    shutil.which("qemu-img") is None or shutil.which("qemu-io") is None,
    reason="qemu-img/qemu-io (Debian qemu-utils) not installed")


def run(argv, cwd=None, stdin=None):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120,
                          cwd=cwd, input=stdin)


def ok(res):
    assert res.returncode == 0, res.stdout + res.stderr
    return res
