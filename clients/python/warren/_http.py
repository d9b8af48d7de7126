"""The connection to a warren daemon: HTTP/1.1 over TCP or warren's Unix
socket, the token, JSON in and out, and the daemon's errors as exceptions.

Standard library only, so that a platform switching from pactown installs
nothing new."""

import http.client
import json
import os
import socket
import urllib.parse

DEFAULT_URL = "http://127.0.0.1:8801"
DEFAULT_TOKEN_FILE = "/var/lib/warren/admin.token"


class WarrenError(Exception):
    """A request the daemon refused or could not serve.

    `status` is the HTTP status (0 when the daemon could not be reached),
    `code` warren's error code (e.g. "not_found") where it gave one."""

    def __init__(self, message, status=0, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over warren's root-only Unix socket: root there is the admin."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def quote(segment):
    """A path segment percent-encoded whole: tenant ids may hold '/', '?', '#'."""
    return urllib.parse.quote(str(segment), safe="")


def _read_token(token, token_file):
    """What the caller passes wins over the environment, which wins over the
    default file."""
    if token:
        return token
    if not token_file and os.environ.get("WARREN_TOKEN"):
        return os.environ["WARREN_TOKEN"]
    path = token_file or os.environ.get("WARREN_TOKEN_FILE") or DEFAULT_TOKEN_FILE
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


class Connection:
    """Where the daemon is and who we are to it.

    url:    http://HOST:PORT (default $WARREN_URL, else http://127.0.0.1:8801),
            or unix:/path/to/warren.sock
    token:  the admin or a tenant token (default $WARREN_TOKEN, else the file
            $WARREN_TOKEN_FILE, else /var/lib/warren/admin.token if readable)
    """

    def __init__(self, url=None, token=None, token_file=None, timeout=60.0):
        self.url = url or os.environ.get("WARREN_URL") or DEFAULT_URL
        self.token = _read_token(token, token_file)
        self.timeout = timeout
        if self.url.startswith("unix:"):
            self._unix = self.url[len("unix:"):]
            self._host = None
        else:
            parts = urllib.parse.urlsplit(self.url)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"warren url {self.url!r}: expected http://HOST:PORT or unix:PATH")
            self._unix = None
            self._host = (parts.hostname, parts.port or 80)

    def open(self, timeout=None):
        t = self.timeout if timeout is None else timeout
        if self._unix:
            return _UnixConnection(self._unix, t)
        return http.client.HTTPConnection(self._host[0], self._host[1], timeout=t)

    def headers(self, extra=None):
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if extra:
            h.update(extra)
        return h

    def request(self, method, path, body=None, query=None, stream_to=None, upload=None):
        """Sends one request; returns the decoded JSON answer (None for an
        empty one). stream_to: a binary file the answer body is copied into.
        upload: a regular binary file sent as the body. Raises WarrenError."""
        if query:
            path += "?" + urllib.parse.urlencode(query)
        extra = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            extra["Content-Type"] = "application/json"
        elif upload is not None:
            data = upload
            extra["Content-Type"] = "application/octet-stream"
            extra["Content-Length"] = str(os.fstat(upload.fileno()).st_size - upload.tell())
        conn = self.open()
        try:
            conn.request(method, path, body=data, headers=self.headers(extra))
            resp = conn.getresponse()
            if resp.status < 300 and stream_to is not None:
                while True:
                    chunk = resp.read(1 << 16)
                    if not chunk:
                        break
                    stream_to.write(chunk)
                return None
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise WarrenError(f"warren daemon at {self.url}: {exc}") from exc
        finally:
            conn.close()
        answer = None
        if raw:
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = None
        if resp.status >= 300:
            raise _error(resp.status, answer, raw)
        return answer


def _error(status, answer, raw):
    message, code = None, None
    if isinstance(answer, dict):
        if isinstance(answer.get("error"), dict):
            message = answer["error"].get("message")
            code = answer["error"].get("code")
        elif "detail" in answer:
            message = str(answer["detail"])
    if not message:
        message = raw.decode(errors="replace").strip() or http.client.responses.get(status, "error")
    return WarrenError(message, status, code)
