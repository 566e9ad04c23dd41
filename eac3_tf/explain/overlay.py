"""Array-level drawing of Grad-CAM figures: play-area crops, map upsampling and heat overlays (no TensorFlow).

Everything here is a pure function of numpy arrays, so a test can check each pixel; laying panels out,
captions and file formats belong to `eac3_tf.explain.figures`.
"""

from __future__ import annotations

import matplotlib
import numpy as np

from eac3_tf.config import ObsConfig
from eac3_tf.preprocess import SCREEN_SHAPE, check_screens


def play_area(screens: np.ndarray, obs: ObsConfig) -> np.ndarray:
    """The RGB play area (rows `obs.crop_top` .. `obs.crop_bottom - 1`) of ALE screens.

    Args:
        screens: uint8 (N, 210, 160, 3) or one (210, 160, 3) screen.
        obs: the observation config whose crop the model saw.

    Returns:
        uint8 (N, crop_bottom - crop_top, 160, 3), a copy: (N, 160, 160, 3) for the presets' crop.
    """
    return check_screens(screens)[:, obs.crop_top:obs.crop_bottom].copy()


def embed_play_area(areas: np.ndarray, obs: ObsConfig) -> np.ndarray:
    """Place play areas back into black 210x160 screens at the crop rows.

    Lets frames saved as play areas go through `preprocess.model_inputs`, which takes full screens:
    the crop then removes exactly the black rows added here, so the model input is unchanged.
    """
    areas = np.asarray(areas)
    rows = obs.crop_bottom - obs.crop_top
    if areas.dtype != np.uint8:
        raise ValueError(f"play areas must be uint8 RGB in [0, 255], got dtype {areas.dtype}")
    if areas.ndim != 4 or areas.shape[1:] != (rows, SCREEN_SHAPE[1], 3):
        raise ValueError(f"play areas must have shape (N, {rows}, {SCREEN_SHAPE[1]}, 3), got {areas.shape}")
    screens = np.zeros((areas.shape[0], *SCREEN_SHAPE), np.uint8)
    screens[:, obs.crop_top:obs.crop_bottom] = areas
    return screens


def _check_map(map_: np.ndarray, name: str = "map") -> np.ndarray:
    m = np.asarray(map_)
    if m.ndim not in (2, 3) or m.size == 0:
        raise ValueError(f"{name} must be a non-empty [H, W] or [N, H, W] array, got shape {m.shape}")
    if not np.issubdtype(m.dtype, np.floating) and not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"{name} must hold real numbers in [0, 1], got dtype {m.dtype}")
    m = m.astype(np.float64)
    if not np.all(np.isfinite(m)) or m.min() < 0.0 or m.max() > 1.0:
        raise ValueError(f"{name} must hold finite values in [0, 1] (Grad-CAM maps are normalised), "
                         f"got values in [{np.nanmin(m):g}, {np.nanmax(m):g}]")
    return m


def upsample_map(map_: np.ndarray, size: tuple[int, int] = (160, 160)) -> np.ndarray:
    """Enlarge a Grad-CAM map from model-input resolution to the play area by nearest neighbour.

    Nearest, because the model input is the play area area-averaged over k x k blocks
    (k = `obs.downsample`): each map pixel belongs to exactly one block, so repeating it over the block
    draws the map where the model's pixel came from and invents no values. The maps from
    `gradcam.explain` are already bilinearly smoothed up from the conv layer, so this adds no blockiness
    a reader can see at k = 2.

    Args:
        map_: float [h, w] or [N, h, w] in [0, 1].
        size: (H, W), integer multiples of (h, w).

    Returns:
        float32 [H, W] or [N, H, W] with the same values.
    """
    m = _check_map(map_)
    h, w = m.shape[-2:]
    if len(size) != 2 or any(int(s) <= 0 for s in size):
        raise ValueError(f"size must be a pair (H, W) of positive integers, got {size}")
    big_h, big_w = int(size[0]), int(size[1])
    if big_h % h or big_w % w:
        raise ValueError(f"size {big_h}x{big_w} must be an integer multiple of the map's {h}x{w} "
                         "(the play area is the model input times obs.downsample)")
    return m.repeat(big_h // h, axis=-2).repeat(big_w // w, axis=-1).astype(np.float32)


def colormap_named(cmap: str):
    """Matplotlib's colormap of that name; ValueError naming the accepted ones otherwise."""
    try:
        return matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"unknown colormap {cmap!r}; e.g. jet, turbo, inferno, viridis "
                         "(any name in matplotlib.colormaps)") from None


def colormap(map_: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """Map values in [0, 1] to RGB in [0, 1] by a matplotlib colormap: float64 [..., 3]."""
    m = _check_map(map_)
    return colormap_named(cmap)(m)[..., :3]


def heat_overlay(rgb: np.ndarray, map_: np.ndarray, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a colormapped heatmap over an RGB image, as Grad-CAM figures draw it.

    Every pixel is blended, including where the map is 0: a zero map shows the colormap's low end (dark
    blue for jet) at weight `alpha`, so a frame with no attention looks uniformly tinted rather than
    untouched, and all frames of a figure share one look. Per channel:

        out = round((1 - alpha) * rgb + alpha * 255 * cmap(map)),   rounding halves up.

    Args:
        rgb: uint8 [H, W, 3] or [N, H, W, 3].
        map_: float [H, W] or [N, H, W] in [0, 1], the same size as `rgb` (see `upsample_map`).
        alpha: weight of the heatmap in [0, 1].
        cmap: a matplotlib colormap name.

    Returns:
        uint8 array shaped like `rgb`.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim not in (3, 4) or rgb.shape[-1] != 3:
        raise ValueError(f"rgb must be uint8 [H, W, 3] or [N, H, W, 3], got {rgb.dtype} {rgb.shape}")
    m = np.asarray(map_)
    if m.shape != rgb.shape[:-1]:
        raise ValueError(f"map shape {m.shape} must equal the image's {rgb.shape[:-1]}; "
                         "upsample it first (overlay.upsample_map)")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    heat = colormap(m, cmap) * 255.0
    out = (1.0 - alpha) * rgb.astype(np.float64) + alpha * heat
    return np.floor(out + 0.5).clip(0, 255).astype(np.uint8)
