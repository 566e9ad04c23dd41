import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def run_cli(module: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `python -m module args...` as a user would, from the repo root."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def trained_toy_run(tmp_path_factory):
    """One short Catch run through `eac3_tf.train.train`, stopped and resumed twice, shared by checkpoint tests.

    Periodic checkpoints are taken when the trainer sees the frame count cross a boundary, and the toy
    trains thousands of frames between two looks; stopping at 2000 and 3000 frames makes the three
    checkpoints (2000, 3000, 4000 frames) certain.
    """
    from eac3_tf.config import A3CConfig, RunConfig
    from eac3_tf.model import build_model
    from eac3_tf.toy import CatchBatchEnv, toy_model_config
    from eac3_tf.train import train

    logdir = tmp_path_factory.mktemp("toy_run")
    cfg = toy_model_config()
    for frames in (2000, 3000, 4000):
        run = RunConfig(frames=frames, workers=2, logdir=str(logdir), seed=0, checkpoint_every=1000,
                        keep_checkpoints=3, log_every=60)
        result = train(lambda i: CatchBatchEnv(8), lambda: build_model((10, 5, 1), 3, cfg),
                       A3CConfig(envs_per_worker=8), run, {"game": "catch", "preset": "toy"},
                       resume=frames > 2000, log=lambda s: None)
    return logdir, result
