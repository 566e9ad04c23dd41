"""Saliency methods for actor-critic Keras models behind one call, `explain(model, frames, method=...)`.

Every method explains one target score y (the greedy action's logit, an action's logit, the critic's
value, or a contrast logit_a - logit_b; see `eac3_tf.explain.gradcam`) and returns raw maps [N, h, w] >= 0, which
one path (`gradients.normalise_upsample`) turns into maps in [0, 1] at the frames' resolution. With A^k
the k-th channel of the layer's output and g^k = dy/dA^k:

* gradcam (Selvaraju et al. 2017): w_k = mean_ij g^k_ij, L = ReLU(sum_k w_k A^k); `eac3_tf.explain.gradcam` itself.
* gradcam++ (Chattopadhay et al. 2018, eq. 19): see `grad_cam_pp_map`.
* hirescam (Draelos & Carin 2020): L = ReLU(sum_k g^k * A^k), element-wise.
* xgradcam (Fu et al. 2020): w_k = sum_ij A^k_ij g^k_ij / sum_ij A^k_ij, L = ReLU(sum_k w_k A^k).
* layercam (Jiang et al. 2021): L = ReLU(sum_k ReLU(g^k) * A^k).
* eigencam (Muhammad & Yeasin 2020): the first principal component of A; no gradient, no target.
* scorecam (Wang et al. 2020): each channel masks the input and is weighted by the target's score on it.
* perturbation (Greydanus et al. 2018): `eac3_tf.explain.perturbation`'s blur perturbations, scored on the target.
* smoothgrad (Smilkov et al. 2017): |dy/dx| averaged over noisy copies of the input.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import keras
import numpy as np

from eac3_tf.explain import gradcam, names, perturbation
from eac3_tf.explain import gradients as g
from eac3_tf.explain.gradcam import CamResult, Target


@dataclasses.dataclass(frozen=True)
class MethodResult(CamResult):
    """A `CamResult` (maps, actions, probs, values, layer) with the raw maps and the method's name.

    Attributes:
        raw: float32 [N, h, w] >= 0, the map at the layer's resolution after its ReLU, before normalising
            and upsampling. For smoothgrad (h, w) is the input's; for perturbation it is the grid of
            perturbation centres (ceil(H / stride), ceil(W / stride)). `layer` is "input" for both.
        method: the method's name, one of `METHODS`.
    """

    raw: np.ndarray
    method: str


class _Run(NamedTuple):
    raw: Any
    logits: Any
    values: Any
    layer: str
    maps: Any = None  # None: made from raw by `gradients.normalise_upsample`


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0).astype(np.float32)


def _weighted(acts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ReLU(sum_k w_k A^k) for acts [N, h, w, K] and weights [N, K]."""
    return _relu(np.einsum("nhwk,nk->nhw", acts, weights))


# --- the CAM family: raw maps from A and dy/dA ------------------------------------------------------------


