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

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gradcam as gradcam_tool  # tools/gradcam.py: checkpoint checks, recording, Grad-CAM of the taken action
import numpy as np

from eac3_tf import cli
from eac3_tf.cli import UsageError
from eac3_tf.config import camel_game
from eac3_tf.explain import measures, overlay, page
from eac3_tf.explain.names import METHODS, TITLES
from eac3_tf.explain.settings import BLUR_SIGMA, DELETION_STEPS
from eac3_tf.io import write_with  # noqa: E402

MAX_FRAMES = 2000  # ~100 kB of screens per frame and agent are held in memory; the page grows ~2 kB a frame
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
# Flags for a headless Chromium on a machine with no network and no display (as root in CI).
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
            "--hide-scrollbars", "--force-device-scale-factor=1")


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


def find_chromium() -> str | None:
    """The Chromium binary on PATH, if any."""
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    return None


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
    gradcam_tool.check_drawing_flags(f.fps, f.alpha, f.cmap)
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
    chromium = find_chromium() if f.screenshot else None
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
    agents = [gradcam_tool.check_agent(spec, "taken", "taken") for spec in specs]
    for agent, game in zip(agents, wanted, strict=False):
        if agent.game != game:
            raise UsageError(f"checkpoint {agent.path} was trained on {camel_game(agent.game)}, not "
                             f"{camel_game(game)}; give its own game (or leave --game out)")
    return agents


# ------------------------------------------------------------------------------------------ model work
def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the summary."""
    print(message, file=sys.stderr, flush=True)


def batched(fn, inputs: np.ndarray) -> list:
    """`fn` over `inputs` in batches of exactly EXPLAIN_BATCH rows, the last padded with copies of its last row.

    Grad-CAM's step is XLA-compiled per batch size (~2 s each on 2 cores); one size compiles once, where the
    contrast groups' many sizes would each compile anew. Returns [(result, rows that are real)].
    """
    b = gradcam_tool.EXPLAIN_BATCH
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
    return page.normalise_maps(np.concatenate([m[:k] for m, k in parts]))


def explain_frames(agent, inputs: np.ndarray, actions: np.ndarray, layer: str | None, method: str = "gradcam") -> dict:
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
        action_maps.append(page.normalise_maps(np.concatenate([r.raw[:k] for r, k in parts])))
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


def faithfulness(agent, inputs: np.ndarray, maps: np.ndarray, actions: np.ndarray, n: int,
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


def recording(agent, f, index: int, total: int) -> page.AgentRecording:
    """Play, explain and score one agent: everything its column of the page shows."""
    t0 = time.perf_counter()
    game = camel_game(agent.game)
    log(f"[{index + 1}/{total}] {game} ({agent.path}): playing {f.skip + f.frames} agent steps "
        f"({f.policy} policy, seed {f.seed})")
    screens, inputs, steps, actions = gradcam_tool.record(agent, f.frames, f.skip, f.seed, f.policy == "greedy")
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


# ------------------------------------------------------------------------------------------ output
def write_text(path: Path, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    write_with(path, write)


def page_height(chromium: str, html: Path, width: int) -> int:
    """The rendered page's height in CSS pixels, read from the DOM Chromium dumps."""
    with tempfile.TemporaryDirectory(prefix="explain-chromium-") as profile:
        out = subprocess.run([chromium, *HEADLESS, f"--user-data-dir={profile}", f"--window-size={width},900",
                              "--virtual-time-budget=3000", "--dump-dom", html.resolve().as_uri()],
                             capture_output=True, text=True, timeout=120)
    found = re.search(r'data-height="(\d+)"', out.stdout)
    return int(found.group(1)) if found else 1000


def screenshot(chromium: str, html: Path, png: Path, frame: int, overlay_kind: str, width: int) -> None:
    """OUT.png: the page in headless Chromium at `frame` with `overlay_kind`, the window sized to the whole page."""
    url = f"{html.resolve().as_uri()}#t={frame}&overlay={overlay_kind}"
    height = page_height(chromium, html, width)

    def shoot(tmp: str) -> None:
        with tempfile.TemporaryDirectory(prefix="explain-chromium-") as profile:
            done = subprocess.run([chromium, *HEADLESS, f"--user-data-dir={profile}",
                                   f"--window-size={width},{height}", "--virtual-time-budget=3000",
                                   f"--screenshot={tmp}", url], capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not Path(tmp).stat().st_size:
            raise RuntimeError(f"chromium failed to take the screenshot (exit {done.returncode}): "
                               f"{done.stderr.strip().splitlines()[-1:] or ''}")

    write_with(png, shoot)


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    """Record, explain and write the page (and its screenshot) the flags ask for."""
    start = time.perf_counter()
    argv = sys.argv[1:] if argv is None else list(argv)
    f = parser().parse_args(argv)
    opts = check_flags(f)
    agents = check_agents(opts["specs"], opts["games"])

    log("loading TensorFlow and the checkpoints")
    cli.import_tensorflow_quietly()
    for agent in agents:
        gradcam_tool.load_model(agent, f.layer)
    recs = [recording(agent, f, i, len(agents)) for i, agent in enumerate(agents)]

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
        width = f.screenshot_width or max(1400, 50 + 720 * len(recs))  # a column is ~710 px wide
        screenshot(opts["chromium"], html, opts["png"], opts["screenshot_frame"], f.screenshot_overlay, width)
        print(f"wrote {opts['png']} (frame {opts['screenshot_frame']}, heatmap {f.screenshot_overlay})")
    return 0


if __name__ == "__main__":
    cli.run(main, "explain_html.py")
