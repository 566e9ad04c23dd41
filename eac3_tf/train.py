"""Train an E-A3C agent: `python -m eac3_tf.train --game Pong --preset fast --frames 2000000`.

`train()` owns the run: progress lines, TensorBoard scalars, CSV curves and checkpoints, over a backend
that owns the global network and the workers' lifetime (`eac3_tf.workers.ThreadBackend`, or
`eac3_tf.ray_backend.RayBackend` across a Ray cluster). It takes env and model factories, so the test
suite trains a toy game through exactly this code.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eac3_tf import checkpoint
from eac3_tf.cli import ArgumentParser, UsageError
from eac3_tf.config import (
    DEFAULT_A3C,
    DEFAULT_PRESET,
    DEFAULT_RESET_NOOP_FRAMES,
    LR_SCHEDULES,
    A3CConfig,
    EnvConfig,
    ModelConfig,
    ObsConfig,
    RunConfig,
)
from eac3_tf.errors import ConfigError, Eac3Error
from eac3_tf.io import check_output_folder, write_json, write_text

BACKENDS = ("threads", "ray")
RUN_FILE = "run.json"  # what a logdir trains: game, preset, config; checked on reuse
EPISODES_CSV = "episodes.csv"
PROGRESS_CSV = "progress.csv"


class LogdirError(Eac3Error):
    """A logdir that holds another run, or checkpoints when not resuming, or an unreadable run.json."""


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
            raise LogdirError(f"{run_file} is unreadable; choose a new --logdir") from None
        for key in ("game", "preset"):
            if old.get(key) != meta.get(key):
                raise LogdirError(f"logdir {logdir} holds a run of {key} {old.get(key)!r}, not {meta.get(key)!r}; "
                                 f"pass --{key} {old.get(key)} to continue it, or choose another --logdir")
    if not resume and checkpoint.list_checkpoints(logdir):
        raise LogdirError(f"logdir {logdir} already has checkpoints; pass --resume to continue, "
                         "or choose a new --logdir")


class _Curves:
    """Append-only CSV logs of episodes and progress (one line per event, flushed)."""

    def __init__(self, logdir: Path, resumed_frames: int | None = None) -> None:
        """Open the CSVs for appending; on resume, first drop rows a killed run wrote after its last checkpoint."""
        self.files = {}
        self.writers = {}
        if resumed_frames is not None:
            for name in (EPISODES_CSV, PROGRESS_CSV):
                _drop_rows_after(logdir / name, resumed_frames)
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


def _drop_rows_after(path: Path, frames: int) -> None:
    """Rewrite a curve CSV without rows past `frames` (those frames are trained again after a resume)."""
    if not path.is_file():
        return
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or "frames" not in rows[0]:
        return
    col = rows[0].index("frames")

    def kept(row: list[str]) -> bool:  # a short or unparsable row is one a kill cut off
        at = _int_or_none(row[col]) if len(row) == len(rows[0]) else None
        return at is not None and at <= frames

    keep = [rows[0], *filter(kept, rows[1:])]
    if len(keep) == len(rows):
        return
    text = io.StringIO()
    csv.writer(text).writerows(keep)
    write_text(path, text.getvalue())


def _int_or_none(text: str) -> int | None:
    try:
        return int(float(text))
    except ValueError:
        return None


def _fmt_frames(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def train(env_fn: Callable, model_fn: Callable, a3c_cfg: A3CConfig, run_cfg: RunConfig, meta: dict,
          resume: bool = False, stop: threading.Event | None = None, log: Callable[[str], None] = print,
          worker_hook: Callable | None = None, backend: str = "threads", ray_address: str = "local") -> TrainResult:
    """Run A3C until `run_cfg.frames` frames, a stop request, or a worker error.

    `backend` "threads" runs the workers as threads of this process; "ray" runs a parameter-server actor
    and `run_cfg.workers` worker actors on the Ray cluster at `ray_address` ("local" starts one on this
    machine; "auto" or "host:port" joins a running one), and then `env_fn` and `model_fn` must be
    picklable (top-level functions or dataclasses such as `AtariEnvFactory`). Progress, TensorBoard, CSV
    curves, checkpoints and resume are this function's, the same for both. `worker_hook` is called with
    each worker before it starts: a `Worker` for threads, an actor handle for Ray.
    """
    import tensorflow as tf

    from eac3_tf.workers import Episode

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; accepted: {', '.join(BACKENDS)}")
    logdir = Path(run_cfg.logdir)
    check_logdir(logdir, meta, resume)
    logdir.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()

    if backend == "ray":
        from eac3_tf.ray_backend import RayBackend  # imports ray; the threads backend never does

        engine = RayBackend(env_fn, model_fn, a3c_cfg, run_cfg.seed, run_cfg.workers, run_cfg.frames, stop,
                            address=ray_address, log=log)
    else:
        from eac3_tf.workers import ThreadBackend

        engine = ThreadBackend(env_fn, model_fn, a3c_cfg, run_cfg.seed, run_cfg.workers, run_cfg.frames, stop)
    saver_model = model_fn()  # holds locked snapshots for saving, so saves never see a half-applied update
    episodes_done, wall_before = 0, 0.0
    recent: deque[float] = deque(maxlen=100)
    if resume:
        ckpt = checkpoint.latest_valid(logdir, warn=log)
        if ckpt is None:
            log(f"no valid checkpoint in {logdir}; starting from scratch")
        else:
            engine.restore(ckpt.model.get_weights(), ckpt.optimizer, ckpt.state["counters"],
                           ckpt.state.get("rng", []))
            episodes_done = int(ckpt.state.get("episodes", 0))
            wall_before = float(ckpt.state.get("wall_seconds", 0.0))
            recent.extend(ckpt.state.get("recent_scores", []))
            log(f"resumed from {ckpt.path} at {_fmt_frames(engine.frames)} frames")
    write_json(logdir / RUN_FILE, meta)
    if engine.frames >= run_cfg.frames:
        log(f"already trained {engine.frames} frames >= --frames {run_cfg.frames}; nothing to do")
        engine.close()
        return TrainResult(engine.frames, episodes_done, wall_before, _mean(recent), None,
                           engine.bad_updates)

    events: queue.Queue = queue.Queue()
    writer = tf.summary.create_file_writer(str(logdir / "tb"))
    curves = _Curves(logdir, resumed_frames=engine.frames if resume else None)
    t0 = time.time()

    def wall() -> float:
        return wall_before + time.time() - t0

    def save() -> Path:
        weights, opt, counters, rng = engine.snapshot()
        saver_model.set_weights(weights)
        state = {"counters": counters, "frames": counters["frames"], "episodes": episodes_done,
                 "wall_seconds": wall(), "recent_scores": list(recent),
                 "rng": rng, "meta": meta,
                 "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        return checkpoint.save(logdir, saver_model, opt, _jsonable(state), run_cfg.keep_checkpoints)

    metric_sums: dict[str, float] = {}
    metric_count = 0
    last_log_t, last_log_frames = time.time(), engine.frames
    every = run_cfg.checkpoint_every
    next_ckpt = (engine.frames // every + 1) * every
    last_ckpt: Path | None = None
    engine.start(events, worker_hook)
    try:
        while engine.running():
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
            frames = engine.frames
            if now - last_log_t >= run_cfg.log_every:
                fps = (frames - last_log_frames) / (now - last_log_t)
                means = {k: v / max(metric_count, 1) for k, v in metric_sums.items()}
                _progress(log, frames, run_cfg.frames, fps, episodes_done, recent, means)
                curves.row(PROGRESS_CSV, [f"{wall():.1f}", frames, f"{fps:.1f}", episodes_done,
                                          f"{_mean(recent):.3f}"] +
                           [f"{means.get(k, float('nan')):.5f}" for k in
                            ("loss", "policy_loss", "value_loss", "entropy", "grad_norm")] +
                           [engine.bad_updates])
                with writer.as_default(step=frames):
                    tf.summary.scalar("perf/frames_per_sec", fps)
                    tf.summary.scalar("train/bad_updates", engine.bad_updates)
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
        errors = engine.join(timeout=60)
        try:
            if not errors or engine.updates > 0:
                last_ckpt = save()
                log(f"saved {last_ckpt}")
        finally:
            engine.close()
            curves.close()
            writer.close()
    if errors:
        raise errors[0]
    return TrainResult(engine.frames, episodes_done, wall(), _mean(recent), last_ckpt, engine.bad_updates)


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


@dataclasses.dataclass(frozen=True)
class AtariEnvFactory:
    """`env_fn` for Atari games: plain settings rather than a closure, so Ray can ship it to other machines."""

    env: EnvConfig
    obs: ObsConfig
    num_envs: int  # envs per worker
    num_threads: int = 0  # ALE's C++ threads per worker; 0 lets ale-py choose

    def __call__(self, worker_id: int):
        """The batch of envs of worker `worker_id`."""
        from eac3_tf.envs import AtariBatchEnv

        return AtariBatchEnv(self.env, self.obs, self.num_envs, num_threads=self.num_threads)


@dataclasses.dataclass(frozen=True)
class ModelFactory:
    """`model_fn`: builds a fresh network of the run's architecture (picklable, like `AtariEnvFactory`)."""

    obs_shape: tuple[int, int, int]
    num_actions: int
    model: ModelConfig

    def __call__(self):
        """A new, randomly initialised network."""
        from eac3_tf.model import build_model

        return build_model(self.obs_shape, self.num_actions, self.model)


