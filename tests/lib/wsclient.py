#!/usr/bin/env python3
"""A minimal WebSocket client for the tests (the standard library has none):
wsclient.py URL TOKEN prints each text frame the server sends, one per line,
until the server closes. Exit 0 after a close frame, 1 otherwise."""
import base64, os, socket, struct, sys, urllib.parse

url, token = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(url)
print("# connecting", flush=True)
s = socket.create_connection((u.hostname, u.port), timeout=20)
key = base64.b64encode(os.urandom(16)).decode()
path = u.path + ("?" + u.query if u.query else "")
s.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"Authorization: Bearer {token}\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    chunk = s.recv(4096)
    if not chunk: sys.exit("closed during the handshake")
    buf += chunk
head, buf = buf.split(b"\r\n\r\n", 1)
status = head.split(b"\r\n")[0]
print("#", status.decode())
if b" 101 " not in status: sys.exit(1)

def need(n):
    global buf
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk: raise EOFError
        buf += chunk
    out, buf = buf[:n], buf[n:]
    return out

try:
    while True:
        b0, b1 = need(2)
        op, ln = b0 & 15, b1 & 127
        if ln == 126: ln = struct.unpack("!H", need(2))[0]
        elif ln == 127: ln = struct.unpack("!Q", need(8))[0]
        if b1 & 128: sys.exit("server frames must not be masked")
        data = need(ln)
        if op == 1: print(data.decode())
        elif op == 8:
            print("# close")
            sys.exit(0)
except EOFError:
    sys.exit("connection ended without a close frame")
