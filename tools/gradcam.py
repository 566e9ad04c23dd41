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
from pathlib import Path

import numpy as np

from eac3_tf import cli
from eac3_tf.cli import UsageError
from eac3_tf.explain import agents, figures
from eac3_tf.explain.frames import load_frames
from eac3_tf.explain.names import METHODS

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
                         ("seed", 0, 2**63 - 1)):
        if not lo <= getattr(f, name) <= hi:
            raise UsageError(f"--{name} must be {lo}..{hi}, got {getattr(f, name)}")
    if f.frame_index is not None and f.frame_index < 0:
        raise UsageError(f"--frame_index must be >= 0, got {f.frame_index}")
    figures.check_fps(f.fps)
    style = figures.Style(cmap=f.cmap, alpha=f.alpha, scale=f.scale)
    if f.method not in METHODS:
        raise UsageError(f"unknown --method {f.method!r}; accepted: {', '.join(METHODS)}")
    target = agents.parse_target(f.target)
    if not f.out:
        raise UsageError("--out is required: the folder the figures are written to")
    out = Path(f.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    cli.check_output_folder(out, "--out")  # a path under a regular file fails now, not after the work
    names = [figures.GRID, figures.FRAMES] if grid else (
        [figures.STRIP] + [figures.ACTIONS] * f.per_action + [figures.GIF] * f.gif + [figures.MP4] * f.mp4
        + [figures.FRAMES] * (f.record is not None))
    existing = [n for n in names if (out / n).exists()]
    if existing and not f.force:
        raise UsageError(f"--out {out} already holds {', '.join(existing)}; pass --force to replace them")
    return {"grid": grid, "target": target, "out": out, "outputs": names, "style": style}


def main(argv: list[str] | None = None) -> int:
    """Draw the figures the flags ask for and print the paths written."""
    f = parser().parse_args(argv)
    strip_given = f.strip is not None
    f.strip = f.strip if strip_given else STRIP_FRAMES
    opts = check_flags(f)
    specs = opts["grid"] or [f.checkpoint]
    subjects = [dataclasses.replace(agents.check_agent(s, f.target, opts["target"]), method=f.method) for s in specs]
    recorded = f.record is not None
    screens = None if recorded else load_frames(f.frames, subjects[0].obs)
    n = f.record if recorded else len(screens)
    idx = figures.strip_indices(n, f.strip, f.start, f.stride, strip_given)
    frame_index = idx[0] if f.frame_index is None else f.frame_index
    if f.per_action and frame_index >= n:
        raise UsageError(f"--frame_index must be 0..{n - 1} (there are {n} frames), got {frame_index}")

    cli.import_tensorflow_quietly()
    for subject in subjects:
        agents.load_model(subject, f.layer)
    out: Path = opts["out"]
    out.mkdir(parents=True, exist_ok=True)
    explained = []
    for subject in subjects:
        if recorded:
            frames = agents.record_play(subject, f.record, f.skip, f.seed, f.policy == "greedy")
        else:
            from eac3_tf.preprocess import model_inputs

            frames = screens, model_inputs(screens, subject.obs), np.arange(n), None
        explained.append(agents.explain_all(subject, *frames, f.layer))

    style: figures.Style = opts["style"]
    how = f"{f.policy} policy" if recorded else "frames from " + Path(f.frames).name
    if opts["grid"]:
        start = f"step {f.skip + idx[0]}"
        steps = (f"consecutive agent steps from {start}" if f.stride == 1 else
                 f"every {f.stride} agent steps from {start}")
        written = figures.write_grid(subjects, explained, idx, style, out,
                                     f"{len(subjects)} agents \u00b7 {how} \u00b7 seed {f.seed} \u00b7 {steps}")
    else:
        subject, ex = subjects[0], explained[0]
        written = figures.write_strip(subject, ex, idx, style, out, how, recorded)
        if f.per_action:
            written += figures.write_actions(subject, ex, frame_index, f.layer, style, out, recorded)
        if f.gif or f.mp4:
            written += figures.write_videos(figures.overlays(subject, ex, style.cmap, style.alpha), out, f.gif,
                                            f.mp4, f.fps)
        if recorded:
            figures.save_npz(out / figures.FRAMES, agents.npz_arrays(subject, ex))
            written.append(out / figures.FRAMES)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    cli.run(main, "gradcam.py")
