"""What the explanation methods share: one tape (activations, gradients, outputs), target scores, one upsampling.

A method reads a layer's activations A, the gradients dy/dA of a target score y and the policy's outputs
from one compiled pass (`layer_pass`), or A and the outputs alone (`forward_pass`), and turns them into
raw maps [N, h, w] >= 0. `normalise_upsample` makes those into maps in [0, 1] at the frames' resolution
as Grad-CAM does: each divided by its own max, then the bilinear resize as two matrices
(`eac3_tf.explain.gradcam._bilinear_matrices`). Targets and layers mean what they mean in `eac3_tf.explain.gradcam`.
"""

from __future__ import annotations

import dataclasses
import functools
import weakref

import keras
import numpy as np
import tensorflow as tf

from eac3_tf.explain import gradcam
from eac3_tf.explain.gradcam import Target
from eac3_tf.explain.measures import normalise_maps

INPUT = "input"  # the layer of the input-space methods: A is the frames themselves


@dataclasses.dataclass(frozen=True)
class Pass:
    """One pass of a model over frames, as float32 numpy arrays.

    Attributes:
        acts: [N, h, w, K], the layer's output A (the frames for `INPUT`).
        grads: [N, h, w, K], dy/dA of the target score y; None from `forward_pass`.
        logits: [N, num_actions].
        values: [N].
        layer: the layer's name, or `INPUT`.
    """

    acts: np.ndarray
    grads: np.ndarray | None
    logits: np.ndarray
    values: np.ndarray
    layer: str


