"""Grad-CAM figures of an E-A3C agent: a strip of frames (paper Fig. 2), a grid over games (Fig. 3), videos.

Usage:
  python tools/gradcam.py --checkpoint runs/pong --record 64 --skip 200 --out figs/pong --gif --per_action
  python tools/gradcam.py --checkpoint runs/pong --frames screens.npy --out figs/pong_saved
  python tools/gradcam.py --grid runs/pong,runs/qbert --record 16 --skip 300 --out figs/games

Frames come from playing the checkpoint's game (`--record N`, through the training env path, so the maps
are of the very inputs the agent acted on) or from a file (`--frames`: .npy/.npz of 210x160x3 RGB screens
or 160x160x3 play areas, or a folder of PNGs), turned into model inputs by `preprocess.model_inputs`.
Outputs in `--out`: strip.png; actions.png (--per_action); overlay.gif / overlay.mp4 (160x160 play area);
grid.png (--grid); frames.npz (when recording: screens, model inputs, maps, actions, probabilities, so a
figure can be redrawn, e.g. with `--frames DIR/frames.npz`). Heatmaps are each frame's map divided by its
max, drawn with the colormap over the RGB play area; captions name the action taken and its probability.
Bad input is one line on stderr, exit code 2, and nothing on disk is touched.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import matplotlib
import numpy as np

from eac3_tf import checkpoint, cli
from eac3_tf.agent import agent_spec
from eac3_tf.cli import UsageError
from eac3_tf.config import EnvConfig, ObsConfig, camel_game
from eac3_tf.explain import overlay
from eac3_tf.explain.names import METHODS, TITLES
from eac3_tf.io import write_with  # noqa: E402

matplotlib.use("Agg")

# Output file names in --out.
STRIP, ACTIONS, GRID, FRAMES = "strip.png", "actions.png", "grid.png", "frames.npz"
GIF, MP4 = "overlay.gif", "overlay.mp4"
EXPLAIN_BATCH = 32  # frames per Grad-CAM call: bounds memory for the 160x160 paper preset

# Figure layout in pixels (saved at 100 dpi, so 1 inch = 100 px and a 10 pt font is ~14 px tall).
PAD, GAP, ROW_GAP, CAP_H, HEAD_H, LABEL_W, BAR_W, MIN_W = 10, 6, 12, 42, 54, 44, 64, 760
DPI = 100


# ------------------------------------------------------------------------------------------ flags
STRIP_FRAMES = 6  # frames in strip.png and in each grid row when --strip is not given


def parser() -> cli.ArgumentParser:
    """The flags of this script."""
    p = cli.ArgumentParser("gradcam.py", __doc__.split("\n")[0])
    p.add_argument("--checkpoint", help="Run logdir, ckpt-* folder or its model.keras.")
    p.add_argument("--frames", help="Frames to explain: .npy/.npz of uint8 RGB screens (N, 210, 160, 3) or play "
                   "areas (N, 160, 160, 3), or a folder of PNGs read in sorted order.")
    p.add_argument("--record", type=int, help="Play the checkpoint's game for this many agent steps and explain them.")
    p.add_argument("--skip", type=int, default=0, help="Agent steps played before recording starts (so the strip "
                                                       "shows play).")
    p.add_argument("--policy", choices=("sample", "greedy"), default="sample",
                   help="Actions while recording: sampled or argmax.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the emulator and of the action sampling.")
    p.add_argument("--target", default="taken", help="What the maps explain: taken (the action taken in each frame; "
                   "the greedy one for --frames), greedy, value, an action (index or name, e.g. 2 or RIGHT) or a "
                   "contrast a,b (logit_a - logit_b).")
    p.add_argument("--layer", help="Layer the maps come from (default: the last conv layer, before its pool).")
    p.add_argument("--method", default="gradcam", help=f"Saliency method of the maps: {', '.join(METHODS)}.")
    p.add_argument("--out", help="Output folder (created if missing).")
    p.add_switch("force", help="Replace output files that already exist in --out.")
    p.add_argument("--strip", type=int, help=f"Frames in strip.png and in each grid row (default {STRIP_FRAMES}, "
                                             "fewer if fewer were recorded).")
    p.add_argument("--start", type=int, default=0, help="Index of the first strip frame among the recorded or "
                                                        "loaded frames.")
    p.add_argument("--stride", type=int, default=1, help="Frames between strip panels (1 = consecutive agent "
                                                         "steps).")
    p.add_switch("per_action", help="Also draw actions.png: the map of every action and of the value.")
    p.add_argument("--frame_index", type=int, help="Frame of actions.png (default: the first strip frame).")
    p.add_switch("gif", help="Also write overlay.gif of all frames.")
    p.add_switch("mp4", help="Also write overlay.mp4 of all frames.")
    p.add_argument("--fps", type=float, default=15.0, help="Frames per second of the GIF/MP4 (15 = real time at "
                                                           "frameskip 4).")
    p.add_argument("--grid", type=cli.comma_list, help="Checkpoints, comma-separated, one row each: grid.png "
                                                       "(Fig. 3); with --record.")
    p.add_argument("--cmap", default="jet", help="Matplotlib colormap of the heatmaps.")
    p.add_argument("--alpha", type=float, default=0.5, help="Weight of the heatmap over the frame, in [0, 1].")
    p.add_argument("--scale", type=int, default=2, help="Figure pixels per screen pixel (1..4).")
    return p


@dataclasses.dataclass
class Agent:
    """A checkpoint resolved and checked, everything known before TensorFlow is loaded."""

    path: Path
    game: str
    frames_trained: int
    preset: str
    obs: ObsConfig
    env: EnvConfig
    names: tuple[str, ...]
    target: object  # "taken", None (greedy), "value", an action index or a pair of them
    model: object = None
    method: str = "gradcam"  # one of eac3_tf.explain.names.METHODS


@dataclasses.dataclass
class Explained:
    """Frames of one agent with their maps and the policy's outputs."""

    screens: np.ndarray  # uint8 (T, 210, 160, 3)
    inputs: np.ndarray  # uint8 (T, H, W, C), what the model saw
    steps: np.ndarray  # int64 (T,), agent step of each frame (recording) or its index in the file
    maps: np.ndarray  # float32 (T, H, W) in [0, 1]
    actions: np.ndarray  # int64 (T,), the action taken (the greedy one for --frames)
    greedy: np.ndarray  # int64 (T,)
    probs: np.ndarray  # float32 (T, A)
    values: np.ndarray  # float32 (T,)
    layer: str


