"""Checks of saliency maps as plain array functions: perturbation saliency, deletion/insertion, sanity checks.

Grad-CAM (`eac3_tf.gradcam`) says where a policy looks; the functions here test whether that is true:

* `perturbation_saliency`: Greydanus et al. (2018), "Visualizing and Understanding Atari Agents": blur a
  Gaussian patch of the input and measure how much the policy's outputs move; a map made by intervening
  on the input rather than by reading gradients, to compare Grad-CAM against.
* `deletion_insertion`: Petsiuk et al. (2018, RISE): the action's probability as the most salient pixels
  are removed from (deletion) or restored into (insertion) a blurred copy of the frame; a faithful map
  makes deletion fall fast (low AUC) and insertion rise fast (high AUC).
* `cascading_randomization`: Adebayo et al. (2018), "Sanity Checks for Saliency Maps": a map that barely
  changes while the network's weights are randomised from the top down explains the input, not the model.
* `object_mass`, `pointing_game` and the colour masks of six games' objects (`object_masks`): how much of a
  map lies on the game objects.

Everything takes and returns numpy arrays; models are Keras models with outputs [logits, value] or a dict
{"logits", "value"} taking raw frames in [0, 255] (the contract of `eac3_tf.gradcam`).
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from eac3_tf.config import ObsConfig

PLAY_ROWS = (ObsConfig.crop_top, ObsConfig.crop_bottom)  # the model's crop: first screen row, one past its last

# Object colours of the six games, RGB, in the play area of ale-py 0.12 screens as `AtariBatchEnv` gives them
# (v5 settings, max over the last two frames of a skip; that max can mix two sprites' colours, which is why
# some classes list mixes). Measured by counting every colour in the play area of recorded screens and
# looking at the screens (PNGs, each colour lit alone): "random" = uniformly random actions (600 steps from
# seed 0; 3,000 from seeds 1 and 2 where said), "trained" = 3,000 steps of the sampled policy of the committed
# export (exported/<game>/policy.onnx, seed 1), one screen per step. What is left out is left
# out on purpose: background, score and lives, ground, shields; and any class whose colour is shared with
# something else in the play area (a mask that mixes two kinds of object answers neither question).
OBJECT_COLOURS: dict[str, dict[str, tuple[tuple[int, int, int], ...]]] = {
    # 600 random screens: exactly these three colours and the background (144, 72, 17). The walls share the
    # ball's white but lie outside the play area (rows 24..33 and 194..209); the score digits (rows 1..20) too.
    "pong": {
        "agent": ((92, 186, 92),),  # green paddle, columns 140..143 of the play area
        "opponent": ((213, 130, 74),),  # orange paddle, columns 16..19
        "ball": ((236, 236, 236),),  # white, 2 columns x 4 rows on one screen (more when the max spans two)
    },
    # 600 random + 3,000 trained screens (3 games over): 6 colours in all. Left out: the shields (181, 83, 40),
    # the lives digit (162, 134, 56, rows 185..193, columns 84..95) and the background (0, 0, 0). The
    # mothership (151, 25, 122) flies above the play area (rows < 34).
    "space_invaders": {
        "agent": ((50, 132, 50),),  # green laser cannon, rows 185..193; 37 px whole, fewer while it explodes
        "invaders": ((134, 134, 29),),  # every invader row, in every wave seen
        "shots": ((142, 142, 142),),  # the cannon's laser AND the invaders' bombs: one grey, not separable
    },
    # 600 random + 3,000 trained screens (the waves a score of 825 reaches), 183 colours. The demons change
    # colour every wave and flicker, so the max over two frames mixes their colours: "demons" lists the 36
    # colours with >= 1,000 px over these screens, 98.7% of the pixels in rows 34..187 that are neither
    # background nor another class (the rest are 1..4 px mixes at sprite edges). Some of them (e.g.
    # (84, 92, 214), (92, 186, 92)) are also colours of the ground band and the lives markers (rows 188..193):
    # OBJECT_ROWS leaves those rows out. (181, 108, 224), (149, 111, 227) and (228, 111, 111)
    # are also the debris of the agent's explosion, which then counts as demons; (214, 214, 214) also floods
    # the screen in flashes (FLASH_SHARE).
    "demon_attack": {
        "agent": ((184, 70, 162),),  # magenta cannon, rows 174..185, 68 px whole
        "agent_shots": ((212, 140, 252),),  # the cannon's laser
        "demon_shots": ((252, 144, 144),),  # the demons' bullets and, in later waves, beams
        "demons": ((214, 92, 92), (213, 130, 74), (84, 92, 214), (92, 186, 92), (127, 92, 213), (72, 160, 72),
                   (224, 236, 124), (84, 138, 210), (104, 72, 198), (195, 144, 61), (84, 160, 197),
                   (181, 108, 224), (149, 111, 227), (197, 124, 238), (200, 72, 72), (252, 188, 116),
                   (214, 214, 214), (101, 111, 228), (214, 130, 92), (228, 111, 111), (84, 184, 153),
                   (212, 108, 195), (214, 92, 214), (92, 186, 214), (117, 181, 239), (84, 160, 210),
                   (84, 138, 214), (227, 151, 89), (213, 144, 74), (127, 92, 214), (181, 111, 227),
                   (214, 92, 213), (84, 184, 197), (149, 111, 228), (224, 236, 238), (214, 214, 228)),
    },
    # 600 + 6,000 random screens (sector 1 only), 77 colours, most of them one-screen flashes and the colour
    # cycling stripe on the ship's top. Left out: the beams and their dots (45, 109, 152); the torpedo
    # and enemy counters (104, 25, 154), (82, 126, 45) (rows 34..40); pink (184, 70, 162), which is both the
    # agent's laser and one enemy kind; small sprites not identified for sure (purple (164, 89, 208),
    # yellow (187, 187, 53), grey specks (170, 170, 170) at the horizon); the ship's stripe and its red
    # explosion (200, 72, 72). The lives icons share the ship's yellow (rows 183..189): OBJECT_ROWS.
    "beam_rider": {
        "agent": ((210, 210, 64),),  # yellow hull, rows 167..179, ~95 px (also 33 of 6,000 screens: <= 18 px
                                     # of a yellow sprite higher up)
        # white saucers, orange rings; not the rings' mix with a beam's blue (198, 109, 152): on the orange
        # flash screens every beam takes that colour
        "enemies": ((236, 236, 236), (198, 108, 58)),
    },
    # 600 + 6,000 random screens (waves 1..4), 15 colours. Left out: the purple ground (146, 70, 192), rows
    # 184..193; white (236, 236, 236), which is both the birds' bullets and the ship's force field; green
    # (158, 208, 101), both the ship's shots and the wings of the wave-2 birds.
    "phoenix": {
        "agent": ((213, 130, 74),),  # orange ship, rows 173..182, 33 px median
        "birds": ((125, 48, 173), (227, 151, 89),  # small birds: purple body, orange wings (waves 1, 2)
                  (24, 26, 167), (45, 50, 184), (84, 92, 214), (101, 111, 228), (132, 144, 252)),  # big blue
    },
    # 600 random + 3,000 trained screens (level 1 only; later levels recolour the cubes and may recolour
    # more), 137 colours, 124 of them the colour-cycling discs (rows 138..139), which also take Qbert's,
    # Coily's and the gremlin's colour on ~1.5% of screens (<= 32 px). Left out: cube sides (84, 184, 153) and
    # tops (45, 87, 176) -> (210, 210, 64), the "@!#?@!" balloon (252, 224, 112).
    "qbert": {
        "agent": ((181, 83, 40), (181, 184, 153), (181, 87, 176)),  # orange Qbert, 80..100 px; mixes with a
                                                                    # cube's side and top (all within 3 px of it)
        "coily": ((146, 70, 192), (146, 184, 192)),  # purple: Coily's ball and Coily; its mix with a side
        "gremlin": ((50, 132, 50),),  # the green gremlin that undoes cubes (catching it scores)
    },
}
PONG_COLOURS = {name: rgb for name, (rgb,) in OBJECT_COLOURS["pong"].items()}  # one colour per class

# Screen rows (first, one past the last) that can hold a game's objects, where the play area also holds
# HUD in object colours; elsewhere the whole play area. Demon Attack: the ground band and lives markers
# (rows 188..193) use demon colours; Beam Rider: the lives icons (rows 183..189) are the ship's yellow.
OBJECT_ROWS: dict[str, tuple[int, int]] = {"demon_attack": (34, 188), "beam_rider": (34, 182)}

# A colour filling more than this share of a screen's play area is a flash (Demon Attack, Beam Rider), not
# an object: it is left out of that screen's masks. The largest real class fills 8% (Space Invaders' invaders).
FLASH_SHARE = 0.25

# A map function for the sanity checks: (model, frames [n, H, W, C], action) -> maps [n, H, W].
MapFn = Callable[[keras.Model, np.ndarray, int], np.ndarray]


# --- helpers --------------------------------------------------------------------------------------------


def _frames_batch(model: keras.Model, frames: np.ndarray) -> np.ndarray:
    """`frames` as float32 [N, *input], or ValueError naming the expected shape."""
    frames = np.asarray(frames)
    expected = tuple(model.input_shape[1:])
    fits = frames.ndim == len(expected) + 1 and all(
        e is None or e == s for e, s in zip(expected, frames.shape[1:], strict=True))
    if not fits:
        raise ValueError(f"frames must have shape (N, {', '.join(map(str, expected))}), got {frames.shape}")
    return frames.astype(np.float32, copy=False)


def _actions(action: int | Sequence[int] | np.ndarray, n: int, num_actions: int) -> np.ndarray:
    """One action index per frame, from a single index or a length-n sequence."""
    a = np.asarray(action)
    if a.ndim == 0:
        a = np.full(n, int(a))
    if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= num_actions:
        raise ValueError(f"action must be an int or {n} ints in [0, {num_actions}), got {action!r}")
    return a.astype(np.int64)


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its own max, an all-zero map left at zero (as `grad_cam` does)."""
    peak = maps.max(axis=(-2, -1), keepdims=True)
    out = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


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


