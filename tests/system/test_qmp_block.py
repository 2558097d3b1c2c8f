"""query-block, query-blockstats and HMP's info block / info blockstats over the drives
minivmm creates from -drive: QEMU 2.2's shapes (BlockInfo, BlockDeviceInfo, ImageInfo with
the backing chain, BlockStats) and its human formats; qemu-img is the oracle for sizes.
"""

import json
import subprocess

import pytest

from qmp_vm import qemu22, start_qmp_vm


def qemu_img(*args):
    return subprocess.run(["qemu-img", *map(str, args)], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def chain(tmp_path):
    base = tmp_path / "base.qcow2"
    top = tmp_path / "top.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", base, "4M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    return base, top


def test_query_block_shapes(make_vm, tmp_path, vmm, chain):
    base, top = chain
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={top},if=ide,id=disk0",
        "-drive", f"file={base},if=none,id=spare,readonly=on,throttling.bps-total=4096"])
    blocks = {b["device"]: b for b in qmp.command("query-block")}
    disk, spare = blocks["disk0"], blocks["spare"]
    assert disk["removable"] is False and "tray_open" not in disk
    assert disk["type"] == "unknown" and disk["locked"] is False
    ins = disk["inserted"]
    assert ins["file"] == str(top) and ins["drv"] == "qcow2" and ins["ro"] is False
    assert ins["backing_file"] == str(base) and ins["backing_file_depth"] == 1
    assert ins["detect_zeroes"] == "off" and ins["encrypted"] is False
    assert ins["bps"] == 0 and "bps_max" not in ins
    img = ins["image"]
    oracle = json.loads(qemu_img("info", "-U", "--output=json", top))
    for key in ("filename", "format", "virtual-size", "cluster-size", "backing-filename"):
        assert img[key] == oracle[key], key
    assert img["backing-image"]["format"] == "qcow2"
    assert img["backing-image"]["virtual-size"] == 4 << 20
    # A drive without a device model: removable, tray closed, no io-status (2.2).
    if qemu22(vm):
        assert spare["removable"] is True and spare["tray_open"] is False
        assert "io-status" not in spare
    assert spare["inserted"]["ro"] is True and spare["inserted"]["bps"] == 4096
    assert "backing_file" not in spare["inserted"]


def test_query_blockstats_counts_io(make_vm, tmp_path, vmm, chain):
    base, top = chain
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm,
                           extra=["-drive", f"file={top},if=none,id=d0"])
    stats = {s["device"]: s["stats"] for s in qmp.command("query-blockstats")}
    st = stats["d0"]
    for key in ("rd_bytes", "wr_bytes", "rd_operations", "wr_operations", "flush_operations",
                "flush_total_time_ns", "wr_total_time_ns", "rd_total_time_ns",
                "wr_highest_offset"):
        assert isinstance(st[key], int), key
    assert st["wr_bytes"] == 0 and st["wr_highest_offset"] == 0


def test_hmp_info_block_and_blockstats(make_vm, tmp_path, vmm, chain):
    base, top = chain
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={top},if=none,id=d0", "-drive", "if=none,id=empty"])
    text = qmp.hmp("info block")
    if qemu22(vm):
        assert text == (f"d0: {top} (qcow2)\r\n"
                        "    Removable device: not locked, tray closed\r\n"
                        f"    Backing file:     {base} (chain depth: 1)\r\n"
                        "\r\n"
                        "empty: [not inserted]\r\n"
                        "    Removable device: not locked, tray closed\r\n")
    else:
        assert f"d0 (#block" in text or f"d0: {top} (qcow2)" in text
    one = qmp.hmp("info block -v d0")
    assert f"image: {top}\r\nfile format: qcow2\r\nvirtual size: 4" in one
    assert f"image: {base}\r\n" in one
    stats = qmp.hmp("info blockstats")
    assert stats.startswith("d0: rd_bytes=") and "\r\nempty: rd_bytes=0 wr_bytes=0 " in stats


def test_query_named_block_nodes(make_vm, tmp_path, vmm, chain):
    base, top = chain
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm, extra=[
        "-drive", f"file={top},if=none,id=d0,node-name=top-node,backing.node-name=base-node,"
                  "throttling.iops-total=100",
        "-drive", f"file={base},if=none,id=d1,readonly=on"])
    nodes = qmp.command("query-named-block-nodes")
    names = [n.get("node-name") for n in nodes]
    assert "top-node" in names and "base-node" in names
    by = {n["node-name"]: n for n in nodes if "node-name" in n}
    assert by["top-node"]["file"] == str(top) and by["top-node"]["drv"] == "qcow2"
    assert by["top-node"]["ro"] is False and by["top-node"]["backing_file_depth"] == 1
    assert by["base-node"]["file"] == str(base) and by["base-node"]["ro"] is True
    assert by["base-node"]["backing_file_depth"] == 0 and by["base-node"]["bps"] == 0
    if qemu22(vm):
        assert by["top-node"]["iops"] == 100  # 2.2 keeps the drive's limits on its root node
        # 2.2: most recently named first, an empty ImageInfo, only named nodes.
        assert names == ["base-node", "top-node"]
        assert by["top-node"]["image"] == {}
