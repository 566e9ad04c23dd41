"""Object removal: does a map's mass on an object predict what removing that object does to the policy?

A saliency map is a correlation until an intervention confirms it (Atrey et al., ICLR 2020). Here the
intervention erases one object class from every screen of an input's stack (its pixels filled from the
nearest background pixels), re-runs the agent, and measures how far its action distribution (KL) and value
moved. A faithful method puts mass where erasing changes the agent: over (frame, object) pairs, the rank
correlation between a method's mass on the object and the change it caused is the method's score; random
maps give the chance level. Plain numpy: the agent is any function from inputs to (logits, values).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from eac3_tf.config import ObsConfig
from eac3_tf.explain.summary import stats
from eac3_tf.preprocess import preprocess

_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def inpaint(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Fill the masked pixels of images [N, H, W, C] from their nearest unmasked pixels (4-neighbour fronts).

    Atari backgrounds are flat or blocky, so the nearest pixels outside an object are the background it hides;
    a mask covering a whole image has no background to take and is left as it is.
    """
    out, todo = np.array(images, copy=True), np.array(masks, bool, copy=True)
    if out.shape[:3] != todo.shape:
        raise ValueError(f"masks must be [N, H, W] of images [N, H, W, C], got {todo.shape} and {out.shape}")
    full = todo.all(axis=(1, 2))
    todo[full] = False
    while todo.any():
        filled = np.zeros_like(todo)
        for dy, dx in _SHIFTS:
            # a pixel still to fill whose neighbour at (y + dy, x + dx) is known takes that neighbour's colour
            src_known = np.zeros_like(todo)
            src = np.zeros_like(out)
            ys = slice(max(dy, 0), todo.shape[1] + min(dy, 0))
            yd = slice(max(-dy, 0), todo.shape[1] + min(-dy, 0))
            xs = slice(max(dx, 0), todo.shape[2] + min(dx, 0))
            xd = slice(max(-dx, 0), todo.shape[2] + min(-dx, 0))
            src_known[:, yd, xd] = ~todo[:, ys, xs]
            src[:, yd, xd] = out[:, ys, xs]
            take = todo & src_known & ~filled
            out[take] = src[take]
            filled |= take
        todo &= ~filled
    return out


def stack_indices(starts: np.ndarray, stack: int) -> np.ndarray:
    """For each step of a recording, the steps whose screens its input stacks, oldest first, int [T, stack].

    An episode's first screen fills the stack, as `FrameStack` does at a reset; `starts[t]` marks such steps.
    """
    starts = np.asarray(starts, bool)
    first = np.maximum.accumulate(np.where(starts | (np.arange(len(starts)) == 0), np.arange(len(starts)), 0))
    steps = np.arange(len(starts))[:, None] - np.arange(stack - 1, -1, -1)[None, :]
    return np.maximum(steps, first[:, None])


def erased_inputs(screens: np.ndarray, idx: np.ndarray, masks: np.ndarray, obs: ObsConfig) -> np.ndarray:
    """Model inputs [P, H, W, C] with an object erased from each stacked screen.

    screens: [T, 210, 160, 3] recorded screens; idx: [P, stack] the screens of each input (`stack_indices`);
    masks: [P, stack, 210, 160] the object's pixels on each of them.
    """
    p, k = idx.shape
    chosen = screens[idx.reshape(-1)]
    frames = preprocess(inpaint(chosen, masks.reshape(p * k, *masks.shape[2:])), obs)  # [P*k, h, w, c]
    frames = frames.reshape(p, k, *frames.shape[1:])
    return np.concatenate(list(frames.transpose(1, 0, 2, 3, 4)), axis=-1)  # oldest first along channels


def policy_kl(logits_a: np.ndarray, logits_b: np.ndarray) -> np.ndarray:
    """KL(pi_a || pi_b) in nats for each row of two logit arrays [N, A]."""
    def log_softmax(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        x = x - x.max(axis=-1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))

    la, lb = log_softmax(logits_a), log_softmax(logits_b)
    return (np.exp(la) * (la - lb)).sum(axis=-1)


def effects(agent: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], inputs: np.ndarray,
            erased: np.ndarray) -> dict[str, np.ndarray]:
    """How far erasing moved the agent: "kl" (nats) of its policy and "value" |dV| for each input pair."""
    logits, values = agent(inputs)
    logits_e, values_e = agent(erased)
    return {"kl": policy_kl(logits, logits_e),
            "value": np.abs(np.asarray(values_e, np.float64) - np.asarray(values, np.float64)).reshape(-1)}


def object_removal(agent: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], inputs: np.ndarray,
                   screens: np.ndarray, starts: np.ndarray, class_masks: dict[str, np.ndarray], obs: ObsConfig,
                   maps: dict[str, np.ndarray]) -> dict:
    """Erase each object class from every screen its inputs stack; score each map by whether its mass ranks the moves.

    class_masks: {class: bool [T, rows, 160]} on the play area (rows `obs.crop_top`..`obs.crop_bottom`) of
    each recorded screen; maps: {method: [T, H, W]} at the inputs' resolution. Pairs are the (step, class)
    where the class is on the step's newest screen. Returns per class the pairs and the mean +- std of the
    policy's KL and the absolute value change, and per map Spearman's rho of its mass on the class (and of
    mass / area share, which does not grow with an object's size) against the KL, and of mass against |dV|.
    """
    from eac3_tf.explain.colours import downsample_mask
    from eac3_tf.explain.measures import object_mass, rank_correlation

    idx = stack_indices(starts, obs.stack)
    rows = slice(obs.crop_top, obs.crop_bottom)
    baseline = erased_inputs(screens, idx, np.zeros((*idx.shape, *screens.shape[1:3]), bool), obs)
    if not np.array_equal(baseline, inputs):
        raise ValueError("the screens do not rebuild the inputs (other preprocessing or stacking?)")
    h, w = inputs.shape[1:3]
    steps, picked, kl, dv, by_class = [], [], [], [], {}
    for name, m in class_masks.items():
        present = np.flatnonzero(m.any(axis=(1, 2)))
        by_class[name] = {"pairs": int(len(present))}
        if len(present) == 0:
            continue
        full = np.zeros(screens.shape[:3], bool)
        full[:, rows] = m
        eff = effects(agent, inputs[present], erased_inputs(screens, idx[present], full[idx[present]], obs))
        by_class[name] |= {"kl": stats(eff["kl"]), "value_change": stats(eff["value"])}
        steps.append(present)
        picked.append(downsample_mask(m[present], (h, w)))
        kl.append(eff["kl"])
        dv.append(eff["value"])
    out: dict = {"by_class": by_class, "pairs": int(sum(len(s) for s in steps))}
    if out["pairs"] < 3:
        return out
    steps, masks, kl, dv = (np.concatenate(x) for x in (steps, picked, kl, dv))
    area = masks.mean(axis=(1, 2))
    for key in ("spearman_mass_vs_kl", "spearman_density_vs_kl", "spearman_mass_vs_value_change"):
        out[key] = {}
    for method, mp in maps.items():
        mass = object_mass(mp[steps], masks)
        ok = np.isfinite(mass)
        out["spearman_mass_vs_kl"][method] = rank_correlation(mass[ok][None], kl[ok][None])
        out["spearman_density_vs_kl"][method] = rank_correlation((mass[ok] / area[ok])[None], kl[ok][None])
        out["spearman_mass_vs_value_change"][method] = rank_correlation(mass[ok][None], dv[ok][None])
    return out
