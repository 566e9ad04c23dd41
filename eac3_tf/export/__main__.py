"""`python -m eac3_tf.export`: flags, one call to `export`, and parity failures as one line (exit 1)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from eac3_tf import cli
from eac3_tf.cli import ArgumentParser, UsageError
from eac3_tf.export import DEFAULT_PARITY_FRAMES, DEFAULT_TOLERANCE, ParityError, export


def parser() -> ArgumentParser:
    """The flags of `python -m eac3_tf.export`."""
    p = ArgumentParser("export", "Export a checkpoint's policy to ONNX and LiteRT, proven against Keras on real "
                                 "frames, with its card.")
    p.add_argument("--checkpoint", help="Run logdir, ckpt-* folder or its model.keras.")
    p.add_argument("--out", help="Export folder to create (e.g. exported/pong).")
    p.add_switch("force", help="Replace an existing export in --out.")
    p.add_argument("--parity_frames", type=int, default=DEFAULT_PARITY_FRAMES,
                   help="Real frames of the game parity is checked on.")
    p.add_argument("--eval", help="An eac3_tf.evaluate JSON report of this checkpoint: its score goes on the card.")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help="Max |delta| allowed on logits and Grad-CAM maps.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the emulators and actions that record the parity "
                                                       "frames.")
    return p


def main(argv: list[str] | None = None) -> int:
    """Export as the flags say; a parity failure is one line and exit 1 (nothing written)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    f = parser().parse_args(argv)
    if not f.checkpoint:
        raise UsageError("--checkpoint is required: a run logdir, a ckpt-* folder or its model.keras")
    if not f.out:
        raise UsageError("--out is required: the export folder to create, e.g. exported/pong")
    if f.eval and not Path(f.eval).is_file():
        raise UsageError(f"--eval {f.eval} does not exist; give an eac3_tf.evaluate --output JSON")
    command = "python -m eac3_tf.export " + shlex.join(argv)
    try:
        export(f.checkpoint, f.out, parity_frames=f.parity_frames, eval_path=f.eval, force=f.force,
               tolerance=f.tolerance, seed=f.seed, command=command)
    except ParityError as exc:
        print(f"export: error: parity failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    cli.run(main, "export")
