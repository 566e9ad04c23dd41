"""Is Grad-CAM faithful? Deletion/insertion, randomisation and object checks on an ALE game and the Catch toy.

Usage:
    python tools/gradcam_faithfulness.py --checkpoint runs/pong_fast [--frames 500] [--seed 0]
        [--out results/gradcam/faithfulness] [--toy_checkpoint runs/catch]
    python tools/gradcam_faithfulness.py --checkpoint runs/suite/qbert --skip_toy \
        --out results/gradcam/faithfulness_qbert

The game: `--frames` agent steps are played by the checkpoint's policy (sampled actions) in one
`AtariBatchEnv` (the checkpoint's env settings, seed `--seed`; policy RNG seed `--seed`); every model
input seen is one frame. Any ALE game is accepted; the object checks need object positions, which this
tool reads from the screen colours on the six games with a colour table (`eac3_tf.explain.colours.OBJECT_COLOURS`:
Pong, Space Invaders, Demon Attack, Beam Rider, Phoenix, Qbert). `--skip_toy` leaves the Catch part out.
Catch: an agent is trained as tests/test_learning.py trains one (100k frames,
2 workers, 16 envs each, lr 2e-3, seed `--seed`), or loaded from `--toy_checkpoint`, and plays
`--toy_frames` steps in 16 games (seed `--seed`).

On both, four maps per frame (five on an ALE game): Grad-CAM of the greedy action (last conv layer, before its
pool; on the ALE game also at the first conv layer, "gradcam_conv1"), perturbation saliency (Greydanus et al. 2018,
all logits: 0.5 ||logits(I) - logits(phi)||^2), the model-free "blur_change" map (the same perturbations
scored by how much they change the input; what the image alone shows) and a uniform random map (seed
`--seed` + 1). They are scored by:
* deletion / insertion AUC of the greedy action's probability (20 steps; baseline: the frame blurred
  with a Gaussian of sigma 5 px, spatial axes only): deletion lower is better, insertion higher;
* cascading randomisation (Adebayo et al. 2018): Spearman correlation of the maps of copies whose layers
  are re-initialised from their own initializers from the top (logits+value, hidden, conv2, conv1), the
  target fixed to the trained model's greedy action; and each map's Spearman correlation with blur_change;
* games with a colour table: the share of each map's mass on the game's objects (colour masks of the
  screens, any pixel of a 2x2 block; Pong: the ball and both paddles) against their share of the area;
  "stack" masks are the union over the 4 screens the model input stacks, "current" the newest screen only;
  pointing game on the same masks, exact and within one Grad-CAM cell (8 px for the fast preset); and the
  same per object class on the newest screen ("objects_by_class");
* Catch: pointing game (hit = the map's argmax is on the ball OR the paddle cell, exact and within one
  cell; ball-only and paddle-only rates too) and object mass; the Grad-CAM pointing game also over
  `--toy_agents` agents trained with seeds seed, seed+1, ... (one run's agent is one sample of many).

Writes OUT.json and OUT.md (each through a temp file and os.replace) and prints the Markdown.
"""

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eac3_tf import checkpoint, cli  # noqa: E402
from eac3_tf.agent import agent_spec  # noqa: E402
from eac3_tf.config import camel_game  # noqa: E402
from eac3_tf.explain import colours, measures  # noqa: E402
from eac3_tf.explain.counterfactual import object_removal  # noqa: E402
from eac3_tf.explain.recording import object_masks as recorded_objects  # noqa: E402
from eac3_tf.explain.recording import record  # noqa: E402
from eac3_tf.explain.settings import BLUR_SIGMA  # noqa: E402
from eac3_tf.explain.settings import DELETION_STEPS as STEPS  # noqa: E402
from eac3_tf.explain.summary import stats  # noqa: E402
from eac3_tf.io import write_text  # noqa: E402

faithfulness = perturbation = None  # main() imports these once the arguments are checked (they load TensorFlow)

CHUNK = 16  # frames per call in the long loops (progress granularity)


