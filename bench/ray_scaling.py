"""Ray backend against the threaded one, and how far one parameter server scales.

Usage: python bench/ray_scaling.py [--game pong] [--preset fast] [--workers 1 2] [--seconds 60] [--pushes 300]

1. Trainer frames/s, for each worker count, of `python -m eac3_tf.train --backend threads` and of
   `--backend ray --ray_address local`, each in a subprocess for `--seconds` (read from its progress.csv,
   from the first interval with frames on: start-up, Ray's included, is excluded).
2. The parameter server alone, in a local cluster: the bytes of one update (gradients pushed, weights
   pulled), its time per update (the optimizer step, and the whole `push`), and its update rate when
   4 pushes are always in flight (what it can serve), as well as one at a time (a worker's round trip).
3. From those: how many workers (and nodes like this one) the one parameter server can serve before its
   CPU, or a 1 or 10 Gbit/s network link, saturates.

Saves results/bench/ray_scaling.json + .md (written to a temp file, then renamed).
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

from eac3_tf.io import write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eac3_tf.cli import ArgumentParser, run  # noqa: E402

  # noqa: E402

ACTIONS = {"pong": 6}  # minimal action sets, to build the network without an emulator


def measure_trainer(backend: str, game: str, preset: str, workers: int, envs: int, seconds: float) -> dict:
    logdir = Path(tempfile.mkdtemp(prefix=f"ray_scaling_{backend}_{workers}_")) / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "eac3_tf.train", "--game", game, "--preset", preset, "--frames", "1000000000",
           "--workers", str(workers), "--envs_per_worker", str(envs), "--logdir", str(logdir), "--log_every", "5",
           "--checkpoint_every", "1000000000", "--backend", backend, "--ray_address", "local"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + seconds + 180  # start-up (TensorFlow in every actor, a Ray cluster) is not measured
    rows: list[dict] = []
    while time.time() < deadline and proc.poll() is None:
        time.sleep(2)
        path = logdir / "progress.csv"
        rows = [r for r in csv.DictReader(open(path)) if int(r["frames"]) > 0] if path.exists() else []
        if rows and float(rows[-1]["wall_seconds"]) - float(rows[0]["wall_seconds"]) >= seconds:
            break
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
    if len(rows) < 2:
        raise RuntimeError(f"too few progress rows for {backend}/{workers}: {proc.stderr.read()[-800:]}")
    first, last = rows[0], rows[-1]  # the first row with frames closes the interval that held tracing
    span = float(last["wall_seconds"]) - float(first["wall_seconds"])
    fps = (int(last["frames"]) - int(first["frames"])) / span
    return {"backend": backend, "workers": workers, "envs_per_worker": envs, "frames_per_sec": round(fps, 1),
            "measured_seconds": round(span, 1)}


def measure_parameter_server(preset: str, game: str, envs: int, pushes: int, in_flight: int) -> dict:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a local cluster on loopback only
    import numpy as np
    import ray

    from eac3_tf.config import PRESETS, A3CConfig
    from eac3_tf.ray_backend import ParameterServer, connect
    from eac3_tf.train import ModelFactory

    connect("local", num_cpus=os.cpu_count(), log=lambda s: None)
    cfg = PRESETS[preset]
    model_fn = ModelFactory(cfg.obs.shape, ACTIONS.get(game, 18), cfg)
    a3c_cfg = A3CConfig(envs_per_worker=envs)
    frames_per_update = a3c_cfg.t_max * envs * 4
    ps = ray.remote(ParameterServer).options(num_cpus=0).remote(model_fn, a3c_cfg, 10**12, 1)
    weights = ray.get(ps.register.remote(0))["weights"]
    rng = np.random.default_rng(0)
    grads = [rng.normal(0, 1e-4, w.shape).astype(np.float32) for w in weights]
    extras = ([(0.0, 800)], {"loss": 0.1, "policy_loss": 0.0, "value_loss": 0.1, "entropy": 1.7, "grad_norm": 0.5},
              np.random.default_rng(0).bit_generator.state)
    extra_bytes = len(ray.cloudpickle.dumps(extras))
    seq = 0

    def push():
        nonlocal seq
        seq += 1
        return ps.push.remote(0, 0, seq, grads, True, frames_per_update, *extras)

    for _ in range(20):  # warm-up: tf.function tracing, object store
        ray.get(push())
    before = ray.get(ps.stats.remote())
    t0 = time.perf_counter()
    for _ in range(pushes // 3):
        ray.get(push())
    sequential = (pushes // 3) / (time.perf_counter() - t0)
    mid = ray.get(ps.stats.remote())
    t0 = time.perf_counter()
    pending = [push() for _ in range(in_flight)]
    done = 0
    while done < pushes:
        ready, pending = ray.wait(pending, num_returns=1)
        ray.get(ready)
        done += 1
        pending.append(push())
    saturated = done / (time.perf_counter() - t0)
    ray.get(pending)
    after = ray.get(ps.stats.remote())
    ray.kill(ps)
    n = after["pushes"] - before["pushes"]
    return {"parameters": int(sum(w.size for w in weights)), "frames_per_update": frames_per_update,
            "grad_bytes": after["bytes_in"], "weight_bytes": after["bytes_out"], "other_bytes": extra_bytes,
            "apply_ms": round(1e3 * (after["apply_seconds"] - before["apply_seconds"]) / n, 3),
            "push_handler_ms": round(1e3 * (after["push_seconds"] - before["push_seconds"]) / n, 3),
            "round_trip_ms": round(1e3 / sequential, 3), "sequential_updates_per_sec": round(sequential, 1),
            "saturated_updates_per_sec": round(saturated, 1), "in_flight": in_flight,
            "saturated_push_handler_ms": round(
                1e3 * (after["push_seconds"] - mid["push_seconds"]) / (after["pushes"] - mid["pushes"]), 3)}


def estimate(results: list[dict], ps: dict) -> dict:
    ray_fps = {r["workers"]: r["frames_per_sec"] for r in results if r["backend"] == "ray"}
    per_worker_fps = ray_fps[min(ray_fps)] / min(ray_fps)  # one worker with a core of its own
    per_worker_ups = per_worker_fps / ps["frames_per_update"]
    message = max(ps["grad_bytes"], ps["weight_bytes"]) + ps["other_bytes"]  # each way on a full-duplex link
    out = {"per_worker_frames_per_sec": round(per_worker_fps, 1),
           "per_worker_updates_per_sec": round(per_worker_ups, 2),
           "ps_max_updates_per_sec_cpu": ps["saturated_updates_per_sec"],
           "workers_before_ps_cpu_saturates": round(ps["saturated_updates_per_sec"] / per_worker_ups, 1),
           "ps_max_frames_per_sec": round(ps["saturated_updates_per_sec"] * ps["frames_per_update"])}
    for gbit in (1, 10):
        ups = gbit * 1e9 / 8 / message
        out[f"ps_max_updates_per_sec_{gbit}gbit"] = round(ups, 1)
        out[f"workers_before_{gbit}gbit_link_saturates"] = round(ups / per_worker_ups, 1)
    w_node = max(ray_fps)
    out["workers_per_node_like_this_one"] = w_node
    node_ups = ray_fps[w_node] / ps["frames_per_update"]
    out["nodes_like_this_one_before_ps_cpu_saturates"] = round(ps["saturated_updates_per_sec"] / node_ups, 1)
    return out


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="ray_scaling.py")
    p.add_argument("--game", default="pong")
    p.add_argument("--preset", default="fast")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--envs_per_worker", type=int, default=8)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--pushes", type=int, default=300)
    p.add_argument("--in_flight", type=int, default=4)
    p.add_argument("--note", default="", help="e.g. 'measured while another training job used the cores'")
    p.add_argument("--out", default="results/bench/ray_scaling")
    args = p.parse_args(argv)

    results = []
    for w in args.workers:
        for backend in ("threads", "ray"):
            r = measure_trainer(backend, args.game, args.preset, w, args.envs_per_worker, args.seconds)
            print(f"{backend:7s} workers={w}: {r['frames_per_sec']:8.1f} frames/s over {r['measured_seconds']} s",
                  flush=True)
            results.append(r)
    for r in results:
        if r["backend"] == "ray":
            threads = next(t for t in results if t["backend"] == "threads" and t["workers"] == r["workers"])
            r["ratio_to_threads"] = round(r["frames_per_sec"] / threads["frames_per_sec"], 3)
    ps = measure_parameter_server(args.preset, args.game, args.envs_per_worker, args.pushes, args.in_flight)
    est = estimate(results, ps)

    lines = [f"Pong `{args.preset}` preset, {args.envs_per_worker} envs per worker, {os.cpu_count()} cores"
             + (f"; {args.note}" if args.note else ""), "",
             "| workers | threads frames/s | ray frames/s | ray / threads |", "|---|---|---|---|"]
    for w in args.workers:
        t = next(r for r in results if r["backend"] == "threads" and r["workers"] == w)
        y = next(r for r in results if r["backend"] == "ray" and r["workers"] == w)
        lines.append(f"| {w} | {t['frames_per_sec']:,.0f} | {y['frames_per_sec']:,.0f} | {y['ratio_to_threads']:.2f} |")
    mb = 1e-6
    lines += ["", "| parameter server (one actor) | value |", "|---|---|",
              f"| parameters | {ps['parameters']:,} |",
              f"| frames per update | {ps['frames_per_update']} |",
              f"| bytes per update: gradients pushed + weights pulled (+ metadata) | "
              f"{ps['grad_bytes'] * mb:.2f} MB + {ps['weight_bytes'] * mb:.2f} MB (+ {ps['other_bytes']} B) |",
              f"| optimizer step per update | {ps['apply_ms']:.2f} ms |",
              f"| whole push handler per update | {ps['push_handler_ms']:.2f} ms |",
              f"| a worker's round trip (push, apply, pull), one at a time | {ps['round_trip_ms']:.2f} ms |",
              f"| update rate, {ps['in_flight']} pushes in flight (saturated) | "
              f"{ps['saturated_updates_per_sec']:,.0f} updates/s = {est['ps_max_frames_per_sec']:,} frames/s |",
              "", "| scaling estimate | value |", "|---|---|",
              f"| one worker's update rate (ray, 1 worker) | {est['per_worker_updates_per_sec']:.1f} updates/s |",
              f"| workers before the PS's CPU saturates | {est['workers_before_ps_cpu_saturates']:.0f} |",
              f"| nodes like this one ({est['workers_per_node_like_this_one']} workers each) before it saturates | "
              f"{est['nodes_like_this_one_before_ps_cpu_saturates']:.0f} |",
              f"| workers before a 1 Gbit/s link to the PS saturates | "
              f"{est['workers_before_1gbit_link_saturates']:.0f} |",
              f"| workers before a 10 Gbit/s link to the PS saturates | "
              f"{est['workers_before_10gbit_link_saturates']:.0f} |"]
    table = "\n".join(lines) + "\n"
    out = ROOT / args.out
    meta = {"cpu_count": os.cpu_count(), "seconds_per_config": args.seconds, "note": args.note,
            "trainer": results, "parameter_server": ps, "estimate": est,
            "command": "python bench/ray_scaling.py " + " ".join(sys.argv[1:])}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    write_text(out.with_suffix(".md"), table)
    print(table)


if __name__ == "__main__":
    run(main, "ray_scaling.py")
