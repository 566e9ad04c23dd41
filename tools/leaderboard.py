"""Every saliency method on every agent, in one table: faithfulness, localisation, object removal and cost.

    python tools/leaderboard.py --checkpoint results/pong/checkpoint/ckpt-000088171040 \
        --checkpoint results/qbert/checkpoint [--frames 200] [--methods gradcam,perturbation] \
        [--out results/explain/leaderboard]

Each checkpoint plays `--frames` agent steps (sampled actions, seed `--seed`) in its own env settings (its
RAM kept for OCAtari's object boxes when the `objects` extra is installed, resets without no-op frames); every
method of `eac3_tf.explain.METHODS`, and random maps, is measured on those frames
(`eac3_tf.explain.leaderboard`). Writes OUT.json and OUT.md and prints the Markdown.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eac3_tf.agent import agent_spec  # noqa: E402
from eac3_tf.cli import ArgumentParser, UsageError, check_output_folder, import_tensorflow_quietly, run  # noqa: E402
from eac3_tf.io import write_report  # noqa: E402


def main(argv: list[str] | None = None) -> int | None:
    p = ArgumentParser(prog="leaderboard.py", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", action="append", required=True, help="a run folder or ckpt-* folder; repeat")
    p.add_argument("--frames", type=int, default=500, help="agent steps recorded per checkpoint (default 500)")
    p.add_argument("--methods", default="", help="comma-separated methods (default: all)")
    p.add_argument("--cascade_frames", type=int, default=16, help="frames of the randomisation check (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/explain/leaderboard", help="writes OUT.json and OUT.md")
    args = p.parse_args(argv)
    if not 32 <= args.frames <= 5000 or not 2 <= args.cascade_frames <= args.frames:
        raise UsageError(f"--frames must be 32..5000 and --cascade_frames 2..--frames, got {args.frames}, "
                         f"{args.cascade_frames}")
    agents = [agent_spec(c) for c in args.checkpoint]  # every checkpoint checked before TensorFlow loads
    out = Path(args.out)
    check_output_folder(str(out.parent), "--out")
    import_tensorflow_quietly()
    from tqdm import tqdm

    from eac3_tf import checkpoint
    from eac3_tf.explain import METHODS, objects, perturbation
    from eac3_tf.explain.leaderboard import board, markdown
    from eac3_tf.explain.recording import record

    methods = tuple(m for m in args.methods.split(",") if m) or METHODS
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise UsageError(f"unknown --methods {', '.join(unknown)}; accepted: {', '.join(METHODS)}")
    boards, t0 = [], time.time()
    for agent in agents:
        model = checkpoint.load(agent.path, with_optimizer=False).model
        rec = record(lambda x, model=model: perturbation.policy_logits(model, x), agent, args.frames, args.seed,
                     progress=tqdm, with_ram=objects.ocatari_available())
        boards.append(board(model, agent, rec, methods, args.seed, args.cascade_frames))
    command = "python tools/leaderboard.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = markdown(boards, command)
    wrote = write_report(out, {"command": command, "boards": boards}, text, t0)
    print(text)
    print(wrote)


if __name__ == "__main__":
    run(main, "leaderboard.py")
