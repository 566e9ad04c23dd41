"""Grad-CAM speed against perturbation saliency on the same net and frames, in one run.

Usage: python bench/gradcam_speed.py [--checkpoint runs/pong_fast] [--seconds 5]
ms/frame at batch 1 and 32 for `eac3_tf.explain.gradcam.grad_cam` and
`eac3_tf.explain.perturbation.perturbation_saliency`
(Greydanus-style, patch 5, stride 5: one masked forward per grid point, batched); each case is timed in
--rounds interleaved rounds and its median kept. R_cam = perturbation ms / Grad-CAM ms at batch 32, taken
in each round (the two run back to back) and the median of those ratios kept. Without --checkpoint an
untrained `fast` net is used (speed does not depend on weights).
Also printed: a bare forward pass per frame at batch 32 and 256 (what either method cannot go below: Grad-CAM
needs one forward, the perturbation one per mask), and with --xla the Grad-CAM step compiled by XLA.
Also timed where it is installed (the dev extra has it): tf-keras-vis' Gradcam of the same target (the
largest logit), upsampled and normalised as ours are; the tests check that its raw maps equal ours.
Also printed: the share of CPU time the VM's host took (steal) while timing; figures from a run where it is
high are slow and noisy. Saves results/bench/gradcam_speed.json + .md.
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eac3_tf.cli import ArgumentParser, run  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from eac3_tf.cli import import_tensorflow_quietly  # noqa: E402

tf = import_tensorflow_quietly()

import keras  # noqa: E402

from eac3_tf import checkpoint  # noqa: E402
from eac3_tf.config import PRESETS  # noqa: E402
from eac3_tf.explain import gradcam, perturbation  # noqa: E402
from eac3_tf.io import write_text  # noqa: E402
from eac3_tf.model import build_model  # noqa: E402


def ms_per_frame(fn, frames, seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        fn(frames)
        n += 1
    return (time.perf_counter() - t0) / (n * len(frames)) * 1000


def tf_keras_vis_gradcam(model):
    """tf-keras-vis' Gradcam of the greedy action (the largest logit) as a function of uint8 frames, or None
    where tf-keras-vis is not installed. It runs eagerly and upsamples with scipy on the host."""
    try:
        from tf_keras_vis.gradcam import Gradcam
    except ImportError:
        return None
    cam = Gradcam(keras.Model(model.input, model.output[0]), clone=True)
    layer = gradcam.resolve_layer(model, None)
    return lambda x: cam(lambda y: tf.reduce_max(y, axis=-1), x.astype(np.float32), penultimate_layer=layer,
                         seek_penultimate_conv_layer=False)


def cpu_ticks() -> tuple[int, int]:
    """(steal, all) CPU ticks since boot from /proc/stat, (0, 0) where there is none: on a shared VM the
    host can take a third of the time, which slows every case but not alike, so the run reports it."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def interleaved(cases: dict, seconds: float, rounds: int) -> dict[str, list[float]]:
    """ms/frame of each case in each of `rounds` rounds that take turns, so a slow spell of a shared
    machine hits every case alike instead of whichever ran during it."""
    for fn, frames in cases.values():
        fn(frames)  # trace / warm up
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (fn, frames) in cases.items():
            times[name].append(ms_per_frame(fn, frames, seconds / rounds))
    return times


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="gradcam_speed.py")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--seconds", type=float, default=5.0, help="timing per case, split over the rounds")
    p.add_argument("--rounds", type=int, default=15, help="rounds the cases take turns in; medians are kept")
    p.add_argument("--out", default="results/bench/gradcam_speed")
    p.add_argument("--xla", action="store_true", help="also time the Grad-CAM step compiled with XLA")
    args = p.parse_args(argv)
    if args.checkpoint:
        ck = checkpoint.load(checkpoint.resolve(args.checkpoint), with_optimizer=False)
        model, preset = ck.model, ck.state["meta"]["preset"]
    else:
        preset = "fast"
        model = build_model(PRESETS[preset].obs.shape, 6, PRESETS[preset])
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (32, *model.input_shape[1:]), dtype=np.uint8)
    r = {"preset": preset, "cpu_count": os.cpu_count(), "tensorflow": tf.__version__,
         "command": "python bench/gradcam_speed.py " + " ".join(sys.argv[1:])}
    cases = {}
    tkv = tf_keras_vis_gradcam(model)
    for batch in (1, 32):
        cases[f"gradcam_ms_per_frame_b{batch}"] = (lambda x: gradcam.grad_cam(model, x), frames[:batch])
        cases[f"perturbation_ms_per_frame_b{batch}"] = (lambda x: perturbation.perturbation_saliency(model, x),
                                                        frames[:batch])
        if tkv is not None:
            cases[f"tf_keras_vis_ms_per_frame_b{batch}"] = (tkv, frames[:batch])
    forward = tf.function(lambda x: model(x, training=False))
    for batch in (32, 256):
        cases[f"forward_ms_per_frame_b{batch}"] = (
            forward, tf.constant(np.resize(frames, (batch, *frames.shape[1:])).astype(np.float32)))
    if args.xla:
        cam = gradcam._CamFunction(model, gradcam.resolve_layer(model, None), jit_compile=True)
        coef, xla_step = tf.zeros((32, cam.num_actions + 1)), cam.steps[tf.uint8]
        cases["gradcam_xla_ms_per_frame_b32"] = (lambda x: xla_step(tf.constant(x), coef, tf.constant(True)), frames)
    steal0, all0 = cpu_ticks()
    times = interleaved(cases, args.seconds * len(cases), args.rounds)
    r.update({name: float(np.median(t)) for name, t in times.items()})
    steal1, all1 = cpu_ticks()
    r["host_steal_share"] = (steal1 - steal0) / (all1 - all0) if all1 > all0 else float("nan")
    print(f"CPU time the host took (steal) while timing: {r['host_steal_share']:.1%}")
    for batch in (1, 32):
        print(f"batch {batch:2d}: Grad-CAM {r[f'gradcam_ms_per_frame_b{batch}']:.3f} ms/frame, perturbation "
              f"{r[f'perturbation_ms_per_frame_b{batch}']:.2f} ms/frame", flush=True)
    h, w = model.input_shape[1:3]
    r["perturbation_masks_per_frame"] = -(-h // 5) * -(-w // 5)
    r["perturbation_forward_bound_ms_per_frame"] = r["perturbation_masks_per_frame"] * r["forward_ms_per_frame_b256"]
    print(f"bare forward: {r['forward_ms_per_frame_b32']:.3f} ms/frame at batch 32, "
          f"{r['forward_ms_per_frame_b256']:.3f} at 256; {r['perturbation_masks_per_frame']} masks x that = "
          f"{r['perturbation_forward_bound_ms_per_frame']:.2f} ms/frame, the least a perturbation map can cost")
    if tkv is None:
        print("tf-keras-vis is not installed: not timed (pip install tf-keras-vis)")
    else:
        for batch in (1, 32):
            r[f"tf_keras_vis_vs_gradcam_b{batch}"] = (r[f"tf_keras_vis_ms_per_frame_b{batch}"]
                                                     / r[f"gradcam_ms_per_frame_b{batch}"])
            print(f"batch {batch:2d}: tf-keras-vis Gradcam {r[f'tf_keras_vis_ms_per_frame_b{batch}']:.3f} ms/frame, "
                  f"{r[f'tf_keras_vis_vs_gradcam_b{batch}']:.1f}x the time of eac3_tf.explain.gradcam")
    if args.xla:
        print(f"Grad-CAM step with XLA: {r['gradcam_xla_ms_per_frame_b32']:.3f} ms/frame at batch 32")
    # Each round times the two methods back to back, so its ratio compares them under the same host load;
    # the headline is the median of those ratios (the ratio of the two medians is kept beside it).
    per_round = np.array(times["perturbation_ms_per_frame_b32"]) / np.array(times["gradcam_ms_per_frame_b32"])
    r["R_cam_per_round"] = [round(float(x), 1) for x in per_round]
    r["R_cam"] = float(np.median(per_round))
    r["R_cam_of_medians"] = r["perturbation_ms_per_frame_b32"] / r["gradcam_ms_per_frame_b32"]
    r["R_cam_forward_bound"] = r["perturbation_forward_bound_ms_per_frame"] / r["gradcam_ms_per_frame_b32"]
    r["R_cam_b1"] = r["perturbation_ms_per_frame_b1"] / r["gradcam_ms_per_frame_b1"]
    print(f"R_cam (batch 32, median of {args.rounds} rounds) = {r['R_cam']:.0f}  (goal >= 200); rounds "
          f"{min(per_round):.0f}..{max(per_round):.0f}; ratio of the medians {r['R_cam_of_medians']:.0f}; at batch 1: "
          f"{r['R_cam_b1']:.0f}; against the perturbation's forward-only bound: {r['R_cam_forward_bound']:.0f}")
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_suffix(".json"), json.dumps(r, indent=2) + "\n")
    rows = [f"| {k} | {v:.3f} |" for k, v in r.items() if isinstance(v, float)]
    write_text(out.with_suffix(".md"), f"`{r['command']}` ({preset} preset, {os.cpu_count()} "
                                 "cores)\n\n| measure | value |\n|---|---|\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    run(main, "gradcam_speed.py")
