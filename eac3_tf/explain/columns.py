"""What one column of the explainer page shows: an agent's play, every target's maps, and their faithfulness.

The page (`eac3_tf.explain.page`) draws what this computes; the maps are at the layer's resolution (the
browser upsamples and colours them), the taken action's also at the input's, by which deletion and
insertion remove pixels.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from eac3_tf.config import camel_game
from eac3_tf.explain import measures, overlay, page
from eac3_tf.explain.agents import EXPLAIN_BATCH, Agent, record_play
from eac3_tf.explain.settings import BLUR_SIGMA, DELETION_STEPS


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the summary."""
    print(message, file=sys.stderr, flush=True)


def batched(fn, inputs: np.ndarray) -> list:
    """`fn` over `inputs` in batches of exactly EXPLAIN_BATCH rows, the last padded with copies of its last row.

    The maps' graph is compiled per batch size; one size compiles once, where the contrast groups' many sizes
    would each compile anew. Returns [(result, rows that are real)].
    """
    b = EXPLAIN_BATCH
    out = []
    for i in range(0, len(inputs), b):
        x = inputs[i:i + b]
        k = len(x)
        if k < b:
            x = np.concatenate([x, np.repeat(x[-1:], b - k, axis=0)])
        out.append((fn(x), k))
    return out


def raw_maps(model, inputs: np.ndarray, target, layer: str | None, method: str) -> np.ndarray:
    """The method's maps at the layer's resolution, each divided by its max: float32 (N, h, w) in [0, 1]."""
    from eac3_tf.explain import explain

    parts = batched(lambda x: explain(model, x, method=method, target=target, layer=layer).raw, inputs)
    return measures.normalise_maps(np.concatenate([m[:k] for m, k in parts]))


def explain_frames(agent: Agent, inputs: np.ndarray, actions: np.ndarray, layer: str | None,
                   method: str = "gradcam") -> dict:
    """Everything the page shows of the model on `inputs`.

    The policy's probabilities and values; the maps (layer resolution) of each action, of the value and of
    the taken-vs-runner-up contrast; and the taken action's maps at the input's resolution (`gradcam.explain`'s
    own), by which the faithfulness check deletes pixels.
    """
    from tqdm import tqdm

    from eac3_tf.explain import explain

    model, n_actions = agent.model, len(agent.names)
    bar = tqdm(total=n_actions + 2, desc=f"{camel_game(agent.game)} maps", unit="target", leave=False)
    taken = np.empty(inputs.shape[:3], np.float32)
    action_maps = []
    for a in range(n_actions):
        parts = batched(lambda x, a=a: explain(model, x, method=method, target=a, layer=layer), inputs)
        full = np.concatenate([r.maps[:k] for r, k in parts])
        taken[actions == a] = full[actions == a]
        action_maps.append(measures.normalise_maps(np.concatenate([r.raw[:k] for r, k in parts])))
        bar.update()
    # The policy's outputs and the layer do not depend on the target: the last action's calls give them.
    probs = np.concatenate([r.probs[:k] for r, k in parts])
    values = np.concatenate([r.values[:k] for r, k in parts])
    second = page.runner_up(probs, actions)
    value_maps = raw_maps(model, inputs, "value", layer, method)
    bar.update()
    contrast_maps = np.zeros_like(value_maps)  # one target per (taken, runner-up) pair, on the frames that have it
    for a, b in sorted({(int(a), int(b)) for a, b in zip(actions, second, strict=True)}):
        if a == b:  # only in a one-action game: logit_a - logit_a is 0, its map stays 0
            continue
        idx = np.flatnonzero((actions == a) & (second == b))
        contrast_maps[idx] = raw_maps(model, inputs[idx], (a, b), layer, method)
    bar.update()
    bar.close()
    return {"probs": probs, "values": values, "runner_up": second, "taken": taken, "action": np.stack(action_maps),
            "value": value_maps, "contrast": contrast_maps, "layer": parts[0][0].layer}


