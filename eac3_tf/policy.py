"""Turning a policy's logits into actions, in numpy only (shared by workers, evaluation and the player)."""

from __future__ import annotations

import numpy as np


def sample_actions(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row drawn from softmax(logits), by the Gumbel-max trick with `rng`.

    Drawing in numpy keeps every source of randomness in a generator whose state a checkpoint can save.
    """
    gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, size=np.shape(logits))))
    return np.argmax(np.asarray(logits) + gumbel, axis=-1).astype(np.int32)


def greedy_actions(logits: np.ndarray) -> np.ndarray:
    """The most probable action per row."""
    return np.argmax(logits, axis=-1).astype(np.int32)
