"""Train an E-A3C agent: `python -m eac3_tf.train --game Pong --preset fast --frames 2000000`.

`train()` owns the run: the global network, the worker threads' lifetime, progress lines,
TensorBoard scalars, CSV curves and checkpoints. It takes env and model factories, so the test
suite trains a toy game through exactly this code.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eac3_tf import checkpoint
from eac3_tf.cli import UsageError
from eac3_tf.config import LR_SCHEDULES, A3CConfig, RunConfig

RUN_FILE = "run.json"  # what a logdir trains: game, preset, config; checked on reuse
EPISODES_CSV = "episodes.csv"
PROGRESS_CSV = "progress.csv"


@dataclasses.dataclass
class TrainResult:
    """What a finished (or stopped) run reports."""

    frames: int
    episodes: int
    wall_seconds: float
    recent_mean: float  # mean raw score of the last 100 episodes (nan if none)
    checkpoint: Path | None
    bad_updates: int


def check_logdir(logdir: Path, meta: dict, resume: bool) -> None:
    """Refuse a logdir that trains something else, or that holds checkpoints when not resuming."""
    run_file = logdir / RUN_FILE
    if run_file.is_file():
        try:
            old = json.loads(run_file.read_text())
        except ValueError:
            raise UsageError(f"{run_file} is unreadable; choose a new --logdir") from None
        for key in ("game", "preset"):
            if old.get(key) != meta.get(key):
                raise UsageError(f"logdir {logdir} holds a run of {key} {old.get(key)!r}, not {meta.get(key)!r}; "
                                 "choose another --logdir")
    if not resume and checkpoint.list_checkpoints(logdir):
        raise UsageError(f"logdir {logdir} already has checkpoints; pass --resume to continue, "
                         "or choose a new --logdir")


class _Curves:
    """Append-only CSV logs of episodes and progress (one line per event, flushed)."""

    def __init__(self, logdir: Path) -> None:
        self.files = {}
        self.writers = {}
        for name, header in ((EPISODES_CSV, ["wall_seconds", "frames", "worker", "score", "length"]),
                             (PROGRESS_CSV, ["wall_seconds", "frames", "frames_per_sec", "episodes",
                                             "mean100_score", "loss", "policy_loss", "value_loss", "entropy",
                                             "grad_norm", "bad_updates"])):
            path = logdir / name
            new = not path.exists()
            self.files[name] = open(path, "a", newline="")
            self.writers[name] = csv.writer(self.files[name])
            if new:
                self.writers[name].writerow(header)

    def row(self, name: str, values: list) -> None:
        self.writers[name].writerow(values)
        self.files[name].flush()

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def _fmt_frames(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def train(env_fn: Callable, model_fn: Callable, a3c_cfg: A3CConfig, run_cfg: RunConfig, meta: dict,
          resume: bool = False, stop: threading.Event | None = None, log: Callable[[str], None] = print,
          worker_hook: Callable | None = None) -> TrainResult:
    """Run threaded A3C until `run_cfg.frames` frames, a stop request, or a worker error."""
    import tensorflow as tf

    from eac3_tf.workers import Episode, GlobalNetwork, Worker

    logdir = Path(run_cfg.logdir)
    check_logdir(logdir, meta, resume)
    logdir.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()

    global_net = GlobalNetwork(model_fn(), a3c_cfg)
    saver_model = model_fn()  # holds locked snapshots for saving, so saves never see a half-applied update
    rng_states: list = []
    episodes_done, wall_before = 0, 0.0
    recent: deque[float] = deque(maxlen=100)
    if resume:
        ckpt = checkpoint.latest_valid(logdir, warn=log)
        if ckpt is None:
            log(f"no valid checkpoint in {logdir}; starting from scratch")
        else:
            global_net.restore(ckpt.model.get_weights(), ckpt.optimizer, ckpt.state["counters"])
            rng_states = ckpt.state.get("rng", [])
            episodes_done = int(ckpt.state.get("episodes", 0))
            wall_before = float(ckpt.state.get("wall_seconds", 0.0))
            recent.extend(ckpt.state.get("recent_scores", []))
            log(f"resumed from {ckpt.path} at {_fmt_frames(global_net.frames)} frames")
    checkpoint.write_json_atomic(logdir / RUN_FILE, meta)
    if global_net.frames >= run_cfg.frames:
        log(f"already trained {global_net.frames} frames >= --frames {run_cfg.frames}; nothing to do")
        return TrainResult(global_net.frames, episodes_done, wall_before, _mean(recent), None,
                           global_net.bad_updates)

    events: queue.Queue = queue.Queue()
    workers = [Worker(i, global_net, env_fn, model_fn, a3c_cfg, run_cfg.seed, run_cfg.frames, stop, events,
                      rng_state=rng_states[i] if i < len(rng_states) else None)
               for i in range(run_cfg.workers)]
    if worker_hook is not None:
        for w in workers:
            worker_hook(w)
    writer = tf.summary.create_file_writer(str(logdir / "tb"))
    curves = _Curves(logdir)
    t0 = time.time()

    def wall() -> float:
        return wall_before + time.time() - t0

    def save() -> Path:
        weights, opt, counters = global_net.snapshot()
        saver_model.set_weights(weights)
        state = {"counters": counters, "frames": counters["frames"], "episodes": episodes_done,
                 "wall_seconds": wall(), "recent_scores": list(recent),
                 "rng": [w.rng.bit_generator.state for w in workers], "meta": meta,
                 "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        return checkpoint.save(logdir, saver_model, opt, _jsonable(state), run_cfg.keep_checkpoints)

    metric_sums: dict[str, float] = {}
    metric_count = 0
    last_log_t, last_log_frames = time.time(), global_net.frames
    every = run_cfg.checkpoint_every
    next_ckpt = (global_net.frames // every + 1) * every
    last_ckpt: Path | None = None
    for w in workers:
        w.start()
    try:
        while any(w.thread.is_alive() for w in workers):
            try:
                event = events.get(timeout=0.2)
            except queue.Empty:
                event = None
            while event is not None:
                if isinstance(event, Episode):
                    episodes_done += 1
                    recent.append(event.score)
                    curves.row(EPISODES_CSV, [f"{wall():.1f}", event.frames, event.worker, event.score, event.length])
                    with writer.as_default(step=event.frames):
                        tf.summary.scalar("episode/score", event.score)
                        tf.summary.scalar("episode/length", event.length)
                elif isinstance(event, dict):
                    for k, v in event.items():
                        metric_sums[k] = metric_sums.get(k, 0.0) + v
                    metric_count += 1
                elif isinstance(event, tuple) and event[0] == "bad_update":
                    log(f"skipped an update with non-finite loss or gradients ({event[1]} so far)")
                try:
                    event = events.get_nowait()
                except queue.Empty:
                    event = None
            now = time.time()
            frames = global_net.frames
            if now - last_log_t >= run_cfg.log_every:
                fps = (frames - last_log_frames) / (now - last_log_t)
                means = {k: v / max(metric_count, 1) for k, v in metric_sums.items()}
                _progress(log, frames, run_cfg.frames, fps, episodes_done, recent, means)
                curves.row(PROGRESS_CSV, [f"{wall():.1f}", frames, f"{fps:.1f}", episodes_done,
                                          f"{_mean(recent):.3f}"] +
                           [f"{means.get(k, float('nan')):.5f}" for k in
                            ("loss", "policy_loss", "value_loss", "entropy", "grad_norm")] +
                           [global_net.bad_updates])
                with writer.as_default(step=frames):
                    tf.summary.scalar("perf/frames_per_sec", fps)
                    tf.summary.scalar("train/bad_updates", global_net.bad_updates)
                    if recent:
                        tf.summary.scalar("episode/mean100_score", _mean(recent))
                    for k, v in means.items():
                        tf.summary.scalar(f"train/{k}", v)
                writer.flush()
                metric_sums, metric_count = {}, 0
                last_log_t, last_log_frames = now, frames
            if frames >= next_ckpt and not stop.is_set():
                last_ckpt = save()
                next_ckpt = (frames // every + 1) * every
    finally:
        stop.set()
        for w in workers:
            w.thread.join(timeout=60)
        errors = [w.error for w in workers if w.error is not None]
        if not errors or global_net.updates > 0:
            last_ckpt = save()
            log(f"saved {last_ckpt}")
        curves.close()
        writer.close()
    if errors:
        raise errors[0]
    return TrainResult(global_net.frames, episodes_done, wall(), _mean(recent), last_ckpt, global_net.bad_updates)


def _mean(xs) -> float:
    return float(np.mean(xs)) if len(xs) else float("nan")


def _jsonable(x):
    """Numpy scalars and tuples from RNG states and configs, as plain JSON values."""
    return json.loads(json.dumps(x, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _progress(log, frames, total, fps, episodes, recent, means) -> None:
    parts = [f"frames {_fmt_frames(frames)}/{_fmt_frames(total)}", f"{fps:,.0f} frames/s", f"episodes {episodes}"]
    if recent:
        parts.append(f"mean{len(recent)} {_mean(recent):.2f}")
    if means:
        parts.append(f"loss {means.get('loss', float('nan')):.3f} ent {means.get('entropy', float('nan')):.3f}")
    log(" | ".join(parts))


# ----------------------------------------------------------------------------------------------- CLI
def _define_flags() -> None:
    from absl import flags

    defaults = RunConfig()
    flags.DEFINE_string("game", "Pong", "ALE game, e.g. Pong, Qbert, SpaceInvaders (any ALE game).")
    flags.DEFINE_string("preset", "fast", "Network preset: fast or paper.")
    flags.DEFINE_integer("frames", defaults.frames, "Frames to train for (agent steps x frameskip).")
    flags.DEFINE_integer("workers", defaults.workers, "A3C worker threads (default: CPU cores).")
    flags.DEFINE_integer("envs_per_worker", A3CConfig.envs_per_worker, "Envs each worker steps as a batch.")
    flags.DEFINE_string("logdir", None, "Run folder: checkpoints, TensorBoard, CSV curves (default runs/<game>).")
    flags.DEFINE_integer("seed", defaults.seed, "Random seed.")
    flags.DEFINE_float("learning_rate", A3CConfig.learning_rate, "Shared RMSProp step size at frame 0.")
    flags.DEFINE_enum("lr_schedule", A3CConfig.lr_schedule, list(LR_SCHEDULES),
                      "constant, or linear: decays to 0 at --frames (a resumed run continues the decay).")
    flags.DEFINE_float("entropy_beta", A3CConfig.entropy_beta, "Weight of the entropy bonus.")
    flags.DEFINE_bool("resume", False, "Continue from the newest valid checkpoint in --logdir.")
    flags.DEFINE_integer("checkpoint_every", defaults.checkpoint_every, "Frames between checkpoints.")
    flags.DEFINE_float("log_every", defaults.log_every, "Seconds between progress lines.")


def main() -> int:
    """Entry point after flag parsing."""
    from absl import flags

    from eac3_tf.config import PRESETS, EnvConfig
    from eac3_tf.envs import game_id

    f = flags.FLAGS
    try:
        game = game_id(f.game)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if f.preset not in PRESETS:
        raise UsageError(f"unknown --preset {f.preset!r}; accepted: {', '.join(PRESETS)}")
    for name in ("frames", "workers", "envs_per_worker", "checkpoint_every"):
        if getattr(f, name) <= 0:
            raise UsageError(f"--{name} must be a positive integer, got {getattr(f, name)}")
    if f.workers > 64 or f.envs_per_worker > 256:
        raise UsageError(f"--workers must be 1..64 and --envs_per_worker 1..256, got {f.workers}, {f.envs_per_worker}")
    if f.log_every <= 0:
        raise UsageError(f"--log_every must be positive seconds, got {f.log_every}")
    model_cfg = PRESETS[f.preset]
    env_cfg = EnvConfig(game=game)
    if not 0 < f.learning_rate < 1:
        raise UsageError(f"--learning_rate must be in (0, 1), got {f.learning_rate}")
    if not 0 <= f.entropy_beta < 1:
        raise UsageError(f"--entropy_beta must be in [0, 1), got {f.entropy_beta}")
    a3c_cfg = A3CConfig(envs_per_worker=f.envs_per_worker, learning_rate=f.learning_rate,
                        lr_schedule=f.lr_schedule, entropy_beta=f.entropy_beta)
    run_cfg = RunConfig(frames=f.frames, workers=f.workers, logdir=f.logdir or f"runs/{game}", seed=f.seed,
                        checkpoint_every=f.checkpoint_every, log_every=f.log_every)
    meta = {"game": game, "preset": f.preset, "env": dataclasses.asdict(env_cfg),
            "model": dataclasses.asdict(model_cfg), "a3c": dataclasses.asdict(a3c_cfg),
            "run": dataclasses.asdict(run_cfg)}
    check_logdir(Path(run_cfg.logdir), meta, f.resume)  # fail before building anything

    from eac3_tf.cli import import_tensorflow_quietly

    tf = import_tensorflow_quietly()

    from eac3_tf.envs import AtariBatchEnv
    from eac3_tf.model import build_model

    tf.random.set_seed(f.seed)
    probe = AtariBatchEnv(env_cfg, model_cfg.obs, 1)
    num_actions, obs_shape = probe.num_actions, probe.obs_shape
    probe.close()
    threads_per_env = max(1, (os.cpu_count() or 1) // f.workers)

    def env_fn(worker_id: int):
        return AtariBatchEnv(env_cfg, model_cfg.obs, f.envs_per_worker, num_threads=threads_per_env)

    def model_fn():
        return build_model(obs_shape, num_actions, model_cfg)

    stop = threading.Event()

    def on_signal(signum, _frame):
        print(f"\nreceived {signal.Signals(signum).name}: saving a checkpoint and stopping", flush=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"training {game} with preset {f.preset}: {f.workers} workers x {f.envs_per_worker} envs, "
          f"{obs_shape} inputs, {num_actions} actions, logdir {run_cfg.logdir}", flush=True)
    result = train(env_fn, model_fn, a3c_cfg, run_cfg, meta, resume=f.resume, stop=stop,
                   log=lambda s: print(s, flush=True))
    print(f"done: {result.frames} frames, {result.episodes} episodes, {result.wall_seconds:.0f} s, "
          f"mean100 {result.recent_mean:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    from eac3_tf import cli

    cli.run(main, _define_flags)
