"""Grad-CAM maps for actor-critic Keras models: the numeric core, with no drawing and no file I/O.

Equations (1)-(2) of Joo & Kim (2019), after Selvaraju et al. (2017): for a target score y^c and the
feature maps A^k of a chosen layer,

    alpha_k = 1/Z sum_ij dy^c / dA^k_ij        (global average of the gradients)
    L       = ReLU(sum_k alpha_k A^k)

The target is explicit: the greedy action, a given action, the critic's value, or a contrast of two
actions. Overlays, colormaps and grids belong to the drawing tools, which build on `explain`.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from eac3_tf.model import TORSO_OUTPUT as _TORSO_OUTPUT

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_SPATIAL_LAYERS = (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
                   keras.layers.ReLU, keras.layers.Add)

# What y^c is: None (the greedy action), an action index, "value", or a contrast (a, b) of two actions.
Target = int | str | tuple[int, int] | None


@dataclasses.dataclass(frozen=True)
class CamResult:
    """Grad-CAM maps with the policy's outputs on the same frames, for captions under each frame.

    Attributes:
        maps: float32 [N, H, W] in [0, 1], each map divided by its own max, at the frames' resolution.
        actions: int64 [N], the greedy action (argmax of the logits) per frame.
        probs: float32 [N, num_actions], softmax of the logits.
        values: float32 [N], the critic's value.
        layer: name of the layer the maps were taken from.
    """

    maps: np.ndarray
    actions: np.ndarray
    probs: np.ndarray
    values: np.ndarray
    layer: str


class _CamFunction:
    """One compiled Grad-CAM step for a (model, layer) pair: a three-output submodel and one tape."""

    def __init__(self, model: keras.Model, layer: str, jit_compile: bool = False) -> None:
        logits, value = _policy_outputs(model)
        self.layer = layer
        self.num_actions = int(logits.shape[-1])
        acts = model.get_layer(layer).output
        # Equation (1) needs only sum_ij dy/dA_ij. A max- or average-pool passes each output cell's gradient
        # back with weights that sum to 1, so that sum equals the sum of dy/dP over the pool's output P:
        # the gradient stops at P and skips the pool's backward op (the default layer, conv2, is pooled).
        self.pool = _sole_pool_after(model, acts)
        # model.input, not model.inputs: the submodel then takes a plain tensor without a structure warning.
        self.submodel = keras.Model(model.input, [acts, self.pool.output if self.pool else acts, logits, value])
        coef_spec = tf.TensorSpec([None, self.num_actions + 1], tf.float32)
        self.upsample = _bilinear_matrices(self.submodel.output[0].shape[1:3], model.input_shape[1:3])
        # Plain graphs by default, not XLA: bench/gradcam_speed.py --xla compares both on the machine at hand.
        # uint8 frames are cast in the graph: a quarter of the bytes to hand over.
        # Concrete functions, called directly: the polymorphic tf.function's argument binding costs time on
        # every call.
        self.steps = {dtype: tf.function(self._step, jit_compile=jit_compile, input_signature=[
            tf.TensorSpec([None, *model.input_shape[1:]], dtype), coef_spec, tf.TensorSpec([], tf.bool)]
        ).get_concrete_function() for dtype in (tf.uint8, tf.float32)}
        self._greedy_args: dict[int, tuple[tf.Tensor, tf.Tensor]] = {}  # batch size -> (coef, True), made once

    def target_args(self, target: Target, n: int) -> tuple[tf.Tensor, tf.Tensor]:
        """The (coef, greedy) inputs of a step for `target` on `n` frames; the greedy ones are kept per n."""
        if target is None and n in self._greedy_args:
            return self._greedy_args[n]
        coef, greedy = _target_coef(target, n, self.num_actions)
        args = tf.constant(coef), tf.constant(greedy)
        if target is None and len(self._greedy_args) < 16:
            self._greedy_args[n] = args
        return args

    def _step(self, frames: tf.Tensor, coef: tf.Tensor, greedy: tf.Tensor) -> tuple[tf.Tensor, ...]:
        # y = sum_a coef[:, a] * logit_a + coef[:, A] * value, so every kind of target is one signature;
        # `greedy` swaps in the one-hot of each frame's argmax (which carries no gradient itself). The
        # coefficients go in as the tape's output gradients: dy/dA without building y.
        frames = tf.cast(frames, tf.float32)
        with tf.GradientTape() as tape:
            acts, grad_at, logits, value = self.submodel(frames, training=False)
        argmax_coef = tf.one_hot(tf.argmax(logits, axis=-1), self.num_actions, dtype=logits.dtype)
        logit_coef = tf.where(greedy, argmax_coef, tf.cast(coef[:, :self.num_actions], logits.dtype))
        value_coef = tf.cast(tf.reshape(coef[:, self.num_actions], tf.shape(value)), value.dtype)
        # The frames are independent, so the gradient of the batch sum is each frame's own gradient.
        grads = tape.gradient([logits, value], grad_at, output_gradients=[logit_coef, value_coef])
        acts = tf.cast(acts, tf.float32)
        logits = tf.cast(logits, tf.float32)
        value = tf.reshape(tf.cast(value, tf.float32), [-1])
        cells = tf.cast(tf.shape(acts)[1] * tf.shape(acts)[2], tf.float32)
        alpha = tf.reduce_sum(tf.cast(grads, tf.float32), axis=(1, 2)) / cells  # equation (1): [N, K]
        cams = tf.nn.relu(tf.einsum("nhwk,nk->nhw", acts, alpha))  # equation (2)
        # Normalising and upsampling here, in the same graph, saves two eager round trips per call.
        # A map that is zero everywhere stays zero (ReLU cut everything, or a == b in a contrast): no 0/0.
        peak = tf.reduce_max(cams, axis=(1, 2), keepdims=True)
        normed = tf.math.divide_no_nan(cams, peak)
        if self.upsample is None:  # frames of any size: resize per call
            maps = tf.image.resize(normed[..., None], tf.shape(frames)[1:3], method="bilinear")[..., 0]
        else:  # the same bilinear resize as two small matmuls, which cost less than the resize op
            rows, cols = self.upsample
            maps = tf.matmul(tf.matmul(rows[None], normed), cols[None], transpose_b=True)
        # Bilinear weights are >= 0, so the maps are too; the bound only catches rounding above 1.
        return cams, tf.minimum(maps, 1.0), logits, value


def _sole_pool_after(model: keras.Model, tensor: Any) -> keras.layers.Layer | None:
    """The MaxPooling2D/AveragePooling2D layer that is the only consumer of `tensor` in `model`, else None."""
    if any(out is tensor for out in keras.tree.flatten(model.output)):
        return None
    # Every call of every layer counts (`layer.input` shows only a shared layer's first call); the graph's
    # nodes are Keras internals, so if they are not where Keras 3.x keeps them, take the plain path.
    calls = []
    for lay in model.layers:
        nodes = getattr(lay, "_inbound_nodes", None)
        if nodes is None or any(not hasattr(node, "input_tensors") for node in nodes):
            return None
        calls += [(lay, len(nodes)) for node in nodes if any(t is tensor for t in node.input_tensors)]
    if len(calls) != 1:
        return None
    lay, num_calls = calls[0]
    pools = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    return lay if isinstance(lay, pools) and num_calls == 1 else None


def _bilinear_matrices(src: tuple, dst: tuple) -> tuple[tf.Tensor, tf.Tensor] | None:
    """Matrices (R [H, h], C [W, w]) with R @ m @ C.T == tf.image.resize(m, (H, W), "bilinear") for any m.

    Bilinear resizing is linear and separable, so resizing the identity's columns gives its matrix exactly.
    None when a size is only known at call time.
    """
    if None in (*src, *dst):
        return None

    def along(n: int, size: int) -> tf.Tensor:
        basis = tf.eye(n)[:, :, None, None]  # n one-hot images of n x 1
        return tf.transpose(tf.image.resize(basis, (size, 1), method="bilinear")[:, :, 0, 0])

    return along(int(src[0]), int(dst[0])), along(int(src[1]), int(dst[1]))


# Per model, per layer name; weak keys so a dropped model takes its compiled functions with it.
_CACHE: weakref.WeakKeyDictionary[keras.Model, dict[str, _CamFunction]] = weakref.WeakKeyDictionary()


def _policy_outputs(model: keras.Model) -> tuple[Any, Any]:
    """The (logits, value) symbolic outputs of `model`, from a [logits, value] list or a dict."""
    out = model.output
    if isinstance(out, dict) and {"logits", "value"} <= out.keys():
        return out["logits"], out["value"]
    if isinstance(out, (list, tuple)) and len(out) == 2:
        return out[0], out[1]
    raise ValueError("model outputs must be [logits, value] or a dict with keys 'logits' and 'value'")


def _spatial_layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers if isinstance(layer, _SPATIAL_LAYERS)]


def resolve_layer(model: keras.Model, layer: str | None) -> str:
    """The layer name to take the maps from: `layer`; by default a layer named "torso", else the last Conv2D.

    A residual torso's last Conv2D feeds a skip connection; its output ("torso") is what the heads read.
    """
    names = _spatial_layer_names(model)
    if layer is None and _TORSO_OUTPUT in names:
        return _TORSO_OUTPUT
    if layer is None:
        convs = [lay.name for lay in model.layers if isinstance(lay, keras.layers.Conv2D)]
        if not convs:
            raise ValueError(f"model {model.name!r} has no Conv2D layer to take Grad-CAM maps from")
        return convs[-1]
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r} for Grad-CAM; conv/pool layers of the model: {', '.join(names)}")
    return layer


def _cam_function(model: keras.Model, layer: str | None) -> _CamFunction:
    name = resolve_layer(model, layer)
    per_model = _CACHE.setdefault(model, {})
    if name not in per_model:
        per_model[name] = _CamFunction(model, name)
    return per_model[name]


def _check_frames(model: keras.Model, frames: np.ndarray) -> np.ndarray:
    """Return `frames` as a uint8 or float32 batch [N, *input_shape], or raise ValueError saying what is accepted."""
    frames = np.asarray(frames)
    expected = tuple(model.input_shape[1:])
    if frames.dtype != np.uint8 and frames.dtype not in _FLOAT_DTYPES:
        raise ValueError(f"frames must be uint8, float32 or float64 in [0, 255], got dtype {frames.dtype}")

    def fits(shape: tuple[int, ...]) -> bool:
        return len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape, strict=True))

    if fits(frames.shape):
        frames = frames[None]
    elif not (frames.ndim == len(expected) + 1 and fits(frames.shape[1:]) and frames.shape[0] > 0):
        batched = "(N, " + ", ".join(map(str, expected)) + ")"
        raise ValueError(f"frames must have shape {expected} or {batched} with N >= 1, got {frames.shape}")
    if frames.dtype != np.uint8:
        if not np.all(np.isfinite(frames)):
            raise ValueError("frames must be finite; got NaN or infinity")
        lo, hi = float(frames.min()), float(frames.max())
        if lo < 0.0 or hi > 255.0:
            raise ValueError(f"frames must be raw pixel values in [0, 255], got values in [{lo:g}, {hi:g}]")
    return frames if frames.dtype == np.uint8 else frames.astype(np.float32, copy=False)


def _is_action(a: Any) -> bool:
    # bool is an int subclass, but target=True is a slip, not action 1
    return isinstance(a, (int, np.integer)) and not isinstance(a, bool)


def _action_index(a: int | np.integer, num_actions: int) -> int:
    if not 0 <= a < num_actions:
        raise ValueError(f"target action {int(a)} is outside [0, {num_actions})")
    return int(a)


def _target_coef(target: Target, n: int, num_actions: int) -> tuple[np.ndarray, bool]:
    """Coefficients [n, num_actions + 1] of (logits, value) whose sum is y^c, and whether y^c is the argmax."""
    coef = np.zeros((n, num_actions + 1), np.float32)
    if target is None:
        return coef, True
    if isinstance(target, str) and target == "value":
        coef[:, num_actions] = 1.0
    elif _is_action(target):
        coef[:, _action_index(target, num_actions)] = 1.0
    # Only a tuple is a contrast: a list [a, b] reads too much like one action per frame to guess at.
    elif isinstance(target, tuple) and len(target) == 2 and all(_is_action(t) for t in target):
        a, b = (_action_index(t, num_actions) for t in target)
        coef[:, a] += 1.0
        coef[:, b] -= 1.0  # a == b leaves y = 0: all-zero maps
    else:
        shown = " ".join(repr(target).split())  # one line, even for an array's repr
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(f"target must be None (the greedy action), an action index in [0, {num_actions}), "
                         f"'value', or a pair (a, b) of action indices for logit_a - logit_b; got {shown}")
    return coef, False


def _run(model: keras.Model, frames: np.ndarray, target: Target, layer: str | None) -> tuple[Any, ...]:
    """(cams, maps, logits, values) as TF tensors, and the layer's name.

    Callers copy out only what they use: `grad_cam` needs neither the logits nor their softmax.
    """
    fn = _cam_function(model, layer)
    batch = _check_frames(model, frames)
    coef, greedy = fn.target_args(target, batch.shape[0])
    step = fn.steps[tf.uint8 if batch.dtype == np.uint8 else tf.float32]
    return (*step(tf.constant(batch), coef, greedy), fn.layer)


def grad_cam_raw(model: keras.Model, frames: np.ndarray, target: Target = None,
                 layer: str | None = None) -> np.ndarray:
    """Grad-CAM maps as equations (1)-(2) give them: un-normalised, at the layer's resolution.

    Args:
        model: a Keras functional model whose outputs are [logits, value] or {"logits", "value"}.
        frames: raw frames as the model takes them (uint8, or float in [0, 255]), [N, *input] or one frame.
        target: the score y^c to explain; see `grad_cam`.
        layer: name of the layer whose output is A; see `grad_cam`.

    Returns:
        float32 [N, h, w], >= 0, where (h, w) is the layer's spatial size.

    Raises:
        ValueError: on frames of the wrong shape, dtype or range, an unknown layer, or a bad target.
    """
    return _run(model, frames, target, layer)[0].numpy()


def explain(model: keras.Model, frames: np.ndarray, target: Target = None, layer: str | None = None) -> CamResult:
    """Grad-CAM maps at the frames' resolution together with the policy's action, probabilities and value.

    One forward and one backward pass give both, so a caption ("action taken, its probability") costs
    nothing extra. See `grad_cam` for the arguments.
    """
    _, maps, logits, values, name = _run(model, frames, target, layer)
    maps, logits, values = maps.numpy(), logits.numpy(), values.numpy()
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = shifted / shifted.sum(axis=-1, keepdims=True)
    return CamResult(maps=maps.astype(np.float32, copy=False), actions=logits.argmax(axis=-1).astype(np.int64),
                     probs=probs.astype(np.float32), values=values.astype(np.float32), layer=name)


def grad_cam(model: keras.Model, frames: np.ndarray, target: Target = None, layer: str | None = None) -> np.ndarray:
    """Grad-CAM heatmaps in [0, 1] at the frames' resolution, one per frame.

    Each map is ReLU(sum_k alpha_k A^k) divided by its own max (so maps of different frames are not
    comparable in scale), then bilinearly upsampled to the input's height and width.

    Args:
        model: a Keras functional model whose outputs are [logits, value] or {"logits", "value"}; the
            submodel built from it is cached per (model, layer), so repeated calls are cheap.
        frames: raw frames as the model takes them: [N, *model.input_shape[1:]] or a single frame, uint8
            or float32/float64 in [0, 255] (the model scales by 1/255 in its graph).
        target: what y^c is. None: each frame's greedy action (argmax of the logits); an int: that action's
            logit; "value": the critic's value; (a, b): logit_a - logit_b, what favours a over b.
        layer: the layer whose output is A. By default a residual torso's output ("torso"), else the last
            Conv2D layer, i.e. the conv output BEFORE the max-pool that follows it in E-A3C (finer maps);
            pass a pool name such as "pool2" to take it after the pool, or any conv, ReLU or residual
            block ("res2b") of a residual torso.

    Returns:
        float32 [N, H, W] in [0, 1]; an all-zero map stays all zero.

    Raises:
        ValueError: on frames of the wrong shape, dtype or range, an unknown layer, or a bad target.
    """
    return _run(model, frames, target, layer)[1].numpy()