# ------------------------------------------------------------------------------------------ input checks
def parse_target(text: str) -> str | tuple[str, ...]:
    """Split --target into a keyword or one/two action tokens; names are resolved per game later."""
    t = (text or "").strip()
    if t.lower() in ("taken", "greedy", "value"):
        return t.lower()
    parts = tuple(p.strip() for p in t.split(","))
    if not t or len(parts) > 2 or not all(parts):
        raise UsageError(f"unknown --target {text!r}; accepted: taken, greedy, value, an action (index or name) "
                         "or a contrast a,b of two actions")
    return parts


def resolve_target(parsed: str | tuple[str, ...], text: str, game: str, names: tuple[str, ...]) -> object:
    """The target for `gradcam.explain` (or "taken"), with action names of `game` turned into indices."""
    if parsed == "greedy":
        return None
    if isinstance(parsed, str):
        return parsed
    upper = [n.upper() for n in names]

    def index(tok: str) -> int:
        if tok.lstrip("-").isdigit() and 0 <= int(tok) < len(names):
            return int(tok)
        if tok.upper() in upper:
            return upper.index(tok.upper())
        raise UsageError(f"unknown --target {text!r}; accepted: taken, greedy, value, an action of {camel_game(game)} "
                         f"(0..{len(names) - 1} or {', '.join(names)}), or a contrast a,b of two actions")

    idx = [index(tok) for tok in parsed]
    return idx[0] if len(idx) == 1 else (idx[0], idx[1])


