"""warren's Python client: pactown's user-isolation API against a warren
daemon (`warren serve`). Standard library only."""

from ._http import Connection, WarrenError
from .isolation import IsolatedUser, UserIsolationManager, get_isolation_manager
from .process import RunProcess

__all__ = [
    "Connection",
    "IsolatedUser",
    "RunProcess",
    "UserIsolationManager",
    "WarrenError",
    "get_isolation_manager",
]
