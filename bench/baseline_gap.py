"""Baseline gap: does a short default search beat what a user gets without hpopt?

    .venv/bin/python bench/baseline_gap.py                    # every dataset, 6 trials at defaults
    .venv/bin/python bench/baseline_gap.py --only digits25 --trials 3 --max-epochs 4   # smoke run

For each dataset, in one run:
- hpopt: ``python src/optimizer.py dataset=... trials=6`` (every other key at its default,
  no .env, no HYPEROPT_* variables), launched as a process; its best val_accuracy and the
  per-trial outcomes from summary.json.
- the plain baseline the user would write instead, trained on the very same splits
  (``hpopt.datasets.load_dataset`` with the same seed and fractions): images, the plain
  Keras CNN (conv 32 / conv 64, 3x3, max-pooling, flatten, dropout 0.3, dense 128, Adam 1e-3
  constant, batch 32, 20 epochs, no batch norm); text, a plain BiLSTM (embedding 64,
  BiLSTM 32, dropout 0.3, dense 64, Adam 1e-3, batch 32, 10 epochs). Both are scored on
  their final epoch (the model the plain script leaves the user: the pass criterion) and on
  their best epoch (a reading the plain script cannot act on without a checkpoint callback,
  shown as the most favourable bound for the baseline).

Datasets: digits (built in), mnist-t10k and the 1,000 IMDB sentences (../shared/datasets),
and sets derived from them here: 25 images per class of digits and of MNIST, each MNIST
digit at 4 rotations as 40 classes of 25 images, and 300 of the IMDB sentences.
Writes bench/results/baseline_gap.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HYPEROPT_OFFLINE", "1")


def _per_class(x: np.ndarray, y: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([rng.permutation(np.flatnonzero(y == c))[:count] for c in np.unique(y)])


def make_datasets(folder: Path) -> dict[str, dict[str, str]]:
    """name -> CLI arguments naming the dataset; derived sets are written to ``folder``."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(0)
    sets: dict[str, dict[str, str]] = {"digits": {"dataset": "digits"}}
    digits = load_digits()
    images = (digits.images * 255 / 16).astype(np.uint8)
    keep = _per_class(images, digits.target, 25, rng)
    np.savez(folder / "digits25.npz", x_train=images[keep], y_train=digits.target[keep])
    sets["digits25"] = {"dataset": str(folder / "digits25.npz")}
    mnist = SHARED / "mnist-t10k" / "mnist.npz"
    if mnist.is_file():
        sets["mnist-t10k"] = {"dataset": "mnist", "data_dir": str(mnist.parent)}
        with np.load(mnist, allow_pickle=False) as npz:
            x, y = npz["x_train"], npz["y_train"]
        keep = _per_class(x, y, 25, rng)
        np.savez(folder / "mnist25.npz", x_train=x[keep], y_train=y[keep])
        sets["mnist25"] = {"dataset": str(folder / "mnist25.npz")}
        parts_x, parts_y = [], []
        for digit in range(10):
            chosen = rng.permutation(np.flatnonzero(y == digit))[:100]
            for turn in range(4):
                part = chosen[turn * 25:(turn + 1) * 25]
                parts_x.append(np.rot90(x[part], k=turn, axes=(1, 2)))
                parts_y.append(np.full(len(part), digit * 4 + turn))
        np.savez(folder / "mnist40rot.npz", x_train=np.concatenate(parts_x), y_train=np.concatenate(parts_y))
        sets["mnist40rot"] = {"dataset": str(folder / "mnist40rot.npz")}
    sentences = SHARED / "sentiment" / "imdb_labelled.txt"
    if sentences.is_file():
        sets["imdb-sentences"] = {"dataset": str(sentences)}
        lines = sentences.read_text(encoding="utf-8").splitlines()
        chosen = rng.permutation(len(lines))[:300]
        (folder / "imdb300.txt").write_text("\n".join(lines[i] for i in chosen) + "\n", encoding="utf-8")
        sets["imdb300"] = {"dataset": str(folder / "imdb300.txt")}
    return sets


def plain_cnn(data: Any) -> Any:
    import keras

    model = keras.Sequential([
        keras.Input(shape=data.input_shape), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dropout(0.3), keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(data.num_classes, activation="softmax"),
    ])
    return model, 20


def plain_bilstm(data: Any) -> Any:
    import keras

    model = keras.Sequential([
        keras.Input(shape=data.input_shape, dtype="int32"), keras.layers.Embedding(data.vocab_size, 64),
        keras.layers.Bidirectional(keras.layers.LSTM(32)), keras.layers.Dropout(0.3),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(data.num_classes, activation="softmax"),
    ])
    return model, 10


