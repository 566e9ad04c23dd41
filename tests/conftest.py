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


def pixel_net(shape, weights: dict, value_weight: float = 0.0):
    """frames -> /255 -> flatten -> logits (2): logit_0 = sum of weights[(row, col)] * pixel / 255, logit_1 = 0.

    A hand-set network whose saliency is known: only the weighted pixels move the policy.
    """
    import keras
    import numpy as np

    inputs = keras.Input(shape, name="frames")
    x = keras.layers.Flatten(name="flatten")(keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs))
    logits = keras.layers.Dense(2, name="logits")(x)
    value = keras.layers.Dense(1, name="value")(x)
    model = keras.Model(inputs, [logits, value])
    w = np.zeros((*shape, 2), np.float32)
    for (r, c), v in weights.items():
        w[r, c, :, 0] = v
    size = int(np.prod(shape))
    model.get_layer("logits").set_weights([w.reshape(size, 2), np.zeros(2, np.float32)])
    model.get_layer("value").set_weights([np.full((size, 1), value_weight, np.float32), np.zeros(1, np.float32)])
    return model


def sigmoid(z: float) -> float:
    import numpy as np

    return float(1.0 / (1.0 + np.exp(-z)))
