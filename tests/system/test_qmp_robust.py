"""Hostile QMP input: truncated and malformed JSON, invalid UTF-8, a 10 MB string, nesting
100000 deep, wrong argument types for every argument of every command, clients that
disconnect mid-command or stop reading. After each, the VMM keeps running and answers the
next well-formed command on the same or a new connection.
"""

import json
import re
import socket
import sys
import time

import pytest

from qmp_vm import QMP, QMPConnectionError, qemu22, start_qmp_vm

# Wrong values per expected type, and a harmless right one (no device is named "x").
WRONG_VALUES = {"string": [1, True, [], {}, 1.5], "int": ["1", True, [], {}, 1.5],
                "bool": ["on", 1, [], {}], "number": ["1", True, [], {}],
                "QDict": ["x", 1, True, []], "list": ["x", 1, True, {}]}
RIGHT_VALUE = {"string": "x", "int": 0, "bool": False, "number": 0, "QDict": {}, "list": []}
# Commands that would end the VM or change its state under the test.
SKIP = {"quit", "stop", "system_reset", "cont", "qmp_capabilities"}
MISSING = re.compile(r"^Parameter '(.+)' is missing$")
WRONG_TYPE = re.compile(r"^Invalid parameter type for '(.+)', expected: (\w+)$")


@pytest.fixture
def qvm(make_vm, tmp_path, vmm):
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm)
    yield vm, qmp
    qmp.close()


def alive(vm, qmp, id_value="alive"):
    resp = qmp.cmd("query-status", id=id_value)
    assert resp["id"] == id_value and "return" in resp
    assert vm.is_running()


def drain_until_id(qmp, id_value, timeout=60):
    """Read responses (errors from the junk before) until the one carrying id_value."""
    errors = 0
    deadline = time.monotonic() + timeout
    while True:
        resp = qmp.response(timeout=max(deadline - time.monotonic(), 0.1))
        if resp.get("id") == id_value:
            return resp, errors
        assert "error" in resp, resp
        errors += 1


@pytest.mark.parametrize("junk", [b"}", b"]]]", b"@", b"{'execute'", b"tru }",
                                  b"{\"execute\": \"stop\", \"id\": 1e999999x}", b"\x00",
                                  b"{\"execute\": \"\\ud800\"}", b"\"\xc3\x28\"", b"-",
                                  b"{\"a\":[1,2,{\"b\":}]}"])
def test_malformed_then_recovers(qvm, junk):
    vm, qmp = qvm
    qmp.send_raw(junk + b"\n]}]}]}")  # close whatever the junk left open
    qmp.send_raw(b'{"execute": "query-status", "id": "next"}')
    resp, errors = drain_until_id(qmp, "next")
    assert "return" in resp and errors >= 1
    alive(vm, qmp)


def test_ten_megabyte_string(qvm):
    vm, qmp = qvm
    big = "x" * (10 << 20)
    qmp.send_raw('{"execute": "query-status", "arguments": {"%s": 1}, "id": 1}' % big)
    resp = qmp.response(timeout=60)
    assert resp["error"]["class"] == "GenericError"
    if qemu22(vm):
        assert resp["error"]["desc"] == f"Invalid parameter '{big}'"
    qmp.send_raw('{"execute": "human-monitor-command", "arguments": {"command-line": '
                 '"%s"}, "id": 2}' % big)
    resp = qmp.response(timeout=60)
    assert resp["id"] == 2 and "unknown command" in resp["return"]
    alive(vm, qmp)


def test_nesting_100000_deep(qvm):
    vm, qmp = qvm
    depth = 100000
    qmp.send_raw(b"[" * depth + b"]" * depth)
    qmp.send_raw(b'{"execute": "query-status", "id": "after"}')
    resp, errors = drain_until_id(qmp, "after", timeout=120)
    assert "return" in resp
    if qemu22(vm):
        # Cut every 1025 levels, then each unmatched ']' is a message of its own (2.2).
        assert errors > depth // 1025
    alive(vm, qmp)


def test_deep_object_just_inside_the_limit(qvm):
    vm, qmp = qvm
    if not qemu22(vm):
        pytest.skip("2.2's nesting limit")
    depth = 1020
    nested = "[" * depth + "]" * depth
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10000))  # Python's decoder, not the VMM, needs it
    try:
        qmp.send_raw('{"execute": "query-status", "id": %s}' % nested)
        resp = qmp.response()
        assert "return" in resp and resp["id"] == json.loads(nested)
    finally:
        sys.setrecursionlimit(limit)
    qmp.send_raw('{"execute": "query-status", "id": %s}' % ("[" * 1030 + "]" * 1030))
    resp = qmp.response()
    assert resp["error"]["desc"] == "Invalid JSON syntax"
    qmp.send_raw(b"]" * 8 + b"}\n")
    qmp.send_raw(b'{"execute": "query-status", "id": "z"}')
    drain_until_id(qmp, "z")
    alive(vm, qmp)


