"""Is a map faithful? Deletion and insertion (Petsiuk et al. 2018) and cascading randomisation (Adebayo et al. 2018).

* `deletion_insertion`: the action's probability (and the critic's value) as the most salient pixels are removed
  from (deletion) or restored into (insertion) a blurred copy of the frame; a faithful map makes deletion fall
  fast (low AUC) and insertion rise fast (high AUC).
* `cascading_randomization`: a map that barely changes while the network's weights are randomised from the top
  down explains the input, not the model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from eac3_tf.explain.measures import rank_correlation
from eac3_tf.explain.perturbation import action_indices, blend_outputs, frames_batch, gaussian_blur, policy_logits
from eac3_tf.explain.settings import BLUR_SIGMA, DELETION_STEPS

# A map function for the sanity checks: (model, frames [n, H, W, C], action) -> maps [n, H, W].
MapFn = Callable[[keras.Model, np.ndarray, int], np.ndarray]



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
                       steps: int = DELETION_STEPS, baseline: str = "blur", blur_sigma: float = BLUR_SIGMA,
                       seed: int = 0, batch_size: int = 256) -> DeletionInsertion:
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
    x = frames_batch(model, frames)
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
    del_logits, del_values = blend_outputs(model, x, base, top, batch_size)
    ins_logits, ins_values = blend_outputs(model, base, x, top, batch_size)
    # the deletion curve's first copy and the insertion curve's last copy are the frame itself
    value_deletion, value_insertion = np.abs(del_values - del_values[:, :1]), np.abs(ins_values - ins_values[:, -1:])
    a = action_indices(action, n, del_logits.shape[-1])
    idx = np.arange(n)
    deletion = tf.nn.softmax(del_logits, axis=-1).numpy()[idx, :, a]
    insertion = tf.nn.softmax(ins_logits, axis=-1).numpy()[idx, :, a]
    return DeletionInsertion(fractions=fractions, deletion=deletion, insertion=insertion,
                             deletion_auc=np.trapezoid(deletion, fractions, axis=-1),
                             insertion_auc=np.trapezoid(insertion, fractions, axis=-1),
                             value_deletion=value_deletion, value_insertion=value_insertion,
                             value_deletion_auc=np.trapezoid(value_deletion, fractions, axis=-1),
                             value_insertion_auc=np.trapezoid(value_insertion, fractions, axis=-1))


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


def maps_foraction_indices(map_fn: MapFn, model: keras.Model, frames: np.ndarray, actions: np.ndarray) -> np.ndarray:
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
    from eac3_tf.explain.gradcam import grad_cam

    return grad_cam(model, frames, target=action)


def randomization_stages(model: keras.Model, split_heads: bool = False) -> list[str | tuple[str, ...]]:
    """The weighted layers from the top: [("logits", "value"), "hidden", "convK", ..., "conv1"].

    With `split_heads` the policy head and the value head are two stages, policy first: a map of an action
    that moves when only the value head is re-drawn depends on weights the action's logit never uses.
    """
    names = [layer.name for layer in model.layers if layer.weights]
    heads = tuple(n for n in ("logits", "value") if n in names)
    first = list(heads) if split_heads else [heads]
    return [*first, *[n for n in reversed(names) if n not in heads]]


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
        map_fn: (model, frames, action) -> maps [n, H, W]; Grad-CAM (`eac3_tf.explain.gradcam.grad_cam`) by default.
        seed: base seed of the re-initialisations.

    Returns:
        The stages' maps and correlations (`Randomization`).
    """
    map_fn = map_fn or _grad_cam_map
    x = frames_batch(model, frames)
    actions = policy_logits(model, x).argmax(axis=-1)
    original = maps_foraction_indices(map_fn, model, x, actions)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    names, stage_maps = [], []
    for k, stage in enumerate(layers_top_down):
        group = [stage] if isinstance(stage, str) else list(stage)
        for j, name in enumerate(group):
            reinitialise_layer(copy.get_layer(name), seed + 100 * k + 10 * j)
        names.append("+".join(group))
        stage_maps.append(maps_foraction_indices(map_fn, copy, x, actions))
    maps = np.stack(stage_maps)
    correlations = np.stack([rank_correlation(m, original) for m in maps])
    return Randomization(stages=names, actions=actions, original=original, maps=maps, correlations=correlations)
