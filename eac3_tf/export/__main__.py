"""`python -m eac3_tf.export`: flags, one call to `export`, and parity failures as one line (exit 1)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from eac3_tf.cli import UsageError
from eac3_tf.export import DEFAULT_PARITY_FRAMES, DEFAULT_TOLERANCE, ParityError, export


def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("checkpoint", None, "Run logdir, ckpt-* folder or its model.keras.")
    flags.DEFINE_string("out", None, "Export folder to create (e.g. exported/pong).")
    flags.DEFINE_bool("force", False, "Replace an existing export in --out.")
    flags.DEFINE_integer("parity_frames", DEFAULT_PARITY_FRAMES, "Real frames of the game parity is checked on.")
    flags.DEFINE_string("eval", None, "An eac3_tf.evaluate JSON report of this checkpoint: its score goes on the card.")
    flags.DEFINE_float("tolerance", DEFAULT_TOLERANCE, "Max |delta| allowed on logits and Grad-CAM maps.")
    flags.DEFINE_integer("seed", 0, "Seed of the emulators and actions that record the parity frames.")


def main() -> int:
    """Entry point after flag parsing."""
    from absl import flags

    f = flags.FLAGS
    if not f.checkpoint:
        raise UsageError("--checkpoint is required: a run logdir, a ckpt-* folder or its model.keras")
    if not f.out:
        raise UsageError("--out is required: the export folder to create, e.g. exported/pong")
    if f.parity_frames > 100_000:
        raise UsageError(f"--parity_frames must be at most 100000, got {f.parity_frames}")
    if f.eval and not Path(f.eval).is_file():
        raise UsageError(f"--eval {f.eval} does not exist; give an eac3_tf.evaluate --output JSON")
    command = "python -m eac3_tf.export " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        export(f.checkpoint, f.out, parity_frames=f.parity_frames, eval_path=f.eval, force=f.force,
               tolerance=f.tolerance, seed=f.seed, command=command)
    except ParityError as exc:
        print(f"export: error: parity failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    from eac3_tf import cli

    cli.run(main, _define_flags)
