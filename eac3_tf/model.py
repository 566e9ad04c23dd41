"""The E-A3C networks: Keras functional models with a max-pool after the conv of every stage.

Inputs are raw uint8-range frames (the `/255` is inside the graph, so exported models take the same
inputs); outputs are `[logits, value]`. Two torsos, chosen by `ModelConfig.torso`:

- "pooled": conv layers named `conv1..convK`, each followed by a max-pool `pool1..poolK`;
- "residual" (IMPALA-CNN): per stage i a conv `conv{i}`, a max-pool `pool{i}` and residual blocks whose
  outputs are `res{i}a`, `res{i}b`, ...; the stage's output is its last block; a final ReLU named `torso`.

Grad-CAM takes its default maps from `cam_layer_name`: the last conv before its pool for a pooled torso
(the finer map), the torso's output for a residual one (every later layer is Flatten or Dense there).
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

import numpy as np

from eac3_tf.config import ModelConfig

if TYPE_CHECKING:
    import keras

TORSO_OUTPUT = "torso"  # the residual torso's last spatial layer


def last_conv_name(cfg: ModelConfig) -> str:
    """Name of the last stage's conv layer (its output is taken before its max-pool)."""
    return f"conv{len(cfg.stages) if cfg.torso == 'residual' else len(cfg.convs)}"


def cam_layer_name(cfg: ModelConfig) -> str:
    """The layer Grad-CAM uses by default for a network of this preset."""
    return TORSO_OUTPUT if cfg.torso == "residual" else last_conv_name(cfg)


def build_model(obs_shape: tuple[int, int, int], num_actions: int, cfg: ModelConfig) -> keras.Model:
    """Build the actor-critic network for frames of `obs_shape` and `num_actions` actions."""
    import keras

    gain = float(np.sqrt(2.0))  # orthogonal init with ReLU gain, as in OpenAI baselines' A2C
    inputs = keras.Input(shape=tuple(obs_shape), dtype="float32", name="frames")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    if cfg.torso == "residual":
        x = _residual_torso(x, cfg, keras.initializers.Orthogonal(gain))
    else:
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


def _residual_torso(x, cfg: ModelConfig, init):
    """IMPALA-CNN stages (Espeholt et al. 2018, Fig. 3): conv, 3x3/2 max-pool, residual blocks; then ReLU.

    The stage conv is linear, as in IMPALA: every residual block starts with its own ReLU.
    """
    import keras

    for i, channels in enumerate(cfg.stages, start=1):
        x = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer=init, name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{i}")(x)
        for b in string.ascii_lowercase[:cfg.res_blocks]:
            name = f"res{i}{b}"
            y = keras.layers.ReLU(name=f"{name}_relu1")(x)
            y = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer=init, name=f"{name}_conv1")(y)
            y = keras.layers.ReLU(name=f"{name}_relu2")(y)
            y = keras.layers.Conv2D(channels, 3, padding="same", kernel_initializer=init, name=f"{name}_conv2")(y)
            x = keras.layers.Add(name=name)([x, y])
    return keras.layers.ReLU(name=TORSO_OUTPUT)(x)
