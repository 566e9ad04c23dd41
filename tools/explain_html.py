"""An offline HTML explainer of E-A3C agents: frames, Grad-CAM overlays, policy and value, faithfulness, in one file.

Usage:
  python tools/explain_html.py --checkpoint results/pong/checkpoint/ckpt-000040000160 --game Pong --frames 200 \
      --out results/explain/pong [--screenshot]
  python tools/explain_html.py --checkpoint runs/pong --checkpoint runs/qbert --frames 100 --out report/two

Each `--checkpoint` (optionally with its `--game`, which must be the game it was trained on; one `--game` for
all or one per checkpoint) plays `--skip` + `--frames` agent steps through the training env path, as
`tools/gradcam.py --record` does, and becomes one column of the page. Per frame the page holds the play
area (PNG), the Grad-CAM map of every action, of the value and of the taken-vs-runner-up contrast at the
layer's resolution, and the policy's probabilities and value; the browser resizes and colours the maps.
Faithfulness: deletion/insertion AUCs (the settings of tools/gradcam_faithfulness.py) of the taken action's
Grad-CAM map against uniform random maps, on `--faithfulness_frames` frames spread over the recording.

Writes OUT.html (OUT as given if it ends in .html), and OUT.png with --screenshot (headless Chromium),
each through a temp file and os.replace. Bad input is one line on stderr, exit code 2, nothing written.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from eac3_tf import cli
from eac3_tf.cli import UsageError
from eac3_tf.config import camel_game
from eac3_tf.explain import agents, browser, columns, figures, page
from eac3_tf.explain.names import METHODS, TITLES
from eac3_tf.io import write_text

MAX_FRAMES = 2000  # a 210x160 RGB screen (100 kB) per frame and agent is held in memory, and the page grows per frame


def parser() -> cli.ArgumentParser:
    """The flags of this script."""
    p = cli.ArgumentParser("explain_html.py", __doc__.split("\n")[0])
    p.add_argument("--checkpoint", action="append", help="Run logdir, ckpt-* folder or its model.keras; repeat "
                   "for a grid (one column per agent).")
    p.add_argument("--game", action="append", help="The game of each --checkpoint (once for all, or once per "
                   "checkpoint); must be the game it was trained on. Default: the checkpoint's own.")
    p.add_argument("--frames", type=int, default=200, help=f"Consecutive agent steps recorded per agent "
                                                           f"(1..{MAX_FRAMES}).")
    p.add_argument("--skip", type=int, default=0, help="Agent steps played before recording starts.")
    p.add_argument("--policy", choices=("sample", "greedy"), default="sample",
                   help="Actions while recording: sampled or argmax.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the emulator, the action sampling and the random "
                                                       "maps.")
    p.add_argument("--layer", help="Layer the maps come from (default: the last conv layer, before its pool).")
    p.add_argument("--method", default="gradcam", help=f"Saliency method of the maps: {', '.join(METHODS)}.")
    p.add_argument("--out", help="Output path: OUT.html is written (and OUT.png with --screenshot).")
    p.add_switch("force", help="Replace output files that already exist.")
    p.add_argument("--faithfulness_frames", type=int, default=48, help="Frames (spread over the recording) scored "
                   "by deletion/insertion; 0 leaves the faithfulness numbers out.")
    p.add_argument("--fps", type=float, default=15.0, help="Frames per second of play (15 = real time at "
                                                           "frameskip 4).")
    p.add_argument("--cmap", default="jet", help="Matplotlib colormap of the heatmaps.")
    p.add_argument("--alpha", type=float, default=0.5, help="Initial opacity of the heatmap over the frame, in "
                                                            "[0, 1].")
    p.add_switch("screenshot", help="Also write OUT.png: the page in headless Chromium.")
    p.add_argument("--screenshot_frame", type=int, help="Frame shown in the screenshot (default: the middle one).")
    p.add_argument("--screenshot_overlay", default="chosen", help="Heatmap shown in the screenshot: "
                   + ", ".join(page.OVERLAYS) + ".")
    p.add_argument("--screenshot_width", type=int, help="Screenshot width in pixels (default: every column fits, "
                                                        "at least 1400); its height fits the page.")
    return p


# ------------------------------------------------------------------------------------------ input checks
def out_paths(out: str) -> tuple[Path, Path]:
    """OUT.html and OUT.png for --out (a path ending in .html is taken as the page itself)."""
    p = Path(out)
    html = p if p.suffix.lower() == ".html" else p.with_name(p.name + ".html")
    return html, html.with_suffix(".png")


def check_flags(f) -> dict:
    """Every check that needs no checkpoint: counts, numbers, outputs that would be replaced."""
    specs = [s for s in (f.checkpoint or []) if s.strip()]
    if not specs:
        raise UsageError("--checkpoint is required: a run logdir, a ckpt-* folder or its model.keras "
                         "(repeat it for a grid over agents)")
    games = list(f.game or [])
    if len(games) not in (0, 1, len(specs)):
        raise UsageError(f"give one --game for all checkpoints or one per --checkpoint; got {len(games)} for "
                         f"{len(specs)} checkpoints")
    if not 1 <= f.frames <= MAX_FRAMES:
        raise UsageError(f"--frames must be 1..{MAX_FRAMES} agent steps, got {f.frames}")
    for name, lo, hi in (("skip", 0, 1_000_000), ("seed", 0, 2**31 - 1), ("faithfulness_frames", 0, MAX_FRAMES),
                         ("screenshot_width", 320, 16000)):
        if getattr(f, name) is not None and not lo <= getattr(f, name) <= hi:
            raise UsageError(f"--{name} must be {lo}..{hi}, got {getattr(f, name)}")
    figures.check_drawing(f.fps, f.alpha, f.cmap)
    if f.method not in METHODS:
        raise UsageError(f"unknown --method {f.method!r}; accepted: {', '.join(METHODS)}")
    if f.screenshot_overlay not in page.OVERLAYS:
        raise UsageError(f"unknown --screenshot_overlay {f.screenshot_overlay!r}; accepted: "
                         f"{', '.join(page.OVERLAYS)}")
    frame = f.frames // 2 if f.screenshot_frame is None else f.screenshot_frame
    if not 0 <= frame < f.frames:
        raise UsageError(f"--screenshot_frame must be 0..{f.frames - 1}, got {frame}")
    if not f.out:
        raise UsageError("--out is required: the page is written to OUT.html")
    html, png = out_paths(f.out)
    for p in (html, png) if f.screenshot else (html,):
        if p.exists() and not p.is_file():
            raise UsageError(f"{p} exists and is not a file")
    existing = [str(p) for p in ((html, png) if f.screenshot else (html,)) if p.exists()]
    if existing and not f.force:
        raise UsageError(f"{', '.join(existing)} already exists; pass --force to replace it")
    cli.check_output_folder(html.parent, "--out")  # a path under a regular file fails now, not after the work
    chromium = browser.find_chromium() if f.screenshot else None
    if f.screenshot and chromium is None:
        raise UsageError("--screenshot needs Chromium on PATH (Debian: apt-get install chromium)")
    return {"specs": specs, "games": games * len(specs) if len(games) == 1 else games, "html": html, "png": png,
            "chromium": chromium, "screenshot_frame": frame}


def check_agents(specs: list[str], games: list[str]) -> list:
    """Resolve every checkpoint and its game without loading TensorFlow; --game must be the one it was trained on."""
    from eac3_tf.envs import game_id

    wanted = []
    for name in games:
        try:
            wanted.append(game_id(name))
        except ValueError as exc:
            raise UsageError(f"--game: {exc}") from None
    subjects = [agents.check_agent(spec, "taken", "taken") for spec in specs]
    for agent, game in zip(subjects, wanted, strict=False):
        if agent.game != game:
            raise UsageError(f"checkpoint {agent.path} was trained on {camel_game(agent.game)}, not "
                             f"{camel_game(game)}; give its own game (or leave --game out)")
    return subjects


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    """Record, explain and write the page (and its screenshot) the flags ask for."""
    start = time.perf_counter()
    argv = sys.argv[1:] if argv is None else list(argv)
    f = parser().parse_args(argv)
    opts = check_flags(f)
    subjects = check_agents(opts["specs"], opts["games"])

    columns.log("loading TensorFlow and the checkpoints")
    cli.import_tensorflow_quietly()
    for agent in subjects:
        agents.load_model(agent, f.layer)
    recs = [columns.recording(agent, f, i, len(subjects)) for i, agent in enumerate(subjects)]

    command = "python tools/explain_html.py " + shlex.join(argv)
    text = page.build_html(recs, fps=f.fps, alpha=f.alpha, cmap=f.cmap, command=command, method=TITLES[f.method])
    html: Path = opts["html"]
    html.parent.mkdir(parents=True, exist_ok=True)
    write_text(html, text)
    seconds = time.perf_counter() - start
    size = html.stat().st_size
    print(f"wrote {html}: {size / 1024:.0f} kB ({size:,} bytes), {f.frames} frames x {len(recs)} "
          f"agent{'s' * (len(recs) > 1)}, generated in {seconds:.1f} s")
    if f.screenshot:
        width = f.screenshot_width or max(1400, 50 + 720 * len(recs))  # a column and its margin fit in 720 px
        browser.screenshot(opts["chromium"], html, opts["png"], opts["screenshot_frame"], f.screenshot_overlay, width)
        print(f"wrote {opts['png']} (frame {opts['screenshot_frame']}, heatmap {f.screenshot_overlay})")
    return 0


if __name__ == "__main__":
    cli.run(main, "explain_html.py")
