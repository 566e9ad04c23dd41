"""How long the learning tests' Catch run takes, on threads and on Ray; the tests assert the score, never the time.

Usage: python bench/catch_learning.py [--backends threads ray] [--frames 100000]
The settings of tests/test_learning.py and tests/test_ray_backend.py (seed 0, 2 workers x 16 envs, step size 2e-3).
Prints, per backend, the wall-clock seconds of `train` (on Ray: the local cluster's and the actors' start-up
included), the frames trained and the trained agent's mean score over 320 games (the tests ask >= 0.9).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eac3_tf.cli import ArgumentParser, run  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a one-machine cluster on loopback


def mean_score(model, episodes: int = 320, seed: int = 1) -> float:
    import numpy as np
    import tensorflow as tf

    from eac3_tf.policy import sample_actions
    from eac3_tf.rollout import play_episodes
    from eac3_tf.toy import CatchBatchEnv

    forward = tf.function(lambda x: model(tf.cast(x, tf.float32))[0])
    rng = np.random.default_rng(seed)
    return float(np.mean([s for s, _ in play_episodes(lambda obs: sample_actions(forward(obs).numpy(), rng),
                                                      CatchBatchEnv(16), episodes, seed)]))


def measure(backend: str, frames: int) -> str:
    from eac3_tf import checkpoint
    from eac3_tf.toy import train_catch

    t0 = time.perf_counter()
    result = train_catch(tempfile.mkdtemp(prefix=f"catch_{backend}_"), seed=0, frames=frames, log=lambda s: None,
                         backend=backend)
    seconds = time.perf_counter() - t0
    score = mean_score(checkpoint.load(result.checkpoint).model)
    return f"{backend}: {seconds:.1f} s for {result.frames} frames, mean score {score:.3f} over 320 games"


def main(argv: list[str] | None = None) -> int | None:
    parser = ArgumentParser(prog="catch_learning.py", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=("threads", "ray"), default=["threads", "ray"])
    parser.add_argument("--frames", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(f"catch learning on {os.cpu_count()} CPUs")
    for backend in args.backends:
        print(measure(backend, args.frames), flush=True)


if __name__ == "__main__":
    run(main, "catch_learning.py")
