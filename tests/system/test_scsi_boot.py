"""SeaBIOS boots from a disk on the LSI 53C895A, under minivmm and Debian's QEMU side by side.

SeaBIOS's LSI driver is the adapter's client: it resets the adapter, scans targets 0-6 with
SCRIPTS programs (selection timeouts for the absent ones) and serves int 13h with them. The
boot program is tests/system/roms/ide-boot.S (it only speaks int 13h): it reads four
sectors by CHS and again by extended LBA read, prints both word sums on the debug console
and writes one sector back, which the test finds in the image file. minivmm takes QEMU
2.2's -drive if=scsi; QEMU 7.2's pc machine no longer does, so there the same disk is
spelled -device lsi53c895a -device scsi-hd. A second case uses that spelling with
bootindex under both; a third boots the program's El Torito build from a SCSI CD-ROM. The
outputs must be the same.
"""

import test_ide_boot as ide

SECTOR = ide.SECTOR


def if_scsi_args(backend, disk):
    if backend == "minivmm":
        return ["-drive", f"file={disk},if=scsi,format=raw"]
    return ["-device", "lsi53c895a", "-drive", f"if=none,id=d0,file={disk},format=raw",
            "-device", "scsi-hd,drive=d0,scsi-id=0"]


def device_args(backend, disk):
    return ["-device", "lsi53c895a,id=scsi0",
            "-drive", f"if=none,id=d0,file={disk},format=raw",
            "-device", "scsi-hd,drive=d0,bus=scsi0.0,scsi-id=0,bootindex=0"]


def run_case(make_vm, tmp_path, args_for):
    boot_sector = ide.assemble(tmp_path, cdrom=False)
    disks = {}

    def args(backend):
        (tmp_path / backend).mkdir()
        disks[backend] = ide.make_disk(tmp_path / backend, "disk.img", boot_sector, "S")
        return args_for(backend, disks[backend])

    outputs = ide.run_both(make_vm, args)
    data = disks["minivmm"].read_bytes()
    lba_sum = ide.word_sum(data[63 * SECTOR:67 * SECTOR])
    assert outputs["minivmm"] == ["IBOOT S", f"CHS {lba_sum:04x}", f"LBA {lba_sum:04x}",
                                  "WROTE", "DONE"], outputs
    assert outputs["qemu"] == outputs["minivmm"], outputs
    for backend, disk in disks.items():
        written = disk.read_bytes()
        assert written[200 * SECTOR:201 * SECTOR] == written[63 * SECTOR:64 * SECTOR], backend


def test_boot_from_drive_if_scsi(make_vm, tmp_path):
    run_case(make_vm, tmp_path, if_scsi_args)


def test_boot_from_scsi_hd_bootindex(make_vm, tmp_path):
    run_case(make_vm, tmp_path, device_args)



def test_boot_from_scsi_cdrom(make_vm, tmp_path):
    """El Torito from a SCSI CD-ROM: -drive if=scsi,media=cdrom (minivmm) / scsi-cd (QEMU)."""
    iso, image = ide.make_iso(tmp_path, ide.assemble(tmp_path, cdrom=True), "C")

    def args(backend):
        if backend == "minivmm":
            return ["-drive", f"file={iso},if=scsi,media=cdrom,format=raw", "-boot", "order=d"]
        return ["-device", "lsi53c895a", "-drive", f"if=none,id=cd0,file={iso},format=raw",
                "-device", "scsi-cd,drive=cd0,scsi-id=0", "-boot", "order=d"]

    outputs = ide.run_both(make_vm, args)
    cd_sum = ide.word_sum(bytes(image[24 * ide.CD_SECTOR:26 * ide.CD_SECTOR]))
    assert outputs["minivmm"] == ["IBOOT C", f"CD {cd_sum:04x}", "DONE"], outputs
    assert outputs["qemu"] == outputs["minivmm"], outputs
