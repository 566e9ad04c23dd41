"""Trainer frames/s on a real game for several worker counts and presets, and where a step's time goes.

Usage: python bench/trainer_fps.py [--game pong] [--workers 1 2 4] [--presets fast impala] [--seconds 60]
Each configuration runs the real `python -m eac3_tf.train` in a subprocess for `--seconds` and reads
its progress.csv; the figure is frames/s after the first progress interval (tracing excluded).
Then, per preset, the same worker threads run in this process for `--breakdown_seconds` and report the
share of each worker's time spent emulating, preprocessing, acting (forward + sampling), taking
gradients and applying them (lock wait included). Saves results/bench/trainer_fps.json + .md.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eac3_tf.cli import ArgumentParser, run

ROOT = Path(__file__).resolve().parents[1]


def measure(game: str, preset: str, workers: int, seconds: float, envs: int) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix=f"fps_{preset}_{workers}_")) / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "eac3_tf.train", "--game", game, "--preset", preset, "--frames", "1000000000",
           "--workers", str(workers), "--envs_per_worker", str(envs), "--logdir", str(logdir), "--log_every", "5",
           "--checkpoint_every", "1000000000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=300)
    rows = list(csv.DictReader(open(logdir / "progress.csv")))
    if len(rows) < 3:
        raise RuntimeError(f"too few progress rows for {preset}/{workers}: {proc.stderr.read()[-500:]}")
    first, last = rows[0], rows[-1]  # skip the first interval: it holds tf.function tracing
    fps = (int(last["frames"]) - int(first["frames"])) / (float(last["wall_seconds"]) - float(first["wall_seconds"]))
    return {"game": game, "preset": preset, "workers": workers, "envs_per_worker": envs,
            "frames_per_sec": round(fps, 1), "agent_steps_per_sec": round(fps / 4, 1),
            "measured_seconds": round(float(last["wall_seconds"]) - float(first["wall_seconds"]), 1)}


def breakdown(game: str, preset: str, workers: int, envs: int, t_max: int, seconds: float) -> dict:
    """Run `workers` A3C threads in-process and split each worker's wall time by stage."""
    import queue
    import threading

    sys.path.insert(0, str(ROOT))
    from eac3_tf.config import PRESETS, A3CConfig, EnvConfig
    from eac3_tf.envs import game_id
    from eac3_tf.train import AtariEnvFactory, ModelFactory
    from eac3_tf.workers import ThreadBackend

    cfg = PRESETS[preset]
    env_fn = AtariEnvFactory(EnvConfig(game=game_id(game)), cfg.obs, envs, max(1, (os.cpu_count() or 1) // workers))
    probe = env_fn(0)
    model_fn = ModelFactory(tuple(probe.obs_shape), int(probe.num_actions), cfg)
    probe.close()
    stop, events = threading.Event(), queue.Queue()
    backend = ThreadBackend(env_fn, model_fn, A3CConfig(t_max=t_max, envs_per_worker=envs), 0, workers, 10**12, stop)
    backend.start(events)
    while backend.updates < 4 * workers and backend.running():  # tracing and warm-up, not counted
        time.sleep(0.5)
    time.sleep(3.0)
    marks = [(w.learner.seconds.copy(), w.learner.env.seconds.copy(), w.apply_seconds) for w in backend.workers]
    f0, t0 = backend.frames, time.perf_counter()
    time.sleep(seconds)
    f1, t1 = backend.frames, time.perf_counter()
    shares = {k: 0.0 for k in ("emulate", "preprocess", "act", "gradients", "apply", "other")}
    for w, (learner0, env0, apply0) in zip(backend.workers, marks, strict=True):
        emulate = w.learner.env.seconds["emulate"] - env0["emulate"]
        pre = w.learner.env.seconds["preprocess"] - env0["preprocess"]
        act = w.learner.seconds["act"] - learner0["act"]
        grads = w.learner.seconds["gradients"] - learner0["gradients"]
        apply = w.apply_seconds - apply0
        for key, v in (("emulate", emulate), ("preprocess", pre), ("act", act), ("gradients", grads),
                       ("apply", apply), ("other", (t1 - t0) - emulate - pre - act - grads - apply)):
            shares[key] += v / (t1 - t0) / workers
    backend.join(timeout=60)
    return {"preset": preset, "workers": workers, "envs_per_worker": envs, "t_max": t_max,
            "frames_per_sec": round((f1 - f0) / (t1 - t0), 1), "share_of_worker_time": {k: round(v, 3)
                                                                                         for k, v in shares.items()}}


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="trainer_fps.py")
    p.add_argument("--game", default="pong")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--presets", nargs="+", default=["fast", "impala"])
    p.add_argument("--breakdown_seconds", type=float, default=60, help="0 skips the in-process breakdown")
    p.add_argument("--t_max", type=int, default=20, help="t_max of the breakdown runs")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--envs_per_worker", type=int, default=8)
    p.add_argument("--out", default="results/bench/trainer_fps")
    args = p.parse_args(argv)
    results = []
    for preset in args.presets:
        for w in args.workers:
            r = measure(args.game, preset, w, args.seconds, args.envs_per_worker)
            print(f"{preset:6s} workers={w}: {r['frames_per_sec']:8.1f} frames/s "
                  f"({r['agent_steps_per_sec']:.1f} agent steps/s)", flush=True)
            results.append(r)
    lines = ["| preset | workers | envs/worker | frames/s | agent steps/s |", "|---|---|---|---|---|"]
    lines += [f"| {r['preset']} | {r['workers']} | {r['envs_per_worker']} | {r['frames_per_sec']:,.0f} | "
              f"{r['agent_steps_per_sec']:,.0f} |" for r in results]
    splits = [breakdown(args.game, preset, 2, args.envs_per_worker, args.t_max, args.breakdown_seconds)
              for preset in args.presets] if args.breakdown_seconds > 0 else []
    if splits:
        stages = list(splits[0]["share_of_worker_time"])
        lines += ["", f"Share of each worker's time, 2 worker threads in-process, t_max {args.t_max}:", "",
                  "| preset | frames/s | " + " | ".join(stages) + " |", "|---|---|" + "---|" * len(stages)]
        lines += [f"| {b['preset']} | {b['frames_per_sec']:,.0f} | " +
                  " | ".join(f"{100 * b['share_of_worker_time'][k]:.0f}%" for k in stages) + " |" for b in splits]
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    from eac3_tf.suite import cpu_model

    meta = {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "seconds_per_config": args.seconds, "results": results,
            "breakdown": splits, "command": "python bench/trainer_fps.py " + " ".join(sys.argv[1:])}
    sys.path.insert(0, str(ROOT))
    from eac3_tf.io import write_text

    write_text(out.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run(main, "trainer_fps.py")
