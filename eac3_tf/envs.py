"""Batched game environments that yield preprocessed, stacked observations.

Training, evaluation, Grad-CAM recording and the edge player all get their games here, so they see
identical model inputs. ALE games run in ale-py's C++ vector interface, which steps its emulators in
threads without holding the GIL; the raw RGB screens it returns go through `eac3_tf.preprocess`, the
one frame transform. Only numpy, ale-py and eac3_tf's numpy modules are imported (no gymnasium, no TF).

Every env here follows the same small contract (`BatchEnv`), so workers can be handed a toy game in
tests: `reset(seed) -> obs`, `step(actions) -> (obs, rewards, dones, raw_done_info)`. Episodes reset
automatically in the same step: on a done step, the reward is the episode's last reward and `obs` is
already the next episode's first observation.
"""

from __future__ import annotations

import functools
import time
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
    lives_lost: np.ndarray  # (N,) bool, set by each step: a life was lost and the game goes on

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


@functools.cache
def action_names(game: str, full_action_space: bool = False) -> tuple[str, ...]:
    """The game's action names in the policy's output order (ALE's minimal or full action set)."""
    from ale_py import ALEInterface, LoggerMode, roms

    ALEInterface.setLoggerMode(LoggerMode.Error)  # before the constructor: keeps ALE's banner off stderr
    ale = ALEInterface()
    ale.loadROM(roms.get_rom_path(game_id(game)))
    actions = ale.getLegalActionSet() if full_action_space else ale.getMinimalActionSet()
    return tuple(a.name for a in actions)


def reset_sequence(env: EnvConfig, noop_max: int | None = None) -> str:
    """What the emulator does at every reset of `AtariBatchEnv`, in words for a model card.

    ale-py's vector interface draws u uniform in 0..noop_max-1 (none when noop_max <= 1) and presses NOOP
    for u emulator frames; in games with FIRE the FIRE frame is one of those u (NOOP for max(u - 1, 0)
    frames, then FIRE; a test counts them). An agent's frame phase follows from it. `noop_max` overrides
    the env's (an evaluation protocol's, say).
    """
    noop_max = env.noop_max if noop_max is None else noop_max
    has_fire = "FIRE" in action_names(env.game, env.full_action_space)
    if noop_max <= 1:
        noops = ""
    elif has_fire:
        noops = f"NOOP for max(u - 1, 0) emulator frames, u uniform in 0..{noop_max - 1}, then "
    else:
        noops = f"NOOP for a uniform 0..{noop_max - 1} emulator frames, then "
    fire = "FIRE for one frame" if has_fire else "no FIRE (the game has none)"
    seen = "a max over the last two frames of each skip" if env.maxpool else "the last frame of each skip alone"
    jitter = (f"; a step lasts {env.frameskip - 1} or {env.frameskip + 1} frames with probability "
              f"{env.phase_jitter / 2:g} each" if env.phase_jitter else "")
    return (f"reset_game(), {noops}{fire}; the first observation is the screen after that (ale-py vector "
            f"interface, frameskip with {seen}){jitter}")


