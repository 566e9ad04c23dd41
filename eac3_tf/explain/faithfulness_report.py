"""The report of tools/gradcam_faithfulness.py as one dict: is Grad-CAM faithful, on an ALE game and on Catch?

`report` plays the agent, computes every map of every frame and scores them (the tool's docstring documents
the method); `faithfulness_markdown` renders the dict. The Catch helpers (`catch_object_masks`,
`agent_pointing`, `offset_summary`) are plain numpy; TensorFlow loads inside the functions that run a model.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from eac3_tf import checkpoint
from eac3_tf.agent import AgentSpec
from eac3_tf.explain import colours, measures
from eac3_tf.explain.settings import BLUR_SIGMA
from eac3_tf.explain.settings import DELETION_STEPS as STEPS
from eac3_tf.explain.summary import stats

CHUNK = 16  # frames per call in the long loops (progress granularity)
GAME_PERTURBATION = {"patch": 5.0, "stride": 5, "sigma": 3.0}
# 10x5 frames with one-pixel objects: a perturbation per cell, a one-cell mask and blur
TOY_PERTURBATION = {"patch": 1.0, "stride": 1, "sigma": 1.0}


def report(agent: AgentSpec, frames: int, seed: int, cascade_frames: int, command: str, toy: bool = True,
           toy_checkpoint: str | None = None, toy_frames: int = 500, toy_agents: int = 5) -> dict:
    """{"settings", <game>: `run_game`, "toy": `run_toy` unless `toy` is False}, seeded by `seed` throughout."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    settings = {"game": agent.game, "seed": seed, "steps": STEPS, "blur_sigma": BLUR_SIGMA, "baseline": "blur",
                "command": command}
    out = {"settings": settings, agent.game: run_game(agent, frames, seed, cascade_frames)}
    if toy:
        out["toy"] = run_toy(seed, cascade_frames, toy_frames, toy_agents, toy_checkpoint)
    return out


# --- Catch ----------------------------------------------------------------------------------------------


def train_toy(seed: int, logdir: Path):
    """A Catch agent trained exactly as tests/test_learning.py trains one."""
    from eac3_tf.toy import train_catch

    return checkpoint.load(train_catch(str(logdir), seed=seed, log=lambda s: None).checkpoint, with_optimizer=False)


