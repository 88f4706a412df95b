"""--ask: the main settings asked one by one, with the server's datasets and modes as choices.

The only part of the client that reads the terminal; without one it ends with status 2.
"""

from __future__ import annotations

from typing import Callable, Optional

from hpopt.remote_client.errors import EXIT_USAGE, ClientError
from hpopt.remote_client.server_api import Api

Say = Callable[[str], None]  # where the questions' context and hints go: the terminal, from cli.py


def _ask(say: Say, prompt: str, choices: Optional[list[str]] = None, default: Optional[str] = None) -> str:
    hint = f" [{'/'.join(choices)}]" if choices and len(choices) <= 10 else ""
    while True:
        try:
            answer = input(f"{prompt}{hint}{f' ({default})' if default else ''}: ").strip() or (default or "")
        except EOFError:
            raise ClientError("--ask needs a terminal to answer questions (or give key=value settings)",
                              EXIT_USAGE) from None
        if answer and (not choices or answer in choices):
            return answer
        say(f"please answer one of: {', '.join(choices or [])}" if choices else "please answer")


def ask_settings(api: Api, say: Say) -> dict[str, str]:
    """--ask: the main settings, asked one by one with the server's datasets and modes as choices."""
    datasets = api.json("GET", "/datasets")
    for item in datasets:
        say(f"  {item['name']:<14} {item['modality']:<6} {item['description']}")
    dataset = _ask(say, "dataset (a name above, or a path on the server)", default="digits")
    modes = {m["name"]: m for m in api.json("GET", "/modes")}
    mode = _ask(say, "mode", list(modes), "simple")
    optimize_for = _ask(say, "optimize_for", modes[mode]["objectives"], "val_accuracy")
    trials = _ask(say, "trials", default="20")
    max_epochs = _ask(say, "max_epochs_per_trial", default="10")
    min_epochs = _ask(say, "min_epochs_per_trial", default=str(min(5, int(max_epochs)) if max_epochs.isdigit() else 1))
    return {"dataset": dataset, "mode": mode, "optimize_for": optimize_for, "trials": trials,
            "max_epochs_per_trial": max_epochs, "min_epochs_per_trial": min_epochs}
