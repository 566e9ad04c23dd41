"""Grad-CAM speed against perturbation saliency on the same net and frames, in one run.

Usage: python bench/gradcam_speed.py [--checkpoint runs/pong_fast] [--seconds 5]
ms/frame at batch 1 and 32 for `eac3_tf.gradcam.grad_cam` and `eac3_tf.saliency.perturbation_saliency`
(Greydanus-style, patch 5, stride 5: one masked forward per grid point); R_cam = perturbation ms / Grad-CAM
ms at batch 32. Without --checkpoint an untrained `fast` net is used (speed does not depend on weights).
tf-keras-vis is not compared: it targets tf.keras 2 and does not run on Keras 3 (the stack here).
Saves results/bench/gradcam_speed.json + .md.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from eac3_tf.cli import import_tensorflow_quietly  # noqa: E402

tf = import_tensorflow_quietly()

from eac3_tf import checkpoint, gradcam, saliency  # noqa: E402
from eac3_tf.config import PRESETS  # noqa: E402
from eac3_tf.model import build_model  # noqa: E402


def ms_per_frame(fn, frames: np.ndarray, seconds: float) -> float:
    fn(frames)  # trace / warm up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        fn(frames)
        n += 1
    return (time.perf_counter() - t0) / (n * len(frames)) * 1000


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--out", default="results/bench/gradcam_speed")
    args = p.parse_args()
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
    for batch in (1, 32):
        f = frames[:batch]
        r[f"gradcam_ms_per_frame_b{batch}"] = ms_per_frame(lambda x: gradcam.grad_cam(model, x), f, args.seconds)
        r[f"perturbation_ms_per_frame_b{batch}"] = ms_per_frame(
            lambda x: saliency.perturbation_saliency(model, x), f, args.seconds)
        print(f"batch {batch:2d}: Grad-CAM {r[f'gradcam_ms_per_frame_b{batch}']:.3f} ms/frame, perturbation "
              f"{r[f'perturbation_ms_per_frame_b{batch}']:.2f} ms/frame", flush=True)
    r["R_cam"] = r["perturbation_ms_per_frame_b32"] / r["gradcam_ms_per_frame_b32"]
    r["R_cam_b1"] = r["perturbation_ms_per_frame_b1"] / r["gradcam_ms_per_frame_b1"]
    print(f"R_cam (batch 32) = {r['R_cam']:.0f}  (goal >= 200); at batch 1: {r['R_cam_b1']:.0f}")
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(r, indent=2) + "\n")
    rows = [f"| {k} | {v:.3f} |" for k, v in r.items() if isinstance(v, float)]
    out.with_suffix(".md").write_text(f"`{r['command']}` ({preset} preset, {os.cpu_count()} cores)\n\n"
                                      "| measure | value |\n|---|---|\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