def describe_target(target: object, names: tuple[str, ...]) -> str:
    """Words for a figure title: what y^c is."""
    if target == "taken":
        return "the action taken"
    if target is None:
        return "the greedy action"
    if target == "value":
        return "the value V(s)"
    if isinstance(target, tuple):
        return f"{names[target[0]]} \u2212 {names[target[1]]} (logit contrast)"
    return f"action {names[target]}"


def check_agent(spec: str, target_text: str, parsed_target) -> Agent:
    """Resolve and verify a checkpoint and its game, without loading TensorFlow."""
    a = agent_spec(spec)  # a damaged checkpoint fails here, before TensorFlow is loaded
    target = resolve_target(parsed_target, target_text, a.game, a.action_names)
    return Agent(path=a.path, game=a.game, frames_trained=a.frames_trained, preset=a.preset, obs=a.obs, env=a.env,
                 names=a.action_names, target=target)


def load_frames(spec: str, obs: ObsConfig) -> np.ndarray:
    """Read --frames into uint8 screens (N, 210, 160, 3); play areas are put back at the crop rows."""
    p = Path(spec)
    accepted = (f"accepted: uint8 RGB 210x160x3 ALE screens or {obs.crop_bottom - obs.crop_top}x160x3 play areas, "
                "in an .npy/.npz or a folder of PNGs")
    if not p.exists():
        raise UsageError(f"--frames {p} does not exist; {accepted}")
    if p.is_dir():
        pngs = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() == ".png")
        if not pngs:
            raise UsageError(f"--frames folder {p} holds no .png files; {accepted}")
        import imageio.v3 as iio

        images = []
        for q in pngs:
            try:
                image = np.asarray(iio.imread(q))
            except Exception as exc:  # imageio raises many types for a bad file
                raise UsageError(f"--frames {q} is not a readable PNG ({type(exc).__name__}); {accepted}") from None
            if image.ndim == 3 and image.shape[-1] == 4:
                image = image[..., :3]  # drop alpha
            images.append(image)
        shapes = sorted({im.shape for im in images})
        if len(shapes) > 1:
            raise UsageError(f"--frames folder {p} mixes image sizes {shapes}; {accepted}")
        frames = np.stack(images)
    elif p.suffix.lower() in (".npy", ".npz"):
        try:
            loaded = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--frames {p} does not load as a numpy file ({exc}); {accepted}") from None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                keys = list(loaded.files)
                if "screens" in keys or len(keys) == 1:
                    frames = loaded["screens" if "screens" in keys else keys[0]]
                else:
                    raise UsageError(f"--frames {p} holds arrays {keys}; give one array, or name it 'screens'")
        else:
            frames = loaded
    else:
        raise UsageError(f"--frames {p} is neither .npy, .npz nor a folder of PNGs; {accepted}")
    if frames.ndim == 3:
        frames = frames[None]
    rows = obs.crop_bottom - obs.crop_top
    if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[1:] not in ((210, 160, 3), (rows, 160, 3)):
        shown = frames.shape[1:] if frames.ndim == 4 else frames.shape
        raise UsageError(f"--frames {p} holds frames of shape {shown} (array {frames.shape}); {accepted}")
    if frames.dtype != np.uint8:
        values = f" in {frames.min():.4g}..{frames.max():.4g}" if frames.dtype.kind in "biuf" else ""
        raise UsageError(f"--frames {p} holds {frames.dtype} values{values}; {accepted}")
    return frames if frames.shape[1] == 210 else overlay.embed_play_area(frames, obs)


