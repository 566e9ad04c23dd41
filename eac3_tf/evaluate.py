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

from eac3_tf.cli import ArgumentParser, UsageError
from eac3_tf.errors import check_choice, check_positive
from eac3_tf.io import write_json, write_text
from eac3_tf.policy import greedy_actions, sample_actions
from eac3_tf.rollout import rollout

PROTOCOLS = {
    # ALE v5 (Machado et al. 2018): sticky actions, no no-op starts.
    "v5": {"repeat_action_probability": 0.25, "noop_max": 0, "phase_jitter": 0.0},
    # The classic no-op-start protocol, deterministic emulator: a uniform 0..29 no-op emulator FRAMES at
    # reset, as baselines' NoopResetEnv presses them beneath its frame skip (Mnih et al. 2015 wrote "up
    # to 30 no-op actions"; at frame skip 4 that would be up to 120 frames).
    "noop": {"repeat_action_probability": 0.0, "noop_max": 30, "phase_jitter": 0.0},
}


def summarize(scores: list[float]) -> dict:
    """Mean, population std, best, worst and count of raw scores."""
    a = np.asarray(scores, dtype=np.float64)
    return {"episodes": int(a.size), "mean": float(a.mean()), "std": float(a.std()), "best": float(a.max()),
            "min": float(a.min())}


def by_phase(scores: list[float], phases: list[int]) -> dict[str, dict]:
    """`summarize` of the games of each frame phase, keyed by the phase as a string (JSON's keys are)."""
    return {str(k): summarize([s for s, p in zip(scores, phases, strict=True) if p == k]) for k in sorted(set(phases))}


def phase_line(phase_summaries: dict[str, dict]) -> str:
    """One Markdown line naming each phase's mean ± std and games, for a report played on several phases."""
    parts = [f"{k}: {v['mean']:.2f} ± {v['std']:.2f} ({v['episodes']})" for k, v in phase_summaries.items()]
    return "By frame phase (reset NOOP frames mod the frame skip): " + " · ".join(parts)


def markdown_row(game: str, frames: int, summary: dict, protocol_name: str, policy: str) -> str:
    """One row of a results table: | game | frames | mean ± std | best | min | episodes | protocol |."""
    return (f"| {game} | {frames:,} | {summary['mean']:.2f} ± {summary['std']:.2f} | {summary['best']:.1f} | "
            f"{summary['min']:.1f} | {summary['episodes']} | {protocol_name}, {policy} actions |")


MARKDOWN_HEADER = ("| game | frames trained | mean ± std | best | min | episodes | protocol |\n"
                   "|---|---|---|---|---|---|---|")


POLICIES = ("sample", "greedy")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """How an agent is scored: full games under a named protocol."""

    episodes: int = 100  # full games
    envs: int = 8  # games played in parallel
    protocol: str = "v5"  # a key of PROTOCOLS
    policy: str = "sample"  # "sample" from the policy, or "greedy" (argmax)
    max_frames: int = 108_000  # frame cap per episode (truncation)
    seed: int = 12345  # of the emulators and the action sampling

    def __post_init__(self) -> None:
        check_positive("episodes", self.episodes, at_most=100_000)
        check_positive("envs", self.envs, at_most=256)
        check_positive("max_frames", self.max_frames)
        check_choice("protocol", self.protocol, tuple(PROTOCOLS))
        check_choice("policy", self.policy, POLICIES)


def parser() -> ArgumentParser:
    """The flags of `python -m eac3_tf.evaluate`."""
    d = EvalConfig()
    p = ArgumentParser("evaluate.py", __doc__.split("\n")[0])
    p.add_argument("--checkpoint", help="Run logdir, ckpt-* folder or its model.keras.")
    p.add_argument("--episodes", type=int, default=d.episodes, help="Full games to play.")
    p.add_argument("--output", help="Write the report here as JSON (and a .md table row beside it).")
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), default=d.protocol,
                   help="v5: sticky actions 0.25; noop: up to 30 no-op starts.")
    p.add_argument("--policy", choices=POLICIES, default=d.policy,
                   help="Sample actions from the policy or take argmax.")
    p.add_argument("--envs", type=int, default=d.envs, help="Games played in parallel.")
    p.add_argument("--max_frames", type=int, default=d.max_frames, help="Frame cap per episode (truncation).")
    p.add_argument("--seed", type=int, default=d.seed, help="Seed of the emulators and the action sampling.")
    p.add_switch("force", help="Replace an existing --output.")
    return p