class _Tape:
    """Compiled passes of a model read at one layer (or at its input): forward, and forward-backward."""

    def __init__(self, model: keras.Model, layer: str) -> None:
        logits, value = gradcam._policy_outputs(model)
        self.layer = layer
        self.num_actions = int(logits.shape[-1])
        outputs = [logits, value] if layer == INPUT else [model.get_layer(layer).output, logits, value]
        self.submodel = keras.Model(model.input, outputs)
        frames = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
        coef = tf.TensorSpec([None, self.num_actions + 1], tf.float32)
        self.forward = tf.function(self._forward, input_signature=[frames]).get_concrete_function()
        self.backward = tf.function(self._backward, input_signature=[frames, coef, tf.TensorSpec([], tf.bool)]
                                    ).get_concrete_function()

    def _outputs(self, frames: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        out = self.submodel(frames, training=False)
        return (frames, *out) if self.layer == INPUT else tuple(out)

    def _forward(self, frames: tf.Tensor) -> tuple[tf.Tensor, ...]:
        acts, logits, value = self._outputs(frames)
        return tf.cast(acts, tf.float32), tf.cast(logits, tf.float32), tf.reshape(tf.cast(value, tf.float32), [-1])

    def _backward(self, frames: tf.Tensor, coef: tf.Tensor, greedy: tf.Tensor) -> tuple[tf.Tensor, ...]:
        # As in gradcam: y = sum_a coef_a logit_a + coef_A value, the coefficients fed in as output gradients;
        # `greedy` swaps in the one-hot of each frame's argmax.
        with tf.GradientTape() as tape:
            tape.watch(frames)
            acts, logits, value = self._outputs(frames)
        argmax = tf.one_hot(tf.argmax(logits, axis=-1), self.num_actions, dtype=logits.dtype)
        logit_coef = tf.where(greedy, argmax, tf.cast(coef[:, :self.num_actions], logits.dtype))
        value_coef = tf.cast(tf.reshape(coef[:, self.num_actions], tf.shape(value)), value.dtype)
        grads = tape.gradient([logits, value], acts, output_gradients=[logit_coef, value_coef])
        return (tf.cast(acts, tf.float32), tf.cast(grads, tf.float32), tf.cast(logits, tf.float32),
                tf.reshape(tf.cast(value, tf.float32), [-1]))


# Per model, per layer name; weak keys so a dropped model takes its compiled functions with it.
_TAPES: weakref.WeakKeyDictionary[keras.Model, dict[str, _Tape]] = weakref.WeakKeyDictionary()


def _tape(model: keras.Model, layer: str) -> _Tape:
    per_model = _TAPES.setdefault(model, {})
    if layer not in per_model:
        per_model[layer] = _Tape(model, layer)
    return per_model[layer]


def check_frames(model: keras.Model, frames: np.ndarray) -> np.ndarray:
    """`frames` as a float32 batch [N, *input] of raw pixels, or the ValueError of `gradcam._check_frames`."""
    return gradcam._check_frames(model, frames).astype(np.float32, copy=False)


def forward_pass(model: keras.Model, frames: np.ndarray, layer: str) -> Pass:
    """A at `layer` and the policy's outputs on float32 frames [N, *input]; no gradient."""
    acts, logits, values = _tape(model, layer).forward(tf.constant(frames))
    return Pass(acts.numpy(), None, logits.numpy(), values.numpy(), layer)


def layer_pass(model: keras.Model, frames: np.ndarray, layer: str, target: Target) -> Pass:
    """A, dy/dA at `layer` and the policy's outputs for `target` (greedy: each frame's own argmax)."""
    tape = _tape(model, layer)
    coef, greedy = gradcam._target_coef(target, len(frames), tape.num_actions)
    return _backward(tape, frames, coef, greedy)


def coef_pass(model: keras.Model, frames: np.ndarray, layer: str, coef: np.ndarray) -> Pass:
    """`layer_pass` for y = coef . (logits, value), coefficients [N, num_actions + 1] (see `target_coef`)."""
    return _backward(_tape(model, layer), frames, coef, False)


def _backward(tape: _Tape, frames: np.ndarray, coef: np.ndarray, greedy: bool) -> Pass:
    out = tape.backward(tf.constant(frames), tf.constant(coef, tf.float32), tf.constant(greedy))
    acts, grads, logits, values = (t.numpy() for t in out)
    return Pass(acts, grads, logits, values, tape.layer)


def target_coef(target: Target, logits: np.ndarray) -> np.ndarray:
    """Coefficients [N, num_actions + 1] of (logits, value) whose sum is y; None takes each row's argmax."""
    n, num_actions = logits.shape
    coef, greedy = gradcam._target_coef(target, n, num_actions)
    if greedy:
        coef[np.arange(n), logits.argmax(axis=-1)] = 1.0
    return coef


def target_scores(coef: np.ndarray, logits: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Scores y = sum_a coef_a logit_a + coef_A value; coef [..., A + 1], logits [..., A], values [...]."""
    return (logits * coef[..., :-1]).sum(axis=-1) + values * coef[..., -1]


def is_value(target: Target) -> bool:
    """Whether the target is the critic's value (a score with no softmax behind it)."""
    return isinstance(target, str) and target == "value"


def divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise a / b, 0 where b == 0 (an all-zero map or channel stays zero instead of 0/0)."""
    a, b = np.broadcast_arrays(a, b)
    return np.divide(a, b, out=np.zeros(a.shape, np.result_type(a, b)), where=b != 0)


@functools.lru_cache(maxsize=32)
def _matrices(src: tuple[int, int], dst: tuple[int, int]) -> tuple[tf.Tensor, tf.Tensor]:
    return gradcam._bilinear_matrices(src, dst)


def upsample(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (tf.image.resize's half-pixel one) of [N, h, w, K] to [N, *size, K], as two matrices."""
    rows, cols = _matrices(tuple(int(s) for s in x.shape[1:3]), tuple(int(s) for s in size))
    return tf.einsum("Hh,nhwk,Ww->nHWk", rows, tf.constant(x, tf.float32), cols).numpy()


def normalise_upsample(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Maps [N, *size] in [0, 1] from raw maps [N, h, w] >= 0: each divided by its own max, then upsampled.

    Grad-CAM's own order (`gradcam._CamFunction`); bilinear weights are >= 0, so the bound only catches
    rounding above 1. An all-zero map stays all zero.
    """
    return np.minimum(upsample(normalise_maps(raw)[..., None], size)[..., 0], 1.0).astype(np.float32)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along `axis`, shifted by the max for overflow."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
