"""ConfigError and its wording: every settings mistake becomes one line a user can act on.

The message names the key, the value as written, what is allowed, where the value was set
and the closest valid key or choice, so nobody needs pydantic's vocabulary to fix a setting.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal, Optional, get_args, get_origin

from pydantic import ValidationError

from hpopt.config.choices import ALIASES
from hpopt.config.layers import CLI_SOURCE  # a value typed on the command line: not worth naming in a message
from hpopt.config.options import OptimizationConfig, field_type

__all__ = [
    "CLI_SOURCE", "ConfigError", "describe_allowed", "describe_range", "explain_validation_error", "invalid_value",
    "unknown_key",
]

_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


class ConfigError(ValueError):
    """A setting is unknown, malformed or inconsistent; str() is the one line to show."""

    exit_code = 2


def unknown_key(key: str) -> str:
    """The message for a key that is no setting, with the closest key or alias."""
    close = difflib.get_close_matches(key, [*OptimizationConfig.model_fields, *ALIASES], n=1)
    hint = f" — did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint}; run with --help to list every key"


def _num(x: float) -> str:
    return str(x) if isinstance(x, int) else format(x, "g")


def describe_range(key: str) -> Optional[str]:
    """'0 ≤ health_weight ≤ 1' or 'trials ≥ 1'; None for a key without numeric bounds."""
    lo = hi = ""
    for c in OptimizationConfig.model_fields[key].metadata:
        for attr, low in (("ge", "≤"), ("gt", "<"), ("le", None), ("lt", None)):
            bound = getattr(c, attr, None)
            if bound is not None and low:
                lo = f"{_num(bound)} {low} "
            elif bound is not None:
                hi = f" {'≤' if attr == 'le' else '<'} {_num(bound)}"
    if lo and not hi:  # one-sided: read it from the key's side
        number, op = lo.split()
        return f"{key} {'≥' if op == '≤' else '>'} {number}"
    return f"{lo}{key}{hi}" if lo or hi else None


def describe_allowed(key: str) -> str:
    """What a value of ``key`` must look like, for error messages and --help."""
    optional, base = field_type(key)
    rng = describe_range(key)
    if get_origin(base) is Literal:
        text = ", ".join(str(c) for c in get_args(base))
    elif base is bool:
        text = "true or false (also yes/no, on/off, 1/0)"
    elif base in (int, float):
        text = "an integer" if base is int else "a number"
        if rng:
            text += " " + rng[len(key) + 1:] if rng.startswith(key + " ") else " with " + rng
    elif get_origin(base) is dict:
        text = "the path of a YAML file (the API: a JSON object)"
    else:
        text = "a non-empty text"
    return text + (", or none" if optional else "")


def _from(source: Optional[str]) -> str:
    return f" (set by {source})" if source and source != CLI_SOURCE else ""


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def invalid_value(key: str, value: Any, source: Optional[str], why: str = "") -> ConfigError:
    """The error for a value ``key`` cannot take: the allowed choices (and the closest one), or
    ``why`` / what a value must look like; ``source`` names where it was set."""
    _, base = field_type(key)
    if get_origin(base) is Literal:
        close = difflib.get_close_matches(str(value).lower(), [str(c) for c in get_args(base)], n=1, cutoff=0.75)
        hint = f" — did you mean {close[0]!r}?" if close else ""
        return ConfigError(f"{key}={_show(value)} is not valid: allowed {describe_allowed(key)}{hint}{_from(source)}")
    why = why or "expected " + describe_allowed(key)
    return ConfigError(f"{key}={_show(value)} is not valid: {why}{_from(source)}")


def explain_validation_error(
    exc: ValidationError, given: Optional[Mapping[str, tuple[Any, str]]] = None
) -> str:
    """One user-facing sentence for the first problem in a pydantic ValidationError.

    ``given`` maps keys to (value as the user wrote it, where it was set), so the message
    shows 0 as written rather than the parsed 0.0 and says which variable to fix.
    """
    err = exc.errors()[0]
    kind, value = err["type"], err.get("input")
    key = ALIASES.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else None
    cause = str(err.get("ctx", {}).get("error", err["msg"]))
    if key is None:
        return cause
    if kind == "extra_forbidden":
        return unknown_key(key)
    raw, source = (given or {}).get(key, (value, None))
    shown = raw.strip() if isinstance(raw, str) and not isinstance(value, str) else _show(value)
    if kind in _RANGE_ERRORS:
        return f"{key}={shown} is out of range: allowed {describe_range(key)}{_from(source)}"
    if kind == "value_error":
        if key in ("dataset", "search_space"):  # their messages name the file themselves
            return cause + _from(source)
        return str(invalid_value(key, value, source, cause))
    return str(invalid_value(key, value, source))
