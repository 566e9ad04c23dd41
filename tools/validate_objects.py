"""Score the object boxes of both sources (OCAtari's RAM reading, the colour tables) against their pixels.

    python tools/validate_objects.py [--games pong,qbert] [--steps 300] [--seed 0] \
        [--out results/explain/objects_validation]

Each game plays `--steps` uniformly random agent steps (EnvConfig defaults) with its RAM kept; every class
of each source is scored on the screens (`eac3_tf.explain.objects_validation`). Needs OCAtari (the
`objects` extra, then ocatari itself without its dependencies). Writes OUT.json and OUT.md and prints the
Markdown.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eac3_tf.cli import ArgumentParser, UsageError, check_output_folder, import_tensorflow_quietly, run  # noqa: E402
from eac3_tf.io import write_report  # noqa: E402


def main(argv: list[str] | None = None) -> int | None:
    from eac3_tf.explain import objects
    from eac3_tf.explain.objects_validation import GAMES, ValidationConfig, markdown, validate

    p = ArgumentParser(prog="validate_objects.py", description=__doc__.split("\n")[0])
    p.add_argument("--games", default=",".join(GAMES), help=f"comma-separated games (default: {','.join(GAMES)})")
    p.add_argument("--steps", type=int, default=300, help="random agent steps per game (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/explain/objects_validation", help="writes OUT.json and OUT.md")
    args = p.parse_args(argv)
    from eac3_tf.envs import game_id

    try:  # any spelling of a game, as every command takes it ("Pong", "pong", "ALE/Pong-v5")
        config = ValidationConfig(games=tuple(game_id(g) for g in args.games.split(",") if g), steps=args.steps,
                                  seed=args.seed)
    except ValueError as e:
        raise UsageError(f"--games: {e}") from None
    if not objects.ocatari_available():
        raise UsageError(f"OCAtari is not installed; install it with: {objects.INSTALL}")
    out = Path(args.out)
    check_output_folder(str(out.parent), "--out")
    import_tensorflow_quietly()
    from tqdm import tqdm

    t0 = time.time()
    result = validate(config, progress=tqdm)
    command = "python tools/validate_objects.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = markdown(result, command)
    wrote = write_report(out, {"command": command, **result}, text, t0)
    print(text)
    print(wrote)


if __name__ == "__main__":
    run(main, "validate_objects.py")