def check_flags(f) -> dict:
    """Every check that needs no file but --out's: the mode, numbers, and which outputs would be replaced."""
    grid = [g.strip() for g in (f.grid or []) if g.strip()]
    if grid:
        if f.checkpoint:
            raise UsageError("give either --checkpoint (one agent) or --grid RUN1,RUN2,... (one row each), not both")
        if f.frames or f.record is None:
            raise UsageError("--grid records each agent's own frames: give --record N (and no --frames)")
        if f.per_action or f.gif or f.mp4:
            raise UsageError("--per_action, --gif and --mp4 draw one agent: use --checkpoint instead of --grid")
    else:
        if not f.checkpoint:
            raise UsageError("--checkpoint is required: a run logdir, a ckpt-* folder or its model.keras "
                             "(or --grid RUN1,RUN2,... for a grid over agents)")
        if (f.frames is None) == (f.record is None):
            raise UsageError("give exactly one frame source: --frames PATH (.npy/.npz/PNG folder) or --record N")
    if f.record is not None and not 1 <= f.record <= 10_000:  # ~100 kB of screens per step are kept in memory
        raise UsageError(f"--record must be 1..10000 agent steps, got {f.record}")
    for name, lo, hi in (("skip", 0, 1_000_000), ("strip", 1, 64), ("start", 0, 10**9), ("stride", 1, 10**6),
                         ("scale", 1, 4), ("seed", 0, 2**63 - 1)):
        if not lo <= getattr(f, name) <= hi:
            raise UsageError(f"--{name} must be {lo}..{hi}, got {getattr(f, name)}")
    if f.frame_index is not None and f.frame_index < 0:
        raise UsageError(f"--frame_index must be >= 0, got {f.frame_index}")
    check_drawing_flags(f.fps, f.alpha, f.cmap)
    if f.method not in METHODS:
        raise UsageError(f"unknown --method {f.method!r}; accepted: {', '.join(METHODS)}")
    target = parse_target(f.target)
    if not f.out:
        raise UsageError("--out is required: the folder the figures are written to")
    out = Path(f.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    cli.check_output_folder(out, "--out")  # a path under a regular file fails now, not after the work
    names = [GRID, FRAMES] if grid else (
        [STRIP] + [ACTIONS] * f.per_action + [GIF] * f.gif + [MP4] * f.mp4 + [FRAMES] * (f.record is not None))
    existing = [n for n in names if (out / n).exists()]
    if existing and not f.force:
        raise UsageError(f"--out {out} already holds {', '.join(existing)}; pass --force to replace them")
    return {"grid": grid, "target": target, "out": out, "outputs": names}


def check_drawing_flags(fps: float, alpha: float, cmap: str) -> None:
    """The overlay options every drawing tool shares: video rate, heatmap opacity, colormap."""
    if not (math.isfinite(fps) and 0 < fps <= 120):
        raise UsageError(f"--fps must be in (0, 120], got {fps}")
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"--alpha must be in [0, 1], got {alpha}")
    if cmap not in matplotlib.colormaps:
        raise UsageError(f"unknown --cmap {cmap!r}; e.g. jet, turbo, inferno, viridis (any matplotlib colormap)")


