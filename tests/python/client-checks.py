"""The Python client against a live daemon, as a pactown caller would use it.
Prints TAP (numbering continues from argv[1]); WARREN_URL and WARREN_TOKEN
name the daemon."""

import os
import signal
import subprocess
import sys
import time

from warren import IsolatedUser, UserIsolationManager, WarrenError, get_isolation_manager

n = int(sys.argv[1]) if len(sys.argv) > 1 else 0
failed = 0


def check(desc, cond, detail=""):
    global n, failed
    n += 1
    if cond:
        print(f"ok {n} - {desc}")
    else:
        failed += 1
        print(f"not ok {n} - {desc}")
        for line in str(detail).splitlines():
            print(f"#   {line}")


m = get_isolation_manager()
check("get_isolation_manager returns one manager", m is get_isolation_manager())
check("pactown's constructor arguments are accepted",
      isinstance(UserIsolationManager(users_base="/home/pactown_users", enable_cgroups=True),
                 UserIsolationManager))

check("get_user of an unknown tenant is None", m.get_user("py-nobody") is None)
u = m.get_or_create_user("py-carol")
check("get_or_create_user gives an IsolatedUser", isinstance(u, IsolatedUser), u)
check("  with the seed's fields in order", list(u.to_dict()) ==
      ["saas_user_id", "linux_username", "linux_uid", "linux_gid", "home_dir", "created_at"])
check("  a real account", os.stat(u.home_dir).st_uid == u.linux_uid,
      (os.stat(u.home_dir).st_uid, u.linux_uid))
check("get_user finds it now", m.get_user("py-carol") == u, m.get_user("py-carol"))
check("get_or_create_user again: the same user", m.get_or_create_user("py-carol") == u)
check("list_users holds it", "py-carol" in [x.saas_user_id for x in m.list_users()])

sb = m.get_sandbox_path("py-carol", "svc")
check("get_sandbox_path is the service's sandbox", sb == u.home_dir / "sandboxes" / "svc", sb)
check("  and exists, the tenant's", os.stat(sb).st_uid == u.linux_uid)

p = m.run_as_user("py-carol", "echo out; echo err >&2; echo $PORT; exit 3", cwd=sb,
                  env={"PORT": "8001"})
out, err = p.communicate(timeout=30)
check("run_as_user: stdout", out == b"out\n8001\n", out)
check("  stderr apart", err == b"err\n", err)
check("  the exit code", p.returncode == 3, p.returncode)

p = m.run_as_user("py-carol", "id -u; id -G; echo $HOME", cwd=sb)
out, _ = p.communicate(timeout=30)
lines = out.decode().split("\n")
check("  runs as the tenant's uid, no other groups",
      lines[:2] == [str(u.linux_uid), str(u.linux_gid)], out)

p = m.run_as_user("py-carol", "echo first; sleep 30; echo never", cwd=sb)
t0 = time.monotonic()
line = p.stdout.readline()
check("output streams live: a line arrives before the run ends",
      line == b"first\n" and p.poll() is None, (line, p.poll()))
try:
    p.wait(timeout=0.2)
    check("wait(timeout) raises TimeoutExpired", False)
except subprocess.TimeoutExpired:
    check("wait(timeout) raises TimeoutExpired", True)
p.terminate()
rc = p.wait(timeout=30)
check("terminate ends it: returncode -SIGTERM, as Popen", rc == -signal.SIGTERM, rc)
check("  promptly", time.monotonic() - t0 < 20)

p = m.run_as_user("py-carol", "sleep 60 & sleep 60; echo never", cwd=sb)
time.sleep(0.2)
p.kill()
check("kill ends the whole tree: returncode negative", p.wait(timeout=30) < 0, p.returncode)

try:
    m.run_as_user("py-carol", "true", cwd="/etc")
    check("a cwd outside the home is refused", False)
except WarrenError as exc:
    check("a cwd outside the home is refused", exc.status == 400, exc)

stats = m.get_user_stats("py-carol")
check("get_user_stats: the seed's shape", list(stats) == ["user", "sandbox_count", "total_size_mb"]
      and stats["sandbox_count"] == 1, stats)

check("delete_user of an unknown tenant is False", m.delete_user("py-nobody") is False)
check("  and last_error says 404", m.last_error is not None and m.last_error.status == 404,
      m.last_error)
check("delete_user is True", m.delete_user("py-carol") is True)
check("  the tenant is gone", m.get_user("py-carol") is None)
check("  its home too", not os.path.exists(u.home_dir))

bad = UserIsolationManager(token="f" * 64)
try:
    bad.list_users()
    check("a bad token is refused", False)
except WarrenError as exc:
    check("a bad token is refused (401)", exc.status == 401, exc)

print(f"# client checks: {n} ran")
with open(os.environ["CHECKS_COUNT"], "w") as f:
    f.write(f"{n} {failed}\n")
sys.exit(1 if failed else 0)
