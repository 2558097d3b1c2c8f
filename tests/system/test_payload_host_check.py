"""minivmm's start-up host check: where KVM emulates guest kernel mode (the kvm_pvm module:
no VMX/SVM), one warning line on stderr; none with -no-kvm-check or elsewhere. The guest is
the test payload, which runs in CPL3 and finishes quickly either way.
"""

import os

import vm as vmlib

PAYLOAD = vmlib.REPO_ROOT / "tests" / "guest" / "payload.bin"
WARNING = ("minivmm: warning: this host's KVM emulates guest kernel mode; guest operating "
           "systems will be very slow\n")


def emulating_host():
    return os.path.isdir("/sys/module/kvm_pvm")


def run(make_vm, extra=()):
    vm = make_vm(["-bios", PAYLOAD, "-fw_cfg", "name=opt/minivmm/args,string=echo", *extra],
                 backend="minivmm", debugcon=False)
    assert vm.wait_exit(20) == 0
    assert vm.serial_text().replace("\r\n", "\n").endswith("PASS\n")
    return vm.stderr_text()


def test_warning_matches_host(make_vm):
    err = run(make_vm)
    assert err.count(WARNING) == (1 if emulating_host() else 0), err


def test_no_kvm_check_silences_it(make_vm):
    assert WARNING not in run(make_vm, ["-no-kvm-check"])
