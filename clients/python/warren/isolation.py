"""pactown's user-isolation API, served by a warren daemon.

A pactown user changes one line,
    from pactown import UserIsolationManager, get_isolation_manager
to
    from warren import UserIsolationManager, get_isolation_manager
and keeps every name, argument and return value: IsolatedUser and its
to_dict(), get_or_create_user, get_user, get_sandbox_path, run_as_user (a
Popen look-alike), list_users, get_user_stats, export_user_data,
import_user_data, delete_user. What changes is underneath: the runs are
isolated at warren's levels (strong by default), not only by uid."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from ._http import Connection, WarrenError, quote
from .process import RunProcess

log = logging.getLogger("warren")


@dataclass
class IsolatedUser:
    saas_user_id: str
    linux_username: str
    linux_uid: int
    linux_gid: int
    home_dir: Path
    created_at: float

    @classmethod
    def _from(cls, d):
        return cls(d["saas_user_id"], d["linux_username"], int(d["linux_uid"]),
                   int(d["linux_gid"]), Path(d["home_dir"]), float(d["created_at"]))

    def to_dict(self) -> dict:
        """The seed's JSON shape, in its field order."""
        return {
            "saas_user_id": self.saas_user_id,
            "linux_username": self.linux_username,
            "linux_uid": self.linux_uid,
            "linux_gid": self.linux_gid,
            "home_dir": str(self.home_dir),
            "created_at": self.created_at,
        }


class UserIsolationManager:
    """Talks to `warren serve`.

    users_base and enable_cgroups are pactown's arguments, accepted so its
    callers run unchanged: the daemon owns the users base, and warren's
    cgroups are always on (quotas: `warren quota set`). Where the daemon is
    and the token come from url/token/token_file or WARREN_URL, WARREN_TOKEN,
    WARREN_TOKEN_FILE (see Connection). level is the isolation level of
    run_as_user: "strong" (default), "container" or "basic"."""

    def __init__(self, users_base: Path = Path("/home/pactown_users"),
                 enable_cgroups: bool = False, *, url: Optional[str] = None,
                 token: Optional[str] = None, token_file: Optional[str] = None,
                 level: str = "strong", timeout: float = 60.0):
        self.users_base = Path(users_base)
        self.enable_cgroups = enable_cgroups
        self.level = level
        self.conn = Connection(url, token, token_file, timeout)
        self.last_error: Optional[WarrenError] = None

    def _tenant(self, saas_user_id):
        return f"/v1/tenants/{quote(saas_user_id)}"

    def _failed(self, what, exc):
        """pactown's bool-returning calls answer False; the reason is kept
        and logged, never lost."""
        self.last_error = exc
        log.warning("warren: %s: %s", what, exc)
        return False

    # --- users -------------------------------------------------------------

    def get_or_create_user(self, saas_user_id: str) -> IsolatedUser:
        d = self.conn.request("GET", f"/runner/isolation/user/{quote(saas_user_id)}")
        return IsolatedUser._from(d)

    def get_user(self, saas_user_id: str) -> Optional[IsolatedUser]:
        try:
            return IsolatedUser._from(self.conn.request("GET", self._tenant(saas_user_id)))
        except WarrenError as exc:
            if exc.status == 404:
                return None
            raise

    def list_users(self) -> List[IsolatedUser]:
        d = self.conn.request("GET", "/runner/isolation/users")
        return [IsolatedUser._from(u) for u in d["users"]]

    def get_user_stats(self, saas_user_id: str) -> Dict[str, Any]:
        return self.conn.request("GET", f"/runner/isolation/user/{quote(saas_user_id)}/stats")

    def delete_user(self, saas_user_id: str, delete_home: bool = True) -> bool:
        try:
            d = self.conn.request("DELETE", f"/runner/isolation/user/{quote(saas_user_id)}",
                                  query={"delete_home": "true" if delete_home else "false"})
            return bool(d and d.get("success"))
        except WarrenError as exc:
            return self._failed(f"delete {saas_user_id}", exc)

    # --- sandboxes and runs ------------------------------------------------

    def get_sandbox_path(self, saas_user_id: str, service_id: str) -> Path:
        d = self.conn.request("PUT", f"{self._tenant(saas_user_id)}/sandboxes/{quote(service_id)}")
        return Path(d["path"])

    def run_as_user(self, saas_user_id: str, command: str, cwd: Path,
                    env: Optional[Dict[str, str]] = None, *, level: Optional[str] = None,
                    timeout: Optional[float] = None) -> RunProcess:
        """Starts `command` through /bin/sh -c as the tenant, in cwd (inside its
        home), with a clean environment plus env. Returns at once; the result
        behaves as the subprocess.Popen pactown returned."""
        spec = {"shell": command, "cwd": os.fspath(cwd), "level": level or self.level}
        if env:
            spec["env"] = {str(k): str(v) for k, v in env.items()}
        if timeout is not None:
            spec["timeout"] = timeout
        run = self.conn.request("POST", f"{self._tenant(saas_user_id)}/runs", body=spec)
        return RunProcess(self.conn, saas_user_id, run, command)

    # --- migration -----------------------------------------------------------

    def export_user_data(self, saas_user_id: str, output_path: Path) -> bool:
        """Writes the whole home as an archive; a failed export leaves no file.
        A name ending in .tar.gz or .tgz gets gzip (pactown's format), any
        other zstd."""
        output_path = Path(output_path)
        query = {"format": "gz"} if output_path.name.endswith((".tar.gz", ".tgz")) else None
        partial = output_path.with_name(output_path.name + ".partial")
        try:
            with open(partial, "wb") as f:
                self.conn.request("GET", f"{self._tenant(saas_user_id)}/export", query=query,
                                  stream_to=f)
            os.replace(partial, output_path)
            return True
        except (WarrenError, OSError) as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            if isinstance(exc, OSError):
                exc = WarrenError(str(exc))
            return self._failed(f"export {saas_user_id} to {output_path}", exc)

    def import_user_data(self, saas_user_id: str, archive_path: Path) -> bool:
        """Makes the archive (warren's or pactown's .tar.gz) the tenant's home,
        creating the tenant if needed. All or nothing."""
        try:
            self.get_or_create_user(saas_user_id)
            with open(archive_path, "rb") as f:
                self.conn.request("PUT", f"{self._tenant(saas_user_id)}/import",
                                  query={"replace": "true"}, upload=f)
            return True
        except (WarrenError, OSError) as exc:
            if isinstance(exc, OSError):
                exc = WarrenError(str(exc))
            return self._failed(f"import {archive_path} for {saas_user_id}", exc)


_manager: Optional[UserIsolationManager] = None


def get_isolation_manager() -> UserIsolationManager:
    """The process-wide manager, as pactown's get_isolation_manager."""
    global _manager
    if _manager is None:
        _manager = UserIsolationManager()
    return _manager