def run_baseline(data: Any, seed: int) -> dict[str, Any]:
    """The plain model on hpopt's splits: final and best epoch val_accuracy."""
    import keras

    keras.utils.set_random_seed(seed)
    build: Callable[[Any], Any] = plain_cnn if data.modality == "image" else plain_bilstm
    model, epochs = build(data)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x_train = data.x_train.astype("float32") if data.modality == "image" else data.x_train
    x_val = data.x_val.astype("float32") if data.modality == "image" else data.x_val
    started = time.perf_counter()
    history = model.fit(x_train, data.y_train, batch_size=32, epochs=epochs, verbose=0,
                        validation_data=(x_val, data.y_val)).history
    return {"final_val_accuracy": float(history["val_accuracy"][-1]),
            "best_val_accuracy": float(max(history["val_accuracy"])), "epochs": epochs,
            "seconds": round(time.perf_counter() - started, 1)}


def run_hpopt(args: dict[str, str], trials: int, max_epochs: int | None, workdir: Path) -> dict[str, Any]:
    """The CLI at its defaults (plus trials), as a user launches it."""
    keys = dict(args, trials=str(trials), results_dir=str(workdir), run_name="run", plot_generation="none")
    if max_epochs:
        keys.update(max_epochs_per_trial=str(max_epochs), min_epochs_per_trial=str(min(5, max_epochs)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPEROPT_")}
    env["HYPEROPT_OFFLINE"] = "1"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "src" / "optimizer.py"), *(f"{k}={v}" for k, v in keys.items())],
                          cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"hpopt failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads((workdir / "run" / "summary.json").read_text())
    trials_out = [{"number": t["number"], "state": t["state"], "val_accuracy": t.get("val_accuracy"),
                   "epochs_run": t.get("epochs_run")} for t in summary["trials"]]
    return {"best_val_accuracy": summary["best_trial"]["val_accuracy"], "test_accuracy": summary.get("test_accuracy"),
            "best_trial": summary["best_trial"]["number"], "trials": trials_out, "wall_s": round(wall, 1)}


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| dataset | classes | train/val | hpopt best val_acc | baseline final epoch / best epoch | "
          "hpopt - baseline final | trials complete / pruned / no_learning | hpopt wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        states = [t["state"] for t in row["hpopt"]["trials"]]
        gap = row["hpopt"]["best_val_accuracy"] - row["baseline"]["final_val_accuracy"]
        print(f"| {row['dataset']} | {row['classes']} | {row['n_train']}/{row['n_val']} | "
              f"{row['hpopt']['best_val_accuracy']:.4f} | {row['baseline']['final_val_accuracy']:.4f} / "
              f"{row['baseline']['best_val_accuracy']:.4f} | {gap:+.4f} | {states.count('complete')} / "
              f"{states.count('pruned')} / {states.count('no_learning')} | {row['hpopt']['wall_s']:.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--max-epochs", type=int, default=None, help="cap hpopt's epochs (smoke runs only)")
    parser.add_argument("--only", nargs="*", help="dataset names to run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "baseline_gap.json"))
    parser.add_argument("--table", metavar="JSON", help="print the table of an earlier run's JSON and exit")
    options = parser.parse_args()
    if options.table:
        print_table(json.loads(Path(options.table).read_text())["rows"])
        return 0

    from hpopt.config import OptimizationConfig
    from hpopt.runner import load_run_data

    rows = []
    with tempfile.TemporaryDirectory(prefix="hpopt-gap-") as tmp:
        folder = Path(tmp)
        for name, args in make_datasets(folder).items():
            if options.only and name not in options.only:
                continue
            data = load_run_data(OptimizationConfig(**args))  # the splits the CLI run uses
            workdir = folder / f"run-{name}"
            workdir.mkdir()
            hpopt = run_hpopt(args, options.trials, options.max_epochs, workdir)
            baseline = run_baseline(data, seed=0)
            row = {"dataset": name, "classes": data.num_classes, "n_train": len(data.y_train),
                   "n_val": len(data.y_val), "hpopt": hpopt, "baseline": baseline,
                   "beats_baseline": hpopt["best_val_accuracy"] >= baseline["final_val_accuracy"],
                   "beats_baseline_best_epoch": hpopt["best_val_accuracy"] >= baseline["best_val_accuracy"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "trials": options.trials,
                               "max_epochs": options.max_epochs, "rows": rows}, indent=2))
    print_table(rows)
    return 0 if all(row["beats_baseline"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
