"""The user-isolation demo, as pactown ships it, with one changed line: the
import. Run it against a warren daemon (`make run`) as root."""

from warren import UserIsolationManager, get_isolation_manager  # was: from pactown import ...

manager = get_isolation_manager()

print("=== User Isolation Demo ===")
print()
print("Creating isolated users...")
users = {}
for saas_id in ("user_alice", "user_bob"):
    user = manager.get_or_create_user(saas_id)
    users[saas_id] = user
    print(f"  ✓ {saas_id} -> {user.linux_username} (UID: {user.linux_uid})")

print()
print("Creating sandboxes...")
for saas_id in users:
    sandbox = manager.get_sandbox_path(saas_id, "my-api")
    print(f"  ✓ {saas_id}/my-api: {sandbox}")

print()
print("Running a command as each user...")
for saas_id in users:
    sandbox = manager.get_sandbox_path(saas_id, "my-api")
    process = manager.run_as_user(saas_user_id=saas_id, command="id -u; pwd", cwd=sandbox,
                                  env={"PORT": "8001"})
    out, _ = process.communicate()
    uid, cwd = out.decode().split()
    print(f"  ✓ {saas_id}: uid {uid} in {cwd}, exit {process.returncode}")

print()
print("User statistics:")
for saas_id in users:
    stats = manager.get_user_stats(saas_id)
    print(f"  {saas_id}: {stats['sandbox_count']} sandbox, {stats['total_size_mb']} MB")

print()
print(f"Total isolated users: {len(manager.list_users())}")
