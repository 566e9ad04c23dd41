"""The offline explainer page: one self-contained HTML file built from recorded frames, maps and policy outputs.

Everything here is numpy, json and PNG encoding (no TensorFlow), so the page can be built and tested from
arrays. The page carries its frames as PNG data URIs and its Grad-CAM maps at the layer's resolution as
base64 uint8 arrays (10x10 for the `fast` preset: 100 bytes a map, so every action's map of every frame
fits in a few hundred kB); its script resizes a map to the model input exactly as `gradcam.explain` does
(bilinear, half-pixel centres, the `tf.image.resize` convention), enlarges it to the play area by
nearest neighbour as `overlay.upsample_map` does, colours it through the colormap's 256-entry table as
`overlay.heat_overlay` does, and lays it over the frame at opacity alpha. The page fetches nothing: a
Content-Security-Policy allows only inline script and style and `data:` images.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math

import numpy as np

# Colours of the action lines and bars (matplotlib's tab10), cycled for games with more actions.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
OVERLAYS = ("none", "chosen", "action", "value", "contrast")  # the overlay radio buttons, in page order


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
            each map divided by its own max (see `normalise_maps`).
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
                raise ValueError(f"{name} must hold values in [0, 1] (see normalise_maps), got "
                                 f"[{v.min():g}, {v.max():g}]")
        in_h, in_w = self.input_size
        if in_h <= 0 or in_w <= 0 or big_h % in_h or big_w % in_w:
            raise ValueError(f"the play area {big_h}x{big_w} must be an integer multiple of input_size "
                             f"{in_h}x{in_w}")


def normalise_maps(raw: np.ndarray) -> np.ndarray:
    """Divide each Grad-CAM map (un-normalised, as `gradcam.grad_cam_raw` gives it) by its own max.

    The same normalisation `gradcam.explain` applies before resizing; a map that is zero everywhere stays
    zero (no 0/0).

    Args:
        raw: float (..., h, w), >= 0.

    Returns:
        float32 (..., h, w) in [0, 1].
    """
    raw = np.asarray(raw, np.float32)
    peak = raw.max(axis=(-2, -1), keepdims=True)
    out = np.divide(raw, peak, out=np.zeros_like(raw), where=peak > 0)
    return np.clip(out, 0.0, 1.0)


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


def faithfulness_summary(gradcam, random, steps: int, blur_sigma: float, seconds: float) -> dict:
    """Deletion/insertion results of Grad-CAM and of random maps on the same frames, as the page shows them.

    Args:
        gradcam: a `saliency.DeletionInsertion` (fractions, deletion, insertion, deletion_auc, insertion_auc)
            of the Grad-CAM maps of the action taken.
        random: the same for uniform random maps.
        steps: the deletion/insertion steps used.
        blur_sigma: the blur of the baseline frame, pixels.
        seconds: what the computation took.

    Returns:
        A JSON-ready dict: mean and std of each AUC, the mean curves, and the share of frames on which
        Grad-CAM beats random (lower deletion AUC, higher insertion AUC; ties count half).
    """
    def method(r) -> dict:
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
    """A uint8 RGB image as a `data:image/png;base64,...` URI (lossless; Atari frames compress to ~0.5 kB)."""
    import imageio.v3 as iio

    data = iio.imwrite("<bytes>", np.ascontiguousarray(image), extension=".png", optimize=True)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def colormap_table(cmap: str = "jet") -> list[int]:
    """The colormap's 256 RGB entries as 0..255 integers, flat [r0, g0, b0, r1, ...].

    `overlay.heat_overlay` indexes the same table: matplotlib maps m in [0, 1] to entry min(floor(256 m), 255).
    """
    import matplotlib

    try:
        lut = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"unknown colormap {cmap!r}; e.g. jet, turbo, inferno, viridis "
                         "(any name in matplotlib.colormaps)") from None
    table = lut(np.arange(256))[:, :3]  # integer indices address the table directly
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
               command: str = "", title: str = "") -> str:
    """The explainer page for one or more agents (one column each), as a single HTML document.

    Args:
        agents: the recordings, all with the same number of frames (one scrubber moves them together).
        fps: frames per second of play.
        alpha: the heatmap's initial opacity over the frame, in [0, 1].
        cmap: a matplotlib colormap name.
        command: the command line that made the page, shown at its foot.
        title: the page title (default: the agents' titles).

    Returns:
        The HTML text (ASCII-safe JSON inside; all assets inline).

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
    data = {"frames": lengths[0], "fps": float(fps), "alpha": float(alpha), "cmap": cmap,
            "lut": colormap_table(cmap), "palette": list(PALETTE), "agents": [agent_json(a) for a in agents]}
    # "</" would end the script element early; "\u003c" is the same character to JSON.
    payload = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    title = title or "Grad-CAM explainer \u00b7 " + " / ".join(a.title for a in agents)
    return (_TEMPLATE.replace("%TITLE%", html.escape(title))
            .replace("%COMMAND%", html.escape(command))
            .replace("%COLUMNS%", str(len(agents)))
            .replace("%STYLE%", _STYLE)
            .replace("%SCRIPT%", _SCRIPT)
            .replace("%DATA%", payload))


_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>%TITLE%</title>
<style>%STYLE%</style>
</head>
<body>
<header>
  <h1>%TITLE%</h1>
  <p class="lead">What the agent looks at, frame by frame: a Grad-CAM heatmap over each frame it saw, the policy's
  action probabilities and the critic's value beside it. Scrub or play; pick what the heatmap explains.</p>
</header>
<section id="controls" aria-label="controls">
  <button id="play" type="button" aria-pressed="false">&#9654; play</button>
  <input id="scrub" type="range" min="0" max="0" step="1" value="0" aria-label="frame">
  <span id="frame-label" aria-live="polite"></span>
  <label>speed <select id="speed"><option value="0.25">&#188;&times;</option><option value="0.5">&#189;&times;</option>
    <option value="1" selected>1&times;</option><option value="2">2&times;</option></select></label>
  <fieldset id="overlay">
    <legend>heatmap</legend>
    <label><input type="radio" name="overlay" value="none"> none</label>
    <label><input type="radio" name="overlay" value="chosen" checked> chosen action</label>
    <label><input type="radio" name="overlay" value="action"> action&hellip;</label>
    <label><input type="radio" name="overlay" value="value"> value</label>
    <label><input type="radio" name="overlay" value="contrast"> chosen &minus; runner-up</label>
  </fieldset>
  <label>opacity <input id="alpha" type="range" min="0" max="1" step="0.05" value="0.5"></label>
  <span class="colorbar"><span>0</span><canvas id="colorbar" width="256" height="1"></canvas><span>1</span></span>
</section>
<main id="grid" style="--columns: %COLUMNS%"></main>
<footer>
  <p><b>Reading it.</b> Grad-CAM (Selvaraju et al. 2017): the gradients of the chosen score with respect to the
  last conv layer's feature maps, averaged per channel, weight those maps; their positive sum is the heatmap. Each
  frame's map is divided by its own max (colour 0&ndash;1, so frames are not comparable in scale), resized to the
  model input bilinearly and drawn over the play area. <i>Chosen action</i>: the action the agent took in that
  frame. <i>Chosen &minus; runner-up</i>: the map of logit(chosen) &minus; logit(next most probable action), i.e.
  what made it prefer its action over the alternative. <i>Faithfulness</i>: deletion removes the map's most salient
  pixels first (into a blurred frame) and tracks the chosen action's probability (lower area = more faithful);
  insertion restores them (higher = more faithful); random maps are the chance level.
  Keys: &larr; &rarr; step, space play/pause.</p>
  <p class="cmd">%COMMAND%</p>
</footer>
<script type="application/json" id="explainer-data">%DATA%</script>
<script>%SCRIPT%</script>
</body>
</html>
"""

_STYLE = """
:root { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a; }
body { margin: 0; padding: 12px 18px; background: #f6f7f9; }
h1 { font-size: 19px; margin: 0 0 2px; }
h2 { font-size: 16px; margin: 0; }
.lead { margin: 0 0 8px; color: #4a5561; max-width: 980px; }
#controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; padding: 8px 10px;
  background: #fff; border: 1px solid #d8dde3; border-radius: 6px; position: sticky; top: 0; z-index: 2; }
#controls button { font: inherit; min-width: 84px; padding: 3px 8px; }
#scrub { width: 300px; }
#frame-label { font-variant-numeric: tabular-nums; min-width: 200px; }
fieldset { border: 0; margin: 0; padding: 0; display: flex; gap: 10px; align-items: center; }
legend { float: left; margin-right: 6px; color: #4a5561; }
.colorbar { display: inline-flex; align-items: center; gap: 4px; color: #4a5561; }
.colorbar canvas { width: 120px; height: 12px; image-rendering: pixelated; border: 1px solid #999; }
#grid { display: grid; grid-template-columns: repeat(var(--columns), max-content); gap: 14px; margin-top: 12px;
  overflow-x: auto; }
.agent { background: #fff; border: 1px solid #d8dde3; border-radius: 6px; padding: 10px 12px; display: grid;
  grid-template-columns: 320px 330px; gap: 4px 16px; align-content: start; }
.agent > header { grid-column: 1 / -1; }
.sub { margin: 0 0 6px; color: #4a5561; font-size: 12px; }
.view { position: relative; width: 320px; height: 320px; background: #000; }
.view img, .view canvas { position: absolute; left: 0; top: 0; width: 320px; height: 320px;
  image-rendering: pixelated; }
.caption { margin: 6px 0 0; min-height: 2.8em; }
.zero { color: #b42318; }
.bars { display: grid; grid-template-columns: max-content 1fr 44px; gap: 1px 6px; align-items: center;
  font-size: 12px; margin-bottom: 6px; }
.bars .name { cursor: pointer; }
.bars .name.taken { font-weight: 700; }
.bars .track { background: #eef0f3; height: 10px; position: relative; }
.bars .fill { position: absolute; left: 0; top: 0; bottom: 0; }
.bars .num { text-align: right; font-variant-numeric: tabular-nums; }
.pick { font-size: 12px; margin-bottom: 4px; }
svg.chart { display: block; cursor: crosshair; }
svg text { font-size: 10px; fill: #4a5561; }
.faith { font-size: 12px; margin-top: 6px; }
.faith table { border-collapse: collapse; }
.faith td, .faith th { padding: 1px 8px 1px 0; text-align: left; font-variant-numeric: tabular-nums; }
footer { max-width: 980px; color: #4a5561; font-size: 12px; margin-top: 12px; }
footer .cmd { font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
"""

_SCRIPT = r"""
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("explainer-data").textContent);
  const T = D.frames;
  const NS = "http://www.w3.org/2000/svg";
  const state = { t: 0, overlay: "chosen", alpha: D.alpha, playing: false, timer: null, speed: 1 };

  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sv(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const fmt = (x, d) => Number(x).toFixed(d === undefined ? 2 : d);

  // tf.image.resize's bilinear weights (half-pixel centres, no antialias), the resize gradcam.explain does:
  // output index i samples the input at (i + 0.5) * n_in / n_out - 0.5, between two clamped neighbours.
  function weights(nIn, nOut) {
    const lo = new Int32Array(nOut), hi = new Int32Array(nOut), w = new Float64Array(nOut);
    const scale = nIn / nOut;
    for (let i = 0; i < nOut; i++) {
      const x = (i + 0.5) * scale - 0.5, f = Math.floor(x);
      lo[i] = Math.max(f, 0); hi[i] = Math.min(Math.ceil(x), nIn - 1); w[i] = x - f;
    }
    return { lo, hi, w };
  }

  class Agent {
    constructor(a, index) {
      this.a = a; this.index = index;
      this.A = a.names.length;
      [this.h, this.w] = a.map_shape; [this.H, this.W] = a.input_shape; [this.VH, this.VW] = a.view_shape;
      this.raw = { action: bytes(a.maps.action), value: bytes(a.maps.value), contrast: bytes(a.maps.contrast) };
      this.wy = weights(this.h, this.H); this.wx = weights(this.w, this.W);
      this.pick = 0;  // the action of the "action..." overlay
      this.build();
    }
    // Which stored map the overlay shows at frame t: [array, offset, words for the caption].
    source(kind, t) {
      const a = this.a, hw = this.h * this.w, n = a.names;
      if (kind === "chosen" || kind === "action") {
        const act = kind === "chosen" ? a.actions[t] : this.pick;
        const taken = act === a.actions[t] ? ", the action taken" : "";
        return [this.raw.action, (act * T + t) * hw,
                "Grad-CAM of " + n[act] + " (p = " + fmt(a.probs[t][act]) + taken + ")"];
      }
      if (kind === "value") return [this.raw.value, t * hw, "Grad-CAM of the value V(s) = " + fmt(a.values[t], 3)];
      return [this.raw.contrast, t * hw, "Grad-CAM of " + n[a.actions[t]] + " \u2212 " + n[a.runner_up[t]] +
              " (logit of the chosen action minus the runner-up's)"];
    }
    // The map over the play area, row-major Float64Array(VH * VW) in [0, 1]: bilinear to the model input,
    // then nearest-neighbour enlargement (overlay.upsample_map).
    map(kind, t) {
      const [src, off] = this.source(kind, t);
      const { h, w, H, W, VH, VW, wy, wx } = this;
      const small = new Float64Array(H * W);
      for (let y = 0; y < H; y++) {
        const r0 = off + wy.lo[y] * w, r1 = off + wy.hi[y] * w, fy = wy.w[y];
        for (let x = 0; x < W; x++) {
          const x0 = wx.lo[x], x1 = wx.hi[x], fx = wx.w[x];
          const tl = src[r0 + x0] / 255, tr = src[r0 + x1] / 255, bl = src[r1 + x0] / 255, br = src[r1 + x1] / 255;
          const top = tl + (tr - tl) * fx, bottom = bl + (br - bl) * fx;
          small[y * W + x] = Math.min(1, Math.max(0, top + (bottom - top) * fy));
        }
      }
      const out = new Float64Array(VH * VW);
      for (let y = 0; y < VH; y++) {
        const sy = Math.floor(y * H / VH) * W;
        for (let x = 0; x < VW; x++) out[y * VW + x] = small[sy + Math.floor(x * W / VW)];
      }
      return out;
    }
    build() {
      const a = this.a, i = this.index;
      const card = el("article", { class: "agent", id: "agent-" + i });
      const head = el("header");
      head.append(el("h2", {}, a.title), el("p", { class: "sub" }, a.subtitle));
      const left = el("div"), right = el("div");
      const view = el("div", { class: "view", id: "view-" + i });
      this.img = el("img", { class: "frame", id: "frame-" + i, alt: a.title + " frame", width: a.view_shape[1],
                             height: a.view_shape[0] });
      this.canvas = el("canvas", { class: "heat", id: "heat-" + i, width: a.view_shape[1], height: a.view_shape[0] });
      view.append(this.img, this.canvas);
      this.caption = el("p", { class: "caption", id: "caption-" + i });
      left.append(view, this.caption);

      const pick = el("label", { class: "pick" }, "action map: ");
      this.select = el("select", { class: "action-select", id: "action-" + i });
      a.names.forEach((n, k) => this.select.append(el("option", { value: k }, n)));
      this.select.addEventListener("change", () => { this.pick = +this.select.value; setOverlay("action"); });
      pick.append(this.select);
      this.bars = el("div", { class: "bars", id: "bars-" + i });
      this.barRows = a.names.map((n, k) => {
        const name = el("span", { class: "name", title: "show this action's map" }, n);
        name.addEventListener("click", () => { this.pick = k; this.select.value = k; setOverlay("action"); });
        const track = el("span", { class: "track" }), fill = el("span", { class: "fill" });
        fill.style.background = D.palette[k % D.palette.length];
        track.append(fill);
        const num = el("span", { class: "num" });
        this.bars.append(name, track, num);
        return { name, fill, num };
      });
      right.append(el("div", { class: "pick" }, "action probabilities (bold: the action taken)"), this.bars, pick);
      right.append(this.chart());
      if (a.faithfulness) right.append(this.faith(a.faithfulness));
      card.append(head, left, right);
      document.getElementById("grid").append(card);
    }
    chart() {
      const a = this.a, W = 330, L = 36, R = 6, PT = 6, PH = 92, GAP = 16, VH = 52, B = 16;
      const H = PT + PH + GAP + VH + B;
      const g = sv("svg", { class: "chart", id: "chart-" + this.index, width: W, height: H,
                            viewBox: "0 0 " + W + " " + H, role: "img",
                            "aria-label": "action probabilities and value over time" });
      const x = t => L + (T > 1 ? t / (T - 1) : 0.5) * (W - L - R);
      const vals = a.values, vmin = Math.min(...vals), vmax = Math.max(...vals);
      const span = vmax - vmin > 1e-9 ? vmax - vmin : 1, v0 = vmax - vmin > 1e-9 ? vmin : vmin - 0.5;
      const yp = p => PT + (1 - p) * PH, yv = v => PT + PH + GAP + (1 - (v - v0) / span) * VH;
      this.x = x; this.yp = yp; this.yv = yv;
      const frame = (y0, h) => g.append(sv("rect", { x: L, y: y0, width: W - L - R, height: h, fill: "#fafbfc",
                                                      stroke: "#d8dde3" }));
      frame(PT, PH); frame(PT + PH + GAP, VH);
      g.append(sv("text", { x: L - 4, y: PT + 8, "text-anchor": "end" }, "1"),
               sv("text", { x: L - 4, y: PT + PH, "text-anchor": "end" }, "0"),
               sv("text", { x: L - 4, y: PT + PH / 2 + 3, "text-anchor": "end" }, "p"),
               sv("text", { x: L - 4, y: PT + PH + GAP + 8, "text-anchor": "end" }, fmt(v0 + span, 2)),
               sv("text", { x: L - 4, y: PT + PH + GAP + VH, "text-anchor": "end" }, fmt(v0, 2)),
               sv("text", { x: L - 4, y: PT + PH + GAP + VH / 2 + 3, "text-anchor": "end" }, "V"),
               sv("text", { x: L, y: H - 3 }, "step " + a.steps[0]),
               sv("text", { x: W - R, y: H - 3, "text-anchor": "end" }, "step " + a.steps[T - 1]));
      a.names.forEach((n, k) => {
        const pts = a.probs.map((p, t) => fmt(x(t), 1) + "," + fmt(yp(p[k]), 1)).join(" ");
        g.append(sv("polyline", { points: pts, fill: "none", stroke: D.palette[k % D.palette.length],
                                  "stroke-width": 1.2, class: "prob-line" }));
      });
      const vpts = vals.map((v, t) => fmt(x(t), 1) + "," + fmt(yv(v), 1)).join(" ");
      g.append(sv("polyline", { points: vpts, fill: "none", stroke: "#1d232a", "stroke-width": 1.2 }));
      this.cursor = sv("line", { class: "cursor", y1: PT, y2: PT + PH + GAP + VH, stroke: "#b42318",
                                 "stroke-width": 1, "stroke-dasharray": "3 2" });
      this.point = sv("circle", { class: "point", id: "point-" + this.index, r: 4, stroke: "#fff",
                                  "stroke-width": 1.5 });
      this.vpoint = sv("circle", { class: "vpoint", id: "vpoint-" + this.index, r: 3.5, fill: "#b42318",
                                   stroke: "#fff", "stroke-width": 1.5 });
      g.append(this.cursor, this.point, this.vpoint);
      const seek = ev => {
        const box = g.getBoundingClientRect(), px = (ev.clientX - box.left) * W / box.width;
        show(Math.round(Math.min(1, Math.max(0, (px - L) / (W - L - R))) * (T - 1)));
      };
      g.addEventListener("click", seek);
      g.addEventListener("mousemove", ev => { if (ev.buttons & 1) seek(ev); });
      return g;
    }
    faith(f) {
      const box = el("div", { class: "faith", id: "faith-" + this.index });
      box.append(el("b", {}, "Faithfulness on " + f.frames + " of these frames"));
      const tab = el("table");
      const hr = el("tr");
      ["map", "deletion AUC \u2193", "insertion AUC \u2191"].forEach(s => hr.append(el("th", {}, s)));
      tab.append(hr);
      [["Grad-CAM", f.gradcam], ["random", f.random]].forEach(([name, m]) => {
        const tr = el("tr");
        tr.append(el("td", {}, name), el("td", {}, fmt(m.deletion_auc[0], 3) + " \u00b1 " + fmt(m.deletion_auc[1], 3)),
                  el("td", {}, fmt(m.insertion_auc[0], 3) + " \u00b1 " + fmt(m.insertion_auc[1], 3)));
        tab.append(tr);
      });
      box.append(tab);
      box.append(el("div", {}, "Grad-CAM beats random on " + Math.round(100 * f.wins.deletion) + "% of frames by " +
        "deletion, " + Math.round(100 * f.wins.insertion) + "% by insertion (probability of the action taken, " +
        f.steps + " steps, baseline blurred with \u03c3 = " + f.blur_sigma + " px; " + f.seconds + " s)."));
      // Mean curves: deletion solid, insertion dashed; Grad-CAM in colour, random in grey.
      const W = 330, H = 64, L = 36, R = 6, fr = f.fractions;
      const g = sv("svg", { class: "curves", width: W, height: H, viewBox: "0 0 " + W + " " + H });
      g.append(sv("rect", { x: L, y: 2, width: W - L - R, height: H - 16, fill: "#fafbfc", stroke: "#d8dde3" }));
      const all = [].concat(f.gradcam.deletion_curve, f.gradcam.insertion_curve, f.random.deletion_curve,
                            f.random.insertion_curve);
      const top = Math.max(1e-6, Math.max(...all));
      const px = u => L + u * (W - L - R), py = p => 2 + (1 - p / top) * (H - 16);
      const line = (c, color, dash) => g.append(sv("polyline", {
        points: c.map((p, k) => fmt(px(fr[k]), 1) + "," + fmt(py(p), 1)).join(" "), fill: "none", stroke: color,
        "stroke-width": 1.3, "stroke-dasharray": dash }));
      line(f.random.deletion_curve, "#9aa3ad", "none"); line(f.random.insertion_curve, "#9aa3ad", "4 2");
      line(f.gradcam.deletion_curve, "#d62728", "none"); line(f.gradcam.insertion_curve, "#d62728", "4 2");
      g.append(sv("text", { x: L - 4, y: 10, "text-anchor": "end" }, fmt(top, 2)),
               sv("text", { x: L - 4, y: H - 14, "text-anchor": "end" }, "0"),
               sv("text", { x: L, y: H - 2 }, "share of pixels deleted / inserted \u2192"));
      box.append(g);
      return box;
    }
    render(t) {
      const a = this.a;
      if (this.img.getAttribute("src") !== a.frames[t]) this.img.src = a.frames[t];
      const kind = state.overlay;
      if (kind === "none") {
        this.canvas.style.visibility = "hidden";
        this.caption.textContent = "No heatmap: the frame as the agent saw it (" + a.names[a.actions[t]] + " taken).";
      } else {
        const m = this.map(kind, t), [, , words] = this.source(kind, t);
        const ctx = this.canvas.getContext("2d"), img = ctx.createImageData(this.VW, this.VH), px = img.data;
        let any = false;
        for (let k = 0; k < m.length; k++) {
          const c = Math.min(255, Math.floor(m[k] * 256)) * 3;  // matplotlib's table index for m in [0, 1]
          px[4 * k] = D.lut[c]; px[4 * k + 1] = D.lut[c + 1]; px[4 * k + 2] = D.lut[c + 2]; px[4 * k + 3] = 255;
          if (m[k] > 0) any = true;
        }
        ctx.putImageData(img, 0, 0);
        this.canvas.style.visibility = "visible";
        this.canvas.style.opacity = String(state.alpha);
        this.caption.textContent = words + " \u00b7 layer " + a.layer + (any ? "" : " \u00b7 map all 0");
        this.caption.classList.toggle("zero", !any);
      }
      a.names.forEach((n, k) => {
        const row = this.barRows[k], p = a.probs[t][k];
        row.fill.style.width = (100 * p).toFixed(1) + "%";
        row.num.textContent = fmt(p);
        row.name.classList.toggle("taken", k === a.actions[t]);
      });
      const x = this.x(t), act = a.actions[t];
      this.cursor.setAttribute("x1", fmt(x, 1)); this.cursor.setAttribute("x2", fmt(x, 1));
      this.point.setAttribute("cx", fmt(x, 1)); this.point.setAttribute("cy", fmt(this.yp(a.probs[t][act]), 1));
      this.point.setAttribute("fill", D.palette[act % D.palette.length]);
      this.vpoint.setAttribute("cx", fmt(x, 1)); this.vpoint.setAttribute("cy", fmt(this.yv(a.values[t]), 1));
    }
  }

  const agents = D.agents.map((a, i) => new Agent(a, i));
  const scrub = document.getElementById("scrub"), label = document.getElementById("frame-label");
  const play = document.getElementById("play");
  scrub.max = String(T - 1);

  function show(t) {
    state.t = Math.max(0, Math.min(T - 1, t | 0));
    scrub.value = String(state.t);
    label.textContent = "frame " + (state.t + 1) + " / " + T + " \u00b7 agent step " + D.agents[0].steps[state.t];
    document.body.dataset.frame = String(state.t);
    agents.forEach(ag => ag.render(state.t));
  }
  function setOverlay(kind) {
    state.overlay = kind;
    document.querySelectorAll("input[name=overlay]").forEach(r => { r.checked = r.value === kind; });
    show(state.t);
  }
  function setPlaying(on) {
    state.playing = on;
    clearInterval(state.timer);
    if (on) state.timer = setInterval(() => show((state.t + 1) % T), 1000 / (D.fps * state.speed));
    play.innerHTML = on ? "&#10074;&#10074; pause" : "&#9654; play";
    play.setAttribute("aria-pressed", String(on));
  }
  scrub.addEventListener("input", () => show(+scrub.value));
  play.addEventListener("click", () => setPlaying(!state.playing));
  document.getElementById("speed").addEventListener("change", ev => {
    state.speed = +ev.target.value; if (state.playing) setPlaying(true);
  });
  document.querySelectorAll("input[name=overlay]").forEach(
    r => r.addEventListener("change", () => setOverlay(r.value)));
  const alpha = document.getElementById("alpha");
  alpha.value = String(D.alpha);
  alpha.addEventListener("input", () => { state.alpha = +alpha.value; show(state.t); });
  document.addEventListener("keydown", ev => {
    const tag = ev.target.tagName;
    if (tag === "SELECT" || (tag === "INPUT" && ev.target.type === "range")) return;  // their own keys
    if (ev.key === "ArrowRight") { show(state.t + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { show(state.t - 1); ev.preventDefault(); }
    else if (ev.key === " ") { setPlaying(!state.playing); ev.preventDefault(); }
  });
  // The colour bar: the table the heatmaps are coloured through.
  const cb = document.getElementById("colorbar").getContext("2d"), bar = cb.createImageData(256, 1);
  for (let k = 0; k < 256; k++) {
    bar.data.set([D.lut[3 * k], D.lut[3 * k + 1], D.lut[3 * k + 2], 255], 4 * k);
  }
  cb.putImageData(bar, 0, 0);
  // Initial state from the address, e.g. page.html#t=40&overlay=value (what --screenshot uses).
  const q = new URLSearchParams(location.hash.slice(1));
  if (OVERLAYS_OK.includes(q.get("overlay"))) state.overlay = q.get("overlay");
  if (q.has("alpha") && isFinite(+q.get("alpha"))) state.alpha = Math.max(0, Math.min(1, +q.get("alpha")));
  alpha.value = String(state.alpha);
  setOverlay(state.overlay);
  show(q.has("t") ? +q.get("t") : 0);
  // The laid-out height, for a screenshot sized to the whole page (tools/explain_html.py --screenshot).
  document.body.dataset.height = String(Math.ceil(document.documentElement.scrollHeight));
  // For tests and the curious: the map the heatmap shows, and the current state.
  window.explainer = { agents, show, setOverlay, setPlaying, state,
                       map: (i, kind, t) => Array.from(agents[i].map(kind, t)) };
})();
"""
_SCRIPT = _SCRIPT.replace("OVERLAYS_OK", json.dumps(list(OVERLAYS)))
