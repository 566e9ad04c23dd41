"""Catch: a tiny visual game with a known optimal return, to prove that the trainer learns.

A ball falls one row per step from a random column of a `rows` x `cols` screen; the agent moves a
paddle on the bottom row (0 = left, 1 = stay, 2 = right). Catching the ball pays +1, missing it -1,
and ends the episode, so the optimal return is +1 and a random policy scores well below 0. It follows
the `eac3_tf.envs.BatchEnv` contract, so the very worker code that trains Atari trains it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

OPTIMAL_RETURN = 1.0


class CatchBatchEnv:
    """N independent games of Catch, rendered as (rows, cols, 1) uint8 frames."""

    num_actions = 3
    frames_per_step = 1

    def __init__(self, num_envs: int, rows: int = 10, cols: int = 5) -> None:
        """Create `num_envs` games on a `rows` x `cols` screen."""
        self.num_envs, self.rows, self.cols = num_envs, rows, cols
        self.obs_shape = (rows, cols, 1)
        self._rng = np.random.default_rng(0)
        self._ball_row = np.zeros(num_envs, dtype=np.int64)
        self._ball_col = np.zeros(num_envs, dtype=np.int64)
        self._paddle = np.zeros(num_envs, dtype=np.int64)
        self.lives_lost = np.zeros(num_envs, dtype=bool)  # one life per game

    def _start(self, idx: np.ndarray) -> None:
        self._ball_row[idx] = 0
        self._ball_col[idx] = self._rng.integers(0, self.cols, size=len(idx))
        self._paddle[idx] = self.cols // 2

    def _render(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, self.rows, self.cols, 1), dtype=np.uint8)
        envs = np.arange(self.num_envs)
        obs[envs, self._ball_row, self._ball_col, 0] = 255
        obs[envs, self.rows - 1, self._paddle, 0] = 255
        return obs

    def reset(self, seed: int) -> np.ndarray:
        """Start every game; the ball columns follow `seed`."""
        self._rng = np.random.default_rng(seed)
        self._start(np.arange(self.num_envs))
        return self._render()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Move paddles and balls; finished games restart in the same step."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or actions.min() < 0 or actions.max() > 2:
            raise ValueError(f"actions must be {self.num_envs} ints in 0..2, got {actions!r}")
        self._paddle = np.clip(self._paddle + actions - 1, 0, self.cols - 1)
        self._ball_row += 1
        dones = self._ball_row == self.rows - 1
        rewards = np.where(self._ball_col == self._paddle, 1.0, -1.0).astype(np.float32) * dones
        self._start(np.flatnonzero(dones))
        return self._render(), rewards, dones, np.zeros(self.num_envs, dtype=bool)

    def close(self) -> None:
        """Nothing to free."""


def toy_model_config():
    """A small E-A3C-style network (conv + max-pool) for Catch's 10x5 frames."""
    from eac3_tf.config import ConvSpec, ModelConfig, ObsConfig

    return ModelConfig(name="toy", obs=ObsConfig(grayscale=True, stack=1), convs=(ConvSpec(16, 3),), dense=64)


# How Catch is trained wherever a learnt toy agent is needed (the learning test, the quick start, the
# faithfulness tool's pointing game): 2 workers x 16 games, a higher step size than Atari's.
CATCH_ENVS = 16
CATCH_LEARNING_RATE = 2e-3
CATCH_FRAMES = 100_000


def catch_envs(worker_id: int) -> CatchBatchEnv:
    """`env_fn` of a Catch run (a top-level function, so Ray can ship it to its workers)."""
    return CatchBatchEnv(CATCH_ENVS)


def catch_model():
    """`model_fn` of a Catch run: a fresh `toy_model_config` network."""
    from eac3_tf.model import build_model

    return build_model((10, 5, 1), 3, toy_model_config())


def train_catch(logdir: str, seed: int = 0, frames: int = CATCH_FRAMES, workers: int = 2,
                log: Callable[[str], None] = print, log_every: float = 60.0, backend: str = "threads"):
    """Train a Catch agent with the A3C that trains Atari (threads, or Ray); returns its `TrainResult`."""
    import tensorflow as tf

    from eac3_tf.config import A3CConfig, RunConfig
    from eac3_tf.train import train

    tf.keras.utils.set_random_seed(seed)
    run = RunConfig(frames=frames, workers=workers, logdir=logdir, seed=seed, checkpoint_every=frames // 2,
                    log_every=log_every)
    return train(catch_envs, catch_model, A3CConfig(envs_per_worker=CATCH_ENVS, learning_rate=CATCH_LEARNING_RATE),
                 run, {"game": "catch", "preset": "toy"}, log=log, backend=backend)
