"""A sample-efficiency study: candidates trained on Pong and Qbert at one frame budget, compared in one table.

    python tools/study.py --games Pong,Qbert --candidates impala_t20 --frames 10000000 --workers 2
    python tools/study.py --stages report          # tabulate and plot what has been trained so far

Each candidate is a set of `python -m eac3_tf.train` flags (`CANDIDATES`); it trains in
`runs/study/<game>/<candidate>` (resuming when that folder holds checkpoints; a run kept in
`results/study/runs/` seeds a fresh machine). The `fast` rows are the committed 10M-frame runs of Table I.
The report writes `results/study/study.{json,md}`: per candidate and game the mean of the last 100
training games at 2.5M / 5M / 10M frames, the area under the curve, frames/s, wall-clock, the command;
one curve CSV per run and one plot per game (score against frames, and against wall-clock). The `keep`
stage copies each run's folder (curves, run.json, newest checkpoint) to `results/study/runs/`.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eac3_tf import cli  # noqa: E402
from eac3_tf.checkpoint import list_checkpoints  # noqa: E402
from eac3_tf.cli import ArgumentParser, UsageError  # noqa: E402
from eac3_tf.config import camel_game  # noqa: E402
from eac3_tf.curves import area_under, rolling_mean, value_at  # noqa: E402
from eac3_tf.envs import game_id  # noqa: E402
from eac3_tf.io import staged_folder, write_json, write_text, write_with  # noqa: E402

STAGES = ("train", "keep", "report")
MARKS = (2_500_000, 5_000_000, 10_000_000)
SETTINGS = ["--reset_noop_frames", "30", "--life_loss_terminal"]
CANDIDATES: dict[str, dict] = {
    # Committed runs of Table I (tools/train_suite.py, 10M frames, seed 0): the baseline, not retrained.
    "fast": {"baseline": {"pong": "results/pong/suite_10m/curve.csv", "qbert": "results/qbert/curve.csv"},
             "flags": ["--preset", "fast", "--life_loss_terminal"]},
    "impala_t20": {"flags": ["--preset", "impala", "--t_max", "20", "--lr_schedule", "linear", *SETTINGS]},
    "impala_t20_last": {"flags": ["--preset", "impala", "--t_max", "20", "--lr_schedule", "linear", *SETTINGS,
                                  "--nomaxpool"]},
    "impala_t20_jitter": {"flags": ["--preset", "impala", "--t_max", "20", "--lr_schedule", "linear", *SETTINGS,
                                    "--phase_jitter", "0.2"]},
    "impala_t5": {"flags": ["--preset", "impala", "--lr_schedule", "linear", *SETTINGS]},
    "fast_t20": {"flags": ["--preset", "fast", "--t_max", "20", "--lr_schedule", "linear", *SETTINGS]},
}


def train_command(game: str, name: str, frames: int, workers: int, seed: int, runs: Path) -> list[str]:
    return ["python", "-m", "eac3_tf.train", "--game", camel_game(game), "--frames", str(frames), "--workers",
            str(workers), "--seed", str(seed), "--log_every", "30", "--logdir", str(runs / game / name),
            *CANDIDATES[name]["flags"]]


def train(game: str, name: str, args, runs: Path, kept: Path) -> None:
    logdir = runs / game / name
    if not list_checkpoints(logdir) and (kept / game / name).is_dir():
        shutil.copytree(kept / game / name, logdir, dirs_exist_ok=True)  # continue a run from another machine
        print(f"seeded {logdir} from {kept / game / name}", flush=True)
    cmd = train_command(game, name, args.frames, args.workers, args.seed, runs)
    if list_checkpoints(logdir):
        cmd.append("--resume")
    print("$ " + shlex.join(cmd), flush=True)
    if subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT).returncode != 0:
        raise SystemExit(f"study stopped: training {game} / {name} failed")


def keep(game: str, name: str, runs: Path, kept: Path) -> None:
    """Copy the run's curves, run.json and newest checkpoint, so another machine can resume it."""
    logdir, dest = runs / game / name, kept / game / name
    ckpts = list_checkpoints(logdir)
    if not ckpts:
        return
    with staged_folder(dest) as tmp:  # the kept run is the old one or the new one, never neither
        for f in ("run.json", "episodes.csv", "progress.csv"):
            if (logdir / f).is_file():
                shutil.copy2(logdir / f, tmp / f)
        shutil.copytree(ckpts[-1], tmp / "checkpoints" / ckpts[-1].name)
    print(f"kept {ckpts[-1]} in {dest}", flush=True)