def record_toy(model, steps: int, seed: int) -> tuple[np.ndarray, float]:
    """Frames [steps, 10, 5, 1] of 16 Catch games played by the model's sampled actions, and the mean return."""
    from eac3_tf.explain.perturbation import policy_logits
    from eac3_tf.policy import sample_actions
    from eac3_tf.rollout import rollout
    from eac3_tf.toy import CatchBatchEnv

    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    games = rollout(lambda x: sample_actions(policy_logits(model, x), rng), CatchBatchEnv(16), seed,
                    steps=-(-steps // 16), on_step=lambda x, _s, _a, _st: frames.append(x))
    returns = [score for score, _ in games]
    return np.concatenate(frames)[:steps], float(np.mean(returns)) if returns else float("nan")


def catch_object_masks(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Ball and paddle cells of Catch frames [N, rows, cols, 1]: lit pixels above / on the bottom row."""
    lit = frames[..., 0] == 255
    ball, paddle = lit.copy(), lit.copy()
    ball[:, -1] = False
    paddle[:, :-1] = False
    return {"ball": ball, "paddle": paddle, "objects": ball | paddle}


def agent_pointing(maps: np.ndarray, frames: np.ndarray, tolerance: int) -> dict:
    """Grad-CAM pointing game of one Catch agent, exact and within `tolerance` cells.

    Also its all-zero maps, and where each maximum lies from the nearest object cell (offset counts,
    "dy,dx", row and column).
    """
    masks = catch_object_masks(frames)["objects"]
    zero = maps.reshape(len(maps), -1).max(axis=1) == 0
    tolerant = measures.pointing_game(maps, masks, tolerance)
    offsets = measures.argmax_offsets(maps, masks)[measures.offsets_defined(maps, masks)]
    keys, counts = np.unique(offsets, axis=0, return_counts=True)
    return {"frames": len(frames), "pointing": measures.pointing_rate(maps, masks),
            "pointing_tolerant": float(np.mean(tolerant)), "all_zero_maps": int(zero.sum()),
            "pointing_tolerant_defined": float(np.mean(tolerant[~zero])) if (~zero).any() else None,
            "offset_counts": {f"{dy},{dx}": int(c) for (dy, dx), c in zip(keys.tolist(), counts, strict=True)}}


def offset_summary(offset_counts: dict[str, int], top: int = 6) -> dict:
    """Maxima by Chebyshev distance from the nearest object cell (0, 1, 2, 3+), and the `top` offsets."""
    dist = {"0": 0, "1": 0, "2": 0, "3+": 0}
    for key, count in offset_counts.items():
        d = max(abs(int(v)) for v in key.split(","))
        dist[str(d) if d < 3 else "3+"] += count
    common = sorted(offset_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {"by_distance": dist, "most_common": dict(common)}


def toy_agents_pointing(first_maps: np.ndarray, first_frames: np.ndarray, seed: int, agents: int, frames: int,
                        tolerance: int) -> dict:
    """The pointing game over `agents` Catch agents trained with seeds seed, seed+1, ...

    One trained agent's score says little, since threaded training differs from run to run.
    """
    import tensorflow as tf

    from eac3_tf.explain.gradcam import grad_cam

    # Each new agent traces its own tf.functions; TF's "excessive retracing" warning says nothing here.
    tf.get_logger().setLevel("ERROR")
    per_agent = [{"seed": seed, **agent_pointing(first_maps, first_frames, tolerance)}]
    for s in range(seed + 1, seed + agents):
        with tempfile.TemporaryDirectory(prefix="catch_") as logdir:
            ckpt = train_toy(s, Path(logdir))
        recorded, mean_return = record_toy(ckpt.model, frames, s)
        per_agent.append({"seed": s, "mean_return_while_recording": mean_return,
                          **agent_pointing(grad_cam(ckpt.model, recorded), recorded, tolerance)})
    n = np.array([a["frames"] for a in per_agent])
    pooled = {key: float(np.sum(n * np.array([a[key] for a in per_agent])) / n.sum())
              for key in ("pointing", "pointing_tolerant")}
    offsets: dict[str, int] = {}
    for a in per_agent:
        for key, count in a["offset_counts"].items():
            offsets[key] = offsets.get(key, 0) + count
    return {"per_agent": per_agent, "pooled": pooled, "tolerance_cells": tolerance, "offsets": offset_summary(offsets),
            "all_zero_maps": int(sum(a["all_zero_maps"] for a in per_agent)), "frames": int(n.sum())}


# --- measuring ------------------------------------------------------------------------------------------


def chunked(fn: Callable[[slice], np.ndarray], n: int, desc: str) -> np.ndarray:
    """Concatenate fn(slice) over chunks of CHUNK frames, with a progress bar."""
    return np.concatenate([fn(slice(i, i + CHUNK)) for i in tqdm(range(0, n, CHUNK), desc=desc, leave=False)])


def compute_maps(model, frames: np.ndarray, seed: int, pert_kwargs: dict, timings: dict, tag: str) -> dict:
    """{map name: maps [N, H, W]}: Grad-CAM (and at the first conv layer), perturbation, blur_change, random."""
    import keras

    from eac3_tf.explain import perturbation
    from eac3_tf.explain.gradcam import grad_cam

    n = len(frames)
    maps = {}
    t = time.perf_counter()
    maps["gradcam"] = chunked(lambda s: grad_cam(model, frames[s]), n, f"{tag}: grad-cam")
    timings["gradcam"] = time.perf_counter() - t
    t = time.perf_counter()
    maps["perturbation"] = chunked(lambda s: perturbation.perturbation_saliency(model, frames[s], **pert_kwargs), n,
                                   f"{tag}: perturbation")
    timings["perturbation"] = time.perf_counter() - t
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if len(convs) > 1:  # the finest layer, to show what the choice of layer costs or buys
        maps[f"gradcam_{convs[0]}"] = chunked(lambda s: grad_cam(model, frames[s], layer=convs[0]), n,
                                               f"{tag}: grad-cam {convs[0]}")
    maps["blur_change"] = perturbation.blur_change_map(frames, **pert_kwargs)
    maps["random"] = measures.random_maps(len(frames), frames.shape[1:3], seed + 1)
    return maps


def deletion_insertion_all(model, frames: np.ndarray, maps: dict, actions: np.ndarray, seed: int, timings: dict,
                           tag: str) -> dict:
    """Deletion and insertion AUCs and mean curves of every map, in chunks of frames."""
    from eac3_tf.explain import faithfulness

    out = {}
    t = time.perf_counter()
    for name, m in maps.items():
        curves = [faithfulness.deletion_insertion(model, frames[s], m[s], actions[s], steps=STEPS, baseline="blur",
                                                  blur_sigma=BLUR_SIGMA, seed=seed)
                  for s in (slice(i, i + CHUNK) for i in tqdm(range(0, len(frames), CHUNK),
                                                             desc=f"{tag}: deletion/insertion {name}", leave=False))]
        deletion = np.concatenate([c.deletion for c in curves])
        insertion = np.concatenate([c.insertion for c in curves])
        out[name] = {"deletion_auc": stats(np.concatenate([c.deletion_auc for c in curves])),
                     "insertion_auc": stats(np.concatenate([c.insertion_auc for c in curves])),
                     "deletion_curve_mean": deletion.mean(0).round(5).tolist(),
                     "insertion_curve_mean": insertion.mean(0).round(5).tolist()}
    out["fractions"] = curves[0].fractions.round(5).tolist()
    timings["deletion_insertion"] = time.perf_counter() - t
    return out


def cascade(model, frames: np.ndarray, stages: list, seed: int, map_fn: Callable | None, chunk: int,
            desc: str) -> dict:
    """Cascading randomisation in chunks of frames (for a progress bar).

    The re-initialisations are seeded, so every chunk sees the same randomised weights: the result equals
    one call on all frames.
    """
    from eac3_tf.explain import faithfulness

    names, corr = None, []
    for i in tqdm(range(0, len(frames), chunk), desc=desc, leave=False):
        res = faithfulness.cascading_randomization(model, frames[i:i + chunk], stages, map_fn=map_fn, seed=seed)
        names = res.stages
        corr.append(res.correlations)
    corr = np.concatenate(corr, axis=1)
    return {"frames": len(frames), "stages": names, "spearman": [stats(c) for c in corr]}


def randomization_all(model, frames: np.ndarray, cascade_n: int, seed: int, pert_kwargs: dict, timings: dict,
                      tag: str) -> dict:
    """Cascading randomisation of Grad-CAM on every frame and of perturbation saliency on the first `cascade_n`."""
    from eac3_tf.explain import faithfulness, perturbation

    stages = faithfulness.randomization_stages(model)
    out = {}
    t = time.perf_counter()
    out["gradcam"] = cascade(model, frames, stages, seed, None, 128, f"{tag}: randomisation grad-cam")
    timings["randomization_gradcam"] = time.perf_counter() - t
    t = time.perf_counter()
    out["perturbation"] = cascade(model, frames[:cascade_n], stages, seed,
                                  lambda m, f, a: perturbation.perturbation_saliency(m, f, **pert_kwargs), CHUNK,
                                  f"{tag}: randomisation perturbation")
    timings["randomization_perturbation"] = time.perf_counter() - t
    return out


def mass_and_pointing(maps: dict[str, np.ndarray], masks: np.ndarray, tolerance: int) -> dict:
    """Per map: mass on the masks, its ratio to their area share and the pointing game, over every frame.

    A frame whose mask is empty stays in: it is a pointing miss for every map alike.
    """
    area = masks.mean(axis=(1, 2))
    out = {"area_share": stats(area), "pointing_tolerance_cells": tolerance}
    for name, m in maps.items():
        mass, ratio = measures.mass_ratio(m, masks)
        out[name] = {"mass": stats(mass), "ratio": ratio if area.mean() > 0 else None,
                     "pointing": measures.pointing_rate(m, masks),
                     "pointing_tolerant": measures.pointing_rate(m, masks, tolerance)}
    return out


def evaluate(model, frames: np.ndarray, pert_kwargs: dict, seed: int, cascade_frames: int, timings: dict,
             tag: str) -> tuple[dict, dict]:
    """The measures both tasks share; returns (result, maps)."""
    from eac3_tf.explain.gradcam import grad_cam_raw
    from eac3_tf.explain.perturbation import policy_logits

    actions = policy_logits(model, frames).argmax(-1)
    maps = compute_maps(model, frames, seed, pert_kwargs, timings, tag)
    cell = frames.shape[1] // grad_cam_raw(model, frames[:1]).shape[1]  # input pixels per Grad-CAM cell
    result = {"frames": len(frames), "perturbation": pert_kwargs, "gradcam_cell_px": int(cell),
              "greedy_action_counts": np.bincount(actions).tolist()}
    result["deletion_insertion"] = deletion_insertion_all(model, frames, maps, actions, seed, timings, tag)
    result["randomization"] = randomization_all(model, frames, cascade_frames, seed, pert_kwargs, timings, tag)
    result["spearman_with_blur_change"] = {name: stats(measures.rank_correlation(maps[name], maps["blur_change"]))
                                           for name in ("gradcam", "perturbation", "random")}
    return result, maps


# --- the two tasks --------------------------------------------------------------------------------------


def run_game(agent: AgentSpec, frames: int, seed: int, cascade_frames: int) -> dict:
    """`frames` steps of the agent's own play, every map scored; object checks where the game has a colour table."""
    from eac3_tf.explain.counterfactual import object_removal
    from eac3_tf.explain.perturbation import policy_logits, policy_outputs
    from eac3_tf.explain.recording import object_masks, record

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    model = checkpoint.load(agent.path, with_optimizer=False).model
    t = time.perf_counter()
    rec = record(lambda x: policy_logits(model, x), agent, frames, seed, progress=tqdm)
    inputs = rec.inputs
    stacked, by_class = object_masks(rec, agent) if agent.game in colours.OBJECT_COLOURS else (None, None)
    timings["record"] = time.perf_counter() - t
    h, w = inputs.shape[1:3]
    result, maps = evaluate(model, inputs, GAME_PERTURBATION, seed, cascade_frames, timings, agent.game)
    result = {"checkpoint": str(agent.path), "game": agent.game, "preset": agent.preset,
              "frames_trained": agent.frames_trained, "env": dataclasses.asdict(agent.env), **result}
    if stacked is not None:
        t = time.perf_counter()
        cell = result["gradcam_cell_px"]
        result["objects"] = {which: mass_and_pointing(maps, colours.downsample_mask(m, (h, w)), cell)
                             for which, m in stacked.items()}
        result["objects_by_class"] = {name: mass_and_pointing(maps, colours.downsample_mask(m, (h, w)), cell)
                                      for name, m in by_class.items()}
        timings["objects"] = time.perf_counter() - t
        t = time.perf_counter()
        result["object_removal"] = object_removal(lambda x: policy_outputs(model, x), rec.inputs, rec.screens,
                                                  rec.starts, by_class, agent.obs, maps)
        timings["object_removal"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    result["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    result["seconds_per_frame"] = round(timings["total"] / len(inputs), 4)
    return result


def run_toy(seed: int, cascade_frames: int, frames: int, agents: int, toy_checkpoint: str | None = None) -> dict:
    """A Catch agent's maps scored, and the pointing game over `agents` agents.

    The agent is trained here with `seed` unless `toy_checkpoint` names one.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if toy_checkpoint:
        ckpt = checkpoint.load(checkpoint.resolve(toy_checkpoint), with_optimizer=False)
    else:
        with tempfile.TemporaryDirectory(prefix="catch_") as logdir:
            ckpt = train_toy(seed, Path(logdir))
    timings["train_or_load"] = time.perf_counter() - t0
    model = ckpt.model
    t = time.perf_counter()
    recorded, mean_return = record_toy(model, frames, seed)
    timings["record"] = time.perf_counter() - t
    result, maps = evaluate(model, recorded, TOY_PERTURBATION, seed, cascade_frames, timings, "toy")
    result = {"checkpoint": str(ckpt.path) if toy_checkpoint else "trained here (tests/test_learning.py settings)",
              "frames_trained": int(ckpt.state["frames"]), "mean_return_while_recording": mean_return, **result}
    masks = catch_object_masks(recorded)
    tol = result["gradcam_cell_px"]  # 1: one cell, the 3x3 conv's receptive-field radius
    result["objects"] = mass_and_pointing(maps, masks["objects"], tol)
    result["pointing_by_object"] = {
        name: {f"{obj}{suffix}": measures.pointing_rate(m, masks[obj], cells)
               for obj in ("ball", "paddle") for suffix, cells in (("", 0), ("_tolerant", tol))}
        for name, m in maps.items()}
    t = time.perf_counter()
    result["agents"] = toy_agents_pointing(maps["gradcam"], recorded, seed, agents, frames, tol)
    timings["more_agents"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0 - timings["more_agents"]
    result["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    result["seconds_per_frame_excluding_training"] = round((timings["total"] - timings["train_or_load"])
                                                           / len(recorded), 4)
    return result
