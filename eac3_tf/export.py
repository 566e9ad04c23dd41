"""Exporting a checkpoint's policy to ONNX and LiteRT, proven against Keras on real frames, with its card.

`python -m eac3_tf.export --checkpoint runs/pong --out exported/pong` writes, into `--out`:

* `policy.onnx`: input `frames` float32 [N, H, W, C] of raw pixel values 0..255 (the /255 is inside the
  graph), outputs `logits` float32 [N, A] and `value` float32 [N] (tf2onnx);
* `policy.tflite`: the same signature for LiteRT (read its outputs through the signature runner, by name);
* `policy_cam.onnx`: `logits`, `value`, `action` (the greedy action, int64 [N]) and `cam` (float32 [N, H, W]
  in [0, 1]), the Grad-CAM map of that action, with the gradient computed inside the ONNX graph;
* `card.json`: the game, the preprocessing the player must apply, the emulator settings, frames trained,
  the evaluation score with its protocol (`--eval`), the parity figures, sha256 of every file, versions.

Parity, or no export: the checkpoint plays its game for `--parity_frames` (>= 1,000 by default) real
preprocessed frames; ONNX and LiteRT must match Keras' logits within `--tolerance` with 100% argmax
agreement, and the Grad-CAM maps of `policy_cam.onnx` must match `eac3_tf.gradcam` within the same
tolerance. Otherwise the command fails with one line (exit 1) and `--out` is not touched. Files are
written into a temporary folder beside `--out` and renamed into place; an existing export is replaced
only with `--force`.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eac3_tf import checkpoint
from eac3_tf.agent import agent_spec
from eac3_tf.card import CARD_NAME, CARD_VERSION, Card
from eac3_tf.cli import UsageError
from eac3_tf.config import EnvConfig, ObsConfig

POLICY_ONNX, POLICY_TFLITE, CAM_ONNX = "policy.onnx", "policy.tflite", "policy_cam.onnx"
CARD = CARD_NAME
FILES = (POLICY_ONNX, POLICY_TFLITE, CAM_ONNX)
INPUT_NAME = "frames"
DEFAULT_PARITY_FRAMES = 1000  # parity is shown on this many real frames by default
DEFAULT_TOLERANCE = 1e-4  # max |delta| allowed on logits and on Grad-CAM maps
OPSET = 17  # ONNX opset: onnxruntime >= 1.14 runs it
BATCH = 64  # frames per parity call: bounds memory for the 160x160x12 paper preset


class ParityError(RuntimeError):
    """An exported model disagrees with Keras: nothing is written."""


# ------------------------------------------------------------------------------------- graphs to export
def _model_io(model) -> tuple[tuple[int, int, int], int]:
    """(H, W, C) input shape and number of actions of an E-A3C model."""
    shape = tuple(int(d) for d in model.input_shape[1:])
    if len(shape) != 3:
        raise ValueError(f"the model must take frames (N, H, W, C), got input shape {model.input_shape}")
    return shape, int(model.outputs[0].shape[-1])


def policy_function(model):
    """A tf.function `frames -> {"logits", "value"}` with a fixed input signature, as it is exported.

    Dict outputs give the ONNX and LiteRT outputs stable names; `value` is flattened to [N].
    """
    import tensorflow as tf

    shape, _ = _model_io(model)
    spec = [tf.TensorSpec([None, *shape], tf.float32, name=INPUT_NAME)]

    @tf.function(input_signature=spec)
    def policy(frames):
        logits, value = model(frames, training=False)
        return {"logits": logits, "value": tf.reshape(value, [-1])}

    return policy


def cam_function(model, layer: str | None = None):
    """A tf.function `frames -> {"logits", "value", "action", "cam"}`: Grad-CAM of the greedy action.

    Equations (1)-(2) of `eac3_tf.gradcam` inside one graph: a GradientTape takes d logit_a / dA for the
    greedy action a and the last conv layer's output A, alpha_k is the spatial mean of the gradient,
    L = ReLU(sum_k alpha_k A^k), each map is divided by its own max (an all-zero map stays zero) and
    bilinearly resized to the input's height and width, exactly as `gradcam.explain` does.

    The layers between A and the logits are applied here with custom gradients written in ops ONNX
    has: tf2onnx cannot convert TensorFlow's MaxPoolGrad and ReluGrad kernels. The max-pool gradient
    goes to the first maximum of each window in row-major order, the rule TensorFlow's kernel follows,
    so the maps match `gradcam.grad_cam` even where a window holds ties (e.g. all zeros after a ReLU).
    """
    import keras
    import tensorflow as tf

    from eac3_tf.gradcam import _resolve_layer

    shape, num_actions = _model_io(model)
    name = _resolve_layer(model, layer)
    torso = keras.Model(model.input, model.get_layer(name).output)
    head = _head(model, name)
    spec = [tf.TensorSpec([None, *shape], tf.float32, name=INPUT_NAME)]

    @tf.function(input_signature=spec)
    def cam(frames):
        acts = tf.cast(torso(frames, training=False), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(acts)
            logits, value = head(acts)
        action = tf.argmax(logits, axis=-1)
        # d(sum_n logit[n, a_n]) / dA: the one-hot enters as the output gradient, so no reduce op is
        # differentiated (its gradient would need DynamicStitch, which ONNX lacks).
        grads = tape.gradient(logits, acts, output_gradients=tf.one_hot(action, num_actions, dtype=logits.dtype))
        alpha = tf.reduce_mean(grads, axis=(1, 2))  # equation (1)
        maps = tf.nn.relu(tf.einsum("nhwk,nk->nhw", acts, alpha))  # equation (2)
        peak = tf.reduce_max(maps, axis=(1, 2), keepdims=True)
        maps = tf.math.divide_no_nan(maps, peak)  # 0/0 -> 0: an all-zero map stays zero
        maps = tf.image.resize(maps[..., None], shape[:2], method="bilinear")[..., 0]
        return {"logits": logits, "value": tf.reshape(value, [-1]), "action": action,
                "cam": tf.clip_by_value(maps, 0.0, 1.0)}

    return cam


def _head(model, layer: str):
    """The layers from `layer`'s output to (logits, value) as a function of A with ONNX-friendly gradients.

    Supports what `eac3_tf.model` builds after its last conv: max-pools (pool size = stride), Flatten, and
    Dense layers with relu or linear activations; the Dense layers named "logits" and "value" are the heads.
    """
    import keras
    import tensorflow as tf

    names = [lay.name for lay in model.layers]
    steps = []
    for lay in model.layers[names.index(layer) + 1:]:
        if isinstance(lay, keras.layers.MaxPooling2D):
            pool, stride = tuple(lay.pool_size), tuple(lay.strides)
            if pool != stride or pool[0] != pool[1]:
                raise ValueError(f"Grad-CAM export needs square max-pools with stride = size, {lay.name} has "
                                 f"pool {pool}, strides {stride}")
            steps.append((lay.name, "pool", (pool[0], lay.padding)))
        elif isinstance(lay, keras.layers.Flatten):
            steps.append((lay.name, "flatten", None))
        elif isinstance(lay, keras.layers.Dense):
            act = lay.get_config().get("activation")
            if act not in ("relu", "linear"):
                raise ValueError(f"Grad-CAM export supports relu or linear Dense layers, {lay.name} uses {act}")
            steps.append((lay.name, "dense", (lay, act == "relu")))
        else:
            raise ValueError(f"Grad-CAM export cannot differentiate layer {lay.name} ({type(lay).__name__})")
    if {"logits", "value"} - {n for n, kind, _ in steps if kind == "dense"}:
        raise ValueError("Grad-CAM export needs Dense heads named 'logits' and 'value' after the torso")

    def dense(x, lay, relu: bool):
        y = tf.matmul(x, tf.convert_to_tensor(lay.kernel)) + tf.convert_to_tensor(lay.bias)
        return _relu(y) if relu else y

    def head(acts):
        x, out = acts, {}
        for name, kind, arg in steps:
            if kind == "pool":
                x = _max_pool(x, *arg)
            elif kind == "flatten":
                x = tf.reshape(x, [-1, math.prod(x.shape[1:])])
            elif name in ("logits", "value"):
                out[name] = dense(x, *arg)  # both heads read the hidden layer
            else:
                x = dense(x, *arg)
        return out["logits"], out["value"]

    return head


def _relu(x):
    """ReLU whose gradient is a mask (ONNX has no ReluGrad); the gradient at 0 is 0, as in TensorFlow."""
    import tensorflow as tf

    @tf.custom_gradient
    def relu(x):
        def grad(dy):
            return dy * tf.cast(x > 0, dy.dtype)

        return tf.nn.relu(x), grad

    return relu(x)


def _max_pool(x, p: int, padding: str):
    """A p x p, stride p max-pool (Keras' padding) whose gradient is built from reshapes and an argmax.

    Each window's gradient goes to its FIRST maximum in row-major order, as TensorFlow's MaxPoolGrad does.
    """
    import tensorflow as tf

    _, h, w, c = (int(d) if d is not None else None for d in x.shape)
    if padding == "same":
        ho, wo = -(-h // p), -(-w // p)
        ph, pw = ho * p - h, wo * p - w
        pads = [[0, 0], [ph // 2, ph - ph // 2], [pw // 2, pw - pw // 2], [0, 0]]
    else:
        ho, wo = h // p, w // p
        pads = None

    @tf.custom_gradient
    def pool(x):
        y = tf.nn.max_pool2d(x, p, p, padding.upper())

        def grad(dy):
            if pads is not None:
                xw = tf.pad(x, pads, constant_values=x.dtype.min)  # padding never wins a window
            else:
                xw = x[:, :ho * p, :wo * p]
            win = tf.transpose(tf.reshape(xw, [-1, ho, p, wo, p, c]), [0, 1, 3, 5, 2, 4])
            first = tf.one_hot(tf.argmax(tf.reshape(win, [-1, ho, wo, c, p * p]), axis=-1), p * p, dtype=dy.dtype)
            g = tf.reshape(first * dy[..., None], [-1, ho, wo, c, p, p])
            g = tf.reshape(tf.transpose(g, [0, 1, 4, 2, 5, 3]), [-1, ho * p, wo * p, c])
            if pads is not None:
                return g[:, pads[1][0]:pads[1][0] + h, pads[2][0]:pads[2][0] + w]
            return tf.pad(g, [[0, 0], [0, h - ho * p], [0, w - wo * p], [0, 0]])

        return y, grad

    return pool(x)


# ------------------------------------------------------------------------------------------ converters
def write_onnx(fn, path: Path) -> None:
    """Convert a tf.function with an input signature to ONNX at `path` (weights frozen into the graph)."""
    import tf2onnx

    with _quiet_stderr():
        tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=OPSET, output_path=str(path))


def write_tflite(model, fn, path: Path) -> None:
    """Convert to LiteRT through a SavedModel whose serving signature is `fn` (outputs keep their names).

    Keras' `model.export(format="litert")` names the outputs output_0/output_1, and a converter fed a
    concrete function directly loses the Keras 3 weights; a SavedModel keeps both names and weights.
    """
    import keras
    import tensorflow as tf

    with tempfile.TemporaryDirectory(dir=path.parent) as saved:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", fn, input_signature=fn.input_signature)
        with _quiet_stderr():
            archive.write_out(saved, verbose=False)
            data = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
    path.write_bytes(data)


class _quiet_stderr:
    """Keep the converters' C++ log lines off stderr, so a failure stays one line (Python errors still raise)."""

    def __enter__(self) -> None:
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 2)

    def __exit__(self, *exc) -> None:
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        os.close(self.null)


