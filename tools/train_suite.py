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
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from eac3_tf import cli  # noqa: E402
from eac3_tf.checkpoint import list_checkpoints  # noqa: E402
from eac3_tf.cli import ArgumentParser  # noqa: E402
from eac3_tf.config import PAPER_GAMES, camel_game  # noqa: E402
from eac3_tf.envs import game_id  # noqa: E402
from eac3_tf.io import copy_folder, write_json, write_text  # noqa: E402

STAGES = ("train", "curve", "evaluate", "export", "checkpoint", "faithfulness", "table")

# Published figures, each with the protocol it was measured under. Only for context: none of them
# used our protocol or frame budget.
REFERENCES = {
    "paper_e_a3c": {
        "label": "paper E-A3C (Table I, best 100-episode average)",
        "protocol": "not stated by the paper; frames not stated",
        "scores": {"demon_attack": "36277 ± 821.71", "space_invaders": "79060.1 ± 5826.59",
                   "beam_rider": "8441.22 ± 221.24", "phoenix": "65150 ± 1442.07", "pong": "21.00 ± 0.00",
                   "qbert": "21182.25 ± 276.12"},
    },
    "a3c_lstm": {
        "label": "A3C-LSTM (Mnih et al. 2016, human starts)",
        "protocol": "human starts, 30 min of emulator time, 4 days on 16 CPU cores",
        "scores": {"demon_attack": "115201.9", "space_invaders": "23846.0",
                   "beam_rider": "24622.2", "phoenix": "74786.7", "pong": "10.7", "qbert": "21307.5"},
        "note": "the paper's Table I prints 164766.0 for SpaceInvaders, which is the StarGunner row of the "
                "A3C human-start table; the SpaceInvaders row is 23846.0",
    },
    "a2c_40m": {
        "label": "A2C at 40M frames (Schulman et al. 2017, PPO paper, Table 6)",
        "protocol": "mean of the last 100 training episodes, 40M frames, no-op/episodic-life settings of "
                    "OpenAI baselines",
        "scores": {"demon_attack": "6639.1", "space_invaders": "744.5", "beam_rider": "3031.7", "pong": "19.7",
                   "qbert": "10065.7"},
    },
}


# Same-protocol references (sticky actions 0.25, full games): Dopamine's agents at 10M frames.
DOPAMINE = ROOT / "results" / "references" / "dopamine_sticky.json"
DOPAMINE_COLUMNS = {"DQN@10M": "Dopamine DQN, 10M frames (sticky)",
                    "Rainbow@10M": "Dopamine Rainbow, 10M frames (sticky)"}


def dopamine_scores() -> dict:
    """{game: {"DQN@10M": x, ...}} from the committed copy of Dopamine's baselines, and its protocol."""
    data = json.loads(DOPAMINE.read_text())
    return {"scores": data["scores"], "protocol": data["protocol"], "source": data["source"]}


def hardware() -> str:
    """One line naming the CPU, its cores and any NVIDIA GPU (read without importing TensorFlow)."""
    cpu = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores"
    if shutil.which("nvidia-smi"):
        gpus = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip()
        if gpus:
            text += "; " + "; ".join(gpus.splitlines())
    return text


def fmt_score(report: dict | None) -> str:
    """"mean ± std (best b)" of an evaluation report, or a dash when there is none."""
    if not report:
        return "—"
    return f"{report['mean']:.1f} ± {report['std']:.1f} (best {report['best']:g})"