# ----------------------------------------------------------------------------------------------- CLI
def parser() -> ArgumentParser:
    """The flags of `python -m eac3_tf.train` (a plain run trains DEFAULT_PRESET with DEFAULT_A3C)."""
    from eac3_tf.config import PRESETS

    defaults = RunConfig()
    p = ArgumentParser("train.py", __doc__.split("\n")[0])
    p.add_argument("--game", default="Pong", help="ALE game, e.g. Pong, Qbert, SpaceInvaders (any ALE game).")
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"Network preset: {', '.join(PRESETS)}.")
    p.add_argument("--frames", type=int, default=defaults.frames, help="Frames to train for (agent steps x "
                                                                       "frameskip).")
    p.add_argument("--workers", type=int, default=defaults.workers, help="A3C workers (default: CPU cores).")
    p.add_argument("--envs_per_worker", type=int, default=DEFAULT_A3C.envs_per_worker,
                   help="Envs each worker steps as a batch.")
    p.add_argument("--logdir", help="Run folder: checkpoints, TensorBoard, CSV curves (default runs/<game>).")
    p.add_argument("--seed", type=int, default=defaults.seed, help="Random seed.")
    p.add_argument("--learning_rate", type=float, default=DEFAULT_A3C.learning_rate,
                   help="Shared RMSProp step size at frame 0.")
    p.add_argument("--lr_schedule", choices=LR_SCHEDULES, default=DEFAULT_A3C.lr_schedule,
                   help="constant, or linear: decays to 0 at --frames (a resumed run continues the decay).")
    p.add_argument("--entropy_beta", type=float, default=DEFAULT_A3C.entropy_beta, help="Weight of the entropy "
                                                                                        "bonus.")
    p.add_argument("--t_max", type=int, default=DEFAULT_A3C.t_max,
                   help="Agent steps each env rolls out before an update (the n of the n-step returns).")
    p.add_switch("life_loss_terminal", DEFAULT_A3C.life_loss_terminal,
                 "Treat a lost life as the end of an episode for learning (no bootstrapping across it), as "
                 "baselines' EpisodicLifeEnv does; scores are still whole games.")
    p.add_argument("--reset_noop_frames", type=int, default=DEFAULT_RESET_NOOP_FRAMES,
                   help="Training only: a uniform 0..N-1 no-op emulator frames at every reset, so the agent does "
                        "not learn one frame phase (evaluation keeps its protocol); 0: none.")
    p.add_argument("--phase_jitter", type=float, default=EnvConfig.phase_jitter,
                   help="Training only: the probability that a step lasts one frame more or less than the skip "
                        "(half each), so every game wanders over the frame phases; 0: never.")
    p.add_switch("maxpool", EnvConfig.maxpool, "An observation is the max of the last two frames of a skip; "
                 "--nomaxpool: the last frame alone, as gymnasium's ALE/<Game>-v5 gives it.")
    p.add_switch("resume", help="Continue from the newest valid checkpoint in --logdir.")
    p.add_argument("--backend", choices=BACKENDS, default="threads",
                   help="threads: workers are threads of this process; ray: a parameter-server actor and --workers "
                        "worker actors on a Ray cluster (pip install -e \".[ray]\").")
    p.add_argument("--ray_address", default="local", help="With --backend ray: local (start a one-machine cluster), "
                   "auto (join the cluster `ray start` runs here) or host:port of a head node.")
    p.add_argument("--checkpoint_every", type=int, default=defaults.checkpoint_every,
                   help="Frames between checkpoints.")
    p.add_argument("--log_every", type=float, default=defaults.log_every, help="Seconds between progress lines.")
    return p


