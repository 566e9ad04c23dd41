"""Mean and spread of a measure over frames, with the frames where it is undefined counted, not dropped silently."""

from __future__ import annotations

import numpy as np


def stats(x: np.ndarray) -> dict:
    """{"mean", "std", "n", "undefined"} over the finite values of x (mean and std None when there are none)."""
    x = np.asarray(x, np.float64).reshape(-1)
    ok = x[np.isfinite(x)]
    return {"mean": float(ok.mean()) if len(ok) else None, "std": float(ok.std()) if len(ok) else None,
            "n": int(len(ok)), "undefined": int(len(x) - len(ok))}