def strip_indices(n: int, k: int, start: int, stride: int, k_given: bool) -> list[int]:
    """Indices of the strip's frames among `n`; without an explicit --strip, as many as there are."""
    if not k_given:
        k = max(1, min(k, (n - 1 - start) // stride + 1))
    last = start + (k - 1) * stride
    if start >= n or last >= n:
        raise UsageError(f"a strip of {k} frames from index {start} every {stride} needs {last + 1} frames, "
                         f"but there are {n}; lower --strip/--start/--stride or record more")
    return list(range(start, last + 1, stride))


# ------------------------------------------------------------------------------------------ model work
def load_model(agent: Agent, layer: str | None) -> None:
    """Load the agent's network and check it against its game and the Grad-CAM layer (one-line errors)."""
    ckpt = checkpoint.load(agent.path, with_optimizer=False)
    model = ckpt.model
    if tuple(model.input_shape[1:]) != agent.obs.shape or int(model.outputs[0].shape[-1]) != len(agent.names):
        raise UsageError(f"checkpoint {agent.path} takes inputs {tuple(model.input_shape[1:])} with "
                         f"{int(model.outputs[0].shape[-1])} actions, but {camel_game(agent.game)} with preset "
                         f"{agent.preset!r} gives {agent.obs.shape} with {len(agent.names)}")
    from eac3_tf.explain import explain

    try:  # one zero frame: an unknown --layer fails now, not after a long recording
        explain(model, np.zeros((1, *agent.obs.shape), np.uint8), method=agent.method, layer=layer)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    agent.model = model


def record(agent: Agent, n: int, skip: int, seed: int, greedy: bool) -> tuple[np.ndarray, ...]:
    """Play `skip + n` agent steps through the training env path; keep the last n screens, inputs, actions."""
    import tensorflow as tf
    from tqdm import tqdm

    from eac3_tf.envs import AtariBatchEnv
    from eac3_tf.policy import greedy_actions, sample_actions
    from eac3_tf.rollout import rollout

    model = agent.model
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False)[0])
    rng = np.random.default_rng(seed)
    screens = np.empty((n, 210, 160, 3), np.uint8)
    inputs = np.empty((n, *agent.obs.shape), np.uint8)
    actions = np.empty(n, np.int64)
    total = skip + n
    bar = tqdm(total=total, desc=f"{camel_game(agent.game)} play", unit="step", disable=total < 100, leave=False)
    t = 0

    def on_step(obs: np.ndarray, last_screens: np.ndarray, a: np.ndarray, _starts: np.ndarray) -> None:
        nonlocal t
        if t >= skip:  # the screen the agent saw and the input it acted on, at this same step
            screens[t - skip], inputs[t - skip], actions[t - skip] = last_screens[0], obs[0], a[0]
        t += 1
        bar.update(1)

    def policy(obs: np.ndarray) -> np.ndarray:
        logits = forward(obs).numpy()
        return greedy_actions(logits) if greedy else sample_actions(logits, rng)

    env = AtariBatchEnv(agent.env, agent.obs, 1)
    try:
        rollout(policy, env, seed, steps=total, on_step=on_step)
    finally:
        env.close()
        bar.close()
    return screens, inputs, np.arange(skip, skip + n), actions


def explain_all(agent: Agent, screens: np.ndarray, inputs: np.ndarray, steps: np.ndarray,
                actions: np.ndarray | None, layer: str | None) -> Explained:
    """The maps of every frame in batches; `actions` None means the greedy ones were taken (file frames)."""
    from tqdm import tqdm

    from eac3_tf.explain import explain

    n = len(inputs)
    target = None if agent.target == "taken" else agent.target
    parts = [explain(agent.model, inputs[i:i + EXPLAIN_BATCH], method=agent.method, target=target, layer=layer)
             for i in tqdm(range(0, n, EXPLAIN_BATCH), desc=TITLES[agent.method], unit="batch",
                           disable=n < 4 * EXPLAIN_BATCH, leave=False)]
    maps = np.concatenate([p.maps for p in parts])
    greedy = np.concatenate([p.actions for p in parts])
    probs = np.concatenate([p.probs for p in parts])
    values = np.concatenate([p.values for p in parts])
    actions = greedy.copy() if actions is None else np.asarray(actions, np.int64)
    if agent.target == "taken":  # sampled actions that are not the argmax: explain those frames' own action
        for a in np.unique(actions[actions != greedy]):
            idx = np.flatnonzero((actions == a) & (actions != greedy))
            for i in range(0, len(idx), EXPLAIN_BATCH):
                batch = idx[i:i + EXPLAIN_BATCH]
                maps[batch] = explain(agent.model, inputs[batch], method=agent.method, target=int(a), layer=layer).maps
    return Explained(screens=screens, inputs=inputs, steps=np.asarray(steps, np.int64), maps=maps, actions=actions,
                     greedy=greedy, probs=probs, values=values, layer=parts[0].layer)


# ------------------------------------------------------------------------------------------ drawing
@dataclasses.dataclass
class Panel:
    """One image of a figure with a small upper and a main lower caption line."""

    image: np.ndarray  # uint8 (H, W, 3)
    top: str
    bottom: str
    bold: bool = False


def overlays(agent: Agent, ex: Explained, cmap: str, alpha: float, idx=slice(None)) -> np.ndarray:
    """Heat overlays over the RGB play area for frames `idx`: uint8 (n, 160, 160, 3)."""
    areas = overlay.play_area(ex.screens[idx], agent.obs)
    return overlay.heat_overlay(areas, overlay.upsample_map(ex.maps[idx], areas.shape[1:3]), alpha, cmap)


