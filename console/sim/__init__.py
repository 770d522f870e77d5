"""The embedded simulator of the five watched services, served over real HTTP on loopback."""

from .credentials import ENV_VARS, Credentials
from .fleet import Fleet
from .http import Mutation
from .scenarios import SCENARIOS

__all__ = ["Credentials", "ENV_VARS", "Fleet", "Mutation", "SCENARIOS"]
