"""pactown's migration demo against warren: a tenant's home moves from one
warren host to another with export_user_data and import_user_data.

    python3 migration.py OLD_URL OLD_TOKEN_FILE NEW_URL NEW_TOKEN_FILE [TENANT]
"""

import sys
import tempfile
from pathlib import Path

from warren import UserIsolationManager  # was: from pactown import UserIsolationManager

old_url, old_token, new_url, new_token = sys.argv[1:5]
tenant = sys.argv[5] if len(sys.argv) > 5 else "user_alice"
old = UserIsolationManager(url=old_url, token_file=old_token)
new = UserIsolationManager(url=new_url, token_file=new_token)

user = old.get_or_create_user(tenant)
sandbox = old.get_sandbox_path(tenant, "my-api")
old.run_as_user(tenant, "echo 'print(6 * 7)' > main.py", cwd=sandbox).wait()
print(f"old host: {tenant} is {user.linux_username} (UID {user.linux_uid})")

with tempfile.TemporaryDirectory() as tmp:
    archive = Path(tmp) / f"{tenant}.tar.gz"
    if not old.export_user_data(tenant, archive):
        sys.exit(f"export failed: {old.last_error}")
    print(f"exported to {archive.name}")
    if not new.import_user_data(tenant, archive):
        sys.exit(f"import failed: {new.last_error}")

moved = new.get_user(tenant)
print(f"new host: {tenant} is {moved.linux_username} (UID {moved.linux_uid})")
process = new.run_as_user(tenant, "python3 main.py", cwd=new.get_sandbox_path(tenant, "my-api"))
out, _ = process.communicate()
print(f"main.py prints {out.decode().strip()}, exit {process.returncode}")
