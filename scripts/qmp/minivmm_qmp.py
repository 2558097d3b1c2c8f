"""A small QMP client: connect to a QMP monitor (minivmm's or QEMU's), negotiate, run
commands, collect events. Plain standard library, so the system tests can use it.

    from minivmm_qmp import QMP, QMPError
    with QMP("/tmp/qmp.sock") as qmp:      # or QMP(("127.0.0.1", 4444))
        qmp.connect()                        # greeting + qmp_capabilities
        qmp.command("stop")                  # the "return" value, or QMPError raised
        qmp.cmd("query-status", id=7)        # the whole response object
        qmp.event_wait("STOP", timeout=5)

QMP.listen(path) waits for a VMM that connects to us (-chardev socket,path=P without
server). Messages arrive one per line ending in CRLF; responses come in request order, with
events interleaved: events read while waiting for a response are queued in `events`.
"""

import json
import os
import select
import socket
import time


class QMPError(Exception):
    """A command failed: `cls` is the error class, `desc` its text."""

    def __init__(self, response):
        err = response["error"]
        super().__init__(f"{err['class']}: {err['desc']}")
        self.response = response
        self.cls = err["class"]
        self.desc = err["desc"]


class QMPConnectionError(Exception):
    pass


class QMP:
    def __init__(self, address, timeout=10.0):
        self.address = address
        self.timeout = timeout
        self.sock = None
        self.listener = None
        self.buf = bytearray()
        self.events = []
        self.greeting = None

    # ---- connecting ----
    @classmethod
    def listen(cls, path, timeout=10.0):
        """A client whose socket the VMM connects to; call accept() after starting it."""
        qmp = cls(path, timeout)
        qmp.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):
            os.unlink(path)
        qmp.listener.bind(path)
        qmp.listener.listen(1)
        return qmp

    def accept(self, negotiate=True):
        self.listener.settimeout(self.timeout)
        self.sock, _ = self.listener.accept()
        return self._greet(negotiate)

    def connect(self, negotiate=True, retry_for=0.0):
        """Connect (retrying up to retry_for seconds while the socket is not there yet)."""
        deadline = time.monotonic() + retry_for
        family = socket.AF_UNIX if isinstance(self.address, str) else socket.AF_INET
        while True:
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                self.sock.connect(self.address)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        return self._greet(negotiate)

    def _greet(self, negotiate):
        self.buf = bytearray()
        self.greeting = self.read_message()
        if "QMP" not in self.greeting:
            raise QMPConnectionError(f"not a QMP greeting: {self.greeting!r}")
        if negotiate:
            self.command("qmp_capabilities")
        return self.greeting

    def close(self):
        for s in (self.sock, self.listener):
            if s is not None:
                s.close()
        self.sock = self.listener = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- raw I/O ----
    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def read_line(self, timeout=None):
        """One line (without CRLF) as bytes; raises QMPConnectionError on EOF/timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        scanned = 0
        while True:
            end = self.buf.find(b"\n", scanned)
            if end >= 0:
                break
            scanned = len(self.buf)  # long messages: do not rescan what was searched
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                raise QMPConnectionError("timed out waiting for the monitor")
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise QMPConnectionError("the monitor closed the connection")
            self.buf += chunk
        line = bytes(self.buf[:end])
        del self.buf[:end + 1]
        return line.rstrip(b"\r")

    def read_message(self, timeout=None):
        """The next message (response or event) as a dict."""
        return json.loads(self.read_line(timeout))

    # ---- commands ----
    def send(self, name, args=None, id=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        if id is not None:
            msg["id"] = id
        self.send_raw(json.dumps(msg))

    def response(self, timeout=None):
        """The next response; events read meanwhile are queued."""
        while True:
            msg = self.read_message(timeout)
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def cmd(self, name, args=None, id=None, **kwargs):
        """Run a command; return the whole response ({"return": ...} or {"error": ...})."""
        args = dict(args or {}, **kwargs)
        self.send(name, args, id)
        return self.response()

    def command(self, name, args=None, **kwargs):
        """Run a command; return its "return" value or raise QMPError."""
        resp = self.cmd(name, args, **kwargs)
        if "error" in resp:
            raise QMPError(resp)
        return resp["return"]

    def hmp(self, line):
        """An HMP command line through human-monitor-command; its output."""
        return self.command("human-monitor-command", {"command-line": line})

    # ---- events ----
    def get_events(self, wait=0.0):
        """Queued events plus any arriving within `wait` seconds; clears the queue."""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if b"\n" not in self.buf and (left <= 0 or
                                          not select.select([self.sock], [], [], left)[0]):
                break
            try:
                msg = self.read_message(max(left, 0.01))
            except QMPConnectionError:
                break
            self.events.append(msg)
        events, self.events = self.events, []
        return events

    def event_wait(self, name, timeout=None):
        """Wait for the event `name`; return it (other events stay queued)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("event") == name:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise QMPConnectionError(f"no {name} event within the timeout")
            msg = self.read_message(left)
            self.events.append(msg)
