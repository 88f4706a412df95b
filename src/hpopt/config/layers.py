"""Layered settings for any settings model: defaults < .env < HYPEROPT_* environment < key=value.

The run config (hpopt.config.loading) and the API server's settings (hpopt.api.settings) are
read the same way; each brings a ``KeyPolicy`` saying which names are its keys, which keys only
the environment may set (secrets: never on a command line that ``ps`` shows), and which error
type its messages use. The result is one ``Layer``: key -> (value as given, where it was set), so
an error can name the line or variable to fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

__all__ = ["ENV_PREFIX", "CLI_SOURCE", "KeyPolicy", "Layer", "env_layer", "args_layer", "layered"]

ENV_PREFIX = "HYPEROPT_"
CLI_SOURCE = "the command line"

# A layer: key -> (value as given, where it was set).
Layer = dict[str, tuple[Any, str]]


def _ignore(var: str, where: str) -> None:
    """Unknown HYPEROPT_* variables are left alone by default: other parts of hpopt share the prefix."""


@dataclass(frozen=True)
class KeyPolicy:
    """What one settings model accepts and how its mistakes are worded."""

    canonical: Callable[[str], Optional[str]]  # a lower-case name -> the key it sets, or None
    unknown_arg: Callable[[str], str]  # the message for an unknown key=value key
    error: type[Exception] = ValueError
    unknown_env: Callable[[str, str], None] = _ignore  # (variable, where): an unknown HYPEROPT_* variable
    env_only: frozenset[str] = field(default_factory=frozenset)  # keys a command line may not set


def env_layer(values: Mapping[str, Optional[str]], where: str, policy: KeyPolicy) -> Layer:
    """Keys set by HYPEROPT_* names in an environment or a .env file (``where`` says which)."""
    out: Layer = {}
    names: dict[str, str] = {}
    for name, raw in values.items():
        var = name.upper()
        if not var.startswith(ENV_PREFIX) or raw is None:
            continue
        key = policy.canonical(var[len(ENV_PREFIX):].lower())
        if key is None:
            policy.unknown_env(var, where)
            continue
        if key in names and out[key][0] != raw:
            raise policy.error(f"{names[key]} and {var} in {where} both set {key}; keep one")
        names[key] = var
        out[key] = (raw, f"{var} in {where}")
    return out


def _arg_pairs(args: Mapping[str, Any] | list[str], policy: KeyPolicy) -> list[tuple[str, Any, str]]:
    """(name, value, as shown in messages) of each command-line argument or API mapping item."""
    if isinstance(args, Mapping):
        return [(str(k), v, f"{k}") for k, v in args.items()]
    pairs = []
    for arg in args:
        if not isinstance(arg, str) or "=" not in arg:
            raise policy.error(f"expected key=value, got {arg!r}")
        key, value = arg.split("=", 1)
        pairs.append((key, value, arg))
    return pairs


def args_layer(args: Mapping[str, Any] | list[str], policy: KeyPolicy) -> Layer:
    """Keys from the command line (key=value strings) or an API mapping."""
    out: Layer = {}
    given: dict[str, str] = {}
    for name, value, shown in _arg_pairs(args, policy):
        normal = name.strip().lower().replace("-", "_")
        key = policy.canonical(normal)
        if key is None:
            raise policy.error(policy.unknown_arg(normal))
        if key in policy.env_only:
            raise policy.error(f"{key} is read from {ENV_PREFIX}{key.upper()} only, so it never shows in the "
                               "process list or the shell history")
        if key in given:
            raise policy.error(f"{key} given twice: {given[key]!r} and {shown!r}; keep one")
        given[key] = shown
        out[key] = (value, CLI_SOURCE)
    return out


def _env_file_values(env_file: Optional[str | os.PathLike[str]]) -> Mapping[str, Optional[str]]:
    """The lines of ``env_file``, read without touching os.environ (none or absent: nothing)."""
    if env_file is None or not os.path.isfile(env_file):
        return {}
    from dotenv import dotenv_values  # lazy: only what loads settings needs it

    return dotenv_values(env_file)


def layered(args: Mapping[str, Any] | list[str], policy: KeyPolicy, *, environ: Optional[Mapping[str, str]],
            env_file: Optional[str | os.PathLike[str]]) -> Layer:
    """env_file < environ (os.environ when None) < args, later layers winning key by key."""
    merged = env_layer(_env_file_values(env_file), os.fspath(env_file), policy) if env_file is not None else {}
    merged.update(env_layer(os.environ if environ is None else environ, "the environment", policy))
    merged.update(args_layer(args, policy))
    return merged
