"""What the last frame of a skip misses that the max over the last two frames shows, per game.

    python bench/flicker.py [--games Pong,BeamRider,...] [--steps 2000] [--seed 0]

An observation of the last frame alone (`--nomaxpool`, as gymnasium's ALE/<Game>-v5 gives it) is the same at
every frame phase, but a game that draws a sprite on alternate frames only can hide it there. Per game, random
actions (sticky 0.25) through ALE with frameskip 1; for each skip of 4 frames, the play area's pixels that are not
its most common colour (the background) are counted in frames 3 and 4: the share of skips where frame 4 shows at
least `MISSING` fewer of them (a sprite gone, not one moved), and the mean shortfall over those skips.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eac3_tf.cli import ArgumentParser, UsageError, run  # noqa: E402
from eac3_tf.config import PAPER_GAMES, ObsConfig, camel_game  # noqa: E402

MISSING = 16  # pixels: more than a moving sprite's edge, less than the smallest sprite of the six games


def measure(game: str, steps: int, seed: int) -> dict:
    from ale_py import ALEInterface, LoggerMode, roms

    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.setInt("random_seed", seed)
    ale.setFloat("repeat_action_probability", 0.25)
    ale.setInt("frame_skip", 1)
    ale.loadROM(roms.get_rom_path(game))
    actions = ale.getMinimalActionSet()
    rng = np.random.default_rng(seed)
    rows = slice(ObsConfig.crop_top, ObsConfig.crop_bottom)
    gone, shortfall = [], []

    def foreground(frame: np.ndarray) -> int:
        codes = (frame[..., 0].astype(np.int32) << 16) | (frame[..., 1].astype(np.int32) << 8) | frame[..., 2]
        values, counts = np.unique(codes, return_counts=True)
        return int(codes.size - counts.max())

    for _ in range(steps):
        a = actions[rng.integers(len(actions))]
        frames = []
        for _k in range(4):
            ale.act(a)
            frames.append(ale.getScreenRGB()[rows])
        deficit = foreground(frames[2]) - foreground(frames[3])
        gone.append(deficit >= MISSING)
        if deficit >= MISSING:
            shortfall.append(deficit)
        if ale.game_over():
            ale.reset_game()
    return {"game": game, "skips": steps, "share_gone": float(np.mean(gone)),
            "mean_shortfall": float(np.mean(shortfall)) if shortfall else 0.0}


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="flicker.py", description=__doc__.split("\n")[0])
    p.add_argument("--games", default=",".join(camel_game(g) for g in PAPER_GAMES))
    p.add_argument("--steps", type=int, default=2000, help="agent steps (skips of 4 frames) per game")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.steps <= 0:
        raise UsageError(f"--steps must be positive, got {args.steps}")
    from eac3_tf.envs import game_id

    print(f"| game | skips | share of skips whose last frame shows >= {MISSING} fewer foreground pixels | "
          "mean shortfall (pixels) |")
    print("|---|---|---|---|")
    for name in args.games.split(","):
        try:
            game = game_id(name)
        except ValueError as exc:
            raise UsageError(f"--games: {exc}") from None
        r = measure(game, args.steps, args.seed)
        print(f"| {camel_game(game)} | {r['skips']} | {r['share_gone']:.3f} | {r['mean_shortfall']:.1f} |", flush=True)


if __name__ == "__main__":
    run(main, "flicker.py")
