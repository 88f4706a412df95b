"""One peer of bench/search_efficiency.py, run as its own OS process.

    python bench/peer_process.py --tool NAME --seed S --data SPLIT.npz --out EPOCHS.jsonl \
        --launched-at UNIX --budget SECONDS

The parent starts its clock just before it launches this script, so the peer pays its own
interpreter start, TensorFlow import and data loading, as a user's script does. Every epoch
end is written at once as one JSON line, ``{"t": time.time(), "trial": ..., "val_accuracy":
...}``, and flushed, because the parent kills the process group at the budget and keeps
only what was written by then. The data is the parent's .npz of hpopt's split for the seed
(x_train, y_train, x_val, y_val, num_classes), read with ``allow_pickle=False``.

Tools: optuna_hpopt_space and kerastuner (bench/peers.py, which imports hpopt: imported
lazily, only for them), optuna_small and optuna_hyperband (bench/peers_small.py), autokeras
(bench/autokeras_peer.py, run by .venv-autokeras's python: this file must not import hpopt
for it, its keras differs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Optional

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PEER_TOOLS = ("optuna_hpopt_space", "kerastuner", "optuna_small", "optuna_hyperband", "autokeras")


class EpochWriter:
    """Appends one flushed JSON line per epoch end; shared by every callback copy."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def epoch(self, trial: Any, val_accuracy: Optional[float]) -> None:
        if val_accuracy is None or not math.isfinite(float(val_accuracy)):
            return  # e.g. a final refit without validation data
        line = json.dumps({"t": time.time(), "trial": trial, "val_accuracy": float(val_accuracy)})
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


@dataclass
class Split:
    """hpopt's split for the seed, with the two attributes bench/peers.py reads."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])


def load_split(path: str) -> Split:
    import numpy as np

    with np.load(path, allow_pickle=False) as npz:
        return Split(npz["x_train"], npz["y_train"], npz["x_val"], npz["y_val"], int(npz["num_classes"]))


def run_hpopt_space_peer(tool: str, split: Split, args: argparse.Namespace, writer: EpochWriter) -> dict[str, Any]:
    """bench/peers.py's two peers, their logic unchanged; only their EpochLog also writes lines."""
    sys.path.insert(0, str(BENCH.parent / "src"))
    from peers import run_keras_tuner, run_plain_optuna  # imports hpopt and keras
    from peers_clock import EpochLog

    class StreamingLog(EpochLog):
        def epoch(self, trial: Any, val_accuracy: Optional[float]) -> None:
            writer.epoch(trial, val_accuracy)
            super().epoch(trial, val_accuracy)

    # The log's clock starts at the parent's launch, so the peers' own budget checks agree with it.
    log = StreamingLog(budget_s=args.budget, started=time.perf_counter() - (time.time() - args.launched_at))
    if tool == "optuna_hpopt_space":
        return run_plain_optuna(split, args.seed, log, epochs=args.optuna_epochs)
    # In the working folder the parent gave it (and deletes): a killed process cleans nothing up.
    return run_keras_tuner(split, args.seed, log, Path.cwd() / "kerastuner", max_epochs=args.kt_max_epochs,
                           factor=args.kt_factor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tool", required=True, choices=PEER_TOOLS)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--data", required=True, help=".npz with x_train, y_train, x_val, y_val, num_classes")
    parser.add_argument("--out", required=True, help="JSON-lines file, one line per epoch end")
    parser.add_argument("--launched-at", type=float, default=None, help="the parent's time.time() at launch")
    parser.add_argument("--budget", type=float, default=240.0, help="seconds from launch (the parent kills then)")
    parser.add_argument("--optuna-epochs", type=int, default=5)
    parser.add_argument("--kt-max-epochs", type=int, default=20)
    parser.add_argument("--kt-factor", type=int, default=3)
    parser.add_argument("--small-epochs", type=int, default=3)
    parser.add_argument("--hyperband-max-epochs", type=int, default=9)
    parser.add_argument("--ak-epochs", type=int, default=10)
    parser.add_argument("--ak-max-trials", type=int, default=10000)
    args = parser.parse_args()
    if args.launched_at is None:
        args.launched_at = time.time()
    split = load_split(args.data)
    with open(args.out, "a", encoding="utf-8") as stream:
        writer = EpochWriter(stream)
        if args.tool in ("optuna_hpopt_space", "kerastuner"):
            extra = run_hpopt_space_peer(args.tool, split, args, writer)
        elif args.tool == "autokeras":
            from autokeras_peer import run_autokeras

            extra = run_autokeras(split, args.seed, writer, epochs=args.ak_epochs, max_trials=args.ak_max_trials)
        else:
            from peers_small import run_small_optuna

            hyperband = args.tool == "optuna_hyperband"
            remaining = args.budget - (time.time() - args.launched_at)
            extra = run_small_optuna(split, args.seed, writer, remaining_s=remaining, hyperband=hyperband,
                                     epochs=args.hyperband_max_epochs if hyperband else args.small_epochs)
    print(json.dumps({"tool": args.tool, "ended_s": round(time.time() - args.launched_at, 2), **extra}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
