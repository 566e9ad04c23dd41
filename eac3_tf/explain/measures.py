"""How a map relates to object masks and to another map: mass, pointing, offsets, rank correlation. Numpy only."""

from __future__ import annotations

import math

import numpy as np


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """Each map [..., h, w] divided by its own max, float32 in [0, 1]; an all-zero map stays zero (no 0/0).

    The one normalisation of the package: the methods' raw maps, the page's layer-resolution maps and the
    perturbation maps all go through it, as `gradcam.explain` normalises before resizing.
    """
    maps = np.asarray(maps)
    peak = maps.max(axis=(-2, -1), keepdims=True)
    out = np.divide(maps, peak, out=np.zeros(maps.shape, np.result_type(maps, np.float32)), where=peak > 0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def random_maps(n: int, shape: tuple[int, int], seed: int) -> np.ndarray:
    """Uniform noise maps float32 [n, H, W]: what a saliency method scores by chance."""
    return np.random.default_rng(seed).random((n, *shape)).astype(np.float32)


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


def pointing_rate(maps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> float:
    """The pointing game's score over a batch [N, H, W]: the share of maps whose maximum falls in their mask."""
    return float(np.mean(pointing_game(maps, masks, tolerance)))


def mass_ratio(maps: np.ndarray, masks: np.ndarray, massless_area: bool = True) -> tuple[np.ndarray, float]:
    """Each map's `object_mass` of a batch [N, H, W], and the mean share over the masks' mean share of the area.

    The ratio says how much the maps favour the masks: 1.0 is what maps spread evenly score, whatever the
    objects' size. Maps without mass (NaN share) are left out of the mean share; `massless_area` says
    whether their masks still count in the mean area: True divides every map by the same area (the frames'
    objects, whatever the map), False takes share and area from the same frames. The ratio is NaN where no
    map has mass or the masks have no area.
    """
    mass = object_mass(maps, masks)
    area = np.asarray(masks, bool).mean(axis=(-2, -1))
    ok = np.isfinite(mass)
    share = mass if massless_area else mass[ok]
    area = area if massless_area else area[ok]
    if not ok.any() or area.mean() <= 0:
        return mass, math.nan
    return mass, float(np.nanmean(share) / area.mean())


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
