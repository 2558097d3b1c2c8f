"""The test payload drives an SD card behind sdhci-pci from CPL3 (tests/guest/sdhci.c and
scenario-sd.c) under KVM, minivmm and Debian's QEMU side by side: the register accesses are
MMIO exits and the DMA goes through the VMM's guest memory, the paths qtest does not take.
`sd 8`: 8 MiB written through ADMA2 (256 KiB commands of eight descriptors, auto CMD12),
read back through SDMA and compared in the guest, which prints the sum of the words it read;
the test sums the image and finds the pattern there; then one block by PIO each way.
`sd_hostile`: an ADMA table and ADMA data outside RAM, a descriptor linking to itself, SDMA
outside RAM, a PIO multi-block read with a block count of 0, a block past the end; each
case's status, ADMA error, present state and card status are compared between the VMMs,
then a well-formed round trip.
"""

from array import array

from test_payload import passed_lines

CARD_MIB = 16
MIB = 8
MASK64 = (1 << 64) - 1


def card(tmp_path, backend):
    (tmp_path / backend).mkdir()
    disk = tmp_path / backend / "sd.img"
    disk.write_bytes(bytes(CARD_MIB << 20))
    return disk


def sd_args(disk):
    # Not id=sd0: minivmm's board has a default empty SD drive of that name (QEMU 2.2's).
    return ["-drive", f"if=none,id=card0,file={disk},format=raw",
            "-device", "sdhci-pci", "-device", "sd-card,drive=card0"]


def word(sector, i):
    return ((sector + i // 64) * 0x9e3779b97f4a7c15 ^ i) & MASK64


def image_sum(disk, nbytes):
    words = array("Q")
    with open(disk, "rb") as f:
        words.frombytes(f.read(nbytes))
    for i in (0, 1, 64, 32767):  # the first 256 KiB command's words, as the guest made them
        assert words[i] == word(0, i), f"word {i}"
    return sum(words) & MASK64


def test_round_trip(make_vm, tmp_path):
    results = {}
    for backend in ("minivmm", "qemu"):
        disk = card(tmp_path, backend)
        lines = passed_lines(make_vm, backend, f"sd {MIB}", sd_args(disk), timeout=120)
        assert f"SD card {CARD_MIB << 11} sectors, standard capacity" in lines, lines
        assert f"SUM {image_sum(disk, MIB << 20):016x}" in lines, lines
        results[backend] = lines
    assert results["minivmm"] == results["qemu"]


def test_hostile(make_vm, tmp_path):
    results = {}
    for backend in ("minivmm", "qemu"):
        disk = card(tmp_path, backend)
        lines = passed_lines(make_vm, backend, "sd_hostile", sd_args(disk), timeout=60)
        results[backend] = [line for line in lines if line.startswith("HOSTILE ")]
        assert len(results[backend]) == 6, lines
    assert results["minivmm"] == results["qemu"], results
