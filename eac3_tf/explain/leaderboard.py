"""One table of every saliency method on an agent's own play: faithful? on the objects? predictive? cheap?

Per method (and uniform random maps, the chance row) on T recorded frames:
* deletion / insertion AUC of the greedy action's probability for maps of that action, and of the critic's
  |V(copy) - V(frame)| for maps of the value (Petsiuk et al. 2018; blurred baseline);
* cascading randomisation (Adebayo et al. 2018): mean Spearman rho with the trained model's maps as the
  policy head, the value head, the hidden layer and each conv are re-initialised from the top; near 1 means
  the map ignores those weights (for maps of an action, that is right for the value head alone);
* localisation per object class against ground-truth boxes (`recording.box_masks`: OCAtari's RAM reading
  where it was validated, the colour table's components elsewhere): the pointing game within one map cell,
  and mass inside the class's boxes over their area share (1.0 = chance);
* object removal (`counterfactual`): Spearman rho of the map's mass on a class with the policy's KL when
  the class is erased;
* milliseconds per frame at batch 32, and as a multiple of one forward pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from eac3_tf.agent import AgentSpec
from eac3_tf.explain.counterfactual import object_removal
from eac3_tf.explain.recording import Recording, box_masks, object_masks
from eac3_tf.explain.settings import BLUR_SIGMA
from eac3_tf.explain.settings import DELETION_STEPS as STEPS
from eac3_tf.explain.summary import stats

RANDOM = "random"
TIMING_BATCH = 32


def _map_fn(method: str, seed: int) -> Callable:
    from eac3_tf.explain.measures import random_maps
    from eac3_tf.explain.methods import explain

    if method == RANDOM:
        return lambda model, frames, target: random_maps(len(frames), frames.shape[1:3], seed)
    return lambda model, frames, target: explain(model, frames, method=method, target=target).maps


def _ms_per_frame(fn: Callable[[np.ndarray], object], frames: np.ndarray, repeats: int = 3) -> float:
    batch = frames[:TIMING_BATCH]
    fn(batch)  # compile and warm up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(batch)
        best = min(best, time.perf_counter() - t)
    return 1000.0 * best / len(batch)


def _localisation(maps: np.ndarray, class_masks: dict[str, np.ndarray], cell: int) -> dict:
    from eac3_tf.explain import colours, measures

    out = {}
    for name, m in class_masks.items():
        small = colours.downsample_mask(m, maps.shape[1:3])
        on = small.any(axis=(1, 2))
        if not on.any():
            out[name] = {"frames": 0}
            continue
        _, ratio = measures.mass_ratio(maps[on], small[on])
        out[name] = {"frames": int(on.sum()), "pointing": measures.pointing_rate(maps[on], small[on], tolerance=cell),
                     "mass_over_area": ratio}
    return out


def board(model, agent: AgentSpec, rec: Recording, methods: tuple[str, ...], seed: int = 0,
          cascade_frames: int = 16, log: Callable[[str], None] = print) -> dict:
    """Measure every method (and random maps) on one agent's recording; see the module docstring."""
    import tensorflow as tf

    from eac3_tf.explain import colours, faithfulness
    from eac3_tf.explain.methods import explain
    from eac3_tf.explain.perturbation import policy_outputs

    frames = rec.inputs
    logits, values = policy_outputs(model, frames)
    actions = logits.argmax(-1)
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False))
    forward_ms = _ms_per_frame(forward, frames)  # compiled, as the methods' own graphs are
    stages = faithfulness.randomization_stages(model, split_heads=True)
    known = agent.game in colours.OBJECT_COLOURS
    _, by_class = object_masks(rec, agent) if known else (None, None)  # pixels, for erasing objects
    boxes, sources = box_masks(rec, agent) if known else (None, {})  # ground truth, for localisation
    out = {"game": agent.game, "checkpoint": str(agent.path), "preset": agent.preset,
           "localisation_sources": sources,
           "frames_trained": agent.frames_trained, "frames": int(len(frames)), "forward_ms_per_frame": forward_ms,
           "greedy_action_counts": np.bincount(actions, minlength=logits.shape[-1]).tolist(),
           "randomisation_stages": ["+".join(s) if isinstance(s, tuple) else s for s in stages], "methods": {}}
    action_maps, cells = {}, {}
    for k, method in enumerate((*methods, RANDOM)):
        t0 = time.perf_counter()
        fn = _map_fn(method, seed + 1 + k)
        a_maps = np.concatenate([fn(model, frames[i:i + 64], None) for i in range(0, len(frames), 64)])
        v_maps = np.concatenate([fn(model, frames[i:i + 64], "value") for i in range(0, len(frames), 64)])
        action_maps[method] = a_maps
        di, dv = (faithfulness.deletion_insertion(model, frames, m, actions, steps=STEPS, blur_sigma=BLUR_SIGMA,
                                                  seed=seed) for m in (a_maps, v_maps))
        row = {"deletion_auc": stats(di.deletion_auc), "insertion_auc": stats(di.insertion_auc),
               "value_deletion_auc": stats(dv.value_deletion_auc),
               "value_insertion_auc": stats(dv.value_insertion_auc)}
        if method != RANDOM:
            res = faithfulness.cascading_randomization(model, frames[:cascade_frames], stages, map_fn=fn, seed=seed)
            row["randomisation_spearman"] = [stats(c)["mean"] for c in res.correlations]
            raw = explain(model, frames[:1], method=method).raw
            cell = cells[method] = int(np.ceil(frames.shape[1] / raw.shape[1]))
            row["ms_per_frame"] = _ms_per_frame(lambda x, fn=fn: fn(model, x, None), frames)
            row["times_forward"] = row["ms_per_frame"] / forward_ms
        else:
            cell = cells.get("gradcam", max(cells.values(), default=1))  # chance at Grad-CAM's tolerance
        if boxes is not None:
            row["localisation"] = _localisation(a_maps, boxes, cell)
        row["seconds"] = time.perf_counter() - t0
        out["methods"][method] = row
        log(f"{agent.game}: {method} in {row['seconds']:.1f} s")
    if by_class is not None:
        removal = object_removal(lambda x: policy_outputs(model, x), frames, rec.screens, rec.starts, by_class,
                                 agent.obs, action_maps)
        out["object_removal_by_class"] = removal["by_class"]
        for method, row in out["methods"].items():
            row["removal_spearman"] = removal.get("spearman_mass_vs_kl", {}).get(method)
            row["removal_spearman_density"] = removal.get("spearman_density_vs_kl", {}).get(method)
    out["values_mean"] = float(values.mean())
    return out



