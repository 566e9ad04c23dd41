"""Learning-curve arithmetic over a run's finished games: plain functions of arrays.

A curve is the mean raw score of the last `n` finished games, as a function of the frames trained when
each game ended. Comparing candidates at one frame budget needs its value at a few frame marks and its
area; both are undefined (NaN) for a run that has not reached the mark.
"""

from __future__ import annotations

import numpy as np


def rolling_mean(scores: np.ndarray, n: int = 100) -> np.ndarray:
    """Mean of the last `n` scores at each game (fewer at the start): out[i] = mean(scores[max(0, i-n+1):i+1])."""
    if n < 1:
        raise ValueError(f"n must be >= 1 games, got {n}")
    scores = np.asarray(scores, dtype=np.float64)
    c = np.cumsum(np.insert(scores, 0, 0.0))
    idx = np.arange(1, len(scores) + 1)
    lo = np.maximum(0, idx - n)
    return (c[idx] - c[lo]) / (idx - lo)


def value_at(frames: np.ndarray, curve: np.ndarray, mark: float) -> float:
    """The curve's value at the last game that ended at or before `mark` frames; NaN if the run ended before it.

    A run "reached" the mark when its last recorded game ended at or after 99% of it: the trainer stops
    within one update of its budget, so its final game usually ends a little short.
    """
    frames, curve = np.asarray(frames, dtype=np.float64), np.asarray(curve, dtype=np.float64)
    if len(frames) == 0 or frames[-1] < 0.99 * mark:
        return float("nan")
    at = np.searchsorted(frames, mark, side="right") - 1
    return float(curve[at]) if at >= 0 else float("nan")


def area_under(frames: np.ndarray, curve: np.ndarray, budget: float) -> float:
    """Mean height of the curve over [first game, budget] frames (a step function; higher learns sooner).

    It is the area under the curve divided by the frames it spans, so it is in score units and
    comparable across candidates of one budget. NaN if the run did not reach the budget (see `value_at`).
    """
    frames, curve = np.asarray(frames, dtype=np.float64), np.asarray(curve, dtype=np.float64)
    if len(frames) == 0 or frames[-1] < 0.99 * budget:
        return float("nan")
    keep = frames <= budget
    edges = np.append(frames[keep], max(budget, frames[keep][-1]))
    widths = np.diff(edges)
    if widths.sum() <= 0:
        return float(curve[keep][-1])
    return float((curve[keep] * widths).sum() / widths.sum())