def grad_cam_pp_map(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Grad-CAM++ (Chattopadhay et al. 2018, eq. 19), the closed form pytorch-grad-cam uses.

    With y = exp(S) the paper's higher derivatives are powers of g = dS/dA and exp(S) cancels:
    alpha^k_ij = g^2 / (2 g^2 + sum_ab A^k_ab g^3) (0 where g = 0), w_k = sum_ij alpha^k_ij ReLU(g^k_ij),
    L = ReLU(sum_k w_k A^k). A zero denominator gives alpha = 0 rather than pytorch-grad-cam's 1e-6 offset.
    """
    g2 = grads * grads
    total = acts.sum(axis=(1, 2), keepdims=True)
    alpha = g.divide(g2, 2.0 * g2 + total * g2 * grads)
    return _weighted(acts, (alpha * np.maximum(grads, 0.0)).sum(axis=(1, 2)))


def hires_cam_map(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """HiResCAM (Draelos & Carin 2020): L = ReLU(sum_k g^k * A^k), the gradient kept per cell."""
    return _relu((grads * acts).sum(axis=-1))


def xgrad_cam_map(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """XGrad-CAM (Fu et al. 2020, eq. 9): w_k = sum_ij (A^k_ij / sum_ab A^k_ab) g^k_ij (0 for an all-zero A^k)."""
    return _weighted(acts, g.divide((acts * grads).sum(axis=(1, 2)), acts.sum(axis=(1, 2))))


def layer_cam_map(acts: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """LayerCAM (Jiang et al. 2021, eqs. 5-6): L = ReLU(sum_k ReLU(g^k) * A^k)."""
    return _relu((np.maximum(grads, 0.0) * acts).sum(axis=-1))


def eigen_cam_map(acts: np.ndarray) -> np.ndarray:
    """Eigen-CAM (Muhammad & Yeasin 2020): A [h*w, K] centred per channel, projected on its first principal axis.

    Centred as pytorch-grad-cam does (the paper projects the uncentred A on its first right singular
    vector). An axis has no sign of its own, so the projection's sign is chosen to correlate positively
    with the channels' mean map (1/K sum_k A^k): the map follows where the layer is active, whichever
    sign the SVD returns (a tie, e.g. a constant mean map, keeps the SVD's). Then ReLU.
    """
    n, h, w, k = acts.shape
    x = acts.reshape(n, h * w, k).astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    axis = np.linalg.svd(x, full_matrices=False)[2][:, 0]  # [N, K], the first right singular vector
    proj = np.einsum("npk,nk->np", x, axis)
    mean = acts.mean(axis=-1).reshape(n, h * w)
    sign = np.where((proj * (mean - mean.mean(axis=1, keepdims=True))).sum(axis=1) < 0, -1.0, 1.0)
    return _relu(sign[:, None] * proj).reshape(n, h, w)


_FROM_GRADIENTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "gradcam++": grad_cam_pp_map, "hirescam": hires_cam_map, "xgradcam": xgrad_cam_map, "layercam": layer_cam_map}


# --- runners: (model, float32 frames, target, layer, **options) -> _Run ---------------------------------------


def _gradcam(model: keras.Model, frames: np.ndarray, target: Target, layer: str | None) -> _Run:
    cams, maps, logits, values, name = gradcam._run(model, frames, target, layer)
    return _Run(cams.numpy(), logits.numpy(), values.numpy(), name, maps.numpy())


def _from_gradients(name: str) -> Callable[..., _Run]:
    def run(model: keras.Model, frames: np.ndarray, target: Target, layer: str | None) -> _Run:
        p = g.layer_pass(model, frames, gradcam.resolve_layer(model, layer), target)
        return _Run(_FROM_GRADIENTS[name](p.acts, p.grads), p.logits, p.values, p.layer)

    return run


def _eigencam(model: keras.Model, frames: np.ndarray, target: Target, layer: str | None) -> _Run:
    p = g.forward_pass(model, frames, gradcam.resolve_layer(model, layer))
    g.target_coef(target, p.logits)  # checked like every method's target, though the map ignores it
    return _Run(eigen_cam_map(p.acts), p.logits, p.values, p.layer)


def _scorecam(model: keras.Model, frames: np.ndarray, target: Target, layer: str | None, *,
              batch_size: int = 256) -> _Run:
    """Score-CAM (Wang et al. 2020), batched: every masked copy of every frame in calls of `batch_size` copies.

    H^k = min-max normalised bilinear upsampling of A^k (0 for a constant channel); the k-th copy is
    X * H^k on every channel of the stack; s_k = y(X * H^k) - y(X_b), X_b the black frame (the paper's
    increase of confidence). Logit targets take w = softmax_k(s_k), as pytorch-grad-cam does (the baseline
    cancels in it); the value has no softmax behind it, so it keeps w_k = s_k. L = ReLU(sum_k w_k A^k).
    """
    _positive("batch_size", batch_size)
    p = g.forward_pass(model, frames, gradcam.resolve_layer(model, layer))
    coef = g.target_coef(target, p.logits)
    masks = g.upsample(p.acts, frames.shape[1:3])  # [N, H, W, K]
    low, high = masks.min(axis=(1, 2), keepdims=True), masks.max(axis=(1, 2), keepdims=True)
    masks = g.divide(masks - low, high - low).transpose(0, 3, 1, 2)
    masks = np.concatenate([masks, np.zeros_like(masks[:, :1])], axis=1)  # copy K: X_b, all black
    logits, values = perturbation.blend_outputs(model, np.zeros_like(frames), frames, masks, batch_size)
    scores = g.target_scores(coef[:, None], logits, values)  # [N, K + 1]
    gain = scores[:, :-1] - scores[:, -1:]
    weights = gain if g.is_value(target) else g.softmax(gain, axis=-1)
    return _Run(_weighted(p.acts, weights.astype(np.float32)), p.logits, p.values, p.layer)


def _perturbation(model: keras.Model, frames: np.ndarray, target: Target, layer: str | None, *,
                  patch: float = 5.0, stride: int = 5, sigma: float = 3.0, batch_size: int = 256) -> _Run:
    """Greydanus et al. (2018) as `perturbation.perturbation_saliency`, scored on the target: S = 0.5 (y(I) - y(phi))^2.

    The raw map is the score grid, one cell per mask centre (ceil(H / stride) x ceil(W / stride)); the
    centres sit where bilinear upsampling puts the cells, so the maps equal `perturbation_saliency`'s when
    `stride` divides H and W. `perturbation_saliency`'s target None is all the logits; here it is, as
    for every method, the greedy action.
    """
    _input_only("perturbation", layer)
    for name, value in (("patch", patch), ("stride", stride), ("sigma", sigma), ("batch_size", batch_size)):
        _positive(name, value)
    n, h, w = frames.shape[:3]
    blurred = perturbation.gaussian_blur(frames, sigma)
    masks, (rows, cols) = perturbation.perturbation_masks(h, w, patch, stride)
    base_logits, base_values = perturbation.blend_outputs(model, frames, blurred, np.zeros((1, h, w), np.float32),
                                                       batch_size)
    logits, values = perturbation.blend_outputs(model, frames, blurred, masks, batch_size)  # [N, P, A], [N, P]
    coef = g.target_coef(target, base_logits[:, 0])[:, None]
    change = g.target_scores(coef, logits, values) - g.target_scores(coef, base_logits, base_values)
    raw = (0.5 * change**2).reshape(n, rows, cols).astype(np.float32)
    return _Run(raw, base_logits[:, 0], base_values[:, 0], g.INPUT)


def _smoothgrad(model: keras.Model, frames: np.ndarray, target: Target, layer: str | None, *,
                noise: float = 0.15, samples: int = 25, seed: int = 0) -> _Run:
    """SmoothGrad (Smilkov et al. 2017, eq. 3): mean over `samples` copies x + N(0, (noise * 255)^2) of |dy/dx|.

    Summed over the stack's channels; noise is a share of the pixel range [0, 255] (Smilkov et al. use
    10-20%). The greedy action is the clean frame's, the same for every noisy copy; noise 0 gives the
    plain gradient's magnitude (Simonyan et al. 2014).
    """
    _input_only("smoothgrad", layer)
    _positive("samples", samples)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    clean = g.forward_pass(model, frames, g.INPUT)
    coef = g.target_coef(target, clean.logits)
    rng = np.random.default_rng(seed)
    total = np.zeros(frames.shape[:3], np.float32)
    for _ in range(samples):
        noisy = (frames + rng.normal(0.0, noise * 255.0, frames.shape)).astype(np.float32)
        total += np.abs(g.coef_pass(model, noisy, g.INPUT, coef).grads).sum(axis=-1)
    return _Run(total / samples, clean.logits, clean.values, g.INPUT)


def _input_only(method: str, layer: str | None) -> None:
    if layer is not None:
        raise ValueError(f"method {method!r} works on the input frames; layer must be None, got {layer!r}")


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


_RUNNERS: dict[str, Callable[..., _Run]] = {
    "gradcam": _gradcam, **{name: _from_gradients(name) for name in _FROM_GRADIENTS}, "eigencam": _eigencam,
    "scorecam": _scorecam, "perturbation": _perturbation, "smoothgrad": _smoothgrad}
METHODS: tuple[str, ...] = names.METHODS
if set(_RUNNERS) != set(METHODS):  # one list of names: the runners and the TF-free table agree
    raise ImportError(f"saliency runners {sorted(_RUNNERS)} differ from eac3_tf.explain.names {sorted(METHODS)}")


def _options(run: Callable[..., _Run]) -> list[str]:
    return [p.name for p in inspect.signature(run).parameters.values() if p.kind is p.KEYWORD_ONLY]


def explain(model: keras.Model, frames: np.ndarray, method: str = "gradcam", target: Target = None,
            layer: str | None = None, **options: Any) -> MethodResult:
    """Maps of `method` at the frames' resolution, the raw maps, and the policy's action, probabilities and value.

    Args:
        model: a Keras functional model whose outputs are [logits, value] or {"logits", "value"}, taking raw
            frames in [0, 255].
        frames: raw frames, uint8 or float in [0, 255], [N, *input] or one frame.
        method: one of `METHODS`.
        target: what y is: None (each frame's greedy action), an action index, "value", or (a, b) for
            logit_a - logit_b; as in `eac3_tf.explain.gradcam.grad_cam`. Eigen-CAM's map does not depend on it.
        layer: the layer whose output is A for the CAM methods and Score-CAM; by default a residual
            torso's output ("torso"), else the last Conv2D, as Grad-CAM's. None for perturbation and smoothgrad.
        **options: the method's own: scorecam `batch_size` (masked copies per model call); perturbation
            `patch`, `stride`, `sigma`, `batch_size`; smoothgrad `noise`, `samples`, `seed`.

    Returns:
        A `MethodResult`; maps float32 [N, H, W] in [0, 1], each divided by its own max (all-zero stays zero).

    Raises:
        ValueError: on an unknown method or option, bad frames, layer or target.
    """
    if method not in _RUNNERS:
        raise ValueError(f"unknown method {method!r}; methods: {', '.join(METHODS)}")
    run = _RUNNERS[method]
    unknown = sorted(set(options) - set(_options(run)))
    if unknown:
        accepted = ", ".join(_options(run)) or "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for method {method!r}; its options: {accepted}")
    batch = g.check_frames(model, frames)
    out = run(model, frames if method == "gradcam" else batch, target, layer, **options)
    raw = np.asarray(out.raw, np.float32)
    maps = out.maps if out.maps is not None else g.normalise_upsample(raw, batch.shape[1:3])
    logits = np.asarray(out.logits, np.float32)
    return MethodResult(maps=np.asarray(maps, np.float32), actions=logits.argmax(axis=-1).astype(np.int64),
                        probs=g.softmax(logits).astype(np.float32), values=np.asarray(out.values, np.float32),
                        layer=out.layer, raw=raw, method=method)
