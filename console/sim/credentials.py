"""The simulator's secrets: generated per run and handed to the console through environment variables."""

from __future__ import annotations

import os
import random
import secrets
import string
from dataclasses import dataclass, fields
from typing import Mapping

# field → environment variable the console's config names (its `*_env` auth keys)
ENV_VARS = {
    "pulse_password": "OPSCONSOLE_DEMO_PULSE_PASSWORD",
    "pulse_viewer_password": "OPSCONSOLE_DEMO_PULSE_VIEWER_PASSWORD",
    "storytailor_key": "OPSCONSOLE_DEMO_STORYTAILOR_KEY",
    "converge_key": "OPSCONSOLE_DEMO_CONVERGE_KEY",
    "converge_readonly_key": "OPSCONSOLE_DEMO_CONVERGE_READONLY_KEY",
    "path_tracker_token": "OPSCONSOLE_DEMO_PATH_TRACKER_TOKEN",
    "data_pipeline_key": "OPSCONSOLE_DEMO_DATA_PIPELINE_KEY",
}

_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Credentials:
    pulse_password: str
    pulse_viewer_password: str
    storytailor_key: str
    converge_key: str
    converge_readonly_key: str
    path_tracker_token: str
    data_pipeline_key: str
    pulse_user: str = "admin"  # Pulse admin (may PUT config)
    pulse_viewer_user: str = "viewer"  # Pulse non-admin (reads only; PUT config → 403)

    @classmethod
    def generate(cls, seed: int | None = None) -> "Credentials":
        """Fresh random secrets; with a seed, the same ones every time (tests, reproducible demos)."""
        rng = random.Random(f"credentials:{seed}") if seed is not None else None

        def secret(prefix: str) -> str:
            if rng is None:
                return prefix + secrets.token_urlsafe(18)
            return prefix + "".join(rng.choice(_ALPHABET) for _ in range(24))

        return cls(
            pulse_password=secret(""),
            pulse_viewer_password=secret(""),
            storytailor_key=secret("st_"),
            converge_key=secret("cv_op_"),
            converge_readonly_key=secret("cv_ro_"),
            path_tracker_token=secret("ptk_"),
            data_pipeline_key=secret("dp_"),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Credentials":
        """The secrets a running `opsconsole sim` exported; KeyError names a missing variable."""
        environ = os.environ if environ is None else environ
        return cls(**{name: environ[var] for name, var in ENV_VARS.items()})

    def env(self) -> dict[str, str]:
        """{ENV_VAR: secret} for every secret (user names are fixed: admin, viewer)."""
        return {var: getattr(self, name) for name, var in ENV_VARS.items()}

    def __repr__(self) -> str:  # never print a secret by accident
        shown = ", ".join(f"{f.name}=***" for f in fields(self) if f.name in ENV_VARS)
        return f"Credentials(pulse_user={self.pulse_user!r}, pulse_viewer_user={self.pulse_viewer_user!r}, {shown})"
