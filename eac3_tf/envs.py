"""Batched game environments that yield preprocessed, stacked observations.

Training and evaluation both get their games here, so they see identical model inputs. ALE games run
in ale-py's `AtariVectorEnv`, which steps its emulators in C++ threads without holding the GIL; the raw
RGB screens it returns go through `eac3_tf.preprocess`, the one frame transform.

Every env here follows the same small contract (`BatchEnv`), so workers can be handed a toy game in
tests: `reset(seed) -> obs`, `step(actions) -> (obs, rewards, dones, raw_done_info)`. Episodes reset
automatically in the same step: on a done step, the reward is the episode's last reward and `obs` is
already the next episode's first observation.
"""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np

from eac3_tf.config import EnvConfig, ObsConfig, resolve_game
from eac3_tf.preprocess import FrameStack, preprocess


class BatchEnv(Protocol):
    """What a worker needs from a batch of environments."""

    num_envs: int
    num_actions: int
    obs_shape: tuple[int, int, int]
    frames_per_step: int  # emulator frames per agent step, for the frame counter

    def reset(self, seed: int) -> np.ndarray:
        """Start all envs; return observations (N, H, W, C) uint8."""
        ...

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance every env one agent step; return obs, raw rewards, dones and truncations."""
        ...

    def close(self) -> None:
        """Free the emulators."""
        ...


@functools.cache
def known_games() -> tuple[str, ...]:
    """ROM ids of every game ale-py ships."""
    from ale_py.roms import get_all_rom_ids

    return tuple(sorted(get_all_rom_ids()))


def game_id(name: str) -> str:
    """The ALE ROM id of `name` ("Pong", "SpaceInvaders", "ALE/Qbert-v5"); ValueError if unknown."""
    return resolve_game(name, known_games())


class AtariBatchEnv:
    """N ALE games stepped in C++ threads, observed through the one preprocessing transform."""

    def __init__(self, env: EnvConfig, obs: ObsConfig, num_envs: int, num_threads: int = 0) -> None:
        """Create `num_envs` copies of `env.game`; `num_threads` 0 lets ale-py choose."""
        from ale_py.vector_env import AtariVectorEnv

        self.num_envs = num_envs
        self.obs_config = obs
        self.obs_shape = obs.shape
        self.frames_per_step = env.frameskip
        self._vec = AtariVectorEnv(
            game=game_id(env.game),
            num_envs=num_envs,
            num_threads=num_threads,
            frameskip=env.frameskip,
            repeat_action_probability=env.repeat_action_probability,
            noop_max=env.noop_max,
            max_num_frames_per_episode=env.max_episode_frames,
            full_action_space=env.full_action_space,
            img_height=210,  # raw screens: eac3_tf.preprocess does the rest
            img_width=160,
            grayscale=False,
            stack_num=1,
            maxpool=True,  # max over the last two frames of a skip, against Atari sprite flicker
            reward_clipping=False,  # raw scores; the learner clips its own copy
            episodic_life=False,  # an episode is a full game
            autoreset_mode="SameStep",
        )
        self.num_actions = int(self._vec.single_action_space.n)
        self._stack = FrameStack(num_envs, obs)

    def screens(self, raw_obs: np.ndarray) -> np.ndarray:
        """The RGB screens (N, 210, 160, 3) inside ale-py's (N, 1, 210, 160, 3) observation."""
        return raw_obs[:, 0]

    def reset(self, seed: int) -> np.ndarray:
        """Start all envs from `seed`; return stacked observations."""
        raw, _ = self._vec.reset(seed=seed)
        self.last_screens = self.screens(raw)
        return self._stack.reset(preprocess(self.last_screens, self.obs_config))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance one agent step (see the module docstring for the autoreset contract)."""
        raw, rewards, terminated, truncated, _ = self._vec.step(np.asarray(actions, dtype=np.int64))
        dones = np.logical_or(terminated, truncated)
        self.last_screens = self.screens(raw)
        obs = self._stack.push(preprocess(self.last_screens, self.obs_config), new_episode=dones)
        return obs, rewards.astype(np.float32), dones, np.asarray(truncated, dtype=bool)

    def close(self) -> None:
        """Stop the emulator threads."""
        self._vec.close()
