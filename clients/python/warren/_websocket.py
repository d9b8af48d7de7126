"""Just enough of a WebSocket client (RFC 6455) to follow a run's output: the
opening handshake, reading the daemon's unmasked frames, and a masked close.
The standard library has none, and a run's live output is worth having."""

import base64
import hashlib
import os
import struct

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketError(Exception):
    pass


class WebSocket:
    def __init__(self, sock):
        self._sock = sock
        self._buf = b""

    @classmethod
    def connect(cls, conn, path, headers):
        """Upgrades a fresh http.client connection's socket at `path`."""
        conn.connect()
        sock = conn.sock
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", "Host: localhost", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        ws = cls(sock)
        head = ws._read_until(b"\r\n\r\n")
        status_line, *fields = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "101":
            body = ws._buf.decode(errors="replace")
            raise WebSocketError(f"{status_line.strip()} {body}".strip())
        accept = None
        for f in fields:
            name, _, value = f.partition(":")
            if name.strip().lower() == "sec-websocket-accept":
                accept = value.strip()
        want = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        if accept != want:
            raise WebSocketError("the server's Sec-WebSocket-Accept does not match")
        return ws

    def _fill(self):
        chunk = self._sock.recv(1 << 16)
        if not chunk:
            raise WebSocketError("connection closed")
        self._buf += chunk

    def _read_until(self, mark):
        while mark not in self._buf:
            self._fill()
        head, self._buf = self._buf.split(mark, 1)
        return head

    def _take(self, n):
        while len(self._buf) < n:
            self._fill()
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def recv(self):
        """The next text message as str, or None once the server closed."""
        message = b""
        while True:
            b0, b1 = self._take(2)
            opcode, fin = b0 & 0x0F, b0 & 0x80
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._take(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._take(8))
            mask = self._take(4) if b1 & 0x80 else None
            payload = self._take(n)
            if mask:
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
            if opcode == 0x8:
                self._send(0x8, payload[:2])
                return None
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode in (0x1, 0x2, 0x0):
                message += payload
                if fin:
                    return message.decode("utf-8", errors="replace")

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        try:
            self._sock.sendall(head + mask + masked)
        except OSError:
            pass

    def close(self):
        self._send(0x8, struct.pack("!H", 1000))
        self._sock.close()