def _blend_outputs(model: keras.Model, a: np.ndarray, b: np.ndarray, masks: np.ndarray,
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


def policy_logits(model: keras.Model, frames: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's logits [N, A] on raw frames, through the same compiled graph as the perturbed copies."""
    x = _frames_batch(model, frames)
    return _blend_outputs(model, x, x, np.zeros((1, *x.shape[1:3]), np.float32), batch_size)[0][:, 0]


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


# --- perturbation saliency ------------------------------------------------------------------------------


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
    x = _frames_batch(model, frames)
    n, h, w = x.shape[:3]
    blurred = gaussian_blur(x, sigma)
    masks, (gh, gw) = perturbation_masks(h, w, patch, stride)
    base_logits, base_values = _blend_outputs(model, x, blurred, np.zeros((1, h, w), np.float32), batch_size)
    logits, values = _blend_outputs(model, x, blurred, masks, batch_size)  # [n, P, A], [n, P]
    if target is None:
        scores = 0.5 * np.sum((logits - base_logits) ** 2, axis=-1)
    elif isinstance(target, str) and target == "value":
        scores = 0.5 * (values - base_values) ** 2
    elif isinstance(target, str):
        raise ValueError(f"target must be None, 'value', or action indices; got {target!r}")
    else:
        a = _actions(target, n, logits.shape[-1])
        idx = np.arange(n)
        scores = 0.5 * (logits[idx, :, a] - base_logits[idx, 0, a][:, None]) ** 2
    grid = scores.reshape(n, gh, gw, 1).astype(np.float32)
    maps = tf.image.resize(grid, (h, w), method="bilinear").numpy()[..., 0]
    return _normalise(np.maximum(maps, 0.0))


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
    return _normalise(np.maximum(maps[..., 0], 0.0))


# --- deletion / insertion -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeletionInsertion:
    """Deletion and insertion curves of a set of maps.

    Attributes:
        fractions: float [steps + 1], the share of pixels deleted or inserted, 0 .. 1.
        deletion: float [N, steps + 1], the action's probability with the top pixels replaced by the baseline.
        insertion: float [N, steps + 1], the action's probability with only the top pixels kept on the baseline.
        deletion_auc: float [N], trapezoid area under `deletion` over `fractions` (lower is better).
        insertion_auc: float [N], trapezoid area under `insertion` (higher is better).
        value_deletion, value_insertion: float [N, steps + 1], |V(copy) - V(frame)| along the same copies:
            deleting what matters to the critic moves its value early, inserting it restores the value early.
        value_deletion_auc: float [N], area under `value_deletion` (higher is better, in value units).
        value_insertion_auc: float [N], area under `value_insertion` (lower is better).
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: np.ndarray
    insertion_auc: np.ndarray
    value_deletion: np.ndarray | None = None
    value_insertion: np.ndarray | None = None
    value_deletion_auc: np.ndarray | None = None
    value_insertion_auc: np.ndarray | None = None


def salience_order(maps: np.ndarray, seed: int = 0) -> np.ndarray:
    """Rank of each pixel per map, 0 = most salient; ties are broken at random (seeded), not by position.

    Grad-CAM maps have large all-zero areas; ordering those ties row by row would delete the top of the
    screen first and bias the curves.
    """
    maps = np.asarray(maps)
    n, h, w = maps.shape
    flat = maps.reshape(n, h * w)
    tie = np.random.default_rng(seed).random(flat.shape)
    order = np.lexsort((tie, -flat), axis=-1)  # last key is primary: descending saliency, then random
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(h * w)[None].repeat(n, 0), axis=-1)
    return ranks.reshape(n, h, w)


def baseline_frames(frames: np.ndarray, baseline: str = "blur", sigma: float = 5.0) -> np.ndarray:
    """What deleted pixels become: "blur" (Gaussian, `sigma` pixels, spatial only), "mean" or "zero"."""
    x = np.asarray(frames, np.float32)
    if baseline == "blur":
        return gaussian_blur(x, sigma)
    if baseline == "mean":  # each channel's mean over the frame: the background colour, mostly
        return np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape).astype(np.float32)
    if baseline == "zero":
        return np.zeros_like(x)
    raise ValueError(f"baseline must be 'blur', 'mean' or 'zero', got {baseline!r}")


def deletion_insertion(model: keras.Model, frames: np.ndarray, maps: np.ndarray, action: int | Sequence[int],
                       steps: int = 20, baseline: str = "blur", blur_sigma: float = 5.0, seed: int = 0,
                       batch_size: int = 256) -> DeletionInsertion:
    """Deletion and insertion curves (Petsiuk et al. 2018) of `maps` for the probability of `action`.

    Pixels are ranked by the map per frame (ties at random, `seed`). At step k of `steps`, the top
    round(k / steps * H * W) pixels (all channels of the stack) are, for deletion, replaced by the
    baseline frame, and for insertion, copied from the frame onto the baseline. The baseline is by
    default the frame blurred with a Gaussian of `blur_sigma` pixels (RISE's insertion baseline): it
    removes the small objects (ball, paddles) without painting in a colour the game never shows.
    All 2 * (steps + 1) copies of a frame go through the model in batches of about `batch_size`.

    Args:
        model: Keras model with outputs [logits, value] or {"logits", "value"}.
        frames: [N, H, W, C] raw frames.
        maps: [N, H, W] saliency maps (any scale; only the order matters).
        action: the action whose softmax probability is tracked, one int or one per frame.
        steps: number of steps from 0 to all pixels.
        baseline: "blur", "mean" (per-channel frame mean) or "zero"; see `baseline_frames`.
        blur_sigma: the blur's sigma for baseline "blur", pixels.
        seed: tie-breaking seed for the pixel order.
        batch_size: copies per model call.

    Returns:
        The curves and their AUCs (`DeletionInsertion`).
    """
    x = _frames_batch(model, frames)
    n, h, w = x.shape[:3]
    maps = np.asarray(maps)
    if maps.shape != (n, h, w):
        raise ValueError(f"maps must have shape {(n, h, w)} to match the frames, got {maps.shape}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    base = baseline_frames(x, baseline, blur_sigma)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    counts = np.round(fractions * h * w).astype(np.int64)
    ranks = salience_order(maps, seed)
    top = (ranks[:, None] < counts[None, :, None, None]).astype(np.float32)  # [n, steps + 1, H, W]
    del_logits, del_values = _blend_outputs(model, x, base, top, batch_size)
    ins_logits, ins_values = _blend_outputs(model, base, x, top, batch_size)
    # the deletion curve's first copy and the insertion curve's last copy are the frame itself
    value_deletion, value_insertion = np.abs(del_values - del_values[:, :1]), np.abs(ins_values - ins_values[:, -1:])
    a = _actions(action, n, del_logits.shape[-1])
    idx = np.arange(n)
    deletion = tf.nn.softmax(del_logits, axis=-1).numpy()[idx, :, a]
    insertion = tf.nn.softmax(ins_logits, axis=-1).numpy()[idx, :, a]
    return DeletionInsertion(fractions=fractions, deletion=deletion, insertion=insertion,
                             deletion_auc=np.trapezoid(deletion, fractions, axis=-1),
                             insertion_auc=np.trapezoid(insertion, fractions, axis=-1),
                             value_deletion=value_deletion, value_insertion=value_insertion,
                             value_deletion_auc=np.trapezoid(value_deletion, fractions, axis=-1),
                             value_insertion_auc=np.trapezoid(value_insertion, fractions, axis=-1))


# --- rank correlation and the randomisation sanity check ------------------------------------------------


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of a 1-D array, tied values sharing the mean of their ranks (as Spearman requires)."""
    order = np.argsort(x, kind="stable")
    _, first, counts = np.unique(x[order], return_index=True, return_counts=True)
    ranks = np.empty(len(x), np.float64)
    ranks[order] = np.repeat(first + (counts - 1) / 2.0, counts)
    return ranks


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """Spearman rank correlation of two maps: Pearson correlation of their (tie-averaged) pixel ranks.

    Maps [H, W] give a float; batches [..., H, W] give one value per map. A constant map (e.g. all zero)
    has no ranking, so its correlation is NaN rather than a made-up 0.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"maps must have the same shape with at least 2 axes, got {a.shape} and {b.shape}")
    fa, fb = a.reshape(-1, a.shape[-2] * a.shape[-1]), b.reshape(-1, b.shape[-2] * b.shape[-1])
    out = np.empty(len(fa))
    for i, (x, y) in enumerate(zip(fa, fb, strict=True)):
        rx, ry = _average_ranks(x), _average_ranks(y)
        rx, ry = rx - rx.mean(), ry - ry.mean()
        denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
        out[i] = float(rx @ ry) / denom if denom > 0 else math.nan
    return float(out[0]) if a.ndim == 2 else out.reshape(a.shape[:-2])


@dataclasses.dataclass(frozen=True)
class Randomization:
    """Maps of progressively randomised copies of a model and their rank correlation with the original.

    Attributes:
        stages: names of the stages, e.g. ["logits+value", "hidden", "conv2", "conv1"]; stage k has the
            layers of stages 0..k re-initialised.
        actions: int [N], the original model's greedy actions, the target at every stage.
        original: float [N, H, W], the original model's maps.
        maps: float [stages, N, H, W].
        correlations: float [stages, N], Spearman correlation with `original` (NaN for a constant map).
    """

    stages: list[str]
    actions: np.ndarray
    original: np.ndarray
    maps: np.ndarray
    correlations: np.ndarray


def _seeded_initializer(init: keras.initializers.Initializer, seed: int) -> keras.initializers.Initializer:
    """A copy of `init` with its seed set, so a re-initialisation is reproducible."""
    config = init.get_config()
    if "seed" in config:
        config["seed"] = seed
    return type(init).from_config(config)


def reinitialise_layer(layer: keras.layers.Layer, seed: int) -> None:
    """Redraw the layer's weights from its own initializers (kernel_initializer, bias_initializer), seeded.

    A weight without an initializer attribute is drawn from a seeded normal(0, 0.05), Keras' default scale.
    For the E-A3C network this means orthogonal kernels with their gains and zero biases: the layer as it
    was before training.
    """
    new = []
    for i, var in enumerate(layer.weights):
        kind = var.name.split("/")[-1]
        init = getattr(layer, f"{kind}_initializer", None)
        init = (_seeded_initializer(init, seed + i) if init is not None
                else keras.initializers.RandomNormal(0.0, 0.05, seed=seed + i))
        new.append(np.asarray(init(tuple(var.shape), dtype=var.dtype)))
    layer.set_weights(new)


def maps_for_actions(map_fn: MapFn, model: keras.Model, frames: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Maps with a per-frame target action, for map functions that take one action per call."""
    out = None
    for a in np.unique(actions):
        idx = np.flatnonzero(actions == a)
        maps = np.asarray(map_fn(model, frames[idx], int(a)))
        if out is None:
            out = np.zeros((len(frames), *maps.shape[1:]), np.float32)
        out[idx] = maps
    return out


def _grad_cam_map(model: keras.Model, frames: np.ndarray, action: int) -> np.ndarray:
    from eac3_tf.gradcam import grad_cam

    return grad_cam(model, frames, target=action)


def randomization_stages(model: keras.Model) -> list[str | tuple[str, ...]]:
    """[("logits", "value"), "hidden", "convK", ..., "conv1"]: the weighted layers from the top, heads together."""
    names = [layer.name for layer in model.layers if layer.weights]
    heads = tuple(n for n in names if n in ("logits", "value"))
    return [heads, *[n for n in reversed(names) if n not in heads]]


def cascading_randomization(model: keras.Model, frames: np.ndarray, layers_top_down: Sequence[str | Sequence[str]],
                            map_fn: MapFn | None = None, seed: int = 0) -> Randomization:
    """Adebayo et al. (2018) cascading randomisation: maps as layers are re-initialised from the top down.

    One copy of the model is made (`keras.models.clone_model` + `set_weights`); at stage k the layers of
    `layers_top_down[k]` (a name, or several names re-initialised together such as ("logits", "value"))
    are redrawn from their own initializers (`reinitialise_layer`, seed `seed + 100 * k`), keeping the
    stages before. The maps of every stage explain the original model's greedy action on each frame, so
    a change of greedy action does not count as a change of explanation. A faithful method's maps
    decorrelate from the original ones as the weights they depend on are destroyed.

    Args:
        model: the trained Keras model (left untouched).
        frames: [N, H, W, C] raw frames.
        layers_top_down: stages, e.g. [("logits", "value"), "hidden", "conv2", "conv1"].
        map_fn: (model, frames, action) -> maps [n, H, W]; Grad-CAM (`eac3_tf.gradcam.grad_cam`) by default.
        seed: base seed of the re-initialisations.

    Returns:
        The stages' maps and correlations (`Randomization`).
    """
    map_fn = map_fn or _grad_cam_map
    x = _frames_batch(model, frames)
    actions = policy_logits(model, x).argmax(axis=-1)
    original = maps_for_actions(map_fn, model, x, actions)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    names, stage_maps = [], []
    for k, stage in enumerate(layers_top_down):
        group = [stage] if isinstance(stage, str) else list(stage)
        for j, name in enumerate(group):
            reinitialise_layer(copy.get_layer(name), seed + 100 * k + 10 * j)
        names.append("+".join(group))
        stage_maps.append(maps_for_actions(map_fn, copy, x, actions))
    maps = np.stack(stage_maps)
    correlations = np.stack([rank_correlation(m, original) for m in maps])
    return Randomization(stages=names, actions=actions, original=original, maps=maps, correlations=correlations)


# --- maps against object masks ---------------------------------------------------------------------------


def object_mass(map_: np.ndarray, mask: np.ndarray) -> float | np.ndarray:
    """Share of a map's total mass inside a boolean mask: sum(map * mask) / sum(map).

    Compare it with the mask's share of the area (`mask.mean()`): a map spread evenly scores exactly that.
    [H, W] gives a float; [..., H, W] one value per map; a map with no mass gives NaN.
    """
    map_, mask = np.asarray(map_, np.float64), np.asarray(mask, bool)
    if map_.shape != mask.shape:
        raise ValueError(f"map and mask must have the same shape, got {map_.shape} and {mask.shape}")
    total = map_.sum(axis=(-2, -1))
    inside = (map_ * mask).sum(axis=(-2, -1))
    share = np.divide(inside, total, out=np.full_like(total, np.nan), where=total > 0)
    return float(share) if map_.ndim == 2 else share


def dilate_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow boolean masks [..., H, W] by `radius` cells in every direction (a (2r+1)^2 square, Chebyshev)."""
    mask = np.asarray(mask, bool)
    if radius <= 0:
        return mask
    h, w = mask.shape[-2:]
    pad = [(0, 0)] * (mask.ndim - 2) + [(radius, radius), (radius, radius)]
    padded = np.pad(mask, pad)
    out = np.zeros_like(mask)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= padded[..., dy:dy + h, dx:dx + w]
    return out


def pointing_game(map_: np.ndarray, mask: np.ndarray, tolerance: int = 0) -> bool | np.ndarray:
    """Whether the map's maximum falls inside the mask (Zhang et al. 2016's pointing game).

    The maximum is the first one in row-major order; a map with no positive value points nowhere (a miss).
    `tolerance` counts a maximum within that many cells of the mask (Chebyshev distance) as a hit, as
    Zhang et al. allow 15 pixels: a map taken at a coarse layer cannot point finer than one of its cells.
    """
    map_, mask = np.asarray(map_), np.asarray(mask, bool)
    if map_.shape != mask.shape:
        raise ValueError(f"map and mask must have the same shape, got {map_.shape} and {mask.shape}")
    mask = dilate_mask(mask, tolerance)
    flat = map_.reshape(-1, map_.shape[-2] * map_.shape[-1])
    best = flat.argmax(axis=-1)
    hit = mask.reshape(flat.shape)[np.arange(len(flat)), best] & (flat.max(axis=-1) > 0)
    return bool(hit[0]) if map_.ndim == 2 else hit.reshape(map_.shape[:-2])


def argmax_offsets(map_: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(dy, dx) from the mask cell nearest to each map's maximum to that maximum, int [..., 2].

    Nearest is by Chebyshev distance (ties: the first cell in row-major order), so max(|dy|, |dx|) is the
    smallest tolerance at which `pointing_game` counts a hit. It says where misses land: a map taken at a
    conv layer peaks where a feature fires, which can sit a cell beside what it detects. Maps with no
    positive value and empty masks give (-1, -1) offsets flagged by `offsets_defined`.
    """
    map_, mask = np.asarray(map_), np.asarray(mask, bool)
    if map_.shape != mask.shape:
        raise ValueError(f"map and mask must have the same shape, got {map_.shape} and {mask.shape}")
    h, w = map_.shape[-2:]
    flat, flat_mask = map_.reshape(-1, h * w), mask.reshape(-1, h * w)
    best = flat.argmax(axis=-1)
    rows, cols = np.divmod(np.arange(h * w), w)
    dy = rows[best][:, None] - rows[None, :]  # [N, cells]: maximum minus each cell
    dx = cols[best][:, None] - cols[None, :]
    dist = np.where(flat_mask, np.maximum(np.abs(dy), np.abs(dx)), h + w)
    nearest = dist.argmin(axis=-1)
    idx = np.arange(len(flat))
    out = np.stack([dy[idx, nearest], dx[idx, nearest]], axis=-1)
    out[~offsets_defined(map_, mask).reshape(-1)] = -1
    return out.reshape(*map_.shape[:-2], 2)


def offsets_defined(map_: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Whether `argmax_offsets` is defined: the map has a positive value and the mask a cell, bool [...]."""
    map_, mask = np.asarray(map_), np.asarray(mask, bool)
    return (map_.max(axis=(-2, -1)) > 0) & mask.any(axis=(-2, -1))


def object_masks(game: str, screens: np.ndarray, play_rows: tuple[int, int] = PLAY_ROWS,
                 tolerance: int = 0) -> dict[str, np.ndarray]:
    """Boolean masks [N, rows, 160] of each object class of `OBJECT_COLOURS[game]` in RGB screens' play area.

    Object positions are what the object checks need, and on Atari screens a colour names an object: the
    masks are exact colour matches (within `OBJECT_ROWS[game]` where the play area also holds HUD, and
    without a colour that floods the screen in a flash, see `FLASH_SHARE`).

    Args:
        game: an ALE rom id with a colour table (`OBJECT_COLOURS`).
        screens: [N, 210, 160, 3] or [210, 160, 3] uint8 RGB screens.
        play_rows: the rows kept (the model's crop), first and one past the last.
        tolerance: largest per-channel difference from a table colour still counted (0: exact colours,
            which is all the emulator shows).

    Returns:
        {class name: bool [N, rows, 160]} for each class of the game, and "objects": their union.
    """
    if game not in OBJECT_COLOURS:
        raise ValueError(f"no object colours for {game!r}; games with colour tables: {', '.join(OBJECT_COLOURS)}")
    screens = np.asarray(screens)
    if screens.shape[-3:] != (210, 160, 3):
        raise ValueError(f"screens must have shape (N, 210, 160, 3), got {screens.shape}")
    area = screens.reshape(-1, 210, 160, 3)[:, play_rows[0]:play_rows[1]].astype(np.int16)
    first, stop = OBJECT_ROWS.get(game, play_rows)
    rows = np.arange(play_rows[0], play_rows[1])
    allowed = ((rows >= first) & (rows < stop))[None, :, None]
    masks = {}
    for name, colours in OBJECT_COLOURS[game].items():
        mask = np.zeros(area.shape[:-1], bool)
        for rgb in colours:
            hit = np.all(np.abs(area - np.array(rgb, np.int16)) <= tolerance, axis=-1)
            mask |= hit & (hit.mean(axis=(1, 2)) <= FLASH_SHARE)[:, None, None]
        masks[name] = mask & allowed
    masks["objects"] = np.logical_or.reduce(list(masks.values()))
    return masks


def downsample_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Shrink boolean masks [..., H, W] to [..., h, w] by whole blocks: a cell is on if any pixel of it is.

    The model's downsampling averages blocks, so a cell the ball touches at all still shows the ball.
    """
    mask = np.asarray(mask, bool)
    big_h, big_w = mask.shape[-2:]
    h, w = shape
    if big_h % h or big_w % w:
        raise ValueError(f"mask size {(big_h, big_w)} is not a whole multiple of {(h, w)}")
    blocks = mask.reshape(*mask.shape[:-2], h, big_h // h, w, big_w // w)
    return blocks.any(axis=(-3, -1))
