"""RunProcess: what run_as_user returns. pactown returned a subprocess.Popen;
this object answers the same calls for a run the daemon supervises, so code
written against Popen keeps working: .stdout and .stderr are real pipes fed
live from the run's WebSocket stream, .wait(), .poll(), .communicate(),
.send_signal(), .terminate(), .kill(), .returncode (negative for a signal,
as Popen's)."""

import json
import os
import selectors
import signal as _signal
import subprocess
import threading
import time

from ._http import WarrenError, quote
from ._websocket import WebSocket, WebSocketError


def _returncode(status):
    if status.get("exit_code") is not None:
        return int(status["exit_code"])
    return -int(status.get("signal") or _signal.SIGKILL)


class RunProcess:
    def __init__(self, conn, saas_user_id, run, args):
        self._conn = conn
        self._base = f"/v1/tenants/{quote(saas_user_id)}/runs/{quote(run['id'])}"
        self.args = args
        self.run_id = run["id"]
        self.pid = run.get("pid")
        self.stdin = None
        self.returncode = None
        self.status = run
        self._ended = threading.Event()
        out_r, self._out_w = os.pipe()
        err_r, self._err_w = os.pipe()
        self.stdout = os.fdopen(out_r, "rb")
        self.stderr = os.fdopen(err_r, "rb")
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    # --- the output ----------------------------------------------------------

    def _follow(self):
        try:
            try:
                self._follow_stream()
            except (WebSocketError, OSError, ValueError):
                # No live stream to be had: the buffered output once it ends.
                self._wait_status(None)
                out = self._conn.request("GET", self._base + "/output")
                self._write(self._out_w, out.get("stdout", ""))
                self._write(self._err_w, out.get("stderr", ""))
        except (WarrenError, OSError):
            pass
        finally:
            for fd in (self._out_w, self._err_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._ended.set()

    def _follow_stream(self):
        ws = WebSocket.connect(self._conn.open(), self._base + "/stream", self._conn.headers())
        try:
            while True:
                text = ws.recv()
                if text is None:
                    break
                msg = json.loads(text)
                if msg.get("stream") == "stdout":
                    self._write(self._out_w, msg.get("data", ""))
                elif msg.get("stream") == "stderr":
                    self._write(self._err_w, msg.get("data", ""))
                elif msg.get("event") == "end":
                    self._finish(msg.get("run") or {})
                    break
        finally:
            ws.close()

    @staticmethod
    def _write(fd, data):
        buf = data.encode("utf-8", errors="replace")
        while buf:
            try:
                n = os.write(fd, buf)
            except BrokenPipeError:
                return  # nobody reads any more: Popen's behaviour too
            buf = buf[n:]

    def _finish(self, status):
        self.status = {**self.status, **status}
        self.returncode = _returncode(self.status)

    # --- the status ------------------------------------------------------------

    def _wait_status(self, deadline):
        delay = 0.01
        while True:
            status = self._conn.request("GET", self._base)
            if status.get("state") != "running":
                self._finish(status)
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def poll(self):
        if self.returncode is None:
            status = self._conn.request("GET", self._base)
            if status.get("state") != "running":
                self._finish(status)
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            deadline = None if timeout is None else time.monotonic() + timeout
            # The stream brings the end at once; polling covers a stream that
            # stalls because nobody drains the pipes (as with Popen's PIPE).
            self._ended.wait(0.05 if timeout is None else min(timeout, 0.05))
            if self.returncode is None and not self._wait_status(deadline):
                raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def communicate(self, input=None, timeout=None):
        if input:
            raise ValueError("a warren run's stdin is /dev/null")
        deadline = None if timeout is None else time.monotonic() + timeout
        chunks = {self.stdout: [], self.stderr: []}
        with selectors.DefaultSelector() as sel:
            for f in chunks:
                if not f.closed:
                    sel.register(f, selectors.EVENT_READ)
            while sel.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(self.args, timeout)
                for key, _ in sel.select(left):
                    data = os.read(key.fd, 1 << 16)
                    if data:
                        chunks[key.fileobj].append(data)
                    else:
                        sel.unregister(key.fileobj)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return b"".join(chunks[self.stdout]), b"".join(chunks[self.stderr])

    # --- signals ---------------------------------------------------------------

    def send_signal(self, sig):
        if self.returncode is None:
            self._conn.request("POST", self._base + "/signal", body={"signal": int(sig)})

    def terminate(self):
        self.send_signal(_signal.SIGTERM)

    def kill(self):
        """Ends the run's whole process tree, not only its first process."""
        if self.returncode is None:
            self._conn.request("POST", self._base + "/kill")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stdout.close()
        self.stderr.close()
        self.wait()

    def __repr__(self):
        return f"<RunProcess run={self.run_id} returncode={self.returncode} args={self.args!r}>"
