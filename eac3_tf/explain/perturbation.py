"""Perturbation saliency (Greydanus et al. 2018) and the compiled blended-copies forward pass it shares.

`perturbation_saliency` blurs a Gaussian patch of the input and measures how much the policy's outputs move: a map
made by intervening on the input rather than by reading gradients. The same compiled graph (`blend_outputs`)
runs the deletion and insertion curves of `faithfulness`. Models are Keras models with outputs [logits, value] or
a dict {"logits", "value"} taking raw frames in [0, 255].
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from eac3_tf.explain.measures import normalise_maps


def frames_batch(model: keras.Model, frames: np.ndarray) -> np.ndarray:
    """`frames` as float32 [N, *input], or ValueError naming the expected shape."""
    frames = np.asarray(frames)
    expected = tuple(model.input_shape[1:])
    fits = frames.ndim == len(expected) + 1 and all(
        e is None or e == s for e, s in zip(expected, frames.shape[1:], strict=True))
    if not fits:
        raise ValueError(f"frames must have shape (N, {', '.join(map(str, expected))}), got {frames.shape}")
    return frames.astype(np.float32, copy=False)


def action_indices(action: int | Sequence[int] | np.ndarray, n: int, num_actions: int) -> np.ndarray:
    """One action index per frame, from a single index or a length-n sequence."""
    a = np.asarray(action)
    if a.ndim == 0:
        a = np.full(n, int(a))
    if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= num_actions:
        raise ValueError(f"action must be an int or {n} ints in [0, {num_actions}), got {action!r}")
    return a.astype(np.int64)


class _Blend:
    """A compiled forward pass over blended copies: frames a*(1-m) + b*m for many masks m at once.

    One graph serves both the perturbation maps (one set of masks for every frame) and the deletion and
    insertion curves (a set of masks per frame), so each batch of perturbed copies is one model call
    and the copies are built inside the graph rather than in numpy.
    """

    def __init__(self, model: keras.Model) -> None:
        h, w, c = model.input_shape[1:]
        self.model = weakref.ref(model)  # a strong reference would keep the cache's weak key alive forever
        frames = tf.TensorSpec([None, h, w, c], tf.float32)
        masks = tf.TensorSpec([None, None, h, w], tf.float32)
        self.call = tf.function(self._call, input_signature=[frames, frames, masks])

    def _call(self, a: tf.Tensor, b: tf.Tensor, m: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # a, b [n, H, W, C]; m [n or 1, P, H, W] -> outputs for n*P blended frames, frame-major
        x = a[:, None] + m[..., None] * (b - a)[:, None]
        shape = tf.shape(x)
        x = tf.reshape(x, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))
        out = self.model()(x, training=False)
        logits, value = (out["logits"], out["value"]) if isinstance(out, dict) else (out[0], out[1])
        return tf.cast(logits, tf.float32), tf.reshape(tf.cast(value, tf.float32), [-1])


_BLEND: weakref.WeakKeyDictionary[keras.Model, _Blend] = weakref.WeakKeyDictionary()


def _blend(model: keras.Model) -> _Blend:
    if model not in _BLEND:
        _BLEND[model] = _Blend(model)
    return _BLEND[model]


def blend_outputs(model: keras.Model, a: np.ndarray, b: np.ndarray, masks: np.ndarray,
                   batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits [n, P, A] and values [n, P] of a*(1-m) + b*m, in model calls of about `batch_size` copies.

    `masks` is [P, H, W] (the same masks for every frame) or [n, P, H, W] (per frame).
    """
    fn = _blend(model)
    shared = masks.ndim == 3
    n, p = a.shape[0], masks.shape[-3]
    per_call = max(1, batch_size // p)  # frames per call; with more masks than batch_size, masks are split
    mask_step = min(p, batch_size)
    logits, values = [], []
    for i in range(0, n, per_call):
        sl = slice(i, i + per_call)
        lo_chunks, va_chunks = [], []
        for j in range(0, p, mask_step):
            m = masks[None, j:j + mask_step] if shared else masks[sl, j:j + mask_step]
            lo, va = fn.call(tf.constant(a[sl]), tf.constant(b[sl]), tf.constant(m, tf.float32))
            k = m.shape[1]
            lo_chunks.append(lo.numpy().reshape(-1, k, lo.shape[-1]))
            va_chunks.append(va.numpy().reshape(-1, k))
        logits.append(np.concatenate(lo_chunks, axis=1))
        values.append(np.concatenate(va_chunks, axis=1))
    return np.concatenate(logits), np.concatenate(values)


def policy_outputs(model: keras.Model, frames: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The model's logits [N, A] and values [N] on raw frames, through the compiled graph of the perturbed copies."""
    x = frames_batch(model, frames)
    logits, values = blend_outputs(model, x, x, np.zeros((1, *x.shape[1:3]), np.float32), batch_size)
    return logits[:, 0], values[:, 0]


def policy_logits(model: keras.Model, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's logits [N, A] on raw frames (`policy_outputs` without the values)."""
    return policy_outputs(model, frames, batch_size)[0]


def gaussian_blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Blur [N, H, W, C] frames over H and W only (every channel of the stack alike), float32.

    A separable Gaussian truncated at 4 sigma with mirror padding, i.e. scipy.ndimage.gaussian_filter's
    defaults with sigma 0 on the batch and channel axes (scipy is not a dependency of this project).
    """
    x = np.asarray(frames, np.float32)
    if sigma <= 0:
        return x.copy()
    radius = int(4.0 * sigma + 0.5)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel = (kernel / kernel.sum()).astype(np.float32)
    for axis in (1, 2):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(x, pad, mode="symmetric")  # numpy's "symmetric" is scipy's "reflect"
        size = x.shape[axis]
        x = sum(wk * np.take(padded, np.arange(k, k + size), axis=axis) for k, wk in enumerate(kernel))
    return x.astype(np.float32)


def perturbation_masks(height: int, width: int, patch: float, stride: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Gaussian masks [P, H, W] (peak 1, sigma `patch` pixels) centred on a grid, and the grid's (rows, cols).

    The grid has ceil(H / stride) x ceil(W / stride) centres placed where a bilinear resize of the grid to
    (H, W) puts its cell centres (row (k + 0.5) * H / rows - 0.5), so upsampling the scores is exact at them.
    """
    gh, gw = math.ceil(height / stride), math.ceil(width / stride)
    cy = (np.arange(gh) + 0.5) * height / gh - 0.5
    cx = (np.arange(gw) + 0.5) * width / gw - 0.5
    dy = (np.arange(height)[None, :] - cy[:, None]) ** 2  # [gh, H]
    dx = (np.arange(width)[None, :] - cx[:, None]) ** 2  # [gw, W]
    d2 = dy[:, None, :, None] + dx[None, :, None, :]  # [gh, gw, H, W]
    masks = np.exp(-d2 / (2.0 * patch**2)).reshape(gh * gw, height, width)
    return masks.astype(np.float32), (gh, gw)



def perturbation_saliency(model: keras.Model, frames: np.ndarray, target: int | Sequence[int] | str | None = None,
                          patch: float = 5.0, stride: int = 5, sigma: float = 3.0,
                          batch_size: int = 256) -> np.ndarray:
    """Greydanus et al. (2018) perturbation saliency maps in [0, 1] at the frames' resolution.

    For each centre (i, j) of a grid with spacing `stride`, the frame I is blended with its blurred copy
    A = blur(I, sigma) under a Gaussian mask M_ij (sigma `patch`, peak 1):
    phi_ij = I * (1 - M_ij) + A * M_ij, and the score is

        S(i, j) = 0.5 * || f(I) - f(phi_ij) ||^2

    where f is, by `target`: None, all the logits (Greydanus' actor saliency); an int or one int per
    frame, that action's logit; "value", the critic's value (their critic saliency). The score grid is
    bilinearly upsampled to (H, W) and each map divided by its max (all-zero stays zero). Greydanus use
    patch 5, stride 5, blur 3 on 84x84 frames; the same numbers suit 80x80. All P = ceil(H/stride) *
    ceil(W/stride) perturbed copies of a frame go through the model in batches of about `batch_size`.

    Args:
        model: Keras model with outputs [logits, value] or {"logits", "value"}, taking raw [0, 255] frames.
        frames: [N, H, W, C] raw frames (uint8 or float); the blur covers every channel of the stack.
        target: what f is (see above).
        patch: the mask's Gaussian sigma, pixels.
        stride: spacing of the mask centres, pixels.
        sigma: the blur's Gaussian sigma, pixels.
        batch_size: perturbed copies per model call (memory: batch_size * H * W * C floats).

    Returns:
        float32 [N, H, W] in [0, 1].
    """
    x = frames_batch(model, frames)
    n, h, w = x.shape[:3]
    blurred = gaussian_blur(x, sigma)
    masks, (gh, gw) = perturbation_masks(h, w, patch, stride)
    base_logits, base_values = blend_outputs(model, x, blurred, np.zeros((1, h, w), np.float32), batch_size)
    logits, values = blend_outputs(model, x, blurred, masks, batch_size)  # [n, P, A], [n, P]
    if target is None:
        scores = 0.5 * np.sum((logits - base_logits) ** 2, axis=-1)
    elif isinstance(target, str) and target == "value":
        scores = 0.5 * (values - base_values) ** 2
    elif isinstance(target, str):
        raise ValueError(f"target must be None, 'value', or action indices; got {target!r}")
    else:
        a = action_indices(target, n, logits.shape[-1])
        idx = np.arange(n)
        scores = 0.5 * (logits[idx, :, a] - base_logits[idx, 0, a][:, None]) ** 2
    grid = scores.reshape(n, gh, gw, 1).astype(np.float32)
    maps = tf.image.resize(grid, (h, w), method="bilinear").numpy()[..., 0]
    return normalise_maps(np.maximum(maps, 0.0))


def blur_change_map(frames: np.ndarray, patch: float = 5.0, stride: int = 5, sigma: float = 3.0) -> np.ndarray:
    """The model-free counterpart of `perturbation_saliency`: how much each perturbation changes the input.

    S(i, j) = 0.5 * || I - phi_ij ||^2 over pixels and channels, upsampled and normalised the same way.
    Blurring changes only edges and small objects, so any map built from such perturbations inherits
    this pattern; comparing a saliency map with it asks whether the map tells more than the image does.
    """
    x = np.asarray(frames, np.float32)
    n, h, w = x.shape[:3]
    change = np.sum((gaussian_blur(x, sigma) - x) ** 2, axis=-1)  # [n, H, W]
    masks, (gh, gw) = perturbation_masks(h, w, patch, stride)
    scores = 0.5 * np.einsum("nhw,phw->np", change, masks**2)  # phi - I = M * (A - I)
    maps = tf.image.resize(scores.reshape(n, gh, gw, 1).astype(np.float32), (h, w), method="bilinear").numpy()
    return normalise_maps(np.maximum(maps[..., 0], 0.0))
