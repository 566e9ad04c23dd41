"""Crash consistency under kill -9: a Catch training run SIGKILLed at random moments, resumed, every checkpoint checked.

`run_kill_loop` is the experiment `tools/kill9.py` runs (its docstring documents the method). The child it kills is
`python -m eac3_tf.reliability`, which trains Catch through `eac3_tf.train.train`, the very code that trains Atari,
and resumes from the newest valid checkpoint of its logdir. The children are the only processes started here,
each killed and reaped by its own pid; the checks after a kill (`check_after_kill`) only read files, and the
tally and its page are `eac3_tf.reliability_report`. Importing this module loads no TensorFlow: a child loads
it, and so does loading a checkpoint.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from eac3_tf import checkpoint
from eac3_tf.reliability_report import round_line, summarize

READY = "kill9-child: ready"
RESUMED = re.compile(r"resumed from (\S+) at ")
SCRATCH = "starting from scratch"
START_TIMEOUT = 180.0  # s for a child to import TensorFlow on a busy machine
SAVE_WAIT = 120.0  # s a mid-save round waits for a save to start before it kills anyway
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ the child
def child_main(argv: Sequence[str] | None = None) -> int:
    """Train Catch in `--logdir`, resuming from its newest valid checkpoint (what the kill loop kills)."""
    from eac3_tf.cli import ArgumentParser, import_tensorflow_quietly

    p = ArgumentParser(prog="eac3_tf.reliability", description="the training child of the kill -9 loop")
    p.add_argument("--logdir", required=True)
    for name, default in (("frames", 10**12), ("checkpoint_every", 400), ("workers", 2), ("envs", 8), ("keep", 3),
                          ("seed", 0)):
        p.add_argument(f"--{name}", type=int, default=default)
    p.add_argument("--log_every", type=float, default=3600.0)
    args = p.parse_args(argv)
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
        cmd = [sys.executable, "-m", "eac3_tf.reliability", "--logdir", str(logdir), "--frames", str(frames),
               "--checkpoint_every", str(checkpoint_every), "--workers", str(workers), "--envs", str(envs),
               "--keep", str(keep), "--seed", str(seed)]
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
        """Wait for the child to end by itself; its exit code."""
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=10)
        return code


# ------------------------------------------------------------------------------------------ the checks
def folder_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file in a checkpoint folder, by name."""
    return {p.name: checkpoint.sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}


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


def resumed_as_expected(line: str | None, expected: str | None) -> bool:
    """Whether a child's resume line names `expected` (a checkpoint path), or says "from scratch" when it is None."""
    if line is None:
        return False
    m = RESUMED.search(line)
    if expected is None:
        return m is None and SCRATCH in line
    return m is not None and Path(m.group(1)).resolve() == Path(expected).resolve()


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
                  workers: int = 2, envs: int = 8, keep: int = 3, log: Callable[[str], None] = print) -> dict:
    """Kill and resume a Catch training run `kills` times in `logdir`; return the tally (its "ok" says it all)."""
    try:
        return _kill_loop(Path(logdir), kills, seed, window, checkpoint_every, workers, envs, keep, log)
    finally:  # interrupted (Ctrl-C, a test timeout): end the children started here, by their own pids
        for child in Child.started:
            if child.proc.poll() is None:
                child.kill()
        Child.started.clear()


def _kill_loop(logdir: Path, kills: int, seed: int, window: float, checkpoint_every: int, workers: int, envs: int,
               keep: int, log: Callable[[str], None]) -> dict:
    rng = random.Random(seed)
    seen: dict[str, dict[str, str]] = {}
    rounds: list[dict] = []
    last_frames, expected = 0, None  # expected: the checkpoint the next child must resume from (None: scratch)
    t_start = time.monotonic()
    for k in range(1, kills + 1):
        child = Child(logdir, 10**12, checkpoint_every, workers, envs, keep, seed)  # never finishes on its own
        rec = _kill_round(child, k, logdir, rng, window, seen, last_frames, expected)
        rounds.append(rec)
        if "frames" not in rec:  # the child did not start
            log(f"kill {k:2d}/{kills}: FAILED, the child did not start: {' | '.join(child.err[-3:])}")
            break
        log(round_line(rec, kills, len(seen)))
        last_frames = max(last_frames, rec["frames"])
        expected = str(logdir / checkpoint.CKPT_DIR / rec["newest"]) if rec["newest"] else None
    final = _final_resume(logdir, expected, last_frames, checkpoint_every, workers, envs, keep, seed, seen, log)
    settings = {"task": "Catch (eac3_tf.toy) through eac3_tf.train.train", "workers": workers,
                "envs_per_worker": envs, "checkpoint_every_frames": checkpoint_every, "keep": keep,
                "window_s": window, "seed": seed}
    tally = summarize(rounds, final, kills, len(seen), settings, round(time.monotonic() - t_start, 1))
    log(tally["line"] + ("" if tally["ok"] else f"; FAILED: {tally['problems']}"))
    return tally


def _kill_round(child: Child, k: int, logdir: Path, rng: random.Random, window: float, seen: dict,
                last_frames: int, expected: str | None) -> dict:
    """One round: wait for the child, let it save 0..2 times, SIGKILL it at a random moment, check the folder."""
    rec: dict = {"kill": k}
    if not child.ready.wait(START_TIMEOUT) or child.t_ready is None:
        child.kill()
        rec.update(problems=[f"the child did not start: {' | '.join(child.err[-3:])}"], resumed=False)
        return rec
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
    rec.update(mode=mode, delay_s=round(delay, 3), seconds_after_ready=round(alive_for, 3), resume_line=line,
               expected_resume=expected)
    rec["resumed"] = resumed_as_expected(line, expected)
    checks = check_after_kill(logdir, seen, last_frames)
    problems = list(checks.pop("problems"))
    if exited_early:
        problems.append(f"the child exited by itself (code {child.proc.returncode}): {child.err[-3:]}")
    if not rec["resumed"]:
        problems.append(f"resumed from the wrong place: {line!r}, expected {expected}")
    rec.update(checks, problems=problems, frames_before=last_frames)
    return rec


def _final_resume(logdir: Path, expected: str | None, last_frames: int, every: int, workers: int, envs: int,
                  keep: int, seed: int, seen: dict, log: Callable[[str], None]) -> dict:
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
    resumed = resumed_as_expected(line, expected)
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


if __name__ == "__main__":
    from eac3_tf import cli

    cli.run(child_main, "eac3_tf.reliability")
