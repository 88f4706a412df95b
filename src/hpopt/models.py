"""Build a compiled Keras model from a TrialSpec.

Layer names are stable (``conv_1``, ``conv_1_act``, ``dense_1_act``, ``lstm``, ``output``)
because the health recorder and the per-trial plots find layers by name.
"""

from __future__ import annotations

from typing import Optional

import keras

from hpopt.spec import CNNArchitecture, DataShape, LSTMArchitecture, TrialSpec

MAX_FILTERS = 128  # deeper layers double the filters up to this cap (CPU cost grows with its square)
ACTIVATION_NAMES = {"relu": "relu", "leaky_relu": "leaky_relu", "swish": "silu"}


def resolve_precision(requested: str) -> str:
    """"auto" means mixed float16 where a GPU trains the model (tensor cores), float32 elsewhere."""
    if requested != "auto":
        return requested
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"


def build_model(spec: TrialSpec, steps_per_epoch: Optional[int] = None) -> keras.Model:
    """A compiled model for the spec's architecture and data shape.

    With ``steps_per_epoch`` the learning rate follows a cosine decay over the trial's
    epochs: short trials then end converged instead of oscillating at the initial rate.
    Under mixed precision the layers compute in float16 and the softmax output stays
    float32 (Keras wraps the optimizer with loss scaling at compile time).
    """
    arch = spec.architecture
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(resolve_precision(spec.precision))
    try:
        if isinstance(arch, CNNArchitecture):
            model = _build_cnn(arch, spec.data)
        else:
            model = _build_lstm(arch, spec.data)
    finally:
        keras.config.set_dtype_policy(previous)
    model.compile(
        optimizer=_optimizer(arch.optimizer, _learning_rate(arch.learning_rate, spec.epochs, steps_per_epoch)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _learning_rate(initial: float, epochs: int, steps_per_epoch: Optional[int]):
    if not steps_per_epoch:
        return initial
    return keras.optimizers.schedules.CosineDecay(initial, decay_steps=epochs * steps_per_epoch, alpha=0.05)


def _optimizer(name: str, learning_rate) -> keras.optimizers.Optimizer:
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, nesterov=True)


def _build_cnn(arch: CNNArchitecture, data: DataShape) -> keras.Model:
    activation = ACTIVATION_NAMES[arch.activation]
    inputs = keras.Input(shape=data.input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    height, width = data.input_shape[0], data.input_shape[1]
    for i in range(1, arch.conv_layers + 1):
        x = keras.layers.Conv2D(
            min(arch.filters * 2 ** (i - 1), MAX_FILTERS),
            arch.kernel_size,
            padding="same",
            kernel_initializer=arch.kernel_initializer,
            use_bias=not arch.batch_norm,
            name=f"conv_{i}",
        )(x)
        if arch.batch_norm:
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"conv_{i}_bn")(x)  # short trials: adapt fast
        x = keras.layers.Activation(activation, name=f"conv_{i}_act")(x)
        if min(height, width) >= 4:  # pool while the feature map is big enough to halve
            x = keras.layers.MaxPooling2D(2, name=f"conv_{i}_pool")(x)
            height, width = height // 2, width // 2
    if arch.pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = _dense_head(x, arch.hidden_layers, arch.hidden_units, arch.hidden_shrink, activation,
                    arch.kernel_initializer, arch.dropout, min_width=data.num_classes)
    outputs = keras.layers.Dense(data.num_classes, activation="softmax", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name="cnn")


def _build_lstm(arch: LSTMArchitecture, data: DataShape) -> keras.Model:
    if data.vocab_size is None:
        raise ValueError("an LSTM needs the vocabulary size of the text data")
    inputs = keras.Input(shape=data.input_shape, dtype="int32", name="tokens")
    x = keras.layers.Embedding(data.vocab_size, arch.embedding_dim, name="embedding")(inputs)
    lstm = keras.layers.LSTM(arch.lstm_units, dropout=arch.dropout, name="lstm")
    if arch.bidirectional:
        lstm = keras.layers.Bidirectional(lstm, name="bilstm")
    x = lstm(x)
    x = _dense_head(x, 1, arch.hidden_units, 1.0, ACTIVATION_NAMES[arch.activation], "glorot_uniform", arch.dropout,
                    min_width=data.num_classes)
    outputs = keras.layers.Dense(data.num_classes, activation="softmax", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name="lstm_classifier")


def _dense_head(x, layers: int, units: int, shrink: float, activation: str, initializer: str, dropout: float,
                min_width: int = 8):
    """Dropout on each dense layer's input, none between the last one and the softmax: dropping
    the features the output layer reads slows learning sharply with many classes (measured).
    No layer is narrower than the number of classes it must separate."""
    for i in range(1, layers + 1):
        width = max(8, min_width, int(round(units * shrink ** (i - 1))))
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dense_{i}_dropout")(x)
        x = keras.layers.Dense(width, kernel_initializer=initializer, name=f"dense_{i}")(x)
        x = keras.layers.Activation(activation, name=f"dense_{i}_act")(x)
    return x


def describe_model(model: keras.Model) -> list[dict]:
    """Layers with output shapes and parameter counts, as plain data (for reports and the dashboard)."""
    layers = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            shape = None
        layers.append({
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": [None if d is None else int(d) for d in shape] if shape is not None else None,
            "params": int(layer.count_params()),
        })
    return layers
