"""The offline explainer page: one self-contained HTML file built from recorded frames, maps and policy outputs.

Everything here is numpy, json and PNG encoding (no TensorFlow), so the page can be built and tested from
arrays. The page's document, look and behaviour are package data beside this module (`assets/page.html`,
`page.css`, `page.js`), so each is read and edited as what it is; `build_html` inlines the style and the
script into the document and writes the recordings as one JSON block, which is all the script reads.

The page carries its frames as PNG data URIs and its Grad-CAM maps at the layer's resolution as base64
uint8 arrays (10x10 for the `fast` preset: 100 bytes a map against 25,600 pixels of the play area, so
every action's map of every frame can be stored); its script resizes a map to the model input exactly as
`gradcam.explain` does (bilinear, half-pixel centres, the `tf.image.resize` convention), enlarges it to
the play area by nearest neighbour as `overlay.upsample_map` does, colours it through the colormap's
256-entry table as `overlay.heat_overlay` does, and lays it over the frame at opacity alpha. The page
fetches nothing: a Content-Security-Policy allows only inline script and style and `data:` images, which
is why the style and the script are inlined rather than linked.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import importlib.resources
import json
import math
import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from eac3_tf.explain.faithfulness import DeletionInsertion  # loads TensorFlow: for the annotations only

# Colours of the action lines and bars (matplotlib's tab10), cycled for games with more actions.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
OVERLAYS = ("none", "chosen", "action", "value", "contrast")  # the overlay radio buttons, in page order
ASSETS = ("page.html", "page.css", "page.js")  # in assets/, shipped as package data (pyproject.toml)
_SLOT = re.compile(r"%(STYLE|SCRIPT|DATA)%")


@dataclasses.dataclass(frozen=True)
class AgentRecording:
    """One agent's recorded frames with everything its column of the page shows.

    Attributes:
        title: column heading, e.g. "Pong".
        subtitle: one line under it: preset, frames trained, checkpoint, layer.
        areas: uint8 (T, H, W, 3), the RGB play areas the agent saw (the frames the page shows).
        steps: int (T,), the agent step of each frame.
        names: the game's action names in the policy's output order.
        actions: int (T,), the action taken in each frame ("the chosen action").
        runner_up: int (T,), the most probable action other than the one taken.
        probs: float (T, A), the policy's action probabilities.
        values: float (T,), the critic's value estimate.
        action_maps: float (A, T, h, w) in [0, 1]: Grad-CAM of each action's logit at the layer's resolution,
            each map divided by its own max (see `measures.normalise_maps`).
        value_maps: float (T, h, w) in [0, 1]: Grad-CAM of the value.
        contrast_maps: float (T, h, w) in [0, 1]: Grad-CAM of logit(taken) - logit(runner-up).
        input_size: (H_in, W_in), the model input the maps are bilinearly resized to before the nearest-neighbour
            enlargement to the play area (H and W must be integer multiples of it).
        layer: name of the layer the maps come from.
        faithfulness: a `faithfulness_summary` dict, or None when it was not computed.
    """

    title: str
    subtitle: str
    areas: np.ndarray
    steps: np.ndarray
    names: tuple[str, ...]
    actions: np.ndarray
    runner_up: np.ndarray
    probs: np.ndarray
    values: np.ndarray
    action_maps: np.ndarray
    value_maps: np.ndarray
    contrast_maps: np.ndarray
    input_size: tuple[int, int]
    layer: str
    faithfulness: dict | None = None

    def check(self) -> None:
        """Raise ValueError naming the first array whose shape, type or range does not fit the others."""
        areas = np.asarray(self.areas)
        if areas.dtype != np.uint8 or areas.ndim != 4 or areas.shape[-1] != 3 or areas.shape[0] == 0:
            raise ValueError(f"areas must be uint8 (T, H, W, 3) with T >= 1, got {areas.dtype} {areas.shape}")
        t, big_h, big_w = areas.shape[:3]
        a = len(self.names)
        if a == 0:
            raise ValueError("names must name at least one action")
        expected = {"steps": (t,), "actions": (t,), "runner_up": (t,), "probs": (t, a), "values": (t,)}
        for name, shape in expected.items():
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name} must have shape {shape} for {t} frames and {a} actions, "
                                 f"got {np.shape(getattr(self, name))}")
        for name in ("actions", "runner_up"):
            v = np.asarray(getattr(self, name))
            if v.min() < 0 or v.max() >= a:
                raise ValueError(f"{name} must be action indices in [0, {a}), got values in [{v.min()}, {v.max()}]")
        maps = np.asarray(self.action_maps)
        if maps.ndim != 4 or maps.shape[:2] != (a, t):
            raise ValueError(f"action_maps must have shape ({a}, {t}, h, w), got {maps.shape}")
        h, w = maps.shape[2:]
        for name in ("value_maps", "contrast_maps"):
            if np.shape(getattr(self, name)) != (t, h, w):
                raise ValueError(f"{name} must have shape {(t, h, w)} like action_maps, got "
                                 f"{np.shape(getattr(self, name))}")
        for name in ("action_maps", "value_maps", "contrast_maps", "probs", "values"):
            v = np.asarray(getattr(self, name), np.float64)
            if not np.all(np.isfinite(v)):
                raise ValueError(f"{name} must be finite")
            if name.endswith("maps") and (v.min() < 0.0 or v.max() > 1.0):
                raise ValueError(f"{name} must hold values in [0, 1] (see measures.normalise_maps), got "
                                 f"[{v.min():g}, {v.max():g}]")
        in_h, in_w = self.input_size
        if in_h <= 0 or in_w <= 0 or big_h % in_h or big_w % in_w:
            raise ValueError(f"the play area {big_h}x{big_w} must be an integer multiple of input_size "
                             f"{in_h}x{in_w}")


def runner_up(probs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The most probable action other than `actions` in each row of `probs` (the lowest index on a tie).

    With a single action there is no other one: the action itself is returned (its contrast map is zero).
    """
    p = np.array(probs, np.float64)
    actions = np.asarray(actions, np.int64)
    if p.shape[1] == 1:
        return actions.copy()
    p[np.arange(len(p)), actions] = -np.inf
    return p.argmax(axis=1).astype(np.int64)