def faithfulness(agent: Agent, inputs: np.ndarray, maps: np.ndarray, actions: np.ndarray, n: int,
                 seed: int) -> dict | None:
    """Deletion/insertion of the taken action's map (the chosen method's) against random maps, on n frames."""
    if n == 0:
        return None
    from tqdm import tqdm

    from eac3_tf.explain.faithfulness import deletion_insertion

    start = time.perf_counter()
    idx = np.unique(np.linspace(0, len(inputs) - 1, min(n, len(inputs))).round().astype(int))
    random_maps = measures.random_maps(len(idx), maps.shape[1:3], seed + 1)
    chunk = 16
    results = {"gradcam": [], "random": []}
    for i in tqdm(range(0, len(idx), chunk), desc=f"{camel_game(agent.game)} faithfulness", unit="chunk",
                  leave=False):
        s = idx[i:i + chunk]
        for name, m in (("gradcam", maps[s]), ("random", random_maps[i:i + chunk])):
            results[name].append(deletion_insertion(agent.model, inputs[s], m, actions[s], steps=DELETION_STEPS,
                                                    baseline="blur", blur_sigma=BLUR_SIGMA, seed=seed))

    class Joined:  # the chunks' curves as one DeletionInsertion-like record
        def __init__(self, parts):
            self.fractions = parts[0].fractions
            for field in ("deletion", "insertion", "deletion_auc", "insertion_auc"):
                setattr(self, field, np.concatenate([getattr(p, field) for p in parts]))

    return page.faithfulness_summary(Joined(results["gradcam"]), Joined(results["random"]), DELETION_STEPS,
                                             BLUR_SIGMA, time.perf_counter() - start)


def recording(agent: Agent, f, index: int, total: int) -> page.AgentRecording:
    """Play, explain and score one agent: everything its column of the page shows.

    `f` holds the recording settings (frames, skip, policy, seed, layer, method, faithfulness_frames).
    """
    t0 = time.perf_counter()
    game = camel_game(agent.game)
    log(f"[{index + 1}/{total}] {game} ({agent.path}): playing {f.skip + f.frames} agent steps "
        f"({f.policy} policy, seed {f.seed})")
    screens, inputs, steps, actions = record_play(agent, f.frames, f.skip, f.seed, f.policy == "greedy")
    t1 = time.perf_counter()
    log(f"[{index + 1}/{total}] {game}: recorded in {t1 - t0:.1f} s; computing Grad-CAM maps "
        f"({len(agent.names)} actions, value, contrast)")
    ex = explain_frames(agent, inputs, actions, f.layer, f.method)
    t2 = time.perf_counter()
    log(f"[{index + 1}/{total}] {game}: maps in {t2 - t1:.1f} s"
        + (f"; faithfulness on {min(f.faithfulness_frames, f.frames)} frames" if f.faithfulness_frames else ""))
    faith = faithfulness(agent, inputs, ex["taken"], actions, f.faithfulness_frames, f.seed)
    if faith:
        log(f"[{index + 1}/{total}] {game}: faithfulness in {faith['seconds']:.1f} s")
    layer = ex["layer"]
    return page.AgentRecording(
        title=game,
        subtitle=(f"E-A3C {agent.preset} preset \u00b7 {agent.frames_trained:,} frames trained \u00b7 "
                  f"{agent.path.name} \u00b7 {f.policy} policy, seed {f.seed} \u00b7 maps of layer {layer}"),
        areas=overlay.play_area(screens, agent.obs), steps=steps, names=agent.names, actions=actions,
        runner_up=ex["runner_up"], probs=ex["probs"], values=ex["values"], action_maps=ex["action"],
        value_maps=ex["value"], contrast_maps=ex["contrast"], input_size=agent.obs.shape[:2], layer=layer,
        faithfulness=faith)