# ------------------------------------------------------------------------------------------ runners
def onnx_outputs(path: Path, frames: np.ndarray, names: tuple[str, ...] = ("logits",)) -> dict[str, np.ndarray]:
    """Run an exported ONNX model on uint8 frames with onnxruntime (CPU), batch by batch; outputs by name."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    parts = [sess.run(list(names), {INPUT_NAME: frames[i:i + BATCH].astype(np.float32)})
             for i in range(0, len(frames), BATCH)]
    return {n: np.concatenate([p[k] for p in parts]) for k, n in enumerate(names)}


def tflite_outputs(path: Path, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Run an exported LiteRT model through its signature runner (outputs by name, never by index)."""
    from ai_edge_litert.interpreter import Interpreter

    with _quiet_stderr():  # LiteRT announces its XNNPACK delegate on stderr
        runner = Interpreter(model_path=str(path)).get_signature_runner()
        parts = [runner(**{INPUT_NAME: frames[i:i + BATCH].astype(np.float32)}) for i in range(0, len(frames), BATCH)]
    return {n: np.concatenate([p[n] for p in parts]) for n in ("logits", "value")}


def keras_outputs(model, frames: np.ndarray) -> dict[str, np.ndarray]:
    """The Keras model's own logits and values: the reference every export is held to."""
    parts = [model(frames[i:i + BATCH].astype(np.float32), training=False) for i in range(0, len(frames), BATCH)]
    return {"logits": np.concatenate([np.asarray(lg) for lg, _ in parts]),
            "value": np.concatenate([np.asarray(v).reshape(-1) for _, v in parts])}