def discover_mandatory_args(qmp, name):
    """The mandatory arguments of a command and their types, learnt from 2.2's messages:
    "Parameter 'a' is missing", then an array for it gives "... expected: T"."""
    args, types = {}, {}
    for _ in range(12):
        resp = qmp.cmd(name, args)
        desc = resp.get("error", {}).get("desc", "")
        m = MISSING.match(desc)
        if not m or m.group(1) in args:  # done, or the command checks on its own terms
            return types
        args[m.group(1)] = []
        w = WRONG_TYPE.match(qmp.cmd(name, args).get("error", {}).get("desc", ""))
        if not w or w.group(2) not in RIGHT_VALUE:  # any JSON value ('q'), or unknown
            args[m.group(1)] = {}
            continue
        types[w.group(1)] = w.group(2)
        args[w.group(1)] = RIGHT_VALUE[w.group(2)]
    return types


def test_wrong_types_for_every_argument_of_every_command(qvm):
    vm, qmp = qvm
    if not qemu22(vm):
        pytest.skip("discovers arguments from 2.2's messages")
    names = [c["name"] for c in qmp.command("query-commands")]
    checked = 0
    for name in names:
        if name in SKIP:
            continue
        resp = qmp.cmd(name, {"no-such-argument": 1}, id=name)
        # Commands taking options ('O', e.g. device_add) check names themselves.
        assert resp["id"] == name and resp["error"]["class"] == "GenericError", resp
        types = discover_mandatory_args(qmp, name)
        right = {a: RIGHT_VALUE[t] for a, t in types.items()}
        for arg, kind in types.items():
            for bad in WRONG_VALUES[kind]:
                resp = qmp.cmd(name, dict(right, **{arg: bad}))
                assert resp["error"] == {
                    "class": "GenericError",
                    "desc": f"Invalid parameter type for '{arg}', expected: {kind}"}, resp
                checked += 1
        alive(vm, qmp)
    assert checked >= 5  # at least human-monitor-command's command-line


def test_disconnect_mid_command_and_mid_message(qvm):
    vm, qmp = qvm
    path = vm.qmp_path
    qmp.send_raw(b'{"execute": "query-commands"}{"execute": "query-version"}')
    qmp.close()  # answers go to a closed socket
    for partial in (b'{"execute": "query-st', b'{"execute": "stop", "arguments": {"a": [',
                    b"'unterminated"):
        q = QMP(path)
        q.connect(retry_for=5)
        q.send_raw(partial)
        q.close()
    q = QMP(path)
    q.connect(retry_for=5)
    alive(vm, q)
    q.close()


def test_client_that_never_reads(make_vm, tmp_path, vmm):
    """A client flooding requests without reading must not block the other monitor."""
    sock2 = str(tmp_path / "second.sock")
    vm, qmp = start_qmp_vm(make_vm, tmp_path, vmm,
                           extra=["-qmp", f"unix:{sock2},server,nowait"])
    other = QMP(sock2)
    other.connect(retry_for=10)
    qmp.sock.setblocking(False)
    request = b'{"execute": "query-commands"}' * 200
    sent = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            sent += qmp.sock.send(request)
        except BlockingIOError:
            time.sleep(0.01)
    assert sent > 0
    start = time.monotonic()
    alive(vm, other)
    assert time.monotonic() - start < 5
    qmp.sock.close()
    other.close()


def test_garbage_bytes_in_bulk(qvm):
    """Every byte value, many times: the VMM answers what it can, and after the client
    reconnects (which resets the stream, possibly still inside a string) it works."""
    vm, qmp = qvm
    qmp.send_raw(bytes(range(256)) * 64)
    qmp.get_events(wait=0.5)  # whatever error responses came back
    qmp.close()
    q = QMP(vm.qmp_path)
    q.connect(retry_for=5)
    alive(vm, q)
    q.close()


def test_raw_socket_hangup_during_greeting(qvm):
    vm, qmp = qvm
    qmp.close()
    for _ in range(20):
        deadline = time.monotonic() + 10
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(vm.qmp_path)
                break
            except BlockingIOError:  # the backlog is full until the VMM accepts
                s.close()
                assert time.monotonic() < deadline
                time.sleep(0.01)
        s.close()
    q = QMP(vm.qmp_path)
    q.connect(retry_for=5)
    alive(vm, q)
    q.close()