def figure_px(rows: int, cols: int, labels: bool, side: int) -> tuple[int, int]:
    """Width and height in pixels of a figure of rows x cols panels, each `side` pixels square."""
    block = cols * side + (cols - 1) * GAP
    width = max(PAD + LABEL_W * labels + block + BAR_W + PAD, MIN_W)
    height = PAD + HEAD_H + rows * (side + CAP_H) + (rows - 1) * ROW_GAP + PAD
    return width, height


def draw(rows: list[list[Panel]], title: tuple[str, str], labels: list[str] | None, cmap: str, side: int):
    """Lay panels out on a pixel grid (no tight_layout guessing), with captions and one colorbar."""
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cols = max(len(r) for r in rows)
    width, height = figure_px(len(rows), cols, labels is not None, side)
    block = cols * side + (cols - 1) * GAP
    natural = PAD + LABEL_W * (labels is not None) + block + BAR_W + PAD
    left = PAD + LABEL_W * (labels is not None) + (width - natural) // 2  # centred when MIN_W is wider
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")

    def box(x: float, y_top: float, w: float, h: float) -> list[float]:  # pixels from the top-left corner
        return [x / width, 1 - (y_top + h) / height, w / width, h / height]

    fig.text(0.5, 1 - PAD / height, title[0], ha="center", va="top", fontsize=12, fontweight="bold")
    fig.text(0.5, 1 - (PAD + 24) / height, title[1], ha="center", va="top", fontsize=9.5, color="0.25")
    for r, row in enumerate(rows):
        y = PAD + HEAD_H + r * (side + CAP_H + ROW_GAP)
        if labels is not None:
            fig.text((left - LABEL_W / 2) / width, 1 - (y + side / 2) / height, labels[r], rotation=90,
                     ha="center", va="center", fontsize=11, fontweight="bold", linespacing=1.3)
        for c, panel in enumerate(row):
            x = left + c * (side + GAP)
            ax = fig.add_axes(box(x, y, side, side))
            ax.imshow(panel.image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_linewidth(0.6)
            xc = (x + side / 2) / width
            fig.text(xc, 1 - (y + side + 3) / height, panel.top, ha="center", va="top", fontsize=8.5, color="0.35")
            fig.text(xc, 1 - (y + side + 19) / height, panel.bottom, ha="center", va="top", fontsize=10,
                     fontweight="bold" if panel.bold else "normal")
    bar_x = left + block + 14
    bar_h = min(side, 200)
    cax = fig.add_axes(box(bar_x, PAD + HEAD_H + (side - bar_h) / 2, 12, bar_h))
    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap=cmap), cax=cax, ticks=[0, 0.5, 1])
    bar.ax.tick_params(labelsize=8, length=2)
    bar.set_label("map / its max", fontsize=8, labelpad=2)
    return fig


def save_figure(fig, path: Path) -> None:
    """Save a matplotlib figure as PNG atomically and free it."""
    import matplotlib.pyplot as plt

    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, facecolor="white"))
    plt.close(fig)


def frame_label(ex: Explained, i: int, recorded: bool) -> str:
    """The small line over a caption: which frame, and a note when its map is zero everywhere."""
    where = f"agent step {ex.steps[i]}" if recorded else f"frame {ex.steps[i]}"
    return where + (" \u00b7 map all 0" if not ex.maps[i].any() else "")


def strip_panels(agent: Agent, ex: Explained, idx: list[int], cmap: str, alpha: float, scale: int,
                 recorded: bool) -> list[Panel]:
    """Fig. 2 panels: the overlay, the step, the action taken and its probability."""
    images = overlays(agent, ex, cmap, alpha, idx)
    return [Panel(_scaled(img, scale), frame_label(ex, i, recorded),
                  f"{agent.names[ex.actions[i]]}  p = {ex.probs[i, ex.actions[i]]:.2f}")
            for img, i in zip(images, idx, strict=True)]


