"""Class weights on imbalanced data: does class_weight=balanced lift the worst class?

    .venv/bin/python bench/class_weight.py               # 3 seeds, 10 epochs each
    .venv/bin/python bench/class_weight.py --seeds 1 --epochs 4   # smoke run

An imbalanced set made from digits (hpopt's own splits, seed 42): the training and validation
splits keep every sample of one class (--majority, default 8: the digit the others are most
often mistaken for) and a tenth of every other class, so it is ~10x each other class; the test split stays the balanced 360 images. The same CNN spec
(conv 32/64 3x3, dense 128, Adam 1e-3, batch 32, 50 steps per epoch, cosine decay, best epoch
kept) is trained by ``run_trial`` once with class_weight none and once with the weights
``class_weight=balanced`` resolves from the training split (hpopt.class_weights), per seed.
Both are scored on the balanced test split: accuracy, macro-F1 and the worst class's recall.
Writes bench/results/class_weight.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HYPEROPT_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
from sklearn.metrics import f1_score, recall_score  # noqa: E402

from hpopt.class_weights import resolve_class_weight  # noqa: E402
from hpopt.datasets import load_dataset  # noqa: E402
from hpopt.gpu_proxy.payload import TrainingArrays  # noqa: E402
from hpopt.spec import CNNArchitecture, TrialSpec  # noqa: E402
from hpopt.training import input_pipeline, run_trial  # noqa: E402
from hpopt.trial_loop import data_shape  # noqa: E402

MINORITY_SHARE = 0.1


def keep_imbalanced(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                    majority: int) -> tuple[np.ndarray, np.ndarray]:
    """All of the majority class, MINORITY_SHARE of every other class (at least 2 samples)."""
    keep = []
    for label in np.unique(y):
        where = np.flatnonzero(y == label)
        count = len(where) if label == majority else max(2, round(MINORITY_SHARE * len(where)))
        keep.extend(rng.choice(where, count, replace=False))
    keep = np.sort(np.array(keep))
    return x[keep], y[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--majority", type=int, default=8,
                        help="the 10x class (8: the digit others are most often mistaken for)")
    args = parser.parse_args()

    dataset = load_dataset("digits", seed=42)
    rng = np.random.default_rng(42)
    x_train, y_train = keep_imbalanced(dataset.x_train, dataset.y_train, rng, args.majority)
    x_val, y_val = keep_imbalanced(dataset.x_val, dataset.y_val, rng, args.majority)
    data = TrainingArrays(x_train, y_train, x_val, y_val)
    choice = resolve_class_weight("balanced", y_train, dataset.num_classes)
    auto = resolve_class_weight("auto", y_train, dataset.num_classes)
    print(f"training split: {np.bincount(y_train).tolist()}; auto resolves to {auto.mode}", file=sys.stderr)

    arch = CNNArchitecture(conv_layers=2, filters=32, kernel_size=3, pooling="flatten", hidden_layers=1,
                           hidden_units=128, hidden_shrink=1.0, dropout=0.3, learning_rate=1e-3, batch_size=32)
    rows = []
    for seed in range(args.seeds):
        for mode, weights in (("none", None), ("balanced", choice.weights)):
            spec = TrialSpec(architecture=arch, data=data_shape(dataset), epochs=args.epochs, seed=seed,
                             min_steps_per_epoch=50, health={"enabled": False}, class_weight=weights)
            started = time.perf_counter()
            result = run_trial(spec, data)
            predicted = result.model.predict(input_pipeline(dataset.x_test, dataset.y_test, 256),
                                             verbose=0).argmax(axis=1)
            recalls = recall_score(dataset.y_test, predicted, average=None, zero_division=0)
            rows.append({"seed": seed, "class_weight": mode, "test_accuracy": float(np.mean(predicted == dataset.y_test)),
                         "macro_f1": float(f1_score(dataset.y_test, predicted, average="macro")),
                         "worst_recall": float(recalls.min()), "worst_class": int(recalls.argmin()),
                         "majority_recall": float(recalls[args.majority]), "seconds": time.perf_counter() - started})
            print(rows[-1], file=sys.stderr)

    means = {mode: {k: float(np.mean([r[k] for r in rows if r["class_weight"] == mode]))
                    for k in ("test_accuracy", "macro_f1", "worst_recall", "majority_recall")}
             for mode in ("none", "balanced")}
    out = ROOT / "bench" / "results" / "class_weight.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"majority": args.majority, "train_counts": np.bincount(y_train).tolist(), "weights": choice.to_dict(),
                               "epochs": args.epochs, "rows": rows, "means": means}, indent=2))
    print("| class_weight | seed | test accuracy | macro-F1 | worst-class recall (class) | majority-class recall |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['class_weight']} | {r['seed']} | {r['test_accuracy']:.3f} | {r['macro_f1']:.3f} | "
              f"{r['worst_recall']:.3f} ({r['worst_class']}) | {r['majority_recall']:.3f} |")
    for mode, m in means.items():
        print(f"| **{mode}** | mean | {m['test_accuracy']:.3f} | {m['macro_f1']:.3f} | {m['worst_recall']:.3f} | "
              f"{m['majority_recall']:.3f} |")


if __name__ == "__main__":
    main()