def build_table(rows: list[dict]) -> str:
    """Markdown Table I: our two protocols beside the references; `rows` come from `game_row`."""
    dopamine = dopamine_scores()["scores"]
    head = ["game", "preset", "ours, v5 (sticky 0.25)", "ours, no-op starts", "frames", "training wall-clock",
            "learning episode ends at", *DOPAMINE_COLUMNS.values(), *[REFERENCES[k]["label"] for k in REFERENCES]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        wall = f"{row['wall_seconds'] / 3600:.2f} h" if row.get("wall_seconds") else "—"
        frames = f"{row['frames'] / 1e6:.1f}M" if row.get("frames") else "—"
        same = [_versus(row.get("v5"), dopamine.get(row["game"], {}).get(k)) for k in DOPAMINE_COLUMNS]
        refs = [REFERENCES[k]["scores"].get(row["game"], "—") for k in REFERENCES]
        lines.append("| " + " | ".join([camel_game(row["game"]), row.get("preset", "—"), fmt_score(row.get("v5")),
                                         fmt_score(row.get("noop")), frames, wall,
                                         row.get("learning_episode_end", "—"), *same, *refs]) + " |")
    return "\n".join(lines)


def _versus(ours: dict | None, ref: float | None) -> str:
    """A reference score, marked with whether our v5 mean is at or above it."""
    if ref is None:
        return "—"
    if not ours:
        return f"{ref:g}"
    return f"{ref:g} ({'ours ≥' if ours['mean'] >= ref else 'ours <'})"


def protocol_notes(rows: list[dict]) -> str:
    """The protocols and hardware behind every column, in words."""
    out = ["", "Protocols:", "",
           "- ours, v5: ALE v5 settings — sticky actions 0.25, frameskip 4 (max over the last two frames), "
           "full game per episode (game over, not life loss), 108,000-frame cap, 100 episodes, sampled actions.",
           "- ours, no-op starts: up to 30 no-op actions at the start, no sticky actions, otherwise as v5.",
           "- learning episode ends at: \"life loss\" rows trained with `--life_loss_terminal` (no bootstrapping "
           "across a lost life, as baselines' EpisodicLifeEnv); \"game over\" rows bootstrapped through lost "
           "lives. Scores are whole games either way."]
    dopamine = dopamine_scores()
    out.append(f"- Dopamine columns (same protocol family as ours, v5): {dopamine['protocol']} Source: "
               f"{dopamine['source']}; committed as results/references/dopamine_sticky.json.")
    for ref in REFERENCES.values():
        out.append(f"- {ref['label']}: {ref['protocol']}." + (f" Note: {ref['note']}." if "note" in ref else ""))
    hw = sorted({row["hardware"] for row in rows if row.get("hardware")})
    if hw:
        out += ["", "Hardware: " + " / ".join(hw) + "."]
    return "\n".join(out) + "\n"


def shown(cmd: list[str]) -> str:
    """A command as a user types it in the project root: `python`, relative paths."""
    text = shlex.join(["python", *cmd[1:]] if cmd and cmd[0] == sys.executable else cmd)
    return text.replace(f"{ROOT}/", "")


def record_commands(path: Path, argv: list[str], commands: list[str], when: float) -> None:
    """Append this invocation and the commands it ran to `path` (a Markdown log kept across sittings)."""
    old = path.read_text() if path.is_file() else "# Commands the six-game suite ran, oldest first\n"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(when))
    block = "\n".join(["", f"## {stamp}: `python tools/train_suite.py {' '.join(argv)}`", "", "```bash", *commands,
                       "```", ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, old + block)


def as_arg(path: Path) -> str:
    """`path` as an argument of a command run in the project root: relative when inside it, so the files
    that command writes (eval JSONs, export cards, checkpoint metadata) name project paths, not this machine's."""
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(cmd: list[str], log: Path | None = None, done: list[str] | None = None) -> None:
    """Run one of the project's command lines; stop the suite with its message when it fails."""
    print("$ " + " ".join(cmd), flush=True)
    if done is not None:
        done.append(shown(cmd))
    if log is None:
        proc = subprocess.run(cmd, cwd=ROOT)
    else:
        with open(log, "a") as fh:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        where = f" (log: {log})" if log else ""
        raise SystemExit(f"suite stopped: `{' '.join(cmd)}` exited {proc.returncode}{where}")


def game_dirs(root: Path, game: str, tag: str = "") -> tuple[Path, Path]:
    """Where one game's suite results and export go: `results/<game>`, `exported/<game>`, or with a tag
    `results/<game>/<tag>` and `exported/<game>_<tag>`, so a suite run never overwrites another run's curve
    or exported agent (Pong's long run owns `results/pong` and `exported/pong`). A game without that
    tag's folder is read from `results/<game>`, so one table can mix tagged and untagged games."""
    results = root / "results" / game
    if not tag:
        return results, root / "exported" / game
    tagged = results / tag
    return (tagged if tagged.is_dir() else results), root / "exported" / f"{game}_{tag}"


def keep_checkpoint(logdir: Path, results: Path) -> Path:
    """Copy the run's newest checkpoint to `results/checkpoint/` (a temp folder renamed into place, so a
    stopped copy leaves nothing half-written there); one already there is left as it is."""
    ckpts = list_checkpoints(logdir)
    if not ckpts:
        raise SystemExit(f"suite stopped: {logdir} has no checkpoint to keep; run the train stage first")
    dest = results / "checkpoint" / ckpts[-1].name
    if not dest.is_dir():
        copy_folder(ckpts[-1], dest)  # built under a hidden name, never taken for a checkpoint
    return dest


def game_row(game: str, logdir: Path, results: Path) -> dict:
    """What the table needs about one game, read from its evaluation files and the checkpoint they scored.

    Frames and wall-clock come from the checkpoint the v5 evaluation scored (same frame count), found in the
    run folder or among the checkpoints committed under `results/<game>/checkpoint` (all a fresh clone has);
    a committed checkpoint of another run (e.g. Pong's long run) is not that one. Without an evaluation, the
    run folder's newest checkpoint says how far training is.
    """
    row: dict = {"game": game}
    for proto in ("v5", "noop"):
        path = results / f"eval_{proto}.json"
        if path.is_file():
            report = json.loads(path.read_text())
            row[proto] = {k: report[k] for k in ("mean", "std", "best", "min", "episodes", "frames_trained")}
    if "v5" in row:
        ckpts, wanted = list_checkpoints(logdir) + sorted((results / "checkpoint").glob("ckpt-*")), row["v5"]
    else:
        ckpts, wanted = list_checkpoints(logdir)[-1:], None
    states = [json.loads((c / "state.json").read_text()) for c in ckpts]
    states = [st for st in states if wanted is None or st["frames"] == wanted["frames_trained"]]
    if states:
        state = states[-1]
        row.update(frames=state["frames"], wall_seconds=round(state["wall_seconds"], 1))
        life = state.get("meta", {}).get("a3c", {}).get("life_loss_terminal", False)
        row["learning_episode_end"] = "life loss" if life else "game over"
        row["preset"] = state.get("meta", {}).get("preset", "—")
    hw = results / "hardware.txt"
    if hw.is_file():
        row["hardware"] = hw.read_text().strip()
    return row


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
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma list of {', '.join(STAGES)}")
    args = p.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        p.error(f"unknown stage(s) {unknown}; accepted: {', '.join(STAGES)}")
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
        record_commands(ROOT / "results" / "suite" / "COMMANDS.md", sys.argv[1:] if argv is None else argv, done,
                        started)


def stages_for(games: list[str], stages: list[str], args: argparse.Namespace, done: list[str]) -> int:
    """Run the chosen stages for every game, then write the table; each command run goes into `done`."""
    py = sys.executable
    rows = []
    for game in games:
        logdir = ROOT / args.runs / game
        if stages != ["table"] and args.tag:  # a run that writes files makes its tag folder
            (ROOT / "results" / game / args.tag).mkdir(parents=True, exist_ok=True)
        results, exported = game_dirs(ROOT, game, args.tag)
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
            (results / "hardware.txt").write_text(hardware() + "\n")
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
            kept = keep_checkpoint(logdir, results)
            done.append(f"# kept {kept.relative_to(ROOT)}")
        if "faithfulness" in stages:
            name = f"faithfulness_{game}" + (f"_{args.tag}" if args.tag else "")
            run([py, "tools/gradcam_faithfulness.py", "--checkpoint", as_arg(logdir), "--frames", "500", "--skip_toy",
                 "--out", as_arg(ROOT / "results" / "gradcam" / name)], done=done)
        rows.append(game_row(game, logdir, results))
    if "table" in stages:
        write_json(ROOT / "results" / "table1.json", {"rows": rows, "references": REFERENCES})
        text = "# Table I, reproduced\n\n" + build_table(rows) + "\n" + protocol_notes(rows)
        write_text(ROOT / "results" / "table1.md", text)
        print(text)
        done.append(f"# table written: results/table1.md, results/table1.json ({len(rows)} games)")
    return 0


if __name__ == "__main__":
    cli.run(main, "train_suite.py")
