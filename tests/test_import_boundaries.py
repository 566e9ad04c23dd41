"""What each part of the package must never load: one table, each row checked in a fresh interpreter.

The package, its configs, preprocessing, envs and the edge player run where TensorFlow is not installed (the
player's virtual environment has numpy, onnxruntime and ale-py only), so importing them must not load TensorFlow
or Keras; the player must not need absl, gymnasium or matplotlib either. Ray is the Ray backend's alone: training
on threads never loads it. A row is Python code and the top-level modules that must be absent from `sys.modules`
after it ran.
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

NO_TENSORFLOW = ("tensorflow", "keras")
TRAIN_ON_THREADS = (
    "from eac3_tf.config import A3CConfig, RunConfig\n"
    "from eac3_tf.model import build_model\n"
    "from eac3_tf.toy import CatchBatchEnv, toy_model_config\n"
    "from eac3_tf.train import train\n"
    "train(lambda i: CatchBatchEnv(4), lambda: build_model((10, 5, 1), 3, toy_model_config()),\n"
    "      A3CConfig(envs_per_worker=4), RunConfig(frames=400, workers=1, logdir=sys.argv[1], log_every=60),\n"
    "      {'game': 'catch', 'preset': 'toy'}, log=lambda s: None)\n")

BOUNDARIES = [  # (what runs, what it must never load)
    ("import eac3_tf", NO_TENSORFLOW),
    ("import eac3_tf.config", NO_TENSORFLOW),
    ("import eac3_tf.preprocess", NO_TENSORFLOW),
    ("import eac3_tf.envs", NO_TENSORFLOW),
    ("import eac3_tf.toy", NO_TENSORFLOW),
    ("import eac3_tf.policy", NO_TENSORFLOW),
    ("import eac3_tf.card", NO_TENSORFLOW),
    ("import eac3_tf.io", NO_TENSORFLOW),
    ("import eac3_tf.curves", NO_TENSORFLOW),
    ("import eac3_tf.cli", (*NO_TENSORFLOW, "absl")),
    ("import eac3_tf.errors", NO_TENSORFLOW),
    ("import eac3_tf.curve_files", NO_TENSORFLOW),
    ("import eac3_tf.agent", NO_TENSORFLOW),
    ("import eac3_tf.rollout", NO_TENSORFLOW),
    ("import eac3_tf.export", NO_TENSORFLOW),
    ("import eac3_tf.explain", NO_TENSORFLOW),
    ("import eac3_tf.explain.overlay", NO_TENSORFLOW),
    ("import eac3_tf.explain.page", NO_TENSORFLOW),
    ("import eac3_tf.explain.counterfactual", NO_TENSORFLOW),
    ("import eac3_tf.explain.recording", NO_TENSORFLOW),
    ("import eac3_tf.explain.colours", NO_TENSORFLOW),
    ("import eac3_tf.explain.measures", NO_TENSORFLOW),
    ("import eac3_tf.explain.faithfulness_report", NO_TENSORFLOW),
    ("import eac3_tf.explain.faithfulness_markdown", NO_TENSORFLOW),
    ("import eac3_tf.explain.agents", NO_TENSORFLOW),
    ("import eac3_tf.explain.figures", NO_TENSORFLOW),
    ("import eac3_tf.explain.frames", NO_TENSORFLOW),
    ("import eac3_tf.explain.columns", NO_TENSORFLOW),
    ("import eac3_tf.explain.browser", NO_TENSORFLOW),
    ("import eac3_tf.evaluate", NO_TENSORFLOW),
    ("import eac3_tf.reliability", NO_TENSORFLOW),
    ("import eac3_tf.reliability_report", NO_TENSORFLOW),
    ("import eac3_tf.soak", (*NO_TENSORFLOW, "matplotlib")),
    ("import eac3_tf.suite", NO_TENSORFLOW),
    ("import eac3_tf.train", (*NO_TENSORFLOW, "absl")),
    ("import eac3_tf.player", (*NO_TENSORFLOW, "absl", "gymnasium", "matplotlib")),
    ("import eac3_tf.train", ("ray",)),  # and no TensorFlow until it trains (the row above)
    (TRAIN_ON_THREADS, ("ray",)),
]


def loaded_after(code: str, workdir) -> set[str]:
    """The top-level names in `sys.modules` after `code` ran in a fresh interpreter (`sys.argv[1]` is `workdir`)."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}})))\n"
    out = subprocess.run([sys.executable, "-c", script, str(workdir)], cwd=ROOT, capture_output=True, text=True,
                         timeout=240, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("code, never", BOUNDARIES,
                         ids=[c if c.startswith("import") else "training on threads" for c, _ in BOUNDARIES])
def test_this_code_never_loads_these_modules(code, never, tmp_path):
    loaded = loaded_after(code, tmp_path)
    assert "eac3_tf" in loaded  # the code did import the package: an empty check proves nothing
    assert loaded.isdisjoint(never), sorted(loaded & set(never))


def test_the_check_sees_what_the_code_loaded(tmp_path):
    # the control for the table: preprocessing needs numpy, so the listing taken after the code ran names it
    assert {"eac3_tf", "numpy"} <= loaded_after("import eac3_tf.preprocess", tmp_path)