def action_panels(agent: Agent, ex: Explained, i: int, layer: str | None, cmap: str, alpha: float,
                  scale: int, recorded: bool) -> list[Panel]:
    """The input frame, then the map of each action and of the value, for frame `i`."""
    from eac3_tf.explain import explain

    area = overlay.play_area(ex.screens[i], agent.obs)[0]
    panels = [Panel(_scaled(area, scale), frame_label(ex, i, recorded).replace(" \u00b7 map all 0", ""),
                    "input frame")]
    targets = [*range(len(agent.names)), "value"]
    for t in targets:
        m = explain(agent.model, ex.inputs[i:i + 1], method=agent.method, target=t, layer=layer).maps[0]
        image = overlay.heat_overlay(area, overlay.upsample_map(m, area.shape[:2]), alpha, cmap)
        zero = "" if m.any() else " \u00b7 map all 0"
        if t == "value":
            panels.append(Panel(_scaled(image, scale), f"V = {ex.values[i]:.2f}{zero}", "value"))
        else:
            taken = " \u00b7 taken" if t == ex.actions[i] else ""
            panels.append(Panel(_scaled(image, scale), f"p = {ex.probs[i, t]:.2f}{taken}{zero}", agent.names[t],
                                bold=bool(taken)))
    return panels


def _scaled(image: np.ndarray, scale: int) -> np.ndarray:
    # Enlarged here, not by imshow's resampling, so every screen pixel is exactly scale x scale figure pixels.
    return image.repeat(scale, axis=0).repeat(scale, axis=1)


def wrap_rows(panels: list[Panel], max_cols: int = 10) -> list[list[Panel]]:
    """Split panels into balanced rows of at most `max_cols` (18-action games would be too wide)."""
    n_rows = math.ceil(len(panels) / max_cols)
    cols = math.ceil(len(panels) / n_rows)
    return [panels[i:i + cols] for i in range(0, len(panels), cols)]


def _millions(frames: int) -> str:
    return f"{frames / 1e6:.1f}M frames" if frames >= 100_000 else f"{frames:,} frames"


def write_videos(frames: np.ndarray, out: Path, gif: bool, mp4: bool, fps: float) -> list[Path]:
    """overlay.gif (duration in ms per frame, looping) and overlay.mp4 (H.264) of uint8 (T, H, W, 3)."""
    import imageio.v2 as imageio_v2
    import imageio.v3 as iio

    written = []
    if gif:
        write_with(out / GIF, lambda tmp: iio.imwrite(tmp, frames, extension=".gif", duration=1000.0 / fps, loop=0))
        written.append(out / GIF)
    if mp4:
        # macro_block_size=1: 160 is not a multiple of ffmpeg's default block of 16 in every preset's crop
        write_with(out / MP4, lambda tmp: imageio_v2.mimwrite(tmp, list(frames), format="FFMPEG", fps=fps,
                                                              macro_block_size=1))
        written.append(out / MP4)
    return written


