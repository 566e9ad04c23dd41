"""What the card says besides parity: preprocessing in data and words, resets, model signatures, score, versions."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from eac3_tf.config import EnvConfig, ObsConfig
from eac3_tf.errors import ExportError
from eac3_tf.export.graphs import INPUT_NAME

POLICY_ONNX, POLICY_TFLITE, CAM_ONNX = "policy.onnx", "policy.tflite", "policy_cam.onnx"


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
        raise ExportError(f"--eval {path} is not a readable evaluate report ({type(exc).__name__})") from None
    keys = ("game", "frames_trained", "episodes", "mean", "std", "best", "min", "protocol")
    if not isinstance(report, dict) or any(k not in report for k in keys):
        raise ExportError(f"--eval {path} is not an eac3_tf.evaluate report (needs {', '.join(keys)})")
    if report["game"] != game or int(report["frames_trained"]) != frames:
        raise ExportError(f"--eval {path} scores {report['game']} at {report['frames_trained']} frames, but the "
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


def reset_entry(env_cfg: EnvConfig, evaluation: dict | None) -> dict[str, str | None]:
    """The reset sequence the agent was trained with and the one its card score was measured with."""
    from eac3_tf.envs import reset_sequence

    scored = None
    if evaluation and isinstance(evaluation.get("protocol"), dict) and "noop_max" in evaluation["protocol"]:
        scored = reset_sequence(dataclasses.replace(env_cfg, phase_jitter=0.0), int(evaluation["protocol"]["noop_max"]))
    return {"training": reset_sequence(env_cfg),
            "evaluation": scored}


def model_specs(shape: tuple[int, int, int], num_actions: int, layer: str) -> dict[str, dict]:
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