def configs(f) -> tuple[str, EnvConfig, ModelConfig, A3CConfig, RunConfig]:
    """The game and the configs the flags ask for; each config checks its own ranges (ConfigError)."""
    from eac3_tf.config import PRESETS
    from eac3_tf.envs import game_id

    try:
        game = game_id(f.game)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if f.preset not in PRESETS:
        raise UsageError(f"unknown --preset {f.preset!r}; accepted: {', '.join(PRESETS)}")
    try:
        env_cfg = EnvConfig(game=game, noop_max=f.reset_noop_frames, maxpool=f.maxpool, phase_jitter=f.phase_jitter)
    except ConfigError as exc:
        field = "reset_noop_frames" if exc.field == "noop_max" else exc.field
        raise ConfigError(field, exc.problem) from None
    a3c_cfg = dataclasses.replace(DEFAULT_A3C, t_max=f.t_max, envs_per_worker=f.envs_per_worker,
                                  learning_rate=f.learning_rate, lr_schedule=f.lr_schedule,
                                  entropy_beta=f.entropy_beta, life_loss_terminal=f.life_loss_terminal)
    run_cfg = RunConfig(frames=f.frames, workers=f.workers, logdir=f.logdir or f"runs/{game}", seed=f.seed,
                        checkpoint_every=f.checkpoint_every, log_every=f.log_every)
    return game, env_cfg, PRESETS[f.preset], a3c_cfg, run_cfg