class AtariBatchEnv:
    """N ALE games stepped in C++ threads, observed through the one preprocessing transform.

    It drives ale-py's C++ `ALEVectorInterface` directly, with the settings `ale_py.AtariVectorEnv`
    would pass it, because AtariVectorEnv imports gymnasium and the edge player (which uses this
    class too) must run without it; a test checks both give bit-identical observations.
    """

    def __init__(self, env: EnvConfig, obs: ObsConfig, num_envs: int, num_threads: int = 0) -> None:
        """Create `num_envs` copies of `env.game`; `num_threads` 0 lets ale-py choose.

        With `env.phase_jitter` > 0 the skip and the max-pool are done here, one emulator frame per ALE call
        (sticky actions stay ALE's, per frame), so a step can last a frame more or less (see EnvConfig).
        """
        from ale_py import roms

        try:
            from ale_py import ALEVectorInterface
        except ImportError:  # ale_py exports it only when gymnasium is installed
            from ale_py._ale_py import ALEVectorInterface

        self.num_envs = num_envs
        self.obs_config = obs
        self.obs_shape = obs.shape
        self.frames_per_step = env.frameskip
        self.phase_jitter = phase_jitter = env.phase_jitter
        self._maxpool = env.maxpool
        self._jitter_rng = np.random.default_rng(0)
        self._ale = ALEVectorInterface(
            rom_path=str(roms.get_rom_path(game_id(env.game))),
            num_envs=num_envs,
            frame_skip=1 if phase_jitter > 0 else env.frameskip,
            stack_num=1,
            img_height=210,  # raw screens: eac3_tf.preprocess does the rest
            img_width=160,
            grayscale=False,
            maxpool=env.maxpool and not phase_jitter,  # True: max over a skip's last two frames; False: the last
            noop_max=env.noop_max,
            use_fire_reset=True,  # press FIRE after reset in games that need it (AtariVectorEnv's default)
            episodic_life=False,  # an episode is a full game
            life_loss_info=False,
            reward_clipping=False,  # raw scores; the learner clips its own copy
            max_episode_steps=env.max_episode_frames,
            repeat_action_probability=env.repeat_action_probability,
            full_action_space=env.full_action_space,
            batch_size=0,
            num_threads=num_threads,
            thread_affinity_offset=-1,
            autoreset_mode="SameStep",
        )
        self.num_actions = len(self._ale.get_action_set())
        self._fire_frames = int("FIRE" in action_names(env.game, env.full_action_space))  # see reset_sequence
        self.start_frames = np.zeros(num_envs, dtype=np.int64)  # frames each game ran before its first observation
        self._stack = FrameStack(num_envs, obs)
        self._paddle = np.ones(num_envs, dtype=np.float32)  # paddle strength, unused by discrete actions
        self._lives = np.zeros(num_envs, dtype=np.int64)
        self.lives_lost = np.zeros(num_envs, dtype=bool)
        self.seconds = {"emulate": 0.0, "preprocess": 0.0}  # time spent in each part of `step`, for benches

    def reset(self, seed: int) -> np.ndarray:
        """Start all envs (env i from seed + i); return stacked observations."""
        raw, info = self._ale.reset(np.arange(self.num_envs), np.arange(seed, seed + self.num_envs))
        self._jitter_rng = np.random.default_rng(seed)
        self.last_screens = raw[:, 0]  # (N, 210, 160, 3) RGB
        self._lives = np.asarray(info["lives"], dtype=np.int64)
        self.lives_lost = np.zeros(self.num_envs, dtype=bool)
        self.start_frames = np.asarray(info["episode_frame_number"], dtype=np.int64).copy()
        return self._stack.reset(preprocess(self.last_screens, self.obs_config))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance one agent step (see the module docstring for the autoreset contract)."""
        t0 = time.perf_counter()
        actions = np.asarray(actions, dtype=np.int64)
        if self.phase_jitter > 0:
            screens, rewards, dones, truncated, lost, started = self._frames(actions)
        else:
            self._ale.send(actions, self._paddle)
            raw, rewards, terminated, truncated, info = self._ale.recv()
            dones = np.logical_or(terminated, truncated)
            lives = np.asarray(info["lives"], dtype=np.int64)  # on a done step: the new game's lives
            lost = (lives < self._lives) & ~dones
            self._lives = lives
            screens = raw[:, 0]
            started = np.asarray(info["episode_frame_number"], dtype=np.int64)  # on a done step: the new game's
        t1 = time.perf_counter()
        self.lives_lost = lost
        self.last_screens = screens
        self.start_frames = np.where(dones, started, self.start_frames)
        obs = self._stack.push(preprocess(self.last_screens, self.obs_config), new_episode=dones)
        self.seconds["emulate"] += t1 - t0
        self.seconds["preprocess"] += time.perf_counter() - t1
        return obs, rewards.astype(np.float32), dones, np.asarray(truncated, dtype=bool)

    def _frames(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        """One jittered step, a frame per call: what `step` reads from ALE, skip and max-pool done here.

        A game that ends mid-step is over for this step: its next game (already reset by ALE) gets NOOP for
        the step's remaining frames, and its screen is that game's last one alone, never a max across games.
        """
        u = self._jitter_rng.random()
        skip = self.frames_per_step + (-1 if u < self.phase_jitter / 2 else 1 if u < self.phase_jitter else 0)
        n = self.num_envs
        rewards = np.zeros(n)
        done, truncated, lost = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        before = None
        for f in range(skip):
            self._ale.send(np.where(done, 0, actions), self._paddle)
            raw, r, te, tr, info = self._ale.recv()
            ends = np.logical_or(te, tr) & ~done
            lives = np.asarray(info["lives"], dtype=np.int64)
            rewards += np.where(done, 0.0, r)
            lost |= (lives < self._lives) & ~done & ~ends
            truncated |= np.asarray(tr, dtype=bool) & ~done
            done |= ends
            self._lives = lives
            if f == skip - 2:
                before = raw[:, 0].copy()
            screens = raw[:, 0]
        if self._maxpool and before is not None:
            screens = np.where(done[:, None, None, None], screens, np.maximum(before, screens))
        started = np.asarray(info["episode_frame_number"], dtype=np.int64)
        return screens, rewards, done, truncated, lost & ~done, started

    def phases(self) -> np.ndarray:
        """Each env's frame phase in its current game: its reset NOOP frames modulo the frame skip.

        The agent acts on every `frameskip`-th emulator frame from there on, so a game's phase is fixed at
        reset (unless `phase_jitter` moves it); 0 is the phase of a reset without no-ops (the v5 protocol's, and
        the portability bench's phase0).
        """
        return (self.start_frames - self._fire_frames) % self.frames_per_step

    def close(self) -> None:
        """Free the emulators."""
        self._ale = None