def quantize(maps: np.ndarray) -> np.ndarray:
    """Maps in [0, 1] as uint8 levels round(255 m): what the page stores (error at most 1/510)."""
    return np.floor(np.clip(np.asarray(maps, np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _stats(x: np.ndarray) -> list[float]:
    x = np.asarray(x, np.float64)
    return [round(float(x.mean()), 4), round(float(x.std()), 4)]


def faithfulness_summary(gradcam: DeletionInsertion, random: DeletionInsertion, steps: int, blur_sigma: float,
                         seconds: float) -> dict:
    """Deletion/insertion results of Grad-CAM and of random maps on the same frames, as the page shows them.

    Args:
        gradcam: a `faithfulness.DeletionInsertion` (fractions, deletion, insertion, deletion_auc, insertion_auc)
            of the Grad-CAM maps of the action taken.
        random: the same for uniform random maps.
        steps: the deletion/insertion steps used.
        blur_sigma: the blur of the baseline frame, pixels.
        seconds: what the computation took.

    Returns:
        A JSON-ready dict: mean and std of each AUC, the mean curves, and the share of frames on which
        Grad-CAM beats random (lower deletion AUC, higher insertion AUC; ties count half).
    """
    def method(r: DeletionInsertion) -> dict:
        return {"deletion_auc": _stats(r.deletion_auc), "insertion_auc": _stats(r.insertion_auc),
                "deletion_curve": np.round(np.mean(r.deletion, axis=0), 4).tolist(),
                "insertion_curve": np.round(np.mean(r.insertion, axis=0), 4).tolist()}

    def wins(better: np.ndarray, ties: np.ndarray) -> float:
        return round(float(np.mean(better + 0.5 * ties)), 4)

    d_cam, d_rnd = np.asarray(gradcam.deletion_auc), np.asarray(random.deletion_auc)
    i_cam, i_rnd = np.asarray(gradcam.insertion_auc), np.asarray(random.insertion_auc)
    return {"frames": int(len(d_cam)), "steps": int(steps), "blur_sigma": float(blur_sigma),
            "seconds": round(float(seconds), 2), "fractions": np.round(np.asarray(gradcam.fractions), 4).tolist(),
            "gradcam": method(gradcam), "random": method(random),
            "wins": {"deletion": wins(d_cam < d_rnd, d_cam == d_rnd), "insertion": wins(i_cam > i_rnd, i_cam == i_rnd)}}


def png_data_uri(image: np.ndarray) -> str:
    """A uint8 RGB image as a `data:image/png;base64,...` URI: lossless, and inline because the page fetches nothing."""
    import imageio.v3 as iio

    data = iio.imwrite("<bytes>", np.ascontiguousarray(image), extension=".png", optimize=True)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def colormap_table(cmap: str = "jet") -> list[int]:
    """The colormap's 256 RGB entries as 0..255 integers, flat [r0, g0, b0, r1, ...].

    `overlay.heat_overlay` indexes the same table: matplotlib maps m in [0, 1] to entry min(floor(256 m), 255).
    """
    from eac3_tf.explain.overlay import colormap_named

    table = colormap_named(cmap)(np.arange(256))[:, :3]  # integer indices address the table directly
    return np.floor(table * 255.0 + 0.5).astype(int).ravel().tolist()


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, np.uint8).tobytes()).decode("ascii")


def agent_json(rec: AgentRecording) -> dict:
    """One column's data as the page's script reads it."""
    rec.check()
    maps = np.asarray(rec.action_maps)
    return {
        "title": rec.title, "subtitle": rec.subtitle, "layer": rec.layer, "names": list(rec.names),
        "steps": np.asarray(rec.steps).astype(int).tolist(),
        "actions": np.asarray(rec.actions).astype(int).tolist(),
        "runner_up": np.asarray(rec.runner_up).astype(int).tolist(),
        "probs": np.round(np.asarray(rec.probs, np.float64), 4).tolist(),
        "values": np.round(np.asarray(rec.values, np.float64), 4).tolist(),
        "frames": [png_data_uri(a) for a in np.asarray(rec.areas)],
        "map_shape": [int(s) for s in maps.shape[2:]],
        "input_shape": [int(s) for s in rec.input_size],
        "view_shape": [int(s) for s in np.shape(rec.areas)[1:3]],
        # (A, T, h, w), (T, h, w), (T, h, w) uint8, row-major: the script slices frame t of action a at
        # offset (a * T + t) * h * w.
        "maps": {"action": _b64(quantize(maps)), "value": _b64(quantize(rec.value_maps)),
                 "contrast": _b64(quantize(rec.contrast_maps))},
        "faithfulness": rec.faithfulness,
    }


def build_html(agents: list[AgentRecording], fps: float = 15.0, alpha: float = 0.5, cmap: str = "jet",
               command: str = "", title: str = "", method: str = "Grad-CAM") -> str:
    """The explainer page for one or more agents (one column each), as a single HTML document.

    Args:
        agents: the recordings, all with the same number of frames (one scrubber moves them together).
        fps: frames per second of play.
        alpha: the heatmap's initial opacity over the frame, in [0, 1].
        cmap: a matplotlib colormap name.
        method: the saliency method's title, as the page names the maps (e.g. "Grad-CAM", "HiResCAM").
        command: the command line that made the page, shown at its foot.
        title: the page title (default: the agents' titles).

    Returns:
        The HTML text: `assets/page.html` with the style and the script inline and one JSON block holding
        title, command, frames, fps, alpha, cmap, lut (`colormap_table`), palette, overlays (`OVERLAYS`)
        and agents (an `agent_json` each); the JSON is ASCII with "<" escaped, so no string in it can end
        its script element.

    Raises:
        ValueError: on no agents, recordings of different lengths, bad arrays, or bad settings.
    """
    if not agents:
        raise ValueError("build_html needs at least one agent recording")
    lengths = sorted({len(a.steps) for a in agents})
    if len(lengths) != 1:
        raise ValueError(f"all recordings must have the same number of frames, got {lengths}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be > 0, got {fps}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    data = {"title": title or f"{method} explainer \u00b7 " + " / ".join(a.title for a in agents), "method": method,
            "command": command, "frames": lengths[0], "fps": float(fps), "alpha": float(alpha), "cmap": cmap,
            "lut": colormap_table(cmap), "palette": list(PALETTE), "overlays": list(OVERLAYS),
            "agents": [agent_json(a) for a in agents]}
    # "</" would end the script element early; "\u003c" is the same character to JSON.
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    document, style, script = (asset(name) for name in ASSETS)
    slots = {"STYLE": style, "SCRIPT": script, "DATA": payload}
    # One pass: text put into a slot is never searched for slots itself (a title may contain "%DATA%").
    return _SLOT.sub(lambda m: slots[m.group(1)], document)


@functools.cache
def asset(name: str) -> str:
    """The text of one of `ASSETS`, read through importlib.resources so it works from a wheel or a zip too."""
    if name not in ASSETS:
        raise ValueError(f"unknown page asset {name!r}; the page is made of {', '.join(ASSETS)}")
    return importlib.resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")