def main(argv: list[str] | None = None) -> int:
    """`python -m eac3_tf.train`: check the flags and the logdir, then train until --frames or a signal."""
    f = parser().parse_args(argv)
    game, env_cfg, model_cfg, a3c_cfg, run_cfg = configs(f)
    meta = {"game": game, "preset": f.preset, "env": dataclasses.asdict(env_cfg),
            "model": dataclasses.asdict(model_cfg), "a3c": dataclasses.asdict(a3c_cfg),
            "run": dataclasses.asdict(run_cfg)}
    check_logdir(Path(run_cfg.logdir), meta, f.resume)  # fail before building anything
    check_output_folder(run_cfg.logdir, "--logdir")
    if f.backend == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise UsageError('--backend ray needs Ray: pip install -e ".[ray]" (or use --backend threads)')

    from eac3_tf.cli import import_tensorflow_quietly

    tf = import_tensorflow_quietly()

    from eac3_tf.envs import AtariBatchEnv

    tf.random.set_seed(f.seed)
    probe = AtariBatchEnv(env_cfg, model_cfg.obs, 1)
    num_actions, obs_shape = probe.num_actions, probe.obs_shape
    probe.close()
    threads_per_env = max(1, (os.cpu_count() or 1) // f.workers)
    env_fn = AtariEnvFactory(env_cfg, model_cfg.obs, f.envs_per_worker, threads_per_env)
    model_fn = ModelFactory(tuple(obs_shape), int(num_actions), model_cfg)

    stop = threading.Event()

    def on_signal(signum, _frame):
        print(f"\nreceived {signal.Signals(signum).name}: saving a checkpoint and stopping", flush=True)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"training {game} with preset {f.preset}: {f.workers} {f.backend} workers x {f.envs_per_worker} envs, "
          f"{obs_shape} inputs, {num_actions} actions, logdir {run_cfg.logdir}", flush=True)
    from eac3_tf.workers import NonFiniteError

    try:
        result = train(env_fn, model_fn, a3c_cfg, run_cfg, meta, resume=f.resume, stop=stop,
                       log=lambda s: print(s, flush=True), backend=f.backend, ray_address=f.ray_address)
    except NonFiniteError as exc:  # the numbers, not the input: one line, exit 1, checkpoints kept
        print(f"train: error: {exc}; the newest checkpoint in {run_cfg.logdir} is from before it", file=sys.stderr)
        return 1
    print(f"done: {result.frames} frames, {result.episodes} episodes, {result.wall_seconds:.0f} s, "
          f"mean100 {result.recent_mean:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    from eac3_tf import cli

    cli.run(main, "train.py")