def compare(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> dict[str, float]:
    """Max |delta| of logits and values, and the share of frames whose argmax action agrees."""
    ref, got = reference["logits"], other["logits"]
    if got.shape != ref.shape:
        raise ParityError(f"logits have shape {got.shape}, Keras gives {ref.shape}")
    out = {"max_abs_logits": float(np.max(np.abs(got - ref))),
           "argmax_agreement": float(np.mean(got.argmax(-1) == ref.argmax(-1)))}
    if "value" in other:
        out["max_abs_value"] = float(np.max(np.abs(other["value"].reshape(-1) - reference["value"])))
    return out


KINK_EPS = 1e-5  # |pre-activation| below which a ReLU unit's side is decided by float32 round-off
# More frames at a kink than this (or than 1) is not round-off: parity fails. A 10M-frame Pong agent had 10 of
# 1,000 frames within KINK_EPS, one of which changed its map.
MAX_KINK_SHARE = 0.05


def relu_kink_frames(model, frames: np.ndarray, layer: str | None = None) -> np.ndarray:
    """Indices of the frames where a ReLU Dense unit between `layer` and the heads is within KINK_EPS of 0.

    Grad-CAM's weights are a gradient, and a ReLU net's gradient jumps where a unit switches on: on such a
    frame the ~1e-6 that TensorFlow and ONNX Runtime differ by picks the side, and the map can differ by a
    few percent while both are right. (The conv layer's own ReLU is not on the gradient's path, and ties in
    a max-pool move the gradient but not alpha, its sum over the cells.)
    """
    import keras

    from eac3_tf.gradcam import _resolve_layer

    names = [lay.name for lay in model.layers]
    after = model.layers[names.index(_resolve_layer(model, layer)) + 1:]
    relus = [lay for lay in after
             if isinstance(lay, keras.layers.Dense) and lay.get_config().get("activation") == "relu"]
    if not relus:
        return np.zeros(0, dtype=np.int64)
    sub = keras.Model(model.input, [lay.input for lay in relus])
    near = np.zeros(len(frames), dtype=bool)
    for i in range(0, len(frames), BATCH):
        ins = sub(frames[i:i + BATCH].astype(np.float32), training=False)
        ins = ins if isinstance(ins, (list, tuple)) else [ins]
        for lay, x in zip(relus, ins, strict=True):
            z = np.asarray(x) @ np.asarray(lay.kernel) + np.asarray(lay.bias)
            near[i:i + BATCH] |= np.abs(z).min(axis=1) < KINK_EPS
    return np.flatnonzero(near)


def cam_parity(model, path: Path, frames: np.ndarray, layer: str | None = None) -> dict[str, float]:
    """Grad-CAM maps of `policy_cam.onnx` against `eac3_tf.gradcam.explain` (the greedy action's maps).

    `max_abs_cam` leaves out the frames at a ReLU kink (`relu_kink_frames`), which are counted, and whose
    difference is reported on its own; actions must agree on every frame.
    """
    from eac3_tf import gradcam

    got = onnx_outputs(path, frames, ("logits", "action", "cam"))
    maps, actions = [], []
    for i in range(0, len(frames), BATCH):
        res = gradcam.explain(model, frames[i:i + BATCH], target=None, layer=layer)
        maps.append(res.maps)
        actions.append(res.actions)
    ref_maps, ref_actions = np.concatenate(maps), np.concatenate(actions)
    diff = np.abs(got["cam"] - ref_maps).max(axis=(1, 2))
    kink = relu_kink_frames(model, frames, layer)
    clear = np.setdiff1d(np.arange(len(frames)), kink)
    return {"max_abs_cam": float(diff[clear].max()) if len(clear) else float("nan"),
            "mean_abs_cam": float(np.mean(np.abs(got["cam"] - ref_maps))),
            "frames_at_relu_kink": int(len(kink)),
            "max_abs_cam_at_relu_kink": float(diff[kink].max()) if len(kink) else 0.0,
            "action_agreement": float(np.mean(got["action"] == ref_actions)),
            "all_zero_maps": int(np.sum(ref_maps.max(axis=(1, 2)) == 0))}


# ------------------------------------------------------------------------------------------ frames
def record_frames(model, env_cfg: EnvConfig, obs: ObsConfig, n: int, seed: int, num_envs: int = 8) -> np.ndarray:
    """`n` real model inputs (uint8 [n, H, W, C]): the checkpoint plays its game, actions sampled from its policy.

    Frames come through `eac3_tf.envs`, the trainer's env path, so they are exactly what the agent sees.
    """
    import tensorflow as tf

    from eac3_tf.envs import AtariBatchEnv
    from eac3_tf.policy import sample_actions

    num_envs = max(1, min(num_envs, n))
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False)[0])
    rng = np.random.default_rng(seed)
    env = AtariBatchEnv(env_cfg, obs, num_envs, num_threads=1)
    try:
        frames = []
        obs_batch = env.reset(seed=seed)
        for _ in range(math.ceil(n / num_envs)):
            frames.append(obs_batch)
            obs_batch, *_ = env.step(sample_actions(forward(obs_batch).numpy(), rng))
    finally:
        env.close()
    # step-major order: frames[0:num_envs] are the envs' first frames, then their second, ...
    return np.concatenate(frames)[:n]


