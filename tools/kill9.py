"""Crash consistency under kill -9: SIGKILL a training run at random moments, resume it, check every checkpoint.

Usage:
    python tools/kill9.py [--kills 20] [--seed 0] [--window 4] [--out results/kill9] [--logdir DIR]

Trains the toy Catch task (`eac3_tf.toy`) through `eac3_tf.train.train`, the very code that trains Atari, in a
child process (`python tools/kill9.py --child ...`) that resumes from the newest valid checkpoint of its logdir.
Each round starts a child, waits until it has loaded TensorFlow, said where it resumed from and completed a random
number (0..2; the first round 1..2) of new checkpoints, then a random time (uniform in [0, --window] s), and kills
it with SIGKILL.
Every other round waits further, after the random time, until a checkpoint save or removal is in flight (a hidden
`.ckpt-*.tmp` / `.ckpt-*.del` folder appears) and kills it then, so kills land in the middle of writes. After
every kill:

* the newest checkpoint listed verifies (sha256 manifest) and loads, and `latest_valid` picks it with no warning;
* the frame counter of the newest checkpoint never goes backwards;
* no temporary or half-deleted folder is listed as a checkpoint (`list_checkpoints` / `latest_valid` skip them);
* every checkpoint still on disk verifies and is byte-identical to when it was first seen;
* the next child says it resumed from exactly that newest checkpoint (or from scratch when there was none).

After the last kill, one more child resumes and runs to the end of a small frame budget, exits 0, and leaves no
temporary folder behind. Prints a line per kill and a tally ("20/20 resumed, 0 corrupt, frames monotonic"), and
writes it as OUT.json and OUT.md (atomically). Exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eac3_tf import checkpoint  # noqa: E402  (numpy only: TensorFlow loads when a checkpoint is loaded)
from eac3_tf.io import write_json, write_text  # noqa: E402

READY = "kill9-child: ready"
RESUMED = re.compile(r"resumed from (\S+) at ")
SCRATCH = "starting from scratch"
START_TIMEOUT = 180.0  # s for a child to import TensorFlow on a busy machine
SAVE_WAIT = 120.0  # s a mid-save round waits for a save to start before it kills anyway


# ------------------------------------------------------------------------------------------ the child
def child_main(args: argparse.Namespace) -> int:
    """Train Catch in `args.logdir`, resuming from its newest valid checkpoint (what the parent kills)."""
    from eac3_tf.cli import import_tensorflow_quietly

    import_tensorflow_quietly()
    from eac3_tf.config import A3CConfig, RunConfig
    from eac3_tf.model import build_model
    from eac3_tf.toy import CatchBatchEnv, toy_model_config
    from eac3_tf.train import train

    cfg = toy_model_config()
    run = RunConfig(frames=args.frames, workers=args.workers, logdir=str(args.logdir), seed=args.seed,
                    checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep, log_every=args.log_every)
    print(READY, flush=True)
    result = train(lambda i: CatchBatchEnv(args.envs), lambda: build_model((10, 5, 1), 3, cfg),
                   A3CConfig(envs_per_worker=args.envs), run, {"game": "catch", "preset": "toy"}, resume=True,
                   log=lambda s: print(s, flush=True))
    print(f"kill9-child: finished at {result.frames} frames, checkpoint {result.checkpoint}", flush=True)
    return 0


class Child:
    """A training child process whose stdout lines are collected by a thread (so the parent never blocks)."""

    started: list[Child] = []  # every child started here, so none outlives an interrupted loop

    def __init__(self, logdir: Path, frames: int, checkpoint_every: int, workers: int, envs: int, keep: int,
                 seed: int) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--logdir", str(logdir),
               "--frames", str(frames), "--checkpoint_every", str(checkpoint_every), "--workers", str(workers),
               "--envs", str(envs), "--keep", str(keep), "--seed", str(seed)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        Child.started.append(self)
        self.lines: list[str] = []
        self.err: list[str] = []
        self.ready = threading.Event()
        self.t_ready: float | None = None
        self._threads = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if RESUMED.search(line) or SCRATCH in line:  # TensorFlow is loaded and the restore is done
                self.t_ready = time.monotonic()
                self.ready.set()
        self.ready.set()  # the child ended before it was ready: wake the waiter

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def resume_line(self) -> str | None:
        """The child's line saying where it resumed from (or that it starts from scratch)."""
        return next((line for line in self.lines if RESUMED.search(line) or SCRATCH in line), None)

    def kill(self) -> None:
        """SIGKILL the child (only this process: it was started here) and reap it."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for t in self._threads:
            t.join(timeout=10)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=10)
        return code


# ------------------------------------------------------------------------------------------ the checks
def folder_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file in a checkpoint folder, by name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def leftovers(logdir: Path) -> list[str]:
    """Hidden temporary or being-deleted folders in the checkpoint folder (never checkpoints)."""
    root = logdir / checkpoint.CKPT_DIR
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".")) if root.is_dir() else []


def check_after_kill(logdir: Path, seen: dict[str, dict[str, str]], last_frames: int) -> dict:
    """Every check of one round; `seen` maps checkpoint names to their digests when first seen (updated)."""
    problems: list[str] = []
    listed = checkpoint.list_checkpoints(logdir)
    names = [p.name for p in listed]
    new = [n for n in names if n not in seen]  # written by the child just killed
    temp = leftovers(logdir)
    if any(not re.fullmatch(r"ckpt-\d{12}", n) for n in names) or set(names) & set(temp):
        problems.append(f"a temporary folder is listed as a checkpoint: {names}")
    newest, frames = None, last_frames
    if listed:
        warnings: list[str] = []
        try:
            loaded = checkpoint.latest_valid(logdir, warn=warnings.append)
        except Exception as exc:  # a checkpoint that verifies but does not load is a failure to report
            loaded, warnings = None, [f"{type(exc).__name__}: {exc}"]
        if loaded is None or loaded.path != listed[-1] or warnings:
            problems.append(f"the newest checkpoint {listed[-1].name} does not load: {warnings}")
        else:
            newest = loaded.path
            frames = int(loaded.state["frames"])
            if f"ckpt-{frames:012d}" != newest.name:
                problems.append(f"{newest.name} holds {frames} frames")
            import numpy as np

            if not all(np.all(np.isfinite(w)) for w in loaded.model.get_weights()):
                problems.append(f"{newest.name} holds non-finite weights")
    elif last_frames > 0:
        problems.append("every checkpoint is gone")
    if frames < last_frames:
        problems.append(f"frames went backwards: {last_frames} -> {frames}")
    corrupt = []
    for path in listed:
        try:
            checkpoint.verify(path)
            digest = folder_digest(path)
        except (checkpoint.CheckpointError, OSError) as exc:
            corrupt.append(f"{path.name}: {exc}")
            continue
        if path.name in seen and seen[path.name] != digest:
            corrupt.append(f"{path.name} changed on disk since it was first seen")
        seen.setdefault(path.name, digest)
    problems += corrupt
    return {"listed": names, "new": new, "newest": newest.name if newest else None, "frames": frames,
            "leftovers": temp, "corrupt": corrupt, "problems": problems}


def wait_for_checkpoints(logdir: Path, n: int, child: Child, timeout: float) -> int:
    """Wait until the child has completed `n` new checkpoints (or died, or timed out); return how many it did."""
    start = {p.name for p in checkpoint.list_checkpoints(logdir)}
    new: set[str] = set()
    end = time.monotonic() + timeout
    while len(new) < n and child.proc.poll() is None and time.monotonic() < end:
        new |= {p.name for p in checkpoint.list_checkpoints(logdir)} - start
        time.sleep(0.02)
    return len(new)


def wait_for_save(logdir: Path, timeout: float) -> bool:
    """Poll until a new hidden save/removal folder appears in the checkpoint folder; False on timeout."""
    before = set(leftovers(logdir))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if set(leftovers(logdir)) - before:
            return True
        time.sleep(0.002)
    return False


# ------------------------------------------------------------------------------------------ the loop
def run_kill_loop(logdir: Path, kills: int = 20, seed: int = 0, window: float = 4.0, checkpoint_every: int = 400,
                  workers: int = 2, envs: int = 8, keep: int = 3, log=print) -> dict:
    """Kill and resume a Catch training run `kills` times in `logdir`; return the tally (its "ok" says it all)."""
    try:
        return _kill_loop(logdir, kills, seed, window, checkpoint_every, workers, envs, keep, log)
    finally:  # interrupted (Ctrl-C, a test timeout): end the children started here, by their own pids
        for child in Child.started:
            if child.proc.poll() is None:
                child.kill()
        Child.started.clear()


def _kill_loop(logdir: Path, kills: int, seed: int, window: float, checkpoint_every: int, workers: int, envs: int,
               keep: int, log) -> dict:
    rng = random.Random(seed)
    logdir = Path(logdir)
    seen: dict[str, dict[str, str]] = {}
    rounds: list[dict] = []
    last_frames, expected = 0, None  # expected: the checkpoint the next child must resume from (None: scratch)
    t_start = time.monotonic()
    budget = 10**12  # a child never finishes on its own
    for k in range(1, kills + 1):
        child = Child(logdir, budget, checkpoint_every, workers, envs, keep, seed)
        rec: dict = {"kill": k}
        if not child.ready.wait(START_TIMEOUT) or child.t_ready is None:
            child.kill()
            rec.update(problems=[f"the child did not start: {' | '.join(child.err[-3:])}"], resumed=False)
            rounds.append(rec)
            log(f"kill {k:2d}/{kills}: FAILED, the child did not start: {' | '.join(child.err[-3:])}")
            break
        # let the child complete 0..2 checkpoints first (the first round at least one, so every later round has
        # one to resume from): kills then land in start-up, in training, in saves and in removals alike
        saves = rng.randint(1 if k == 1 else 0, 2)
        rec["saves_before_kill"] = wait_for_checkpoints(logdir, saves, child, SAVE_WAIT)
        delay = rng.uniform(0.0, window)
        mode = "mid-save" if k % 2 == 0 else "random"
        time.sleep(delay)
        if mode == "mid-save":
            caught = wait_for_save(logdir, SAVE_WAIT)
            time.sleep(rng.uniform(0.0, 0.02))
            mode = "mid-save" if caught else "mid-save (none started)"
        alive_for = time.monotonic() - child.t_ready
        exited_early = child.proc.poll() is not None
        child.kill()
        line = child.resume_line()
        rec.update(mode=mode, delay_s=round(delay, 3), seconds_after_ready=round(alive_for, 3),
                   resume_line=line, expected_resume=expected)
        rec["resumed"] = _resumed_as_expected(line, expected)
        checks = check_after_kill(logdir, seen, last_frames)
        problems = list(checks.pop("problems"))
        if exited_early:
            problems.append(f"the child exited by itself (code {child.proc.returncode}): {child.err[-3:]}")
        if not rec["resumed"]:
            problems.append(f"resumed from the wrong place: {line!r}, expected {expected}")
        rec.update(checks, problems=problems, frames_before=last_frames)
        rounds.append(rec)
        log(f"kill {k:2d}/{kills}: SIGKILL {alive_for:5.2f} s after start, {rec['saves_before_kill']} saves ({mode}); "
            f"resumed "
            f"{'from ' + Path(expected).name if expected else 'from scratch'}: {'ok' if rec['resumed'] else 'NO'}; "
            f"newest {checks['newest'] or '-'} verifies and loads; frames {last_frames:,} -> {checks['frames']:,}; "
            f"{len(checks['new'])} new, {len(checks['listed'])} on disk, {len(seen)} seen, all intact: "
            f"{'yes' if not checks['corrupt'] else 'NO'}"
            f"; leftover temp folders {len(checks['leftovers'])} (not listed)"
            + (f"; PROBLEMS: {problems}" if problems else ""))
        last_frames = max(last_frames, checks["frames"])
        expected = str(logdir / checkpoint.CKPT_DIR / checks["newest"]) if checks["newest"] else None

    final = _final_resume(logdir, expected, last_frames, checkpoint_every, workers, envs, keep, seed, seen, log)
    resumed = sum(r.get("resumed", False) for r in rounds[1:]) + final["resumed"]  # round 1 starts a new run
    corrupt = sorted({c for r in rounds for c in r.get("corrupt", [])} | set(final["corrupt"]))
    monotonic = all(r.get("frames", 0) >= r.get("frames_before", 0) for r in rounds) and (
        final["frames"] >= last_frames)
    problems = [f"kill {r['kill']}: {p}" for r in rounds for p in r.get("problems", [])] + [
        f"final resume: {p}" for p in final["problems"]]
    temp_seen = sorted({t for r in rounds for t in r.get("leftovers", [])})
    tally = {
        "kills": len(rounds), "kills_asked": kills, "resumed": resumed, "corrupt": len(corrupt),
        "frames_monotonic": monotonic, "first_frames": rounds[0].get("frames", 0) if rounds else 0,
        "last_frames": final["frames"], "mid_save_kills": sum(r.get("mode") == "mid-save" for r in rounds),
        "checkpoints_seen": len(seen), "temp_folders_left_by_kills": len(temp_seen),
        "kills_after_new_checkpoints": sum(bool(r.get("new")) for r in rounds),
        "temp_folders_listed_as_checkpoints": sum("temporary folder is listed" in p for p in problems),
        "leftovers_after_final_save": final["leftovers"], "problems": problems,
        "seconds": round(time.monotonic() - t_start, 1),
        "settings": {"task": "Catch (eac3_tf.toy) through eac3_tf.train.train", "workers": workers,
                     "envs_per_worker": envs, "checkpoint_every_frames": checkpoint_every, "keep": keep,
                     "window_s": window, "seed": seed},
        "rounds": rounds, "final": final,
    }
    tally["ok"] = (not problems and len(rounds) == kills and resumed == kills)
    tally["line"] = (f"{resumed}/{kills} resumed, {len(corrupt)} corrupt, frames "
                     f"{'monotonic' if monotonic else 'NOT monotonic'} ({tally['first_frames']:,} -> "
                     f"{final['frames']:,}), {tally['mid_save_kills']} kills mid-save, {len(temp_seen)} temp folders "
                     f"left by kills, {tally['temp_folders_listed_as_checkpoints'] or 'none'} taken for a checkpoint")
    log(tally["line"] + ("" if tally["ok"] else f"; FAILED: {problems}"))
    return tally


def _resumed_as_expected(line: str | None, expected: str | None) -> bool:
    if line is None:
        return False
    m = RESUMED.search(line)
    if expected is None:
        return m is None and SCRATCH in line
    return m is not None and Path(m.group(1)).resolve() == Path(expected).resolve()


def _final_resume(logdir: Path, expected: str | None, last_frames: int, every: int, workers: int, envs: int,
                  keep: int, seed: int, seen: dict, log) -> dict:
    """A last child resumes and trains two more checkpoint intervals to the end; it must exit 0 and tidy up."""
    target = last_frames + 2 * every
    child = Child(logdir, target, every, workers, envs, keep, seed)
    try:
        code = child.wait(timeout=START_TIMEOUT + 120)
    except subprocess.TimeoutExpired:
        child.kill()
        code = None
    line = child.resume_line()
    checks = check_after_kill(logdir, seen, last_frames)
    problems = list(checks["problems"])
    resumed = _resumed_as_expected(line, expected)
    if not resumed:
        problems.append(f"resumed from the wrong place: {line!r}, expected {expected}")
    if code != 0:
        problems.append(f"exit code {code}: {child.err[-3:]}")
    if checks["frames"] < target:
        problems.append(f"stopped at {checks['frames']} frames, below its budget {target}")
    if checks["leftovers"]:
        problems.append(f"temporary folders left after a clean save: {checks['leftovers']}")
    log(f"final resume: from {Path(expected).name if expected else 'scratch'}: {'ok' if resumed else 'NO'}; ran to "
        f"{checks['frames']:,} frames, exit {code}; {len(checks['listed'])} checkpoints on disk, leftover temp "
        f"folders {len(checks['leftovers'])}" + (f"; PROBLEMS: {problems}" if problems else ""))
    return {"resumed": resumed, "resume_line": line, "exit_code": code, "frames": checks["frames"],
            "leftovers": checks["leftovers"], "corrupt": checks["corrupt"], "problems": problems}


# ------------------------------------------------------------------------------------------ reports
def markdown(tally: dict, command: str) -> str:
    s = tally["settings"]
    lines = ["# kill -9 crash consistency", "",
             f"`{command}`: {s['task']}, {s['workers']} workers x {s['envs_per_worker']} envs, a checkpoint every "
             f"{s['checkpoint_every_frames']:,} frames, newest {s['keep']} kept; each round lets the trainer resume "
             f"and complete 0..2 new checkpoints (round 1: 1..2), then SIGKILLs it a uniform random "
             f"0..{s['window_s']:g} s later (even rounds: then at the next checkpoint save or removal in flight), "
             "and the next round resumes. "
             f"{tally['seconds']:.0f} s in all.", "",
             f"**{tally['line']}**", "",
             "| kill | moment | s after start | resumed from | newest after kill | frames | new checkpoints | "
             "on disk | leftover temp folders | all checks |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in tally["rounds"]:
        lines.append(f"| {r['kill']} | {r.get('mode', '-')} | {r.get('seconds_after_ready', 0):.2f} | "
                     f"{Path(r['expected_resume']).name if r.get('expected_resume') else 'scratch'}"
                     f"{'' if r.get('resumed') else ' (NO)'} | {r.get('newest') or '-'} | "
                     f"{r.get('frames', 0):,} | {len(r.get('new', []))} | {len(r.get('listed', []))} | "
                     f"{len(r.get('leftovers', []))} | "
                     f"{'ok' if not r.get('problems') else '; '.join(r['problems'])} |")
    f = tally["final"]
    lines += ["", f"Final resume: exit code {f['exit_code']}, ran to {f['frames']:,} frames, temp folders left "
              f"{len(f['leftovers'])}{'' if not f['problems'] else ', problems: ' + '; '.join(f['problems'])}.", ""]
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    from eac3_tf.cli import ArgumentParser

    p = ArgumentParser(prog="kill9.py", description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs (each followed by a resume)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments and of training")
    p.add_argument("--window", type=float, default=4.0, help="kill within this many s after TensorFlow is loaded")
    p.add_argument("--checkpoint_every", type=int, default=400, help="frames between checkpoints")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--envs", type=int, default=8, help="Catch games per worker")
    p.add_argument("--keep", type=int, default=3, help="newest checkpoints kept")
    p.add_argument("--logdir", default=None, help="run folder (default: a new temporary folder, removed after)")
    p.add_argument("--out", default=None, help="write the tally to OUT.json and OUT.md")
    p.add_argument("--frames", type=int, default=10**12, help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--log_every", type=float, default=3600.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("kills", "checkpoint_every", "workers", "envs", "keep", "frames"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if not 0 < args.window <= 600:
        p.error(f"--window must be in (0, 600] seconds, got {args.window}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    from eac3_tf.cli import check_output_folder

    out = Path(args.out) if args.out else None
    if out is not None:
        check_output_folder(out.parent, "--out")
    if args.logdir and checkpoint.list_checkpoints(args.logdir):
        from eac3_tf.cli import UsageError

        raise UsageError(f"--logdir {args.logdir} already has checkpoints; give a new folder")
    command = "python tools/kill9.py " + " ".join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="kill9_") as tmp:
        logdir = Path(args.logdir) if args.logdir else Path(tmp) / "run"
        tally = run_kill_loop(logdir, args.kills, args.seed, args.window, args.checkpoint_every, args.workers,
                              args.envs, args.keep)
    tally["command"] = command
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(f"{out}.json"), tally)
        write_text(Path(f"{out}.md"), markdown(tally, command))
        print(f"wrote {out}.json and {out}.md")
    return 0 if tally["ok"] else 1


if __name__ == "__main__":
    from eac3_tf import cli

    cli.run(main, "kill9.py")
