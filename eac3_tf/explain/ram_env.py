"""One ALE game stepped frame by frame the way `AtariBatchEnv` steps it, with the emulator's RAM after each step.

OCAtari reads objects from the 128 bytes of Atari RAM, and ale-py's vector interface (which `AtariBatchEnv`
drives) returns screens only. This env drives a plain `ALEInterface` through the same protocol (reset,
FIRE, `frameskip` frames of the action with sticky actions from ALE's own seeded generator, a max over the
last two frames), so for the same seed and actions its screens are the ones `AtariBatchEnv` gives (a test
checks it) and each RAM belongs to the emulator state its screen was drawn from. It follows the `BatchEnv`
contract with one env, so `eac3_tf.rollout.rollout` plays it.
"""

from __future__ import annotations

import numpy as np

from eac3_tf.config import EnvConfig, ObsConfig
from eac3_tf.preprocess import FrameStack, preprocess


class RamAtariEnv:
    """A single `AtariBatchEnv`-alike game that also keeps its RAM and the last frame of each step.

    Attributes set by `reset` and `step`: `last_screens` uint8 [1, 210, 160, 3] (what `AtariBatchEnv`
    gives: a max over the last two frames when `env.maxpool`), `last_frames` uint8 [1, 210, 160, 3] (the
    last emulator frame alone, the one the RAM was read after) and `last_rams` uint8 [1, 128].
    """

    num_envs = 1

    def __init__(self, env: EnvConfig, obs: ObsConfig | None = None) -> None:
        """Load `env.game`; no-op resets are refused because the vector interface draws them from its own RNG."""
        from ale_py import Action, ALEInterface, LoggerMode, roms

        from eac3_tf.envs import game_id

        if env.noop_max > 1:
            raise ValueError(f"noop_max={env.noop_max}: the vector interface's no-op draws cannot be reproduced; "
                             "use noop_max 0 or 1")
        self._env = env
        self.obs_config = obs or ObsConfig()
        self.obs_shape = self.obs_config.shape
        self.frames_per_step = env.frameskip
        self._rom = str(roms.get_rom_path(game_id(env.game)))
        ALEInterface.setLoggerMode(LoggerMode.Error)
        self._ale_cls = ALEInterface
        self._ale = None
        self._fire = Action.FIRE
        self._stack = FrameStack(1, self.obs_config)
        self.lives_lost = np.zeros(1, dtype=bool)
        probe = ALEInterface()
        probe.loadROM(self._rom)
        actions = probe.getLegalActionSet() if env.full_action_space else probe.getMinimalActionSet()
        self._actions = list(actions)
        self.num_actions = len(self._actions)

    def _observe(self, frames: list[np.ndarray]) -> np.ndarray:
        last = frames[-1]
        screen = np.maximum(frames[-2], last) if self._env.maxpool and len(frames) > 1 else last
        self.last_screens, self.last_frames = screen[None], last[None]
        self.last_rams = self._ale.getRAM().copy()[None]
        return preprocess(self.last_screens, self.obs_config)

    def _new_game(self) -> list[np.ndarray]:
        self._ale.reset_game()
        if self._fire in self._actions:
            self._ale.act(self._fire)
        self._lives = self._ale.lives()
        return [self._ale.getScreenRGB()]

    def _seeded(self, ale, seed: int):
        """`ale` set up as the vector interface sets up env 0 for `seed`, with the ROM (re)loaded."""
        ale.setInt("random_seed", int(seed))
        ale.setFloat("repeat_action_probability", self._env.repeat_action_probability)
        ale.setInt("frame_skip", 1)
        ale.setInt("max_num_frames_per_episode", self._env.max_episode_frames)
        ale.loadROM(self._rom)
        return ale

    def reset(self, seed: int) -> np.ndarray:
        """Start the game with ALE's generator seeded by `seed`, as the vector interface seeds env 0."""
        self._ale = self._seeded(self._ale_cls(), seed)
        self.lives_lost = np.zeros(1, dtype=bool)
        return self._stack.reset(self._observe(self._new_game()))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One agent step; on a done step the observation is already the next game's first (autoreset)."""
        action = self._actions[int(np.asarray(actions).reshape(-1)[0])]
        reward, frames = 0.0, []
        for _ in range(self._env.frameskip):
            reward += self._ale.act(action)
            frames.append(self._ale.getScreenRGB())
            if self._ale.game_over():
                break
        terminated, truncated = self._ale.game_over(with_truncation=False), self._ale.game_truncated()
        done = terminated or truncated
        lives = self._ale.lives()
        self.lives_lost = np.array([lives < self._lives and not done])
        self._lives = lives
        if done:
            frames = self._new_game()
        obs = self._stack.push(self._observe(frames), new_episode=np.array([done]))
        return obs, np.array([reward], np.float32), np.array([done]), np.array([truncated])

    def close(self) -> None:
        """Free the emulator."""
        self._ale = None
