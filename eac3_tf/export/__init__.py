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
agreement, and the Grad-CAM maps of `policy_cam.onnx` must match `eac3_tf.explain.gradcam` within the same
tolerance. Otherwise the command fails with one line (exit 1) and `--out` is not touched. Files are
written into a temporary folder beside `--out` and renamed into place; an existing export is replaced
only with `--force`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eac3_tf import checkpoint
from eac3_tf.agent import agent_spec
from eac3_tf.card import CARD_NAME, CARD_VERSION, Card
from eac3_tf.errors import ConfigError, ExportError, check_positive
from eac3_tf.export.describe import (
    CAM_ONNX,
    POLICY_ONNX,
    POLICY_TFLITE,
    card_preprocessing,
    evaluation_entry,
    model_specs,
    reset_entry,
    versions,
)
from eac3_tf.export.parity import (
    ParityError,
    cam_parity,
    check_parity,
    compare,
    keras_outputs,
    onnx_outputs,
    record_frames,
    relu_kink_frames,
    tflite_outputs,
)
from eac3_tf.io import staged_folder

CARD = CARD_NAME
FILES = (POLICY_ONNX, POLICY_TFLITE, CAM_ONNX)
DEFAULT_PARITY_FRAMES = 1000  # parity is shown on this many real frames by default
MAX_PARITY_FRAMES = 100_000  # frames are held in memory while they are compared
DEFAULT_TOLERANCE = 1e-4  # max |delta| allowed on logits and on Grad-CAM maps

__all__ = ["CAM_ONNX", "CARD", "CARD_VERSION", "DEFAULT_PARITY_FRAMES", "DEFAULT_TOLERANCE", "FILES", "POLICY_ONNX",
           "POLICY_TFLITE", "ParityError", "card_preprocessing", "evaluation_entry", "export", "relu_kink_frames",
           "versions"]


def export(checkpoint_path: str | Path, out: str | Path, *, parity_frames: int = DEFAULT_PARITY_FRAMES,
           eval_path: str | Path | None = None, force: bool = False, tolerance: float = DEFAULT_TOLERANCE,
           seed: int = 0, command: str | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Export one checkpoint into the folder `out` and return its card; see the module docstring.

    Raises:
        ConfigError: `parity_frames` or `tolerance` out of range (nothing is touched).
        ExportError: an `out` that exists without `force`, or is not an export (nothing is touched).
        CheckpointError: a missing or damaged checkpoint.
        ParityError: an exported model disagrees with Keras (nothing is written to `out`).
    """
    out = Path(out)
    _check_out(out, force)
    check_positive("parity_frames", parity_frames, at_most=MAX_PARITY_FRAMES)
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise ConfigError("tolerance", f"must be a finite number >= 0, got {tolerance}")
    agent = agent_spec(checkpoint_path)  # a damaged checkpoint fails here, before TensorFlow is loaded
    path, env_cfg, obs, frames_trained = agent.path, agent.env, agent.obs, agent.frames_trained
    evaluation = evaluation_entry(Path(eval_path), env_cfg.game, frames_trained) if eval_path else None

    from eac3_tf.cli import import_tensorflow_quietly

    import_tensorflow_quietly()
    ckpt = checkpoint.load(path, with_optimizer=False)
    model = ckpt.model
    from eac3_tf.export.convert import write_onnx, write_tflite
    from eac3_tf.export.graphs import cam_function, last_conv, model_io, policy_function

    shape, num_actions = model_io(model)
    if shape != obs.shape:
        raise checkpoint.CheckpointError(f"checkpoint {path} takes inputs {shape}, but its preprocessing gives "
                                         f"{obs.shape}")

    t0 = time.time()
    log(f"recording {parity_frames} frames of {env_cfg.game} with the checkpoint's policy")
    frames = record_frames(model, env_cfg, obs, parity_frames, seed)
    with staged_folder(out) as tmp:
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
        check_parity(parity, tolerance)

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
            "reset": reset_entry(env_cfg, evaluation),
            "models": model_specs(shape, num_actions, last_conv(model)),
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
        if out.exists() and not force:  # it appeared while we worked
            raise ExportError(f"--out {out} exists; pass --force to replace it")
    log(f"exported {env_cfg.game} ({frames_trained:,} frames trained) to {out} in {time.time() - t0:.1f} s")
    return card


def _check_out(out: Path, force: bool) -> None:
    """Refuse an existing `out` without --force, and anything but a previous export even with it."""
    from eac3_tf.io import check_output_folder

    check_output_folder(out.parent, "--out")  # e.g. a path under a regular file: fail before any work
    if out.exists() or out.is_symlink():
        if not force:
            raise ExportError(f"--out {out} exists; pass --force to replace it")
        if not out.is_dir() or out.is_symlink():
            raise ExportError(f"--out {out} is not a folder; refusing to replace it")
        if any(out.iterdir()) and not (out / CARD).is_file():
            raise ExportError(f"--out {out} is not an export (no {CARD}); refusing to replace it even with --force")