def _f(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def markdown(boards: list[dict], command: str) -> str:
    """The leaderboard as Markdown: one table per game, one row per method."""
    lines = ["# Explanation leaderboard", "",
             "Per game and method, on frames of the agent's own play (sampled actions, its training env settings). "
             "Deletion ↓ / insertion ↑: AUC of the greedy action's probability; value deletion ↑ / insertion ↓: "
             "AUC of |V(copy) − V(frame)| for maps of the value; both with a blurred baseline, "
             f"{STEPS} steps. Randomisation: mean Spearman ρ with the trained maps as the layers are re-initialised "
             "from the top (lower is better: the map depends on the weights). Pointing: the map's maximum on the "
             "class's ground-truth boxes within one map cell; mass/area: 1.0 is chance (each class's source is "
             "named under its table). Removal ρ: Spearman of the map's mass on an "
             "object class (and of its mass / area share, which random maps leave near 0 however big an object is) "
             "with the policy's KL when that class is erased. "
             f"ms/frame at batch {TIMING_BATCH}, best of 3.", "", f"Command: `{command}`", ""]
    for b in boards:
        classes = sorted({c for r in b["methods"].values() for c in r.get("localisation", {})})
        lines += [f"## {b['game']} ({b['preset']}, {b['frames_trained']:,} frames trained; {b['frames']} frames; "
                  f"forward {b['forward_ms_per_frame']:.3f} ms/frame)", "",
                  "| method | deletion ↓ | insertion ↑ | value del. ↑ | value ins. ↓ | randomisation ρ "
                  f"({' / '.join(b['randomisation_stages'])}) | "
                  + "".join(f"pointing {c} | mass/area {c} | " for c in classes)
                  + "removal ρ (mass / mass÷area) | ms/frame (× forward) |",
                  "|---|---|---|---|---|---|" + "---|---|" * len(classes) + "---|---|"]
        for method, r in b["methods"].items():
            rand = " / ".join(_f(s, 2) for s in r.get("randomisation_spearman", [])) or "—"
            loc = "".join(f"{_f(r['localisation'][c].get('pointing'), 2)} | "
                          f"{_f(r['localisation'][c].get('mass_over_area'), 2)} | " for c in classes)
            speed = f"{r['ms_per_frame']:.2f} ({r['times_forward']:.1f}×)" if "ms_per_frame" in r else "—"
            lines.append(f"| {method} | {_f(r['deletion_auc']['mean'])} | {_f(r['insertion_auc']['mean'])} | "
                         f"{_f(r['value_deletion_auc']['mean'])} | {_f(r['value_insertion_auc']['mean'])} | {rand} | "
                         f"{loc}{_f(r.get('removal_spearman'), 2)} / {_f(r.get('removal_spearman_density'), 2)} | "
                         f"{speed} |")
        if b.get("localisation_sources"):
            lines += ["", "Boxes: " + ", ".join(f"{c} from {s}" for c, s in b["localisation_sources"].items()) + "."]
        removal = b.get("object_removal_by_class", {})
        moved = [f"{c} {v['kl']['mean']:.3f} ({v['pairs']} frames)" for c, v in removal.items() if v.get("kl")]
        if moved:
            lines += ["", "Policy KL (nats) when a class is erased: " + ", ".join(moved) + "."]
        lines.append("")
    return "\n".join(lines)
