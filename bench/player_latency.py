"""Batch-1 policy latency on one thread: onnxruntime and LiteRT against tf.function and eager Keras; the player's
end-to-end steps/s; edge Grad-CAM ms/frame.

Usage: python bench/player_latency.py [--export exported/pong] [--checkpoint C] [--iters 2000] [--eager_iters 300]
                                      [--play_steps 10000] [--no_pin] [--note "..."]
All runtimes run the same network (the export's ONNX / LiteRT files and the Keras checkpoint they came from)
on the same real Pong frames, one frame per call, one thread each; the whole process is pinned to one CPU
core unless --no_pin. R_play = eager Keras ms / onnxruntime ms (the issue's goal: >= 20). The end-to-end
figure is the player's own loop (`eac3_tf.player`: emulator + preprocessing + onnxruntime + action
sampling) on one core (goal: >= 2,000 steps/s). Without --export, the checkpoint is exported to a temp folder.
Saves results/bench/player_latency.json + .md.
"""

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eac3_tf.cli import ArgumentParser, run  # noqa: E402


def timed(fn, frames: np.ndarray, iters: int, warmup: int = 20) -> dict:
    """Milliseconds per call of fn(frame[None]) over `iters` calls cycling through `frames`."""
    for i in range(warmup):
        fn(frames[i % len(frames)][None])
    times = []
    for i in range(iters):
        x = frames[i % len(frames)][None]
        t0 = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"median_ms": round(statistics.median(times), 4), "mean_ms": round(statistics.fmean(times), 4),
            "p90_ms": round(times[int(0.9 * (len(times) - 1))], 4), "calls": iters}


def real_frames(card, n: int, seed: int = 0) -> np.ndarray:
    """`n` consecutive model inputs of the card's game, random actions, through the player's env path."""
    from eac3_tf.envs import AtariBatchEnv

    env = AtariBatchEnv(card.env, card.obs, num_envs=1, num_threads=1)
    rng = np.random.default_rng(seed)
    obs = [env.reset(seed=seed)]
    for _ in range(n - 1):
        obs.append(env.step(rng.integers(0, env.num_actions, 1))[0])
    env.close()
    return np.concatenate(obs).astype(np.float32)


