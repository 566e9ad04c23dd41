"""The first minutes with eac3_tf: watch an agent learn, then see why the strongest shipped agent acts.

    python tools/quickstart.py [--out runs/quickstart] [--force]

1. Trains Catch (a 10x5 visual game a random policy loses, optimum +1) with the very threaded A3C that trains
   Atari, printing progress, and draws its learning curve: `catch/curve.png` and `curve.csv`.
2. Plays one game of Pong with the shipped export (`exported/pong`) through the TensorFlow-free player and
   writes its Grad-CAM as a GIF: `pong_gradcam.gif`.
3. Writes the offline explainer page of that agent's checkpoint: `pong_explained.html`.
Every step is a command of its own (`eac3_tf.toy.train_catch`, `python -m eac3_tf.player`,
`python tools/explain_html.py`); this tool runs them in order and prints what it wrote.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eac3_tf.cli import ArgumentParser, UsageError, run  # noqa: E402
from eac3_tf.curve_files import draw_curve, read_episodes, write_curve  # noqa: E402

EXPORT = ROOT / "exported" / "pong"
WRITES = ("catch", "pong_gradcam.gif", "pong_explained.html")


def learn_catch(out: Path) -> tuple[float, float]:
    """Train Catch in `out`; write its curve; return the mean return of the first and of the last 100 games."""
    from eac3_tf.toy import train_catch

    train_catch(str(out), log=print, log_every=5.0)
    episodes = read_episodes(out)
    curve = write_curve(out / "curve.csv", episodes, points=len(episodes))
    draw_curve(out / "curve.png", episodes, curve, "Catch, threaded A3C on 2 workers", "this run",
               optimum=(1.0, "optimal (+1)"), unit=1e3)
    return float(episodes[:100, 2].mean()), float(curve[-1])


def run_step(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    if subprocess.run([sys.executable, *cmd], cwd=ROOT).returncode != 0:
        raise SystemExit(f"quickstart stopped: {' '.join(cmd[:3])} failed")


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="quickstart.py", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/quickstart", help="folder for everything this writes")
    p.add_argument("--force", action="store_true", help="replace what an earlier quickstart wrote in --out")
    args = p.parse_args(argv)
    out = Path(args.out).resolve()
    if not (EXPORT / "policy_cam.onnx").is_file():
        raise UsageError(f"{EXPORT} has no policy_cam.onnx: run from a checkout of eac3_tf, which ships it")
    there = [name for name in WRITES if (out / name).exists()]
    if there and not args.force:
        raise UsageError(f"--out {out} already holds {', '.join(there)}; --force replaces them")
    for name in there:
        shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
    t0 = time.time()
    print("1/3 training Catch with the threaded A3C that trains Atari", flush=True)
    first, last = learn_catch(out / "catch")
    print(f"Catch: mean return of the first 100 games {first:+.2f}, of the last 100 {last:+.2f} (optimal +1.00)")
    card_checkpoint = json.loads((EXPORT / "card.json").read_text())["checkpoint"]["path"]
    print("2/3 Pong played by the shipped agent, with its Grad-CAM (no TensorFlow in this step)", flush=True)
    run_step(["-m", "eac3_tf.player", "--model", str(EXPORT / "policy.onnx"), "--episodes", "1", "--greedy",
              "--cam", str(out / "pong_gradcam.gif"), "--gif_frames", "300"])
    print("3/3 the explainer page of the same agent", flush=True)
    run_step(["tools/explain_html.py", "--checkpoint", card_checkpoint, "--game", "Pong", "--frames", "60",
              "--out", str(out / "pong_explained")])
    print(f"done in {time.time() - t0:.0f} s; open these:")
    for path in (out / "catch" / "curve.png", out / "pong_gradcam.gif", out / "pong_explained.html"):
        print(f"  {path}")


if __name__ == "__main__":
    run(main, "quickstart.py")
