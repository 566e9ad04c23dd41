"""Score a trained agent the way papers report it: `python -m eac3_tf.evaluate --checkpoint runs/pong`.

Plays full games (to game over, never stopping at a life loss) in parallel emulators through the
training env path, and reports mean ± std, best and worst raw score with the protocol stated.
Each env plays a fixed share of the episodes, so short games are not over-counted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np

from eac3_tf.cli import UsageError
from eac3_tf.io import write_json, write_text
from eac3_tf.policy import greedy_actions, sample_actions
from eac3_tf.rollout import play_episodes

PROTOCOLS = {
    # ALE v5 (Machado et al. 2018): sticky actions, no no-op starts.
    "v5": {"repeat_action_probability": 0.25, "noop_max": 0},
    # The classic no-op-start protocol, deterministic emulator: a uniform 0..29 no-op emulator FRAMES at
    # reset, as baselines' NoopResetEnv presses them beneath its frame skip (Mnih et al. 2015 wrote "up
    # to 30 no-op actions"; at frame skip 4 that would be up to 120 frames).
    "noop": {"repeat_action_probability": 0.0, "noop_max": 30},
}


def summarize(scores: list[float]) -> dict:
    """Mean, population std, best, worst and count of raw scores."""
    a = np.asarray(scores, dtype=np.float64)
    return {"episodes": int(a.size), "mean": float(a.mean()), "std": float(a.std()), "best": float(a.max()),
            "min": float(a.min())}


def markdown_row(game: str, frames: int, summary: dict, protocol_name: str, policy: str) -> str:
    """One row of a results table: | game | frames | mean ± std | best | min | episodes | protocol |."""
    return (f"| {game} | {frames:,} | {summary['mean']:.2f} ± {summary['std']:.2f} | {summary['best']:.1f} | "
            f"{summary['min']:.1f} | {summary['episodes']} | {protocol_name}, {policy} actions |")


MARKDOWN_HEADER = ("| game | frames trained | mean ± std | best | min | episodes | protocol |\n"
                   "|---|---|---|---|---|---|---|")


def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("checkpoint", None, "Run logdir, ckpt-* folder or its model.keras.")
    flags.DEFINE_integer("episodes", 100, "Full games to play.")
    flags.DEFINE_string("output", None, "Write the report here as JSON (and a .md table row beside it).")
    flags.DEFINE_enum("protocol", "v5", list(PROTOCOLS), "v5: sticky actions 0.25; noop: up to 30 no-op starts.")
    flags.DEFINE_enum("policy", "sample", ["sample", "greedy"], "Sample actions from the policy or take argmax.")
    flags.DEFINE_integer("envs", 8, "Games played in parallel.")
    flags.DEFINE_integer("max_frames", 108_000, "Frame cap per episode (truncation).")
    flags.DEFINE_integer("seed", 12345, "Seed of the emulators and the action sampling.")
    flags.DEFINE_bool("force", False, "Replace an existing --output.")


def main() -> int:
    """Entry point after flag parsing."""
    from absl import flags

    from eac3_tf import checkpoint
    from eac3_tf.agent import agent_spec

    f = flags.FLAGS
    if not f.checkpoint:
        raise UsageError("--checkpoint is required: a run logdir, a ckpt-* folder or its model.keras")
    for name in ("episodes", "envs", "max_frames"):
        if getattr(f, name) <= 0:
            raise UsageError(f"--{name} must be a positive integer, got {getattr(f, name)}")
    if f.episodes > 100_000 or f.envs > 256:
        raise UsageError(f"--episodes must be at most 100000 and --envs at most 256, got {f.episodes}, {f.envs}")
    out = Path(f.output) if f.output else None
    if out is not None:
        if out.exists() and not f.force:
            raise UsageError(f"--output {out} exists; pass --force to replace it")
        if not out.parent.is_dir():
            raise UsageError(f"--output folder {out.parent} " + (
                "is a file, not a folder" if out.parent.exists() else "does not exist") +
                "; give a path in an existing folder")
    agent = agent_spec(f.checkpoint)  # a damaged checkpoint fails here, before TensorFlow is loaded
    path = agent.path
    from eac3_tf.cli import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    ckpt = checkpoint.load(path, with_optimizer=False)

    from tqdm import tqdm

    from eac3_tf.envs import AtariBatchEnv

    protocol = PROTOCOLS[f.protocol]
    env_cfg = dataclasses.replace(agent.env, max_episode_frames=f.max_frames, **protocol)
    envs = min(f.envs, f.episodes)
    env = AtariBatchEnv(env_cfg, agent.obs, envs)
    model = ckpt.model
    if tuple(model.input_shape[1:]) != env.obs_shape or model.outputs[0].shape[-1] != env.num_actions:
        raise UsageError(f"checkpoint {path} expects inputs {model.input_shape[1:]}, but {env_cfg.game} gives "
                         f"{env.obs_shape}")
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False)[0])
    rng = np.random.default_rng(f.seed)

    def policy(obs: np.ndarray) -> np.ndarray:
        logits = forward(obs).numpy()
        return greedy_actions(logits) if f.policy == "greedy" else sample_actions(logits, rng)

    t0 = time.time()
    bar = tqdm(total=f.episodes, desc=f"{env_cfg.game} {f.protocol}", unit="ep", dynamic_ncols=True)

    def on_episode(score: float) -> None:
        bar.update(1)
        bar.set_postfix(last=f"{score:.0f}")

    results = play_episodes(policy, env, f.episodes, f.seed, on_episode)
    bar.close()
    env.close()
    scores = [s for s, _ in results]
    summary = summarize(scores)
    frames = agent.frames_trained
    report = {
        "game": env_cfg.game, "preset": agent.preset, "checkpoint": str(path), "frames_trained": frames,
        **summary,
        "protocol": {"name": f.protocol, "env": "ale-py vector interface, AtariVectorEnv settings",
                     "frameskip": env_cfg.frameskip, "max_pool_last_two_frames": env_cfg.maxpool,
                     "repeat_action_probability": env_cfg.repeat_action_probability,
                     "noop_max": env_cfg.noop_max, "max_episode_frames": env_cfg.max_episode_frames,
                     "episode_end": "game over (not life loss) or frame cap", "actions": f.policy,
                     "full_action_space": env_cfg.full_action_space, "seed": f.seed},
        "scores": scores, "lengths": [n for _, n in results], "wall_seconds": round(time.time() - t0, 1),
    }
    row = markdown_row(env_cfg.game, frames, summary, f.protocol, f.policy)
    print(json.dumps({k: v for k, v in report.items() if k not in ("scores", "lengths")}, indent=2))
    print(MARKDOWN_HEADER)
    print(row)
    if out is not None:
        write_json(out, report)
        write_text(out.with_suffix(".md"), MARKDOWN_HEADER + "\n" + row + "\n")
    if not math.isfinite(summary["mean"]):
        return 1
    return 0


if __name__ == "__main__":
    from eac3_tf import cli

    cli.run(main, _define_flags)
