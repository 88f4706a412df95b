"""The operator's settings a job keeps masked in its config.json and re-reads when it runs.

Where the server's secrets go (storage credentials, the RunPod endpoint and worker repository)
is the operator's choice, made in the server's environment or .env; a job's record holds them
masked, and the job process (or a study deletion) reads the real values from that environment.
"""

from __future__ import annotations

import os
from typing import Optional

from hpopt.config import ConfigError, OptimizationConfig, load_config
from hpopt.masking import MASK

__all__ = ["OPERATOR_SECRET_KEYS", "with_operator_settings", "operator_storage"]

# Kept masked in a job's config.json and re-read from the server's settings when the job runs.
OPERATOR_SECRET_KEYS = ("storage", "gpu_proxy_endpoint", "gpu_proxy_repo_url", "gpu_proxy_ref", "mlflow_tracking_uri")


def with_operator_settings(config: OptimizationConfig, environ: Optional[dict[str, str]] = None,
                           env_file: Optional[str] = ".env") -> OptimizationConfig:
    """``config`` with OPERATOR_SECRET_KEYS as the server's settings give them now (ConfigError if invalid).

    A job's config.json keeps them masked; the job process reads the real values from the
    environment it inherits from the server, as config_from_body did when the job was queued.
    """
    server = load_config({}, environ=os.environ if environ is None else environ, env_file=env_file)
    return config.model_copy(update={key: getattr(server, key) for key in OPERATOR_SECRET_KEYS})


def operator_storage(recorded: Optional[str], env_file: Optional[str] = ".env") -> Optional[str]:
    """The storage URL to open for a job whose record holds ``recorded`` (masked when it had a password)."""
    if not recorded or MASK not in recorded:
        return recorded
    try:
        return load_config({}, environ=os.environ, env_file=env_file).storage
    except ConfigError:
        return None