def end_to_end(model_path: Path, card, steps: int, seed: int = 0) -> dict:
    """The player's loop for `steps` agent steps: emulator (1 thread), preprocessing, onnxruntime, sampling."""
    from eac3_tf.envs import AtariBatchEnv
    from eac3_tf.player import OnnxModel
    from eac3_tf.policy import sample_actions

    model = OnnxModel(model_path, card, ("logits",), threads=1)
    env = AtariBatchEnv(card.env, card.obs, num_envs=1, num_threads=1)
    rng = np.random.default_rng(seed)
    obs = env.reset(seed=seed)
    episodes = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        obs, _, dones, _ = env.step(sample_actions(model(obs)["logits"], rng))
        episodes += int(dones[0])
    wall = time.perf_counter() - t0
    env.close()
    return {"steps": steps, "seconds": round(wall, 3), "steps_per_sec": round(steps / wall, 1),
            "episodes_ended": episodes}


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="player_latency.py")
    p.add_argument("--export", default=None, help="export folder (default: export --checkpoint to a temp folder)")
    p.add_argument("--checkpoint", default=None, help="the Keras checkpoint (default: the one named on the card)")
    p.add_argument("--frames", type=int, default=256, help="real frames cycled through")
    p.add_argument("--iters", type=int, default=2000, help="batch-1 calls per runtime")
    p.add_argument("--eager_iters", type=int, default=300, help="batch-1 calls of eager Keras (slow)")
    p.add_argument("--play_steps", type=int, default=10_000, help="agent steps of the end-to-end player loop")
    p.add_argument("--no_pin", action="store_true", help="do not pin the process to one CPU core")
    p.add_argument("--note", default="", help="a remark saved with the results (e.g. the machine's load)")
    p.add_argument("--out", default="results/bench/player_latency")
    args = p.parse_args(argv)

    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # threads started later inherit it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None

    from eac3_tf.cli import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    from eac3_tf import checkpoint, export, player
    from eac3_tf.explain import gradcam

    export_dir = Path(args.export) if args.export else None
    if export_dir is None:
        if not args.checkpoint:
            p.error("give --export DIR or --checkpoint C")
        export_dir = Path(tempfile.mkdtemp(prefix="player_latency_")) / "export"
        export.export(args.checkpoint, export_dir, log=lambda s: print(s, flush=True))
    card = player.load_card(export_dir / "policy.onnx")
    ckpt_path = args.checkpoint or card.raw["checkpoint"]["path"]
    model = checkpoint.load(checkpoint.resolve(ckpt_path), with_optimizer=False).model
    frames = real_frames(card, args.frames)

    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    sess = ort.InferenceSession(str(export_dir / "policy.onnx"), opts, providers=["CPUExecutionProvider"])
    cam_sess = ort.InferenceSession(str(export_dir / "policy_cam.onnx"), opts, providers=["CPUExecutionProvider"])
    runner = Interpreter(model_path=str(export_dir / "policy.tflite"), num_threads=1).get_signature_runner()
    spec = tf.TensorSpec([None, *card.obs.shape], tf.float32)
    compiled = tf.function(lambda x: model(x, training=False), input_signature=[spec])

    runtimes = {
        "onnxruntime": lambda x: sess.run(["logits"], {"frames": x}),
        "litert": lambda x: runner(frames=x)["logits"],
        "tf_function": lambda x: compiled(x)[0].numpy(),
        "keras_eager": lambda x: model(x, training=False)[0].numpy(),
        "edge_gradcam_onnx": lambda x: cam_sess.run(["cam", "logits"], {"frames": x}),
        "gradcam_tf": lambda x: gradcam.grad_cam(model, x),
    }
    results = {}
    for name, fn in runtimes.items():
        iters = args.eager_iters if name == "keras_eager" else args.iters
        results[name] = timed(fn, frames, iters)
        print(f"{name:18s} {results[name]['median_ms']:8.3f} ms median, {results[name]['mean_ms']:8.3f} ms mean "
              f"({iters} batch-1 calls, 1 thread)", flush=True)
    e2e = end_to_end(export_dir / "policy.onnx", card, args.play_steps)
    r_play = results["keras_eager"]["median_ms"] / results["onnxruntime"]["median_ms"]
    print(f"R_play = eager / onnxruntime = {r_play:.1f}  (goal >= 20)")
    print(f"player end to end: {e2e['steps_per_sec']:,.0f} steps/s on one core (goal >= 2,000)")
    print(f"edge Grad-CAM: {results['edge_gradcam_onnx']['median_ms']:.3f} ms/frame")

    report = {
        "game": card.game, "frames_trained": card.frames_trained, "export": str(export_dir),
        "checkpoint": str(ckpt_path), "frames": args.frames, "batch": 1, "threads": 1,
        "pinned_to_one_core": not args.no_pin, "latency": results, "R_play": round(r_play, 2),
        "R_play_definition": "median eager Keras ms / median onnxruntime ms, batch 1, one thread",
        "player_end_to_end": e2e, "edge_gradcam_ms_per_frame": results["edge_gradcam_onnx"]["median_ms"],
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_before": load_before,
                    "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "versions": export.versions(), "note": args.note,
        "command": "python bench/player_latency.py " + " ".join(sys.argv[1:]),
    }
    rows = [("onnxruntime", "onnxruntime"), ("LiteRT (ai_edge_litert)", "litert"), ("tf.function", "tf_function"),
            ("eager Keras", "keras_eager"), ("edge Grad-CAM (policy_cam.onnx, onnxruntime)", "edge_gradcam_onnx"),
            ("Grad-CAM in TF (eac3_tf.explain.gradcam)", "gradcam_tf")]
    lines = ["| runtime (batch 1, one thread) | median ms | mean ms | p90 ms |", "|---|---|---|---|"]
    lines += [f"| {label} | {results[k]['median_ms']:.3f} | {results[k]['mean_ms']:.3f} | {results[k]['p90_ms']:.3f} |"
              for label, k in rows]
    lines += ["", f"R_play (eager ÷ onnxruntime) = **{r_play:.1f}**; player end to end (emulator + preprocessing + "
              f"onnxruntime, one core) = **{e2e['steps_per_sec']:,.0f} steps/s**; edge Grad-CAM = "
              f"**{results['edge_gradcam_onnx']['median_ms']:.3f} ms/frame**."]
    if args.note:
        lines += ["", f"Note: {args.note}"]
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run(main, "player_latency.py")