def _curve_file(path: Path) -> dict:
    rows = list(csv.DictReader(open(path)))
    return {"frames": [float(r["frames"]) for r in rows], "wall": [float(r["wall_seconds"]) for r in rows],
            "curve": [float(r["mean100_score"]) for r in rows]}


def read_run(game: str, name: str, runs: Path, kept: Path) -> dict | None:
    """Frames, wall seconds and mean-of-100 curve of one run (a training folder, or a baseline curve CSV)."""
    spec = CANDIDATES[name]
    if "baseline" in spec:
        return {**_curve_file(ROOT / spec["baseline"][game]), "source": spec["baseline"][game]}
    for folder in (runs / game / name, kept / game / name):
        path = folder / "episodes.csv"
        if path.is_file() and path.stat().st_size:
            rows = sorted(csv.DictReader(open(path)), key=lambda r: float(r["frames"]))
            source = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
            return {"frames": [float(r["frames"]) for r in rows], "wall": [float(r["wall_seconds"]) for r in rows],
                    "curve": list(rolling_mean([float(r["score"]) for r in rows])), "source": str(source)}
    return None


def _round(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 2)


def _show(v: float | None) -> str:
    return "—" if v is None else f"{v:g}"


def summarize(game: str, name: str, run: dict, budget: int, args) -> dict:
    frames, curve, wall = run["frames"], run["curve"], run["wall"]
    spec = CANDIDATES[name]
    command = ("tools/train_suite.py (the committed Table I run)" if "baseline" in spec else
               shlex.join(train_command(game, name, budget, args.workers, args.seed, Path(args.runs))))
    return {"game": game, "candidate": name, "flags": spec["flags"], "seed": args.seed, "command": command,
            "source": run["source"], "frames_so_far": int(frames[-1]), "games": len(frames),
            "mean100_at": {f"{m / 1e6:g}M": _round(value_at(frames, curve, m)) for m in MARKS},
            "auc": _round(area_under(frames, curve, budget)),
            "frames_per_sec": round(frames[-1] / wall[-1], 1) if wall[-1] > 0 else None,
            "wall_hours": round(wall[-1] / 3600, 2)}


def markdown(rows: list[dict], budget: int) -> str:
    head = ["game", "candidate", *[f"mean100 @ {m / 1e6:g}M" for m in MARKS], f"AUC to {budget / 1e6:g}M",
            "frames so far", "frames/s", "wall-clock (h)", "flags"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([camel_game(r["game"]), r["candidate"],
                                         *[_show(r["mean100_at"].get(f"{m / 1e6:g}M")) for m in MARKS], _show(r["auc"]),
                                         f"{r['frames_so_far'] / 1e6:.2f}M", _show(r["frames_per_sec"]),
                                         _show(r["wall_hours"]), "`" + " ".join(r["flags"]) + "`"]) + " |")
    return "\n".join(lines)


