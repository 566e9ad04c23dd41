"""Every setting of eac3_tf as frozen dataclasses: the one source of truth for hyperparameters.

Units are in the comments: an *agent step* is one action, which the emulator repeats for `frameskip`
*frames*. Library code takes these objects as arguments; only the CLIs map flags onto them.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re

from eac3_tf.errors import ConfigError, check_choice, check_open_unit, check_positive, check_range

# The six games of the paper's Table I, by their ALE ROM ids.
PAPER_GAMES = ("demon_attack", "space_invaders", "beam_rider", "phoenix", "pong", "qbert")


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """How the emulator is driven (ALE v5 protocol by default)."""

    game: str = "pong"  # ALE ROM id, e.g. "pong", "space_invaders"
    frameskip: int = 4  # frames per agent step (the action is repeated)
    repeat_action_probability: float = 0.25  # sticky actions, per frame
    # No-op FRAMES (not agent steps) at every reset: ale-py's vector interface presses NOOP for a uniform
    # 0..noop_max-1 frames, the FIRE of games that have it counted among them (envs.reset_sequence).
    # 0 or 1: none. Randomising this shifts the emulator's frame phase against the frameskip.
    noop_max: int = 0
    # True: an observation is the max of the last two frames of a skip (against sprite flicker). False: the
    # last frame alone, as gymnasium's registered ALE/<Game>-v5 returns it. A max over two frames also
    # renders objects the game moves on alternate frames only (Pong's paddles) differently on odd and even
    # frame phases; the last frame alone does not.
    maxpool: bool = True
    max_episode_frames: int = 108_000  # frames; an episode is truncated here (30 min of play)
    full_action_space: bool = False  # False: the game's minimal action set
    # Training only (evaluation and the player use 0): with probability p/2 a step lasts frameskip - 1 frames,
    # with p/2 frameskip + 1, for all of a batch's envs at once. Reset no-ops fix a game's frame phase for the
    # whole game; this moves it within every game, so a policy cannot rely on one phase's timing. Frames per
    # step stay frameskip on average.
    phase_jitter: float = 0.0

    def __post_init__(self) -> None:
        check_range("frameskip", self.frameskip, 1, 100, "frames")
        if not 0 <= self.repeat_action_probability <= 1:
            raise ConfigError("repeat_action_probability", f"must be in [0, 1], got {self.repeat_action_probability}")
        check_range("noop_max", self.noop_max, 0, 1000, "emulator frames")
        if not 0 <= self.phase_jitter <= 1:
            raise ConfigError("phase_jitter", f"must be in [0, 1], got {self.phase_jitter}")
        if self.phase_jitter and self.frameskip < 2:
            raise ConfigError("phase_jitter", f"needs a frameskip of 2 or more, got {self.frameskip}")
        check_positive("max_episode_frames", self.max_episode_frames)


@dataclasses.dataclass(frozen=True)
class ObsConfig:
    """The one transform from a 210x160 RGB ALE screen to a model input (see `preprocess`)."""

    crop_top: int = 34  # first screen row kept (pixels)
    crop_bottom: int = 194  # one past the last row kept: rows 34..193 are the 160x160 play area
    grayscale: bool = False  # False keeps the RGB channels
    downsample: int = 1  # integer area-averaging factor on both axes (1 = full 160x160)
    stack: int = 4  # frames stacked along channels, oldest first

    @property
    def height(self) -> int:
        """Rows of one preprocessed frame."""
        return (self.crop_bottom - self.crop_top) // self.downsample

    @property
    def width(self) -> int:
        """Columns of one preprocessed frame (the ALE screen is 160 wide)."""
        return 160 // self.downsample

    @property
    def channels_per_frame(self) -> int:
        """1 for grayscale, 3 for RGB."""
        return 1 if self.grayscale else 3

    @property
    def shape(self) -> tuple[int, int, int]:
        """Model input shape (H, W, C) with the stack folded into channels."""
        return (self.height, self.width, self.channels_per_frame * self.stack)


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """One conv layer of the torso; E-A3C puts a 2x2 max-pool after every one."""

    filters: int
    kernel: int  # pixels
    stride: int = 1  # pixels


TORSOS = ("pooled", "residual")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """A network preset: the observation it sees and the layers it has.

    A "pooled" torso is `convs`, each followed by a `pool` x `pool` max-pool. A "residual" torso is the
    IMPALA-CNN of Espeholt et al. (2018): per entry of `stages`, a 3x3 conv with that many channels, a
    3x3 stride-2 max-pool and `res_blocks` residual blocks (relu, conv, relu, conv, + skip).
    """

    name: str
    obs: ObsConfig
    convs: tuple[ConvSpec, ...] = ()
    pool: int = 2  # max-pool size and stride after each conv (the E-A3C trait)
    dense: int = 256  # units of the hidden layer before the heads
    torso: str = "pooled"  # "pooled" or "residual"
    stages: tuple[int, ...] = ()  # channels of each residual stage
    res_blocks: int = 2  # residual blocks per stage

    def __post_init__(self) -> None:
        if self.torso not in TORSOS:
            raise ValueError(f"unknown torso {self.torso!r}; accepted: {', '.join(TORSOS)}")
        if self.torso == "pooled" and not self.convs:
            raise ValueError("a pooled torso needs at least one conv")
        if self.torso == "residual" and (not self.stages or min(self.stages) < 1 or self.res_blocks < 0):
            raise ValueError(f"a residual torso needs stages of >= 1 channels and res_blocks >= 0, got "
                             f"stages {self.stages}, res_blocks {self.res_blocks}")


PRESETS: dict[str, ModelConfig] = {
    # The paper's view: 160x160 RGB play area, 4 frames stacked, a 4-conv torso in the style of the
    # A3C-LSTM code the paper extends, channels widened (32/64/64/128 instead of 32/32/64/64).
    "paper": ModelConfig(
        name="paper",
        obs=ObsConfig(grayscale=False, downsample=1, stack=4),
        convs=(ConvSpec(32, 5), ConvSpec(64, 5), ConvSpec(64, 4), ConvSpec(128, 3)),
        dense=512,
    ),
    # Sized for a 2-core CPU: the same crop at 80x80 gray; a strided first conv; pools after each conv;
    # channels widened over the A3C baseline's 16/32.
    "fast": ModelConfig(
        name="fast",
        obs=ObsConfig(grayscale=True, downsample=2, stack=4),
        convs=(ConvSpec(32, 8, 4), ConvSpec(64, 4, 1)),
        dense=256,
    ),
    # The IMPALA-CNN torso on fast's 80x80 gray view: a max-pool in every stage, residual blocks, and
    # channels chosen for a 2-core CPU.
    "impala": ModelConfig(
        name="impala",
        obs=ObsConfig(grayscale=True, downsample=2, stack=4),
        torso="residual",
        stages=(16, 32, 32),
        dense=256,
    ),
}


LR_SCHEDULES = ("constant", "linear")


@dataclasses.dataclass(frozen=True)
class A3CConfig:
    """Learning settings shared by every worker."""

    t_max: int = 5  # agent steps rolled out per env before each update
    envs_per_worker: int = 8  # envs one worker steps as a batch (their forward passes are batched)
    gamma: float = 0.99  # discount per agent step
    learning_rate: float = 7e-4  # shared RMSProp, at frame 0
    lr_schedule: str = "constant"  # "constant", or "linear": decays to 0 at the run's frame budget (as in A2C)
    rmsprop_rho: float = 0.99
    rmsprop_epsilon: float = 1e-5
    entropy_beta: float = 0.01  # weight of the entropy bonus
    value_coef: float = 0.5  # weight of the value loss
    max_grad_norm: float = 0.5  # global-norm clipping of each worker's gradients
    reward_clip: float = 1.0  # rewards are clipped to [-c, c] for learning; raw scores are reported
    life_loss_terminal: bool = False  # a lost life cuts bootstrapping (baselines' EpisodicLife); scores stay full games
    max_bad_updates: int = 100  # non-finite updates skipped before training stops

    def __post_init__(self) -> None:
        check_range("t_max", self.t_max, 1, 1000, "agent steps")
        check_range("envs_per_worker", self.envs_per_worker, 1, 256)
        check_open_unit("learning_rate", self.learning_rate)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if not 0 <= self.entropy_beta < 1:
            raise ConfigError("entropy_beta", f"must be in [0, 1), got {self.entropy_beta}")
        if not 0 <= self.gamma <= 1:
            raise ConfigError("gamma", f"must be in [0, 1], got {self.gamma}")



# What a plain `python -m eac3_tf.train` runs: the sample-efficiency study's winner at 10M frames on Pong and
# Qbert (results/study/). The dataclasses above stay the neutral defaults library code and tests build on.
DEFAULT_PRESET = "impala"
DEFAULT_A3C = A3CConfig(t_max=20, lr_schedule="linear", life_loss_terminal=True)
DEFAULT_RESET_NOOP_FRAMES = 30  # emulator frames, training only

def learning_rate_at(cfg: A3CConfig, frames: int, frame_budget: int) -> float:
    """The shared optimizer's step size after `frames` of a run that trains for `frame_budget` frames.

    The linear schedule is a function of the global frame count, not of time since start, so a resumed
    run continues the same decay.
    """
    if cfg.lr_schedule == "linear":
        return cfg.learning_rate * max(0.0, 1.0 - frames / frame_budget)
    return cfg.learning_rate  # "constant": the config refuses any other name


MAX_WORKERS = 64


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One training run."""

    frames: int = 2_000_000  # frames to train for (agent steps x frameskip)
    workers: int = dataclasses.field(default_factory=lambda: min(os.cpu_count() or 1, MAX_WORKERS))
    logdir: str = "runs/default"
    seed: int = 0
    checkpoint_every: int = 250_000  # frames between checkpoints
    keep_checkpoints: int = 3  # newest checkpoints kept on disk
    log_every: float = 5.0  # seconds between progress lines

    def __post_init__(self) -> None:
        check_positive("frames", self.frames)
        check_range("workers", self.workers, 1, MAX_WORKERS)
        check_positive("checkpoint_every", self.checkpoint_every)
        check_positive("keep_checkpoints", self.keep_checkpoints)
        if not self.log_every > 0:
            raise ConfigError("log_every", f"must be positive seconds, got {self.log_every}")


def canonical_game(name: str) -> str:
    """Map "SpaceInvaders", "space-invaders" or "ALE/SpaceInvaders-v5" to the ROM id "space_invaders"."""
    name = name.strip()
    name = re.sub(r"^ALE/", "", name)
    name = re.sub(r"-v\d+$", "", name)
    name = re.sub(r"NoFrameskip$", "", name)
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_")
    return name.lower()


def camel_game(rom_id: str) -> str:
    """ROM id to the CamelCase name ALE's gymnasium ids use ("space_invaders" -> "SpaceInvaders")."""
    return "".join(part.capitalize() for part in rom_id.split("_"))


def resolve_game(name: str, known: list[str] | tuple[str, ...]) -> str:
    """Return the ROM id for `name`, or raise ValueError listing close matches among `known`."""
    rom = canonical_game(name)
    if rom in known:
        return rom
    close = difflib.get_close_matches(rom, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(camel_game(c) for c in close)}?" if close else (
        f"paper games: {', '.join(camel_game(g) for g in PAPER_GAMES)}")
    raise ValueError(f"unknown game {name!r}; {hint} (any of the {len(known)} ALE games is accepted)")
