"""The embedded simulator of the five watched services, served over real HTTP on loopback."""

from .credentials import ENV_VARS, Credentials
from .scenarios import SCENARIOS

__all__ = ["Credentials", "ENV_VARS", "Fleet", "Mutation", "SCENARIOS"]


def __getattr__(name: str):
    # the servers (starlette, uvicorn) load when first asked for: `opsconsole`'s parser lists the scenarios on every
    # start, and the demo's console runs its fleet in a child process (console/sim_process.py)
    if name == "Fleet":
        from .fleet import Fleet

        return Fleet
    if name == "Mutation":
        from .http import Mutation

        return Mutation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
