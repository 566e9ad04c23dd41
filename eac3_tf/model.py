"""The E-A3C network: a Keras functional model with a max-pool after every conv layer.

Inputs are raw uint8-range frames (the `/255` is inside the graph, so exported models take the same
inputs); outputs are `[logits, value]`. Conv layers are named `conv1..convK`, so Grad-CAM can find
the last one (`last_conv_name`), and the pool after it is `pool{K}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from eac3_tf.config import ModelConfig

if TYPE_CHECKING:
    import keras


def last_conv_name(cfg: ModelConfig) -> str:
    """Name of the last conv layer (its output is taken before its max-pool)."""
    return f"conv{len(cfg.convs)}"


def build_model(obs_shape: tuple[int, int, int], num_actions: int, cfg: ModelConfig) -> keras.Model:
    """Build the actor-critic network for frames of `obs_shape` and `num_actions` actions."""
    import keras

    gain = float(np.sqrt(2.0))  # orthogonal init with ReLU gain, as in OpenAI baselines' A2C
    inputs = keras.Input(shape=tuple(obs_shape), dtype="float32", name="frames")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    for i, conv in enumerate(cfg.convs, start=1):
        x = keras.layers.Conv2D(
            conv.filters, conv.kernel, strides=conv.stride, padding="same", activation="relu",
            kernel_initializer=keras.initializers.Orthogonal(gain), name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(cfg.pool, padding="same", name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(cfg.dense, activation="relu",
                           kernel_initializer=keras.initializers.Orthogonal(gain), name="hidden")(x)
    logits = keras.layers.Dense(num_actions, kernel_initializer=keras.initializers.Orthogonal(0.01),
                                name="logits")(x)
    value = keras.layers.Dense(1, kernel_initializer=keras.initializers.Orthogonal(1.0), name="value")(x)
    return keras.Model(inputs, [logits, value], name=f"e_a3c_{cfg.name}")
