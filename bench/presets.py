"""Layer tables, parameter counts and per-sample train-step cost of the network presets.

Usage: python bench/presets.py [--batch 80] [--seconds 10] [--out results/bench/presets]
Prints a Markdown table per preset and a summary; saves JSON + Markdown. The train step is the
workers' own: forward, A3C loss, gradient on a tape, global-norm clip (no apply), in a tf.function.
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eac3_tf.cli import ArgumentParser, run  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from eac3_tf.cli import import_tensorflow_quietly  # noqa: E402

tf = import_tensorflow_quietly()

from eac3_tf import a3c  # noqa: E402
from eac3_tf.config import PRESETS, A3CConfig  # noqa: E402
from eac3_tf.model import build_model, last_conv_name  # noqa: E402


def layer_table(model) -> list[dict]:
    rows = []
    for layer in model.layers[1:]:
        shape = tuple(layer.output.shape[1:])
        rows.append({"layer": layer.name, "type": type(layer).__name__, "output": list(shape),
                     "params": int(layer.count_params())})
    return rows


def conv_macs(model) -> int:
    macs = 0
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D":
            k = layer.kernel.shape
            h, w, c = layer.output.shape[1:]
            macs += h * w * c * k[0] * k[1] * k[2]
        elif type(layer).__name__ == "Dense":
            macs += int(np.prod(layer.kernel.shape))
    return int(macs)


def train_step_ms_per_sample(model, batch: int, seconds: float) -> float:
    cfg = A3CConfig()
    variables = model.trainable_variables

    @tf.function
    def step(obs, actions, returns):
        with tf.GradientTape() as tape:
            logits, values = model(tf.cast(obs, tf.float32), training=True)
            loss, _ = a3c.a3c_loss(logits, values[:, 0], actions, returns, cfg.entropy_beta, cfg.value_coef)
        grads = tape.gradient(loss, variables)
        return tf.clip_by_global_norm(grads, cfg.max_grad_norm)[1]

    rng = np.random.default_rng(0)
    obs = tf.constant(rng.integers(0, 256, (batch, *model.input_shape[1:]), dtype=np.uint8))
    actions = tf.constant(rng.integers(0, model.outputs[0].shape[-1], batch), tf.int32)
    returns = tf.constant(rng.normal(size=batch), tf.float32)
    step(obs, actions, returns).numpy()  # trace
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(obs, actions, returns).numpy()
        n += 1
    return (time.perf_counter() - t0) / (n * batch) * 1000


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="presets.py")
    p.add_argument("--batch", type=int, default=80, help="samples per train step (t_max x envs per worker)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", default="results/bench/presets")
    args = p.parse_args(argv)
    report = {"batch": args.batch, "cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "presets": {}}
    for name, cfg in PRESETS.items():
        model = build_model(cfg.obs.shape, 6, cfg)
        entry = {"input": list(cfg.obs.shape), "grad_cam_layer": last_conv_name(cfg),
                 "layers": layer_table(model), "params": int(model.count_params()), "macs_per_sample": conv_macs(model),
                 "train_step_ms_per_sample": train_step_ms_per_sample(model, args.batch, args.seconds)}
        report["presets"][name] = entry
    fast = report["presets"]["fast"]["train_step_ms_per_sample"]
    lines = []
    for name, e in report["presets"].items():
        lines += [f"### `{name}` preset: input {tuple(e['input'])}, Grad-CAM layer `{e['grad_cam_layer']}`", "",
                  "| layer | type | output | params |", "|---|---|---|---|"]
        lines += [f"| {r['layer']} | {r['type']} | {tuple(r['output'])} | {r['params']:,} |" for r in e["layers"]]
        lines += ["", f"Total {e['params']:,} parameters, {e['macs_per_sample'] / 1e6:.1f}M multiply-adds per "
                      f"forward pass; train step {e['train_step_ms_per_sample']:.3f} ms per sample "
                      f"({e['train_step_ms_per_sample'] / fast:.1f}x fast) at batch {args.batch}, "
                      f"{os.cpu_count()} cores.", ""]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    run(main, "presets.py")