def parse_args(argv=None) -> argparse.Namespace:
    p = cli.ArgumentParser(prog="gradcam_faithfulness.py", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="ALE game run logdir, ckpt-* folder or its model.keras")
    p.add_argument("--frames", type=int, default=500, help="agent steps of the game to record (one frame each)")
    p.add_argument("--seed", type=int, default=0, help="env, policy, toy training and random-map seed")
    p.add_argument("--out", default="results/gradcam/faithfulness", help="output path without extension")
    p.add_argument("--skip_toy", action="store_true", help="leave out the Catch toy (per-game runs)")
    p.add_argument("--toy_checkpoint", default=None, help="a trained Catch checkpoint (else one is trained)")
    p.add_argument("--toy_frames", type=int, default=500, help="Catch frames to record")
    p.add_argument("--toy_agents", type=int, default=5,
                   help="Catch agents (seeds seed, seed+1, ...) whose Grad-CAM pointing game is scored; the "
                        "first is the one every other Catch figure uses")
    p.add_argument("--cascade_frames", type=int, default=100,
                   help="frames for the perturbation maps' randomisation check (Grad-CAM uses all)")
    args = p.parse_args(argv)
    for name in ("frames", "toy_frames", "cascade_frames", "toy_agents"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


# --- recording ------------------------------------------------------------------------------------------


def train_toy(seed: int, logdir: Path):
    """A Catch agent trained exactly as tests/test_learning.py trains one."""
    from eac3_tf.toy import train_catch

    return checkpoint.load(train_catch(str(logdir), seed=seed, log=lambda s: None).checkpoint, with_optimizer=False)


def record_toy(model, steps: int, seed: int) -> tuple[np.ndarray, float]:
    """Frames [steps, 10, 5, 1] of 16 Catch games played by the model's sampled actions, and the mean return."""
    from eac3_tf.policy import sample_actions
    from eac3_tf.rollout import rollout
    from eac3_tf.toy import CatchBatchEnv

    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    games = rollout(lambda x: sample_actions(perturbation.policy_logits(model, x), rng), CatchBatchEnv(16), seed,
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
    """Grad-CAM pointing game of one Catch agent: exact and within `tolerance` cells, all-zero maps, and
    where each maximum lies from the nearest object cell (offset counts, "dy,dx", row and column)."""
    masks = catch_object_masks(frames)["objects"]
    zero = maps.reshape(len(maps), -1).max(axis=1) == 0
    tolerant = measures.pointing_game(maps, masks, tolerance)
    offsets = measures.argmax_offsets(maps, masks)[measures.offsets_defined(maps, masks)]
    keys, counts = np.unique(offsets, axis=0, return_counts=True)
    return {"frames": len(frames), "pointing": float(np.mean(measures.pointing_game(maps, masks))),
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


def toy_agents_pointing(first_maps: np.ndarray, first_frames: np.ndarray, args, tolerance: int) -> dict:
    """The pointing game over --toy_agents Catch agents trained with seeds seed, seed+1, ...: one trained
    agent's score says little, since threaded training differs from run to run."""
    import tensorflow as tf

    from eac3_tf.gradcam import grad_cam

    # Each new agent traces its own tf.functions; TF's "excessive retracing" warning says nothing here.
    tf.get_logger().setLevel("ERROR")
    per_agent = [{"seed": args.seed, **agent_pointing(first_maps, first_frames, tolerance)}]
    for seed in range(args.seed + 1, args.seed + args.toy_agents):
        with tempfile.TemporaryDirectory(prefix="catch_") as logdir:
            ckpt = train_toy(seed, Path(logdir))
        frames, mean_return = record_toy(ckpt.model, args.toy_frames, seed)
        per_agent.append({"seed": seed, "mean_return_while_recording": mean_return,
                          **agent_pointing(grad_cam(ckpt.model, frames), frames, tolerance)})
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


def chunked(fn, n: int, desc: str):
    """Concatenate fn(slice) over chunks of CHUNK frames, with a progress bar."""
    return np.concatenate([fn(slice(i, i + CHUNK)) for i in tqdm(range(0, n, CHUNK), desc=desc, leave=False)])


def compute_maps(model, frames, seed: int, pert_kwargs: dict, timings: dict, tag: str) -> dict:
    import keras

    from eac3_tf.gradcam import grad_cam

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


def deletion_insertion_all(model, frames, maps: dict, actions, seed: int, timings: dict, tag: str) -> dict:
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


def cascade(model, frames, stages, seed: int, map_fn, chunk: int, desc: str) -> dict:
    """Cascading randomisation in chunks of frames (for a progress bar). The re-initialisations are seeded,
    so every chunk sees the same randomised weights: the result equals one call on all frames."""
    names, corr = None, []
    for i in tqdm(range(0, len(frames), chunk), desc=desc, leave=False):
        res = faithfulness.cascading_randomization(model, frames[i:i + chunk], stages, map_fn=map_fn, seed=seed)
        names = res.stages
        corr.append(res.correlations)
    corr = np.concatenate(corr, axis=1)
    return {"frames": len(frames), "stages": names, "spearman": [stats(c) for c in corr]}


def randomization_all(model, frames, cascade_n: int, seed: int, pert_kwargs: dict, timings: dict,
                      tag: str) -> dict:
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


def mass_and_pointing(maps: dict, masks: np.ndarray, tolerance: int) -> dict:
    area = masks.mean(axis=(1, 2))
    out = {"area_share": stats(area), "pointing_tolerance_cells": tolerance}
    for name, m in maps.items():
        mass = measures.object_mass(m, masks)
        out[name] = {"mass": stats(mass), "ratio": float(np.nanmean(mass) / area.mean()) if area.mean() > 0 else None,
                     "pointing": float(np.mean(measures.pointing_game(m, masks))),
                     "pointing_tolerant": float(np.mean(measures.pointing_game(m, masks, tolerance)))}
    return out


def evaluate(model, frames, pert_kwargs: dict, args, timings: dict, tag: str) -> tuple[dict, dict]:
    """The measures both tasks share; returns (result, maps)."""
    from eac3_tf.gradcam import grad_cam_raw

    actions = perturbation.policy_logits(model, frames).argmax(-1)
    maps = compute_maps(model, frames, args.seed, pert_kwargs, timings, tag)
    cell = frames.shape[1] // grad_cam_raw(model, frames[:1]).shape[1]  # input pixels per Grad-CAM cell
    result = {"frames": len(frames), "perturbation": pert_kwargs, "gradcam_cell_px": int(cell),
              "greedy_action_counts": np.bincount(actions).tolist()}
    result["deletion_insertion"] = deletion_insertion_all(model, frames, maps, actions, args.seed, timings, tag)
    result["randomization"] = randomization_all(model, frames, args.cascade_frames, args.seed, pert_kwargs, timings,
                                                tag)
    result["spearman_with_blur_change"] = {name: stats(measures.rank_correlation(maps[name], maps["blur_change"]))
                                           for name in ("gradcam", "perturbation", "random")}
    return result, maps


def run_game(args, agent, timings: dict) -> dict:
    t0 = time.perf_counter()
    model = checkpoint.load(agent.path, with_optimizer=False).model
    t = time.perf_counter()
    rec = record(lambda x: perturbation.policy_logits(model, x), agent, args.frames, args.seed, progress=tqdm)
    frames = rec.inputs
    object_masks, class_masks = recorded_objects(rec, agent) if agent.game in colours.OBJECT_COLOURS else (None, None)
    timings["record"] = time.perf_counter() - t
    h, w = frames.shape[1:3]
    result, maps = evaluate(model, frames, {"patch": 5.0, "stride": 5, "sigma": 3.0}, args, timings, agent.game)
    result = {"checkpoint": str(agent.path), "game": agent.game, "preset": agent.preset,
              "frames_trained": agent.frames_trained, "env": dataclasses.asdict(agent.env), **result}
    if object_masks is not None:
        t = time.perf_counter()
        result["objects"] = {which: mass_and_pointing(maps, colours.downsample_mask(m, (h, w)),
                                                      result["gradcam_cell_px"])
                             for which, m in object_masks.items()}
        result["objects_by_class"] = {name: mass_and_pointing(maps, colours.downsample_mask(m, (h, w)),
                                                              result["gradcam_cell_px"])
                                      for name, m in class_masks.items()}
        timings["objects"] = time.perf_counter() - t
        t = time.perf_counter()
        result["object_removal"] = object_removal(lambda x: perturbation.policy_outputs(model, x), rec.inputs,
                                                  rec.screens, rec.starts, class_masks, agent.obs, maps)
        timings["object_removal"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    result["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    result["seconds_per_frame"] = round(timings["total"] / len(frames), 4)
    return result


def run_toy(args, timings: dict) -> dict:
    t0 = time.perf_counter()
    if args.toy_checkpoint:
        ckpt = checkpoint.load(checkpoint.resolve(args.toy_checkpoint), with_optimizer=False)
    else:
        with tempfile.TemporaryDirectory(prefix="catch_") as logdir:
            ckpt = train_toy(args.seed, Path(logdir))
    timings["train_or_load"] = time.perf_counter() - t0
    model = ckpt.model
    t = time.perf_counter()
    frames, mean_return = record_toy(model, args.toy_frames, args.seed)
    timings["record"] = time.perf_counter() - t
    # 10x5 frames with one-pixel objects: a perturbation per cell, a one-cell mask and blur
    result, maps = evaluate(model, frames, {"patch": 1.0, "stride": 1, "sigma": 1.0}, args, timings, "toy")
    result = {"checkpoint": str(ckpt.path) if args.toy_checkpoint else "trained here (tests/test_learning.py settings)",
              "frames_trained": int(ckpt.state["frames"]), "mean_return_while_recording": mean_return, **result}
    masks = catch_object_masks(frames)
    tol = result["gradcam_cell_px"]  # 1: one cell, the 3x3 conv's receptive-field radius
    result["objects"] = mass_and_pointing(maps, masks["objects"], tol)
    result["pointing_by_object"] = {
        name: {f"{obj}{suffix}": float(np.mean(measures.pointing_game(m, masks[obj], t)))
               for obj in ("ball", "paddle") for suffix, t in (("", 0), ("_tolerant", tol))}
        for name, m in maps.items()}
    t = time.perf_counter()
    result["agents"] = toy_agents_pointing(maps["gradcam"], frames, args, tol)
    timings["more_agents"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0 - timings["more_agents"]
    result["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    result["seconds_per_frame_excluding_training"] = round((timings["total"] - timings["train_or_load"]) / len(frames),
                                                           4)
    return result


# --- reporting ------------------------------------------------------------------------------------------


def pm(s: dict, digits: int = 3) -> str:
    if s["mean"] is None:
        return "n/a"
    text = f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"
    return text + (f" ({s['undefined']} undefined)" if s.get("undefined") else "")


def markdown(report: dict) -> str:
    st = report["settings"]
    game = st.get("game", "pong")
    game_name = camel_game(game)
    atari, toy = report[game], report.get("toy")
    pp = atari["perturbation"]
    tasks = [(game_name, atari)] + ([("Catch", toy)] if toy else [])
    catch = (f" Catch: {toy['checkpoint']} ({toy['frames_trained']:,} frames trained), {toy['frames']} frames, mean "
             f"return while recording {toy['mean_return_while_recording']:.2f}." if toy else " Catch: not run.")
    catch_pert = f", Catch {toy['perturbation']['patch']:g}/{toy['perturbation']['stride']}/" \
                 f"{toy['perturbation']['sigma']:g}" if toy else ""
    lines = ["# Grad-CAM faithfulness", "",
             f"{game_name}: `{atari['checkpoint']}` ({atari['frames_trained']:,} frames trained), {atari['frames']} "
             f"frames recorded with the sampled policy, seed {st['seed']}.{catch}", "",
             "Maps: `gradcam` of the greedy action (at the default layer: a pooled torso's last conv before its "
             "pool, a residual torso's output; `gradcam_conv1`: the same at "
             "the first conv layer, finer); `perturbation` saliency "
             f"(Greydanus et al. 2018, all logits; patch/stride/blur sigma {game_name} {pp['patch']:g}/{pp['stride']}/"
             f"{pp['sigma']:g} px{catch_pert}); `blur_change`, the same "
             "perturbations scored by how much they change the input (no model: what the image alone shows); "
             f"`random`, uniform noise. Deletion/insertion: probability of the greedy action, {st['steps']} steps, "
             f"baseline = the frame blurred with sigma {st['blur_sigma']:g} px; mean ± std over frames.", ""]
    for task, res in tasks:
        lines += [f"## {task}: deletion / insertion AUC", "",
                  "| map | deletion AUC (lower is better) | insertion AUC (higher is better) |", "|---|---|---|"]
        for name in (k for k in res["deletion_insertion"] if k != "fractions"):
            d = res["deletion_insertion"][name]
            lines.append(f"| {name} | {pm(d['deletion_auc'])} | {pm(d['insertion_auc'])} |")
        stages = res["randomization"]["gradcam"]["stages"]
        lines += ["", f"## {task}: cascading randomisation (Spearman with the trained model's maps)", "",
                  "| map (frames) | " + " | ".join(f"+{s}" for s in stages) + " | Spearman with blur_change |",
                  "|---|" + "---|" * (len(stages) + 1)]
        for name in ("gradcam", "perturbation"):
            r = res["randomization"][name]
            lines.append(f"| {name} ({r['frames']}) | " + " | ".join(pm(s, 2) for s in r["spearman"])
                         + f" | {pm(res['spearman_with_blur_change'][name], 2)} |")
        lines.append("")
    lines += objects_markdown(atari) + removal_markdown(atari) + (toy_markdown(toy) if toy else [])
    keys = sorted(set().union(*(res["timings_s"] for _, res in tasks)))
    lines += ["## Timings (seconds)", "", "| task | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for task, res in tasks:
        lines.append(f"| {task} | " + " | ".join(f"{res['timings_s'][k]:.1f}" if k in res["timings_s"] else "–"
                                                 for k in keys) + " |")
    lines += ["", f"{game_name}: {atari['seconds_per_frame']:.3f} s per frame in all" + (
        f"; Catch: {toy['seconds_per_frame_excluding_training']:.4f} s per frame excluding training" if toy else "")
        + f". Command: `{st['command']}`", ""]
    return "\n".join(lines)


def objects_markdown(atari: dict) -> list[str]:
    """The object-mass tables where object positions are known (a colour table), else one line saying why not."""
    game = camel_game(atari["game"])
    if "objects" not in atari:
        return [f"No object checks: this tool locates objects by their colours, and "
                f"`eac3_tf.explain.colours.OBJECT_COLOURS` has no colour table for {game}.", ""]
    tol = atari["objects"]["stack"]["pointing_tolerance_cells"]
    classes = list(atari.get("objects_by_class", {}))
    lines = [f"## {game}: map mass on {', '.join(c.replace('_', ' ') for c in classes) or 'the objects'}", "",
             f"| masks | object area share | map | mass on objects | mass / area | pointing | pointing ±{tol} px |",
             "|---|---|---|---|---|---|---|"]
    rows = [(which, atari["objects"][which]) for which in ("stack", "current")]
    rows += [(f"current: {name}", o) for name, o in atari.get("objects_by_class", {}).items()]
    for which, o in rows:
        for name in (k for k in o if isinstance(o[k], dict) and "mass" in o[k]):
            ratio = "n/a" if o[name]["ratio"] is None else f"{o[name]['ratio']:.1f}x"
            lines.append(f"| {which} | {pm(o['area_share'], 4)} | {name} | {pm(o[name]['mass'])} | {ratio} | "
                         f"{o[name]['pointing']:.1%} | {o[name]['pointing_tolerant']:.1%} |")
    return lines + ["", "`stack`: objects on any of the 4 screens the input stacks; `current`: the newest screen "
                    f"only (`current: <class>`: one class of objects). ±{tol} px: within one Grad-CAM cell of an "
                    "object (Chebyshev distance on the 80x80 input). A frame whose mask is empty counts as a "
                    "pointing miss for every map alike, so a class that is often off screen scores low for all.",
                    ""]


def removal_markdown(atari: dict) -> list[str]:
    """What erasing each object class did to the agent, and how well each map's mass on it predicted that."""
    removal = atari.get("object_removal")
    if not removal or "spearman_mass_vs_kl" not in removal:
        return []
    lines = [f"## {camel_game(atari['game'])}: object removal (erase a class from the stacked screens, re-run "
             "the agent)", "", "| class | frames showing it | policy KL (nats) | abs. value change |",
             "|---|---|---|---|"]
    for name, c in removal["by_class"].items():
        if c["pairs"]:
            lines.append(f"| {name} | {c['pairs']} | {pm(c['kl'], 4)} | {pm(c['value_change'], 3)} |")
    lines += ["", f"Spearman over the {removal['pairs']} (frame, class) pairs; the `random` row is the chance level.",
              "", "| map | mass vs policy KL | mass / area share vs policy KL | mass vs value change |",
              "|---|---|---|---|"]
    for name in removal["spearman_mass_vs_kl"]:
        lines.append(f"| {name} | {removal['spearman_mass_vs_kl'][name]:.2f} | "
                     f"{removal['spearman_density_vs_kl'][name]:.2f} | "
                     f"{removal['spearman_mass_vs_value_change'][name]:.2f} |")
    return lines + [""]


def toy_markdown(toy: dict) -> list[str]:
    """The Catch pointing game and object mass, one agent and several."""
    ttol = toy["objects"]["pointing_tolerance_cells"]
    lines = ["## Catch: pointing game and object mass", "",
              f"Hit = the map's argmax is on the ball or the paddle cell; ±{ttol}: within {ttol} cell(s), one "
              "Grad-CAM cell (for the toy net also the 3x3 conv's receptive-field radius). The random row is chance.",
              "",
              f"| map | ball or paddle | ±{ttol} | ball | ball ±{ttol} | paddle | paddle ±{ttol} | mass on objects "
              "| mass / area |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name in toy["pointing_by_object"]:
        o, p = toy["objects"][name], toy["pointing_by_object"][name]
        ratio = "n/a" if o["ratio"] is None else f"{o['ratio']:.1f}x"
        lines.append(f"| {name} | {o['pointing']:.1%} | {o['pointing_tolerant']:.1%} | {p['ball']:.1%} | "
                     f"{p['ball_tolerant']:.1%} | {p['paddle']:.1%} | {p['paddle_tolerant']:.1%} | "
                     f"{pm(o['mass'])} | {ratio} |")
    ag = toy["agents"]
    lines += ["", f"### Catch: Grad-CAM pointing game over {len(ag['per_agent'])} independently trained agents", "",
              f"Each agent trained as above with its own seed, {ag['per_agent'][0]['frames']} frames of its own play. "
              "All-zero maps (ReLU cut everything) point nowhere and count as misses.", "",
              f"| seed | pointing | ±{ag['tolerance_cells']} | all-zero maps | ±{ag['tolerance_cells']} over the "
              "other maps |", "|---|---|---|---|---|"]
    for a in ag["per_agent"]:
        defined = "n/a" if a["pointing_tolerant_defined"] is None else f"{a['pointing_tolerant_defined']:.1%}"
        lines.append(f"| {a['seed']} | {a['pointing']:.1%} | {a['pointing_tolerant']:.1%} | {a['all_zero_maps']} | "
                     f"{defined} |")
    lines.append(f"| all ({ag['frames']} frames) | {ag['pooled']['pointing']:.1%} | "
                 f"{ag['pooled']['pointing_tolerant']:.1%} | {ag['all_zero_maps']} | |")
    off = ag["offsets"]
    shown = ", ".join(f"({k}) {v}" for k, v in off["most_common"].items())
    lines += ["", "Where the maxima of the maps that are not all zero lie, in cells from the nearest ball or paddle "
              "cell (Chebyshev distance): " + ", ".join(f"{k}: {v}" for k, v in off["by_distance"].items())
              + f". Most common offsets (rows down, columns right): {shown}."]
    return lines + ["", f"Catch object area share: {pm(toy['objects']['area_share'], 3)}.", ""]


def finite(x):
    """JSON without NaN: NaN and infinities become null."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def main(argv: list[str] | None = None) -> int:
    global faithfulness, perturbation
    args = parse_args(argv)
    if args.toy_agents > 20:
        raise cli.UsageError(f"--toy_agents must be 1..20, got {args.toy_agents}")
    for name in ("frames", "toy_frames", "cascade_frames"):
        if getattr(args, name) > 100_000:
            raise cli.UsageError(f"--{name} must be 1..100000, got {getattr(args, name)}")
    # every check before TensorFlow loads; a damaged checkpoint is one line, not a traceback from Keras
    agent = agent_spec(args.checkpoint)
    if args.toy_checkpoint and args.skip_toy:
        raise cli.UsageError("--toy_checkpoint and --skip_toy contradict each other: give one")
    if args.toy_checkpoint:
        checkpoint.verify(checkpoint.resolve(args.toy_checkpoint))
    out = Path(args.out)
    cli.check_output_folder(out.parent, "--out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tf = cli.import_tensorflow_quietly()
    from eac3_tf.explain import faithfulness, perturbation

    tf.keras.utils.set_random_seed(args.seed)
    game = agent.game
    settings = {"game": game, "seed": args.seed, "steps": STEPS, "blur_sigma": BLUR_SIGMA, "baseline": "blur",
                "command": "python tools/gradcam_faithfulness.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    report = {"settings": settings, game: run_game(args, agent, {})}
    if not args.skip_toy:
        report["toy"] = run_toy(args, {})
    text = markdown(report)
    json_path, md_path = Path(f"{out}.json"), Path(f"{out}.md")
    write_text(json_path, json.dumps(finite(report), indent=2) + "\n")
    write_text(md_path, text)
    print(text)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    cli.run(main, "gradcam_faithfulness.py")
