"""The one loop that plays a policy in a batch of envs, so every stage plays the same game the same way.

Evaluation, the edge player, export's parity frames and the recordings the explain tools measure all go
through it.

Plain numpy, no TensorFlow: `policy(obs) -> actions` is whatever runs the model (Keras, onnxruntime, LiteRT).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

StepHook = Callable[[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray], None]


def rollout(policy: Callable[[np.ndarray], np.ndarray], env, seed: int, *, episodes: int | None = None,
            steps: int | None = None, on_step: StepHook | None = None,
            on_episode: Callable[[int, float, int, int], None] | None = None) -> list[tuple[float, int]]:
    """Play until `episodes` full games have finished, or for `steps` agent steps; return (raw score, steps) each.

    With `episodes`, env i counts `episodes // N` games (+1 for the first `episodes % N`), so the games
    reported do not favour the envs whose games are short; later games are ignored. `on_step(obs, screens,
    actions, starts)` sees each model input before its step, with the screens it was made from (None for an
    env without screens) and which inputs begin an episode. `on_episode(count, score, steps, env_index)` follows
    each counted game.
    """
    if (episodes is None) == (steps is None):
        raise ValueError("give episodes or steps, not both")
    n = env.num_envs
    quota = (np.full(n, episodes // n) + (np.arange(n) < episodes % n)) if episodes is not None else None
    counted = np.zeros(n, dtype=np.int64)
    scores, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    starts = np.ones(n, dtype=bool)
    results: list[tuple[float, int]] = []
    obs = env.reset(seed=seed)
    t = 0
    while (len(results) < episodes) if episodes is not None else (t < steps):
        actions = policy(obs)
        if on_step is not None:
            on_step(obs, getattr(env, "last_screens", None), actions, starts)
        obs, rewards, dones, _ = env.step(actions)
        t += 1
        scores += rewards
        lengths += 1
        for i in np.flatnonzero(dones):
            if quota is None or counted[i] < quota[i]:
                results.append((float(scores[i]), int(lengths[i])))
                counted[i] += 1
                if on_episode is not None:
                    on_episode(len(results), float(scores[i]), int(lengths[i]), int(i))
            scores[i], lengths[i] = 0.0, 0
        starts = np.asarray(dones, dtype=bool).copy()
    return results


def play_episodes(policy: Callable[[np.ndarray], np.ndarray], env, episodes: int, seed: int,
                  on_episode: Callable[[float], None] | None = None) -> list[tuple[float, int]]:
    """`episodes` full games, (raw score, agent steps) each; `on_episode(score)` after each."""
    return rollout(policy, env, seed, episodes=episodes,
                   on_episode=None if on_episode is None else lambda _c, score, _n, _i: on_episode(score))
