"""Frames a user brings to be explained: ALE screens or play areas from .npy/.npz files or a folder of PNGs.

Checked before any model work, so a wrong shape, dtype or file fails in one line naming what is accepted;
every frame comes back as a full 210x160 RGB screen, the form the preprocessing and the drawing take.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eac3_tf.config import ObsConfig
from eac3_tf.errors import ExplainError, PathError
from eac3_tf.explain import overlay


def load_frames(spec: str, obs: ObsConfig) -> np.ndarray:
    """Read the frames at `spec` as uint8 screens (N, 210, 160, 3); play areas are put back at the crop rows."""
    p = Path(spec)
    accepted = (f"accepted: uint8 RGB 210x160x3 ALE screens or {obs.crop_bottom - obs.crop_top}x160x3 play areas, "
                "in an .npy/.npz or a folder of PNGs")
    if not p.exists():
        raise PathError(f"--frames {p} does not exist; {accepted}")
    if p.is_dir():
        pngs = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() == ".png")
        if not pngs:
            raise ExplainError(f"--frames folder {p} holds no .png files; {accepted}")
        import imageio.v3 as iio

        images = []
        for q in pngs:
            try:
                image = np.asarray(iio.imread(q))
            except Exception as exc:  # imageio raises many types for a bad file
                raise ExplainError(f"--frames {q} is not a readable PNG ({type(exc).__name__}); {accepted}") from None
            if image.ndim == 3 and image.shape[-1] == 4:
                image = image[..., :3]  # drop alpha
            images.append(image)
        shapes = sorted({im.shape for im in images})
        if len(shapes) > 1:
            raise ExplainError(f"--frames folder {p} mixes image sizes {shapes}; {accepted}")
        frames = np.stack(images)
    elif p.suffix.lower() in (".npy", ".npz"):
        try:
            loaded = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ExplainError(f"--frames {p} does not load as a numpy file ({exc}); {accepted}") from None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                keys = list(loaded.files)
                if "screens" in keys or len(keys) == 1:
                    frames = loaded["screens" if "screens" in keys else keys[0]]
                else:
                    raise ExplainError(f"--frames {p} holds arrays {keys}; give one array, or name it 'screens'")
        else:
            frames = loaded
    else:
        raise ExplainError(f"--frames {p} is neither .npy, .npz nor a folder of PNGs; {accepted}")
    if frames.ndim == 3:
        frames = frames[None]
    rows = obs.crop_bottom - obs.crop_top
    if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[1:] not in ((210, 160, 3), (rows, 160, 3)):
        shown = frames.shape[1:] if frames.ndim == 4 else frames.shape
        raise ExplainError(f"--frames {p} holds frames of shape {shown} (array {frames.shape}); {accepted}")
    if frames.dtype != np.uint8:
        values = f" in {frames.min():.4g}..{frames.max():.4g}" if frames.dtype.kind in "biuf" else ""
        raise ExplainError(f"--frames {p} holds {frames.dtype} values{values}; {accepted}")
    return frames if frames.shape[1] == 210 else overlay.embed_play_area(frames, obs)
