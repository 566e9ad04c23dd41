"""Parity, or no export: the exported models run on real frames of the game against Keras.

The frames are the agent's own (it plays its game through `eac3_tf.envs`); ONNX and LiteRT must match
Keras' logits, and the Grad-CAM ONNX `eac3_tf.explain.gradcam`'s maps, within a tolerance with every action agreeing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from eac3_tf.config import EnvConfig, ObsConfig
from eac3_tf.export.convert import quiet_stderr
from eac3_tf.export.graphs import INPUT_NAME

BATCH = 64  # frames per parity call: bounds memory for the 160x160x12 paper preset


class ParityError(RuntimeError):
    """An exported model disagrees with Keras: nothing is written."""


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

    with quiet_stderr():  # LiteRT announces its XNNPACK delegate on stderr
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
# More frames at a kink than this (or than 1) is not round-off: parity fails (docs/export.md says how many real
# agents have).
MAX_KINK_SHARE = 0.05


def relu_kink_frames(model, frames: np.ndarray, layer: str | None = None) -> np.ndarray:
    """Indices of the frames where a ReLU Dense unit between `layer` and the heads is within KINK_EPS of 0.

    Grad-CAM's weights are a gradient, and a ReLU net's gradient jumps where a unit switches on: on such a
    frame the ~1e-6 that TensorFlow and ONNX Runtime differ by picks the side, and the map can differ by a
    few percent while both are right. (The conv layer's own ReLU is not on the gradient's path, and ties in
    a max-pool move the gradient but not alpha, its sum over the cells.)
    """
    import keras

    from eac3_tf.explain.gradcam import resolve_layer

    names = [lay.name for lay in model.layers]
    after = model.layers[names.index(resolve_layer(model, layer)) + 1:]
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
    """Grad-CAM maps of `policy_cam.onnx` against `eac3_tf.explain.gradcam.explain` (the greedy action's maps).

    `max_abs_cam` leaves out the frames at a ReLU kink (`relu_kink_frames`), which are counted, and whose
    difference is reported on its own; actions must agree on every frame.
    """
    from eac3_tf.explain import gradcam

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


def record_frames(model, env_cfg: EnvConfig, obs: ObsConfig, n: int, seed: int, num_envs: int = 8) -> np.ndarray:
    """`n` real model inputs (uint8 [n, H, W, C]): the checkpoint plays its game, actions sampled from its policy.

    Frames come through `eac3_tf.envs`, the trainer's env path, so they are exactly what the agent sees.
    """
    import tensorflow as tf

    from eac3_tf.envs import AtariBatchEnv
    from eac3_tf.policy import sample_actions
    from eac3_tf.rollout import rollout

    num_envs = max(1, min(num_envs, n))
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False)[0])
    rng = np.random.default_rng(seed)
    env = AtariBatchEnv(env_cfg, obs, num_envs, num_threads=1)
    frames: list[np.ndarray] = []
    try:
        rollout(lambda x: sample_actions(forward(x).numpy(), rng), env, seed, steps=math.ceil(n / num_envs),
                on_step=lambda x, _screens, _actions, _starts: frames.append(x))
    finally:
        env.close()
    # step-major order: frames[0:num_envs] are the envs' first frames, then their second, ...
    return np.concatenate(frames)[:n]


def check_parity(parity: dict, tolerance: float) -> None:
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
        raise ParityError(f"cam_onnx Grad-CAM maps differ from eac3_tf.explain.gradcam by up to "
                          f"{cam['max_abs_cam']:.3g} (> {tolerance:g}) on {parity['frames']} frames; nothing exported")
