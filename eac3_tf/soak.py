"""Memory soak: a training process's resident memory, threads and speed sampled over a long run, then its SIGINT exit.

`tools/soak.py` launches or attaches to the trainer; `watch` samples it and stops it, and the rest are plain
functions of the samples: the growth after warm-up, the summary, its CSV and its figure. The process is read from
/proc and signalled by the pid it was given, nothing else. TensorFlow-free (matplotlib loads to draw).
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from eac3_tf.checkpoint import list_checkpoints
from eac3_tf.errors import Eac3Error
from eac3_tf.io import write_with


def proc_status(pid: int) -> dict[str, int] | None:
    """VmRSS (KiB) and Threads of a live process, from /proc; None once it has exited."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    if fields.get("State", "").strip().startswith("Z"):
        return None
    return {"rss_kib": int(fields["VmRSS"].split()[0]), "threads": int(fields["Threads"])}


def latest_progress(logdir: Path) -> tuple[int, float]:
    """Frames and frames/s from the last line of the trainer's progress.csv (0, 0 before the first)."""
    path = logdir / "progress.csv"
    if not path.is_file():
        return 0, 0.0
    rows = path.read_text().strip().splitlines()
    if len(rows) < 2:
        return 0, 0.0
    last = next(csv.DictReader([rows[0], rows[-1]]))
    return int(float(last["frames"])), float(last["frames_per_sec"])


def rss_growth(samples: list[dict], warmup_s: float) -> float:
    """Relative growth of RSS from the first sample after warm-up to the largest sample after it."""
    after = [s["rss_mib"] for s in samples if s["seconds"] >= warmup_s]
    if len(after) < 2:
        raise Eac3Error(f"no samples after the {warmup_s:.0f} s warm-up; soak longer")
    return max(after) / after[0] - 1.0


def is_alive(pid: int, child: subprocess.Popen | None) -> bool:
    """True while the trainer runs (reaps our own child so it does not linger as a zombie)."""
    if child is not None:
        return child.poll() is None
    return proc_status(pid) is not None


def watch(pid: int, child: subprocess.Popen | None, logdir: Path, minutes: float, interval: float,
          exit_timeout: float, log: Callable[[str], None] = print) -> tuple[list[dict], dict]:
    """Sample the trainer every `interval` s for `minutes`, then SIGINT it if it still runs and time its exit.

    Returns the samples and how the stop went: whether SIGINT was sent, the seconds to exit (None when it did
    not exit within `exit_timeout`) and the checkpoint it wrote on the way out (None when it wrote none).
    """
    samples: list[dict] = []
    start = time.monotonic()
    deadline = start + minutes * 60
    while time.monotonic() < deadline and is_alive(pid, child):
        status = proc_status(pid)
        if status is None:
            break
        frames, fps = latest_progress(logdir)
        samples.append({"seconds": round(time.monotonic() - start, 1), "rss_mib": round(status["rss_kib"] / 1024, 1),
                        "threads": status["threads"], "frames": frames, "frames_per_sec": round(fps, 1)})
        log(f"[soak] {samples[-1]['seconds']:7.0f} s  rss {samples[-1]['rss_mib']:8.1f} MiB  "
            f"threads {status['threads']:3d}  frames {frames / 1e6:8.3f}M  {fps:8.1f} frames/s")
        time.sleep(interval)

    ckpts_before = {p.name for p in list_checkpoints(logdir)}
    stopped_by_us = is_alive(pid, child)
    exit_seconds = None
    if stopped_by_us:
        os.kill(pid, signal.SIGINT)
        t0 = time.monotonic()
        while is_alive(pid, child) and time.monotonic() - t0 < exit_timeout:
            time.sleep(0.1)
        exit_seconds = round(time.monotonic() - t0, 2) if not is_alive(pid, child) else None
    ckpts_after = [p.name for p in list_checkpoints(logdir)]
    final_checkpoint = ckpts_after[-1] if ckpts_after and ckpts_after[-1] not in ckpts_before else None
    return samples, {"sigint_sent": stopped_by_us, "exit_seconds_after_sigint": exit_seconds,
                     "final_checkpoint_written_on_sigint": final_checkpoint}


def summarize(samples: list[dict], stop: dict, warmup_s: float, max_growth: float, attached: bool,
              logdir: Path) -> dict:
    """The soak's figures: memory at the end of warm-up and its growth after, speed, threads, and the stop."""
    after = [s for s in samples if s["seconds"] >= warmup_s]
    growth = rss_growth(samples, warmup_s)
    return {
        "minutes": round(samples[-1]["seconds"] / 60, 2), "samples": len(samples), "warmup_s": warmup_s,
        "rss_mib_at_warmup_end": after[0]["rss_mib"], "rss_mib_max_after_warmup": max(s["rss_mib"] for s in after),
        "rss_growth_after_warmup": round(growth, 4), "max_growth": max_growth,
        "frames_per_sec_median": sorted(s["frames_per_sec"] for s in samples)[len(samples) // 2],
        "threads_max": max(s["threads"] for s in samples),
        "frames_first": samples[0]["frames"], "frames_last": samples[-1]["frames"],
        **stop, "attached_to_running_trainer": attached, "logdir": str(logdir),
    }


def passed(samples: list[dict], stop: dict, warmup_s: float, max_growth: float) -> bool:
    """Memory grew no more than allowed after warm-up, and a trainer sent SIGINT exited with a final checkpoint."""
    finished = stop["exit_seconds_after_sigint"] is not None and stop["final_checkpoint_written_on_sigint"]
    return rss_growth(samples, warmup_s) <= max_growth and (not stop["sigint_sent"] or bool(finished))


def samples_csv(samples: list[dict]) -> str:
    """The samples as CSV text, one column per field of a sample."""
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(samples[0]))
    writer.writeheader()
    writer.writerows(samples)
    return table.getvalue()


def plot(samples: list[dict], path: Path, summary: dict) -> None:
    """RSS and frames/s against minutes, the end of warm-up marked, written to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s["seconds"] / 60 for s in samples]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(minutes, [s["rss_mib"] for s in samples], color="tab:blue")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MiB)", color="tab:blue")
    ax.axvline(summary["warmup_s"] / 60, color="grey", linestyle=":", label="end of warm-up")
    twin = ax.twinx()
    twin.plot(minutes, [s["frames_per_sec"] for s in samples], color="tab:orange")
    twin.set_ylabel("frames/s", color="tab:orange")
    ax.set_title(f"soak: RSS growth after warm-up {summary['rss_growth_after_warmup']:+.1%}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=100))
    plt.close(fig)