def main(argv: list[str] | None = None) -> int:
    """`python -m eac3_tf.evaluate`: score a checkpoint and print (and optionally write) the report."""
    from eac3_tf.agent import agent_spec

    f = parser().parse_args(argv)
    if not f.checkpoint:
        raise UsageError("--checkpoint is required: a run logdir, a ckpt-* folder or its model.keras")
    cfg = EvalConfig(episodes=f.episodes, envs=f.envs, protocol=f.protocol, policy=f.policy,
                     max_frames=f.max_frames, seed=f.seed)
    out = Path(f.output) if f.output else None
    if out is not None:
        if out.exists() and not f.force:
            raise UsageError(f"--output {out} exists; pass --force to replace it")
        if not out.parent.is_dir():
            raise UsageError(f"--output folder {out.parent} " + (
                "is a file, not a folder" if out.parent.exists() else "does not exist") +
                "; give a path in an existing folder")
    report = evaluate(agent_spec(f.checkpoint), cfg)  # a damaged checkpoint fails before TensorFlow loads
    row = markdown_row(report["game"], report["frames_trained"], report, cfg.protocol, cfg.policy)
    table = MARKDOWN_HEADER + "\n" + row + "\n"
    if len(report["by_phase"]) > 1:  # no-op starts put games on several phases; say how each played
        table += "\n" + phase_line(report["by_phase"]) + "\n"
    print(json.dumps({k: v for k, v in report.items() if k not in ("scores", "lengths", "phases")}, indent=2))
    print(table, end="")
    if out is not None:
        write_json(out, report)
        write_text(out.with_suffix(".md"), table)
    return 0 if math.isfinite(report["mean"]) else 1


def evaluate(agent, cfg: EvalConfig) -> dict:
    """Play `cfg.episodes` full games with the agent of `agent_spec(...)` and return the report (JSON-able)."""
    from eac3_tf import checkpoint
    from eac3_tf.cli import import_tensorflow_quietly

    path = agent.path
    tf = import_tensorflow_quietly()
    ckpt = checkpoint.load(path, with_optimizer=False)

    from tqdm import tqdm

    from eac3_tf.envs import AtariBatchEnv

    protocol = PROTOCOLS[cfg.protocol]
    env_cfg = dataclasses.replace(agent.env, max_episode_frames=cfg.max_frames, **protocol)
    envs = min(cfg.envs, cfg.episodes)
    env = AtariBatchEnv(env_cfg, agent.obs, envs)
    model = ckpt.model
    if tuple(model.input_shape[1:]) != env.obs_shape or model.outputs[0].shape[-1] != env.num_actions:
        raise checkpoint.CheckpointError(f"checkpoint {path} expects inputs {model.input_shape[1:]}, but "
                                         f"{env_cfg.game} gives {env.obs_shape}")
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False)[0])
    rng = np.random.default_rng(cfg.seed)

    def policy(obs: np.ndarray) -> np.ndarray:
        logits = forward(obs).numpy()
        return greedy_actions(logits) if cfg.policy == "greedy" else sample_actions(logits, rng)

    t0 = time.time()
    bar = tqdm(total=cfg.episodes, desc=f"{env_cfg.game} {cfg.protocol}", unit="ep", dynamic_ncols=True)
    playing = np.zeros(envs, dtype=np.int64)  # the phase of each env's current game
    phases: list[int] = []

    def on_step(_obs, _screens, _actions, starts: np.ndarray) -> None:
        playing[starts] = env.phases()[starts]

    def on_episode(_count: int, score: float, _steps: int, i: int) -> None:
        phases.append(int(playing[i]))
        bar.update(1)
        bar.set_postfix(last=f"{score:.0f}")

    results = rollout(policy, env, cfg.seed, episodes=cfg.episodes, on_step=on_step, on_episode=on_episode)
    bar.close()
    env.close()
    scores = [s for s, _ in results]
    summary = summarize(scores)
    frames = agent.frames_trained
    return {
        "game": env_cfg.game, "preset": agent.preset, "checkpoint": str(path), "frames_trained": frames,
        **summary,
        "protocol": {"name": cfg.protocol, "env": "ale-py vector interface, AtariVectorEnv settings",
                     "frameskip": env_cfg.frameskip, "max_pool_last_two_frames": env_cfg.maxpool,
                     "repeat_action_probability": env_cfg.repeat_action_probability,
                     "noop_max": env_cfg.noop_max, "max_episode_frames": env_cfg.max_episode_frames,
                     "episode_end": "game over (not life loss) or frame cap", "actions": cfg.policy,
                     "full_action_space": env_cfg.full_action_space, "seed": cfg.seed},
        "by_phase": by_phase(scores, phases),
        "scores": scores, "lengths": [n for _, n in results], "phases": phases,
        "wall_seconds": round(time.time() - t0, 1),
    }


if __name__ == "__main__":
    from eac3_tf import cli

    cli.run(main, "evaluate.py")
