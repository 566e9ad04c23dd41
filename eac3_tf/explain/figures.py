"""The figures of explained frames: the Fig. 2 strip, the Fig. 3 grid, every action's map, overlay videos.

Panels are laid out on a pixel grid (each screen pixel is exactly `scale` x `scale` figure pixels) with
captions naming the action and its probability, and one colorbar; files are written atomically.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import matplotlib
import numpy as np

from eac3_tf.config import camel_game
from eac3_tf.errors import ConfigError, ExplainError
from eac3_tf.explain import overlay
from eac3_tf.explain.agents import Agent, Explained, describe_target, npz_arrays
from eac3_tf.explain.names import TITLES
from eac3_tf.io import write_with

matplotlib.use("Agg")

# Output file names.
STRIP, ACTIONS, GRID, FRAMES = "strip.png", "actions.png", "grid.png", "frames.npz"
GIF, MP4 = "overlay.gif", "overlay.mp4"

# Figure layout in pixels (saved at 100 dpi, so 1 inch = 100 px and a 10 pt font is ~14 px tall).
PAD, GAP, ROW_GAP, CAP_H, HEAD_H, LABEL_W, BAR_W, MIN_W = 10, 6, 12, 42, 54, 44, 64, 760
DPI = 100


def check_fps(fps: float) -> None:
    """Frames per second of a video or of the page's play: in (0, 120]."""
    if not (math.isfinite(fps) and 0 < fps <= 120):
        raise ConfigError("fps", f"must be in (0, 120], got {fps}")


def check_overlay(alpha: float, cmap: str) -> None:
    """A heatmap's opacity over the frame, in [0, 1], and a matplotlib colormap name."""
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError("alpha", f"must be in [0, 1], got {alpha}")
    if cmap not in matplotlib.colormaps:
        raise ExplainError(f"unknown --cmap {cmap!r}; e.g. jet, turbo, inferno, viridis (any matplotlib colormap)")


def check_drawing(fps: float, alpha: float, cmap: str) -> None:
    """The overlay options every drawing tool shares: video rate, heatmap opacity, colormap."""
    check_fps(fps)
    check_overlay(alpha, cmap)


def strip_indices(n: int, k: int, start: int, stride: int, k_given: bool) -> list[int]:
    """Indices of the strip's frames among `n`; without an explicit --strip, as many as there are."""
    if not k_given:
        k = max(1, min(k, (n - 1 - start) // stride + 1))
    last = start + (k - 1) * stride
    if start >= n or last >= n:
        raise ExplainError(f"a strip of {k} frames from index {start} every {stride} needs {last + 1} frames, "
                           f"but there are {n}; lower --strip/--start/--stride or record more")
    return list(range(start, last + 1, stride))


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


def millions(frames: int) -> str:
    """A frame count for a caption: 10.0M frames, or 5,000 frames."""
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


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write frames.npz atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    write_with(path, write)


@dataclasses.dataclass(frozen=True)
class Style:
    """How maps are drawn over frames."""

    cmap: str = "jet"  # any matplotlib colormap
    alpha: float = 0.5  # weight of the heatmap over the frame
    scale: int = 2  # figure pixels per screen pixel

    def __post_init__(self) -> None:
        check_overlay(self.alpha, self.cmap)
        if not 1 <= self.scale <= 4:
            raise ConfigError("scale", f"must be 1..4, got {self.scale}")

    @property
    def side(self) -> int:
        """Pixels of one 160x160 panel."""
        return 160 * self.scale


def write_grid(agents: list[Agent], explained: list[Explained], idx: list[int], style: Style, out: Path,
               subtitle: str) -> list[Path]:
    """grid.png (Fig. 3: one row per agent, the same strip indices) and frames.npz of every row."""
    rows = [strip_panels(a, ex, idx, style.cmap, style.alpha, style.scale, True)
            for a, ex in zip(agents, explained, strict=True)]
    labels = [f"{camel_game(a.game)}\n{millions(a.frames_trained)}" for a in agents]
    layers = ", ".join(sorted({ex.layer for ex in explained}))
    targets = sorted({describe_target(a.target, a.names) for a in agents})
    title = (f"{TITLES[agents[0].method]} of {' / '.join(targets)} \u00b7 layer {layers}", subtitle)
    save_figure(draw(rows, title, labels, style.cmap, style.side), out / GRID)
    save_npz(out / FRAMES, {k: v for i, (a, ex) in enumerate(zip(agents, explained, strict=True))
                            for k, v in npz_arrays(a, ex, f"row{i}_").items()})
    return [out / GRID, out / FRAMES]


def write_strip(agent: Agent, ex: Explained, idx: list[int], style: Style, out: Path, how: str,
                recorded: bool) -> list[Path]:
    """strip.png (Fig. 2): the strip's frames with their maps, the action taken (or greedy) and its probability."""
    sub = (f"E-A3C {agent.preset} preset, {millions(agent.frames_trained)} trained \u00b7 {how} \u00b7 "
           f"caption: {'action taken' if recorded else 'greedy action'}, its probability")
    target = describe_target(agent.target, agent.names)
    title = (f"{camel_game(agent.game)} \u00b7 {TITLES[agent.method]} of {target} \u00b7 layer {ex.layer}", sub)
    panels = strip_panels(agent, ex, idx, style.cmap, style.alpha, style.scale, recorded)
    save_figure(draw([panels], title, None, style.cmap, style.side), out / STRIP)
    return [out / STRIP]


def write_actions(agent: Agent, ex: Explained, i: int, layer: str | None, style: Style, out: Path,
                  recorded: bool) -> list[Path]:
    """actions.png: frame `i`, then the map of every action and of the value."""
    panels = action_panels(agent, ex, i, layer, style.cmap, style.alpha, style.scale, recorded)
    where = f"agent step {ex.steps[i]}" if recorded else f"frame {ex.steps[i]}"
    title = (f"{camel_game(agent.game)} \u00b7 {TITLES[agent.method]} of every action and of the value \u00b7 "
             f"{where} \u00b7 layer {ex.layer}",
             f"E-A3C {agent.preset} preset, {millions(agent.frames_trained)} trained \u00b7 caption: "
             "probability of the action (bold: the one taken)")
    save_figure(draw(wrap_rows(panels), title, None, style.cmap, style.side), out / ACTIONS)
    return [out / ACTIONS]