def plot(game: str, runs: dict[str, dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_frames, by_time) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name, run in runs.items():
        by_frames.plot([f / 1e6 for f in run["frames"]], run["curve"], lw=2, label=name)
        by_time.plot([w / 3600 for w in run["wall"]], run["curve"], lw=2, label=name)
    by_frames.set_xlabel("frames (millions)")
    by_time.set_xlabel("training wall-clock (hours, this run's machine)")
    by_frames.set_ylabel("mean raw score of the last 100 training games")
    for ax in (by_frames, by_time):
        ax.grid(alpha=0.3)
    by_frames.legend(fontsize=8)
    fig.suptitle(f"{camel_game(game)}: sample efficiency of the study's candidates (sticky actions 0.25, full games)")
    fig.tight_layout()
    write_with(out, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)


def report(games: list[str], names: list[str], args, runs: Path, kept: Path, out: Path) -> None:
    """Tabulate the runs found now; rows and curves of earlier reports stay, so a report of one game keeps the rest."""
    old = json.loads((out / "study.json").read_text())["rows"] if (out / "study.json").is_file() else []
    fresh = {}
    for game in games:
        for name in names:
            run = read_run(game, name, runs, kept)
            if run is None:
                continue
            fresh[game, name] = summarize(game, name, run, args.frames, args)
            step = max(1, len(run["frames"]) // 400)
            lines = ["frames,wall_seconds,mean100_score"] + [
                f"{int(f)},{w:.1f},{c:.3f}" for f, w, c in
                list(zip(run["frames"], run["wall"], run["curve"], strict=True))[::step]]
            write_text(out / f"{game}_{name}.csv", "\n".join(lines) + "\n")
    rows = {(r["game"], r["candidate"]): r for r in old} | fresh
    order = list(CANDIDATES)
    ordered = sorted(rows.values(), key=lambda r: (r["game"], order.index(r["candidate"])
                                                     if r["candidate"] in order else len(order), r["candidate"]))
    for game in sorted({g for g, _ in rows}):
        curves = {name: _curve_file(out / f"{g}_{name}.csv") for g, name in rows
                  if g == game and (out / f"{g}_{name}.csv").is_file()}
        if curves:
            plot(game, curves, out / f"{game}.png")
    table = markdown(ordered, args.frames)
    write_json(out / "study.json", {"budget_frames": args.frames, "marks": list(MARKS), "rows": ordered,
                                           "protocol": "training games under ALE v5 settings (sticky actions "
                                           "0.25, full games to game over, 108,000-frame cap)"})
    write_text(out / "study.md", "# Sample-efficiency study\n\n" + table + "\n")
    print(table)


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="study.py", description=__doc__.split("\n")[0])
    p.add_argument("--games", default="Pong,Qbert")
    p.add_argument("--candidates", default=",".join(CANDIDATES))
    p.add_argument("--frames", type=int, default=10_000_000, help="the frame budget of every candidate")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    p.add_argument("--runs", default="runs/study")
    p.add_argument("--out", default="results/study")
    args = p.parse_args(argv)
    try:
        games = [game_id(g) for g in args.games.split(",")]
    except ValueError as exc:
        raise UsageError(f"--games: {exc}") from None
    names = args.candidates.split(",")
    stages = args.stages.split(",")
    for bad, known, flag in ((set(names) - set(CANDIDATES), CANDIDATES, "--candidates"),
                             (set(stages) - set(STAGES), STAGES, "--stages")):
        if bad:
            raise UsageError(f"unknown {flag} {', '.join(sorted(bad))}; accepted: {', '.join(known)}")
    if args.frames <= 0 or args.workers <= 0:
        raise UsageError(f"--frames and --workers must be positive, got {args.frames}, {args.workers}")
    runs, out = ROOT / args.runs, ROOT / args.out
    kept = out / "runs"
    out.mkdir(parents=True, exist_ok=True)
    for game in games:
        for name in names:
            if "baseline" in CANDIDATES[name]:
                continue
            if "train" in stages:
                train(game, name, args, runs, kept)
            if "keep" in stages:
                keep(game, name, runs, kept)
    if "report" in stages:
        report(games, names, args, runs, kept, out)


if __name__ == "__main__":
    cli.run(main, "study.py")
