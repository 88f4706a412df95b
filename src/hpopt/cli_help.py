"""The --help text, rendered from OptimizationConfig so it cannot drift from the real keys.

Kept apart from cli.py so the entry point stays small; imports nothing heavier than the
config module (help must answer in well under a second, without TensorFlow).
"""

from __future__ import annotations

import textwrap
from typing import Any

from hpopt.config import ALIASES, OptimizationConfig, describe_allowed
from hpopt.gpu_proxy.credentials import API_KEY_ENV, ENDPOINT_ID_ENV, RunPodCredentials, load_credentials

GROUPS: tuple[str, ...] = ("search", "training", "data", "results", "storage & workers", "GPU proxy", "health")
WIDTH = 100
KEY_COLUMN = 34

USAGE = """\
usage: python src/optimizer.py [key=value ...]
       python src/optimizer.py --help | --version
       python src/optimizer.py predict run=<run folder> input=<path> [...]   (predict --help: its keys)

Search CNN (image) and LSTM (text) architectures for Keras with Optuna. Every setting is
key=value; on success the last line printed is "results: <path of the run folder>".
Exit status: 0 done, 2 bad settings, 130 interrupted, 1 anything else (see logs/optimization.log)."""

ENVIRONMENT = """\
Every key can also be set as an environment variable HYPEROPT_<KEY> (HYPEROPT_TRIALS=10,
HYPEROPT_USE_GPU_PROXY=true) or as the same HYPEROPT_<KEY>=value line in a .env file in the
current directory (read, not exported). Precedence: defaults < .env < environment < command
line. Booleans: true/false, yes/no, on/off, 1/0. none, null or an empty value unset an
optional key. Aliases: {aliases}."""

CREDENTIALS = """\
The GPU proxy reads {key} and {endpoint_id} (used when gpu_proxy_endpoint is none) from, per
variable, the environment, then ./.env, then gpu-proxy/.env (both in the current directory; read,
not exported). Values are never shown; where each was found here:"""

EXAMPLES = """\
python src/optimizer.py dataset=mnist trials=20 max_epochs=10
python src/optimizer.py dataset=cifar10 mode=health optimize_for=overall_health health_weight=0.5
HYPEROPT_USE_GPU_PROXY=true python src/optimizer.py dataset=imdb trials=30 run_name=imdb_gpu"""


def format_default(value: Any) -> str:
    """A default as it would be typed on the command line."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return format(value, "g") if isinstance(value, float) else str(value)


def _describe(key: str) -> list[str]:
    field = OptimizationConfig.model_fields[key]
    head = f"  {key}={format_default(field.default)}"
    text = f"{field.description} [{describe_allowed(key)}]"
    indent = " " * KEY_COLUMN
    if len(head) < KEY_COLUMN - 1:
        first = head.ljust(KEY_COLUMN)
        return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=indent, break_on_hyphens=False)
    return [head, *textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)]


def render_help() -> str:
    """Usage, every key grouped with its default and meaning, the env rule, examples."""
    by_group: dict[str, list[str]] = {group: [] for group in GROUPS}
    for key, field in OptimizationConfig.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        by_group.setdefault(str(extra.get("group", "other")), []).append(key)
    lines = [USAGE, ""]
    for group, keys in by_group.items():
        if keys:
            lines.append(f"{group}:")
            for key in keys:
                lines.extend(_describe(key))
            lines.append("")
    aliases = ", ".join(f"{alias} = {key}" for alias, key in ALIASES.items())
    rule = " ".join(ENVIRONMENT.format(aliases=aliases).split())
    lines += ["environment and .env:", textwrap.fill(rule, WIDTH, initial_indent="  ", subsequent_indent="  "), ""]
    lines += ["RunPod credentials:", *_credential_lines(load_credentials()), ""]
    lines += ["examples:", textwrap.indent(EXAMPLES, "  ")]
    return "\n".join(lines)


def _credential_lines(credentials: RunPodCredentials) -> list[str]:
    """The rule, then where each variable was found (never its value)."""
    rule = " ".join(CREDENTIALS.format(key=API_KEY_ENV, endpoint_id=ENDPOINT_ID_ENV).split())
    lines = textwrap.wrap(rule, WIDTH, initial_indent="  ", subsequent_indent="  ")
    for variable, source in credentials.sources().items():
        lines.append(f"    {variable:<20} {f'found in {source}' if source else 'not set'}")
    return lines