# ------------------------------------------------------------------------------------------ the card
def versions() -> dict[str, str]:
    """Versions of everything that shaped the exported bytes and checked them."""
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("eac3_tf", "tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime",
                 "ai-edge-litert", "ale-py"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def evaluation_entry(path: Path, game: str, frames: int) -> dict[str, Any]:
    """The score of an `eac3_tf.evaluate` JSON report with its protocol, checked to be this checkpoint's."""
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--eval {path} is not a readable evaluate report ({type(exc).__name__})") from None
    keys = ("game", "frames_trained", "episodes", "mean", "std", "best", "min", "protocol")
    if not isinstance(report, dict) or any(k not in report for k in keys):
        raise UsageError(f"--eval {path} is not an eac3_tf.evaluate report (needs {', '.join(keys)})")
    if report["game"] != game or int(report["frames_trained"]) != frames:
        raise UsageError(f"--eval {path} scores {report['game']} at {report['frames_trained']} frames, but the "
                         f"checkpoint is {game} at {frames} frames")
    return {k: report[k] for k in (*keys, "checkpoint") if k in report}


def card_preprocessing(obs: ObsConfig) -> dict[str, Any]:
    """What the player must do to a 210x160 RGB ALE screen, as data (`ObsConfig`) and in words."""
    return {
        "obs": dataclasses.asdict(obs),
        "input_shape": list(obs.shape),
        "input_dtype": "float32",
        "input_range": "raw pixel values 0..255 (the /255 is inside the graph)",
        "transform": (f"eac3_tf.preprocess: keep screen rows {obs.crop_top}..{obs.crop_bottom - 1}, area-average "
                      f"{obs.downsample}x{obs.downsample} blocks (integer floor), "
                      f"{'gray by (77 R + 150 G + 29 B) >> 8' if obs.grayscale else 'RGB'}, stack the last "
                      f"{obs.stack} frames along channels oldest first; an episode's first frame fills the stack"),
    }


# ------------------------------------------------------------------------------------------ the export
def export(checkpoint_path: str | Path, out: str | Path, *, parity_frames: int = DEFAULT_PARITY_FRAMES,
           eval_path: str | Path | None = None, force: bool = False, tolerance: float = DEFAULT_TOLERANCE,
           seed: int = 0, command: str | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Export one checkpoint into the folder `out` and return its card; see the module docstring.

    Raises:
        UsageError: bad arguments or an `out` that exists without `force` (nothing is touched).
        CheckpointError: a missing or damaged checkpoint.
        ParityError: an exported model disagrees with Keras (nothing is written to `out`).
    """
    out = Path(out)
    _check_out(out, force)
    if parity_frames <= 0:
        raise UsageError(f"--parity_frames must be a positive integer, got {parity_frames}")
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise UsageError(f"--tolerance must be a finite number >= 0, got {tolerance}")
    agent = agent_spec(checkpoint_path)  # a damaged checkpoint fails here, before TensorFlow is loaded
    path, env_cfg, obs, frames_trained = agent.path, agent.env, agent.obs, agent.frames_trained
    evaluation = evaluation_entry(Path(eval_path), env_cfg.game, frames_trained) if eval_path else None

    from eac3_tf.cli import import_tensorflow_quietly

    import_tensorflow_quietly()
    ckpt = checkpoint.load(path, with_optimizer=False)
    model = ckpt.model
    shape, num_actions = _model_io(model)
    if shape != obs.shape:
        raise UsageError(f"checkpoint {path} takes inputs {shape}, but its preprocessing gives {obs.shape}")

    t0 = time.time()
    log(f"recording {parity_frames} frames of {env_cfg.game} with the checkpoint's policy")
    frames = record_frames(model, env_cfg, obs, parity_frames, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        log("converting: ONNX (tf2onnx), LiteRT, Grad-CAM ONNX")
        policy = policy_function(model)
        write_onnx(policy, tmp / POLICY_ONNX)
        write_tflite(model, policy, tmp / POLICY_TFLITE)
        write_onnx(cam_function(model), tmp / CAM_ONNX)

        log(f"checking parity on {len(frames)} frames")
        reference = keras_outputs(model, frames)
        parity = {"frames": int(len(frames)), "tolerance": tolerance, "reference": "Keras model (eager call)",
                  "frames_source": f"{env_cfg.game} played by this checkpoint (sampled actions) through "
                                   f"eac3_tf.envs, {min(8, parity_frames)} envs, seed {seed}",
                  "onnx": compare(reference, onnx_outputs(tmp / POLICY_ONNX, frames, ("logits", "value"))),
                  "tflite": compare(reference, tflite_outputs(tmp / POLICY_TFLITE, frames)),
                  "cam_onnx": {**compare(reference, onnx_outputs(tmp / CAM_ONNX, frames, ("logits", "value"))),
                               **cam_parity(model, tmp / CAM_ONNX, frames)}}
        _check_parity(parity, tolerance)

        card = {
            "card_version": CARD_VERSION,
            "game": env_cfg.game,
            "preset": agent.preset,
            "frames_trained": frames_trained,
            "checkpoint": {"path": str(path), "model_keras_sha256": checkpoint.sha256(path / "model.keras")},
            "num_actions": num_actions,
            "action_names": list(agent.action_names),
            "preprocessing": card_preprocessing(obs),
            "env": dataclasses.asdict(env_cfg),
            "reset": _reset_entry(env_cfg, evaluation),
            "models": _model_specs(shape, num_actions, _last_conv(model)),
            "evaluation": evaluation,
            "parity": parity,
            "files": {name: {"sha256": checkpoint.sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
                      for name in FILES},
            "versions": versions(),
            "command": command or f"python -m eac3_tf.export --checkpoint {shlex.quote(str(checkpoint_path))} "
                                  f"--out {shlex.quote(str(out))}",
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        Card.from_dict(card)  # what is written is what a player can read
        with open(tmp / CARD, "w") as f:
            json.dump(card, f, indent=2)
            f.write("\n")
        for name in (*FILES, CARD):
            with open(tmp / name, "rb") as fh:
                os.fsync(fh.fileno())
        _move_into_place(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"exported {env_cfg.game} ({frames_trained:,} frames trained) to {out} in {time.time() - t0:.1f} s")
    return card


def _reset_entry(env_cfg: EnvConfig, evaluation: dict | None) -> dict[str, str | None]:
    """The reset sequence the agent was trained with and the one its card score was measured with."""
    from eac3_tf.envs import reset_sequence

    scored = None
    if evaluation and isinstance(evaluation.get("protocol"), dict) and "noop_max" in evaluation["protocol"]:
        scored = reset_sequence(env_cfg, int(evaluation["protocol"]["noop_max"]))
    return {"training": reset_sequence(env_cfg),
            "evaluation": scored}


def _model_specs(shape: tuple[int, int, int], num_actions: int, layer: str) -> dict[str, dict]:
    """The card's description of each exported model's inputs and outputs, by name."""
    inputs = {INPUT_NAME: f"float32 [N, {', '.join(map(str, shape))}], raw pixel values 0..255"}
    policy = {"logits": f"float32 [N, {num_actions}]", "value": "float32 [N]"}
    return {
        POLICY_ONNX: {"runtime": "onnxruntime", "inputs": inputs, "outputs": policy},
        POLICY_TFLITE: {"runtime": "ai_edge_litert, signature 'serving_default' (read outputs by name)",
                        "inputs": inputs, "outputs": policy},
        CAM_ONNX: {"runtime": "onnxruntime", "inputs": inputs,
                   "outputs": {**policy, "action": "int64 [N], the greedy action (argmax of logits)",
                               "cam": f"float32 [N, {shape[0]}, {shape[1]}] in [0, 1]: Grad-CAM of the greedy "
                                      f"action from layer {layer}, each map divided by its max"}},
    }


def _last_conv(model) -> str:
    from eac3_tf.gradcam import _resolve_layer

    return _resolve_layer(model, None)


def _check_out(out: Path, force: bool) -> None:
    """Refuse an existing `out` without --force, and anything but a previous export even with it."""
    from eac3_tf.cli import check_output_folder

    check_output_folder(out.parent, "--out")  # e.g. a path under a regular file: fail before any work
    if out.exists() or out.is_symlink():
        if not force:
            raise UsageError(f"--out {out} exists; pass --force to replace it")
        if not out.is_dir() or out.is_symlink():
            raise UsageError(f"--out {out} is not a folder; refusing to replace it")
        if any(out.iterdir()) and not (out / CARD).is_file():
            raise UsageError(f"--out {out} is not an export (no {CARD}); refusing to replace it even with --force")


def _check_parity(parity: dict, tolerance: float) -> None:
    """Raise ParityError naming the first figure that breaks the bar."""
    for name in ("onnx", "tflite", "cam_onnx"):
        p = parity[name]
        if not p["max_abs_logits"] <= tolerance:
            raise ParityError(f"{name} logits differ from Keras by up to {p['max_abs_logits']:.3g} "
                              f"(> {tolerance:g}) on {parity['frames']} frames; nothing exported")
        if p["argmax_agreement"] < 1.0:
            raise ParityError(f"{name} picks another action than Keras on {100 * (1 - p['argmax_agreement']):.2f}% "
                              f"of {parity['frames']} frames; nothing exported")
    cam = parity["cam_onnx"]
    if cam["frames_at_relu_kink"] > max(1, MAX_KINK_SHARE * parity["frames"]):
        raise ParityError(f"{cam['frames_at_relu_kink']} of {parity['frames']} frames put a hidden ReLU unit within "
                          f"{KINK_EPS:g} of 0 (round-off explains at most 1 or {MAX_KINK_SHARE:.0%}); nothing exported")
    if not cam["max_abs_cam"] <= tolerance or cam["action_agreement"] < 1.0:
        raise ParityError(f"cam_onnx Grad-CAM maps differ from eac3_tf.gradcam by up to {cam['max_abs_cam']:.3g} "
                          f"(> {tolerance:g}) on {parity['frames']} frames; nothing exported")


def _move_into_place(tmp: Path, out: Path, force: bool) -> None:
    """Rename the finished folder to `out`; a previous export is moved aside first and removed after."""
    parent = out.parent
    old = None
    if out.exists():
        if not force:  # it appeared while we worked
            raise UsageError(f"--out {out} exists; pass --force to replace it")
        old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.", suffix=".old"))
        os.rename(out, old / out.name)
    os.rename(tmp, out)
    fd = os.open(parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------------ CLI
def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("checkpoint", None, "Run logdir, ckpt-* folder or its model.keras.")
    flags.DEFINE_string("out", None, "Export folder to create (e.g. exported/pong).")
    flags.DEFINE_bool("force", False, "Replace an existing export in --out.")
    flags.DEFINE_integer("parity_frames", DEFAULT_PARITY_FRAMES, "Real frames of the game parity is checked on.")
    flags.DEFINE_string("eval", None, "An eac3_tf.evaluate JSON report of this checkpoint: its score goes on the card.")
    flags.DEFINE_float("tolerance", DEFAULT_TOLERANCE, "Max |delta| allowed on logits and Grad-CAM maps.")
    flags.DEFINE_integer("seed", 0, "Seed of the emulators and actions that record the parity frames.")


def main() -> int:
    """Entry point after flag parsing."""
    from absl import flags

    f = flags.FLAGS
    if not f.checkpoint:
        raise UsageError("--checkpoint is required: a run logdir, a ckpt-* folder or its model.keras")
    if not f.out:
        raise UsageError("--out is required: the export folder to create, e.g. exported/pong")
    if f.parity_frames > 100_000:
        raise UsageError(f"--parity_frames must be at most 100000, got {f.parity_frames}")
    if f.eval and not Path(f.eval).is_file():
        raise UsageError(f"--eval {f.eval} does not exist; give an eac3_tf.evaluate --output JSON")
    command = "python -m eac3_tf.export " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        export(f.checkpoint, f.out, parity_frames=f.parity_frames, eval_path=f.eval, force=f.force,
               tolerance=f.tolerance, seed=f.seed, command=command)
    except ParityError as exc:
        print(f"export: error: parity failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    from eac3_tf import cli

    cli.run(main, _define_flags)
