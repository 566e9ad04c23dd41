"""Train, score, export and tabulate the paper's six games with one command (the paper's Table I).

    python tools/train_suite.py --frames 10000000 --workers 2
    python tools/train_suite.py --games Pong,Qbert --frames 10000000 --stages table   # rebuild the table only

Each game trains in `runs/suite/<game>` with the trainer's default preset and settings (or `--preset` and
`--train_args`) on the same frame budget, resuming when
that folder already holds checkpoints (so an interrupted suite continues where it stopped). Then each
is evaluated over 100 full games under the v5 protocol and the classic no-op-start protocol, its
learning curve is drawn, it is exported to `exported/<game>/`, its final checkpoint is kept in
`results/<game>/checkpoint/` (run folders are not committed) and its Grad-CAM faithfulness goes to
`results/gradcam/faithfulness_<game>` (with `--tag T`: `results/<game>/T/`, `exported/<game>_T/` and
`faithfulness_<game>_T`, for a game whose folders hold another run). `results/table1.{json,md}` puts our
scores beside the paper's E-A3C column and the published references, each labelled with its protocol.
Every step is a command line of this project run as a subprocess, so what the suite does is what a user
can do by hand; the commands are written to `results/suite/COMMANDS.md`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from eac3_tf import cli, suite  # noqa: E402
from eac3_tf.checkpoint import list_checkpoints  # noqa: E402
from eac3_tf.cli import ArgumentParser  # noqa: E402
from eac3_tf.config import PAPER_GAMES, camel_game  # noqa: E402
from eac3_tf.envs import game_id  # noqa: E402
from eac3_tf.io import write_json, write_text  # noqa: E402
from eac3_tf.suite import as_arg  # noqa: E402


def run(cmd: list[str], log: Path | None = None, done: list[str] | None = None) -> None:
    """Run one of the project's command lines; stop the suite with its message when it fails."""
    print("$ " + " ".join(cmd), flush=True)
    if done is not None:
        done.append(suite.shown(cmd))
    if log is None:
        proc = subprocess.run(cmd, cwd=ROOT)
    else:
        with open(log, "a") as fh:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        where = f" (log: {log})" if log else ""
        raise suite.SuiteError(f"suite stopped: `{' '.join(cmd)}` exited {proc.returncode}{where}")


def main(argv: list[str] | None = None) -> int:
    """Check the arguments, run the stages and record the commands in results/suite/COMMANDS.md."""
    p = ArgumentParser(prog="train_suite.py", description=__doc__.splitlines()[0])
    p.add_argument("--games", default=",".join(camel_game(g) for g in PAPER_GAMES))
    p.add_argument("--frames", type=int, default=10_000_000, help="the same frame budget for every game")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--runs", default="runs/suite", help="training folders, one per game")
    p.add_argument("--life_loss_terminal", action="store_true",
                   help="train with a lost life as the end of an episode for learning (scores stay whole games)")
    p.add_argument("--preset", default="", help="network preset (default: the trainer's default)")
    p.add_argument("--train_args", default="", help="more flags for eac3_tf.train, e.g. \"--t_max 20\"")
    p.add_argument("--tag", default="", help="keep this run's files apart: results/<game>/<tag>, "
                   "exported/<game>_<tag> (for a game whose results/<game> holds another run)")
    p.add_argument("--stages", default=",".join(suite.STAGES), help=f"comma list of {', '.join(suite.STAGES)}")
    args = p.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(suite.STAGES))
    if unknown:
        p.error(f"unknown stage(s) {unknown}; accepted: {', '.join(suite.STAGES)}")
    if args.frames <= 0 or args.workers <= 0 or args.episodes <= 0:
        p.error("--frames, --workers and --episodes must be positive")
    if args.tag and not args.tag.replace("_", "").isalnum():
        p.error(f"--tag {args.tag!r}: letters, digits and '_' only (it names a folder)")
    try:
        games = [game_id(g) for g in args.games.split(",") if g]
    except ValueError as exc:
        p.error(str(exc))
    done, started = [], time.time()
    try:
        return stages_for(games, stages, args, done)
    finally:  # also when a step fails: what ran is on record
        suite.record_commands(ROOT / "results" / "suite" / "COMMANDS.md", sys.argv[1:] if argv is None else argv, done,
                        started)


def stages_for(games: list[str], stages: list[str], args: argparse.Namespace, done: list[str]) -> int:
    """Run the chosen stages for every game, then write the table; each command run goes into `done`."""
    py = sys.executable
    rows = []
    for game in games:
        logdir = ROOT / args.runs / game
        if stages != ["table"] and args.tag:  # a run that writes files makes its tag folder
            (ROOT / "results" / game / args.tag).mkdir(parents=True, exist_ok=True)
        results, exported = suite.game_dirs(ROOT, game, args.tag)
        results.mkdir(parents=True, exist_ok=True)
        logdir.parent.mkdir(parents=True, exist_ok=True)
        if "train" in stages:
            t0 = time.time()
            cmd = [py, "-m", "eac3_tf.train", "--game", camel_game(game), *(["--preset", args.preset] if args.preset
                                                                              else []),
                   "--frames", str(args.frames), "--workers", str(args.workers), "--logdir", as_arg(logdir), "--seed",
                   str(args.seed), "--log_every", "60", *(["--life_loss_terminal"] if args.life_loss_terminal else []),
                   *shlex.split(args.train_args)]
            run(cmd + (["--resume"] if list_checkpoints(logdir) else []), log=ROOT / args.runs / f"{game}.log",
                done=done)
            (results / "hardware.txt").write_text(suite.hardware() + "\n")
            print(f"{game}: trained in {time.time() - t0:.0f} s this sitting", flush=True)
        if "curve" in stages:
            run([py, "tools/plot_curve.py", "--run", as_arg(logdir), "--out", as_arg(results / "curve")], done=done)
        if "evaluate" in stages:
            for proto in ("v5", "noop"):
                run([py, "-m", "eac3_tf.evaluate", "--checkpoint", as_arg(logdir), "--episodes", str(args.episodes),
                     "--protocol", proto, "--output", as_arg(results / f"eval_{proto}.json"), "--force"], done=done)
        if "export" in stages:
            run([py, "-m", "eac3_tf.export", "--checkpoint", as_arg(logdir), "--out", as_arg(exported),
                 "--eval", as_arg(results / "eval_v5.json"), "--force"], done=done)
        if "checkpoint" in stages:
            kept = suite.keep_checkpoint(logdir, results)
            done.append(f"# kept {kept.relative_to(ROOT)}")
        if "faithfulness" in stages:
            name = f"faithfulness_{game}" + (f"_{args.tag}" if args.tag else "")
            run([py, "tools/gradcam_faithfulness.py", "--checkpoint", as_arg(logdir), "--frames", "500", "--skip_toy",
                 "--out", as_arg(ROOT / "results" / "gradcam" / name)], done=done)
        rows.append(suite.game_row(game, logdir, results))
    if "table" in stages:
        write_json(ROOT / "results" / "table1.json", {"rows": rows, "references": suite.REFERENCES})
        text = suite.table_markdown(rows)
        write_text(ROOT / "results" / "table1.md", text)
        print(text)
        done.append(f"# table written: results/table1.md, results/table1.json ({len(rows)} games)")
    return 0


if __name__ == "__main__":
    cli.run(main, "train_suite.py")
