"""The plain Keras script a user writes instead of hpopt, timed from launch to its first epoch.

    .venv/bin/python bench/plain_keras_startup.py --dataset digits
    .venv/bin/python bench/plain_keras_startup.py --dataset mnist --data-dir ../shared/datasets/mnist-t10k

It does what hpopt does before its first trial's first epoch, the way a user would: import
TensorFlow/Keras, load the data (digits: sklearn's load_digits as 8x8x1 images; mnist:
np.load of mnist.npz), build and compile the plain CNN of hpopt's warm start
(search_space.BASELINE_CNN built like models._build_cnn: Conv2D 32 3x3 relu, MaxPool,
Conv2D 64 3x3 relu, MaxPool while the map is at least 4 px, Flatten, Dropout 0.3, Dense 128
relu, Dense softmax; Adam 1e-3, batch 32, 20 % validation), and call ``fit``. A Callback's
on_train_begin takes ``time.time()`` there; by default it then ends the script (the epoch
itself is not part of the start-up; ``--train-epoch`` trains it).

The last stdout line is JSON: {"first_epoch_unix": ..., "phases_unix": {...}}; the
phases (after the imports, the data, the compiled model) are wall-clock stamps, so a
caller subtracts its own time.time() taken just before it spawned this process.
"""

import time

_T0 = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402


class _Started(Exception):
    """Raised in on_train_begin to end the script there."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist.npz (mnist only)")
    parser.add_argument("--train-epoch", action="store_true", help="train the first epoch instead of stopping at its start")
    args = parser.parse_args()
    phases = {"script_start": _T0}

    import keras  # the user's imports: keras on the TensorFlow backend
    import tensorflow as tf  # noqa: F401 - a plain script imports it too

    phases["imports_done"] = time.time()

    if args.dataset == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images / 16.0).astype("float32")[..., np.newaxis]  # 8x8x1
        y = digits.target
    else:
        path = os.path.join(args.data_dir or os.path.expanduser("~/.keras/datasets"), "mnist.npz")
        with np.load(path) as data:
            x, y = data["x_train"], data["y_train"]
        x = (x / 255.0).astype("float32")[..., np.newaxis]  # 28x28x1
    phases["data_loaded"] = time.time()

    num_classes = int(y.max()) + 1
    inputs = keras.Input(shape=x.shape[1:])
    h = inputs
    side = min(x.shape[1], x.shape[2])
    for filters in (32, 64):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        if side >= 4:  # as hpopt's warm start: pool only while the map can be halved
            h = keras.layers.MaxPooling2D(2)(h)
            side //= 2
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dropout(0.3)(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    phases["model_compiled"] = time.time()

    first_epoch = {}

    class FirstEpoch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            first_epoch["unix"] = time.time()
            if not args.train_epoch:
                raise _Started

    try:
        model.fit(x, y, batch_size=32, epochs=1, validation_split=0.2, verbose=0, callbacks=[FirstEpoch()])
    except _Started:
        pass
    print(json.dumps({"dataset": args.dataset, "first_epoch_unix": first_epoch["unix"], "phases_unix": phases}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
