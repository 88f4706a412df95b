"""ApiSettings: how the API server itself is configured (not what a job optimizes).

Layered by the same code as the CLI's config (hpopt.config.layers): defaults < .env <
HYPEROPT_* environment variables < ``key=value`` arguments. The API key is read from
HYPEROPT_API_KEY only (never from the command line, where ``ps`` would show it) and kept as
a SecretStr so no repr or log line ever contains it.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from hpopt.config.layers import CLI_SOURCE, ENV_PREFIX, KeyPolicy, layered

__all__ = ["ApiSettings", "SettingsError", "load_settings", "ENV_PREFIX"]

API_KEY_ENV = ENV_PREFIX + "API_KEY"


class SettingsError(ValueError):
    """A server setting is unknown or invalid; str() is the line to show (exit status 2)."""

    exit_code = 2


class ApiSettings(BaseModel):
    """Everything the server needs; immutable so every request sees the same settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="address to bind; 0.0.0.0 exposes the server (set an API key)")
    port: int = Field(8000, ge=0, le=65535, description="TCP port; 0 picks a free one")
    results_dir: Path = Field(Path("./optimization_results"), description="run folders, job records and studies")
    max_concurrent_jobs: int = Field(
        1, ge=0, le=64, description="jobs training at once; the rest wait as pending. 0 pauses job starts "
        "(jobs queue until a server with a positive limit runs them)")
    stop_grace_s: float = Field(60.0, gt=0, le=3600, description="seconds a stopped job may take to write its "
                                "results before it is killed")
    max_body_bytes: int = Field(65536, ge=1024, le=16 * 1024 * 1024, description="largest request body accepted")
    cors_origins: tuple[str, ...] = Field((), description="origins allowed by CORS (comma-separated); none = CORS off")
    job_nice: int = Field(5, ge=0, le=19, description="niceness of job processes, so the API answers while they train")
    server_log_level: str = Field("INFO", description="level of the server's log on stderr")
    api_key: Optional[SecretStr] = Field(None, description="required on every route but /health when set")
    data_roots: tuple[Path, ...] = Field(
        (), description="folders a request's dataset path may lie in (comma-separated); none = only "
        "<results_dir>/data. Paths elsewhere are refused as if they did not exist")

    # Limits on what one request may ask of this machine (each exceeded one answers 422, the queue 429).
    max_job_trials: int = Field(1000, ge=1, le=1_000_000, description="most trials one job may run (trials, "
                                "and a resume's new total)")
    max_job_epochs: int = Field(200, ge=1, le=1_000_000, description="most epochs one trial of a job may train "
                                "(max_epochs_per_trial)")
    max_job_workers: int = Field(min(64, os.cpu_count() or 1), ge=1, le=64,
                                 description="most worker processes one job may start (workers); default: "
                                 "this machine's CPU count")
    max_queued_jobs: int = Field(10, ge=0, le=100_000, description="most jobs waiting as pending; beyond it "
                                 "POST /optimize and resume answer 429 with Retry-After")
    max_predict_upload_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, le=1024 ** 3, description="largest body POST /jobs/{id}/predict accepts (an "
        "uploaded image, .npz or text file); larger answers 413")
    max_predict_texts: int = Field(1000, ge=1, le=1_000_000, description="most texts one POST /jobs/{id}/predict "
                                   "JSON body may hold (422 beyond)")
    max_predict_text_chars: int = Field(20_000, ge=1, le=10_000_000, description="longest text (characters) in a "
                                        "predict JSON body (422 beyond)")
    max_concurrent_predictions: int = Field(
        2, ge=1, le=64, description="prediction subprocesses at once (each loads TensorFlow and the model); "
        "beyond it POST /jobs/{id}/predict answers 429 with Retry-After")
    predict_timeout_s: float = Field(300.0, gt=0, le=86400, description="seconds a prediction subprocess may run "
                                     "before it is killed (504)")
    allow_shared_studies: bool = Field(False, description="let a job attach to a study another job owns "
                                       "(study_name or run_name naming it); off: 422")
    notify_allowed_hosts: tuple[str, ...] = Field(
        (), description="hosts a request's notify_url (webhook) may name (comma-separated, e.g. "
        "hooks.slack.com,ci.example.com); none = requests with notify_url are refused (422), so a job cannot "
        "make this server POST to its own network")
    gpu_proxy_probe_interval_s: float = Field(
        15.0, ge=0, le=86400, description="seconds between background checks that the GPU proxy endpoint answers "
        "(GET <endpoint>/health, 5 s timeout; /health shows the last result as gpu_proxy_status); 0 turns "
        "the checks off (gpu_proxy_status=disabled)")

    @field_validator("cors_origins", "data_roots", "notify_allowed_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        """Lists are written comma-separated in the environment and on the command line."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip() and part.strip().lower() != "none")
        return value

    @field_validator("notify_allowed_hosts")
    @classmethod
    def _host_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Host names compare case-insensitively; a URL or a port here would never match, so say so."""
        hosts = tuple(host.strip().lower().rstrip(".") for host in value)
        bad = [host for host in hosts if not re.fullmatch(r"[a-z0-9.\-]+|\[[0-9a-f:]+\]", host)]
        if bad:
            raise ValueError(f"expected host names or IP addresses without scheme or port, got {bad[0]!r}")
        return hosts

    @field_validator("server_log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return upper

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def results_path(self) -> Path:
        return Path(self.results_dir).expanduser().resolve()

    @property
    def data_root_paths(self) -> tuple[Path, ...]:
        """Where a request's dataset path may point: data_roots, else <results_dir>/data."""
        roots = self.data_roots or (self.results_path / "data",)
        return tuple(Path(r).expanduser().resolve() for r in roots)

    @property
    def jobs_db(self) -> Path:
        return self.results_path / "hpopt_jobs.db"

    @property
    def jobs_dir(self) -> Path:
        """Per-job bookkeeping (config, events, logs); run folders live beside it."""
        return self.results_path / ".hpopt_jobs"


# key=value names and their environment variables (HYPEROPT_<KEY>); the API key is environment-only
SETTING_KEYS = tuple(key for key in ApiSettings.model_fields if key != "api_key")


def _setting_key(name: str) -> Optional[str]:
    return name if name in SETTING_KEYS or name == "api_key" else None


def _unknown_setting(key: str) -> str:
    close = difflib.get_close_matches(key, SETTING_KEYS, n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint}; keys: {', '.join(SETTING_KEYS)}"


# The same layering as the run config (hpopt.config.layers); the API key only from the environment.
SETTINGS_KEYS = KeyPolicy(canonical=_setting_key, unknown_arg=_unknown_setting, error=SettingsError,
                          env_only=frozenset({"api_key"}))


def load_settings(args: Sequence[str] = (), *, environ: Optional[Mapping[str, str]] = None,
                  env_file: Optional[str] = ".env") -> ApiSettings:
    """Server settings from defaults < env_file < environ < args; SettingsError on a mistake."""
    merged = layered(list(args), SETTINGS_KEYS, environ=environ, env_file=env_file)
    try:
        return ApiSettings.model_validate({key: value for key, (value, _) in merged.items()})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "settings"
        value, source = merged.get(key, (None, CLI_SOURCE))
        shown = "<hidden>" if key == "api_key" else value
        where = "" if source == CLI_SOURCE else f" (set by {source})"
        raise SettingsError(f"{key}={shown!r} is not valid{where}: {err['msg']}") from None
