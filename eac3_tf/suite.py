"""Table I of the six-game suite and the files behind it: where each game's results go, the references, the rows.

`tools/train_suite.py` runs the stages as subprocesses; what they leave is read back here (`game_row`), set beside
the paper's and the published figures (`REFERENCES`, `dopamine_scores`) and written as Markdown (`table_markdown`).
The commands it ran are logged as a user types them (`shown`, `record_commands`). TensorFlow-free.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from eac3_tf.checkpoint import list_checkpoints
from eac3_tf.config import camel_game
from eac3_tf.errors import Eac3Error
from eac3_tf.io import copy_folder, write_text

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("train", "curve", "evaluate", "export", "checkpoint", "faithfulness", "table")


class SuiteError(Eac3Error):
    """A stage that cannot go on: a command that failed, a run with no checkpoint to keep."""


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


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows, for the hardware every figure ran on."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def hardware() -> str:
    """One line naming the CPU, its cores and any NVIDIA GPU (read without importing TensorFlow)."""
    text = f"{cpu_model()}, {os.cpu_count()} cores"
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
    """`path` as an argument of a command run in the project root: relative when inside it.

    So the files that command writes (eval JSONs, export cards, checkpoint metadata) name project paths, not
    this machine's.
    """
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def game_dirs(root: Path, game: str, tag: str = "") -> tuple[Path, Path]:
    """Where one game's results and export go: `results/<game>` and `exported/<game>`, or those of its tag.

    With a tag they are `results/<game>/<tag>` and `exported/<game>_<tag>`, so a suite run never overwrites
    another run's curve or exported agent (Pong's long run owns `results/pong` and `exported/pong`). A game
    without that tag's folder is read from `results/<game>`, so one table can mix tagged and untagged games.
    """
    results = root / "results" / game
    if not tag:
        return results, root / "exported" / game
    tagged = results / tag
    return (tagged if tagged.is_dir() else results), root / "exported" / f"{game}_{tag}"


def keep_checkpoint(logdir: Path, results: Path) -> Path:
    """Copy the run's newest checkpoint to `results/checkpoint/`; one already there is left as it is.

    The copy is built under a hidden name and renamed into place, so a stopped copy leaves nothing half-written.
    """
    ckpts = list_checkpoints(logdir)
    if not ckpts:
        raise SuiteError(f"suite stopped: {logdir} has no checkpoint to keep; run the train stage first")
    dest = results / "checkpoint" / ckpts[-1].name
    if not dest.is_dir():
        copy_folder(ckpts[-1], dest)
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


def table_markdown(rows: list[dict]) -> str:
    """The page results/table1.md: the table, then the protocols and hardware behind its columns."""
    return "# Table I, reproduced\n\n" + build_table(rows) + "\n" + protocol_notes(rows)