def npz_arrays(agent: Agent, ex: Explained, prefix: str = "") -> dict[str, np.ndarray]:
    """What frames.npz holds for one agent (plain arrays and strings, loadable without pickle)."""
    return {f"{prefix}{k}": v for k, v in {
        "screens": ex.screens, "inputs": ex.inputs, "steps": ex.steps, "maps": ex.maps, "actions": ex.actions,
        "greedy": ex.greedy, "probs": ex.probs, "values": ex.values, "action_names": np.array(agent.names),
        "game": np.array(agent.game), "layer": np.array(ex.layer), "method": np.array(agent.method),
        "checkpoint": np.array(str(agent.path)),
        "target": np.array(describe_target(agent.target, agent.names)),
    }.items()}


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write frames.npz atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    write_with(path, write)


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    """Draw the figures the flags ask for and print the paths written."""
    f = parser().parse_args(argv)
    strip_given = f.strip is not None
    f.strip = f.strip if strip_given else STRIP_FRAMES
    opts = check_flags(f)
    specs = opts["grid"] or [f.checkpoint]
    agents = [dataclasses.replace(check_agent(s, f.target, opts["target"]), method=f.method) for s in specs]
    recorded = f.record is not None
    screens = None if recorded else load_frames(f.frames, agents[0].obs)
    n = f.record if recorded else len(screens)
    idx = strip_indices(n, f.strip, f.start, f.stride, strip_given)
    frame_index = idx[0] if f.frame_index is None else f.frame_index
    if f.per_action and frame_index >= n:
        raise UsageError(f"--frame_index must be 0..{n - 1} (there are {n} frames), got {frame_index}")

    cli.import_tensorflow_quietly()
    for agent in agents:
        load_model(agent, f.layer)
    out: Path = opts["out"]
    out.mkdir(parents=True, exist_ok=True)
    explained = []
    for agent in agents:
        if recorded:
            scr, inputs, steps, actions = record(agent, f.record, f.skip, f.seed, f.policy == "greedy")
        else:
            from eac3_tf.preprocess import model_inputs

            scr, inputs, steps, actions = screens, model_inputs(screens, agent.obs), np.arange(n), None
        explained.append(explain_all(agent, scr, inputs, steps, actions, f.layer))

    side = 160 * f.scale
    written: list[Path] = []
    how = f"{f.policy} policy" if recorded else "frames from " + Path(f.frames).name
    if opts["grid"]:
        rows = [strip_panels(a, ex, idx, f.cmap, f.alpha, f.scale, True) for a, ex in zip(agents, explained,
                                                                                          strict=True)]
        labels = [f"{camel_game(a.game)}\n{_millions(a.frames_trained)}" for a in agents]
        layers = ", ".join(sorted({ex.layer for ex in explained}))
        targets = sorted({describe_target(a.target, a.names) for a in agents})
        title = (f"{TITLES[agents[0].method]} of {' / '.join(targets)} \u00b7 layer {layers}",
                 f"{len(agents)} agents \u00b7 {how} \u00b7 seed {f.seed} \u00b7 " + (
                     f"consecutive agent steps from step {f.skip + idx[0]}" if f.stride == 1 else
                     f"every {f.stride} agent steps from step {f.skip + idx[0]}"))
        save_figure(draw(rows, title, labels, f.cmap, side), out / GRID)
        written.append(out / GRID)
        save_npz(out / FRAMES, {k: v for i, (a, ex) in enumerate(zip(agents, explained, strict=True))
                                for k, v in npz_arrays(a, ex, f"row{i}_").items()})
        written.append(out / FRAMES)
    else:
        agent, ex = agents[0], explained[0]
        game = camel_game(agent.game)
        sub = (f"E-A3C {agent.preset} preset, {_millions(agent.frames_trained)} trained \u00b7 {how} \u00b7 "
               f"caption: {'action taken' if recorded else 'greedy action'}, its probability")
        title = (f"{game} \u00b7 {TITLES[agent.method]} of {describe_target(agent.target, agent.names)} \u00b7 "
                 f"layer {ex.layer}", sub)
        save_figure(draw([strip_panels(agent, ex, idx, f.cmap, f.alpha, f.scale, recorded)], title, None, f.cmap,
                         side), out / STRIP)
        written.append(out / STRIP)
        if f.per_action:
            panels = action_panels(agent, ex, frame_index, f.layer, f.cmap, f.alpha, f.scale, recorded)
            where = f"agent step {ex.steps[frame_index]}" if recorded else f"frame {ex.steps[frame_index]}"
            title = (f"{game} \u00b7 {TITLES[agent.method]} of every action and of the value \u00b7 {where} "
                     f"\u00b7 layer {ex.layer}",
                     f"E-A3C {agent.preset} preset, {_millions(agent.frames_trained)} trained \u00b7 caption: "
                     "probability of the action (bold: the one taken)")
            save_figure(draw(wrap_rows(panels), title, None, f.cmap, side), out / ACTIONS)
            written.append(out / ACTIONS)
        if f.gif or f.mp4:
            written += write_videos(overlays(agent, ex, f.cmap, f.alpha), out, f.gif, f.mp4, f.fps)
        if recorded:
            save_npz(out / FRAMES, npz_arrays(agent, ex))
            written.append(out / FRAMES)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    cli.run(main, "gradcam.py")
