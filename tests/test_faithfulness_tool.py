"""tools/gradcam_faithfulness.py on a game other than Pong: the game-independent checks run, the object
checks run from Qbert's colour table, and --skip_toy drops Catch.

The measures and the Markdown are tested where they live: tests/test_faithfulness_report.py and
tests/test_faithfulness_markdown.py.
"""

import dataclasses
import json
import os
import subprocess
import sys

from conftest import ROOT

from eac3_tf.config import PRESETS, EnvConfig


def test_a_qbert_agent_gets_deletion_insertion_randomisation_and_object_checks(tmp_path):
    import keras

    from eac3_tf import checkpoint
    from eac3_tf.model import build_model

    keras.utils.set_random_seed(0)
    meta = {"game": "qbert", "preset": "fast", "env": dataclasses.asdict(EnvConfig(game="qbert"))}
    ckpt = checkpoint.save(tmp_path / "qbert", build_model((80, 80, 4), 6, PRESETS["fast"]), [],
                           {"frames": 0, "meta": meta}, keep=1)
    out = tmp_path / "faith" / "qbert"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gradcam_faithfulness.py"), "--checkpoint", str(ckpt), "--frames", "6",
         "--cascade_frames", "2", "--skip_toy", "--out", str(out)],
        cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    assert set(report) == {"settings", "qbert"} and report["settings"]["game"] == "qbert"
    qbert = report["qbert"]
    assert qbert["frames"] == 6
    assert set(qbert["objects"]) == {"stack", "current"}
    assert set(qbert["objects_by_class"]) == {"agent", "coily", "gremlin"}
    for o in (*qbert["objects"].values(), *qbert["objects_by_class"].values()):
        assert o["area_share"]["n"] == 6 and set(o["gradcam"]) == {"mass", "ratio", "pointing", "pointing_tolerant"}
    assert set(qbert["deletion_insertion"]) == {"gradcam", "gradcam_conv1", "perturbation", "blur_change", "random",
                                                "fractions"}
    assert qbert["deletion_insertion"]["gradcam"]["deletion_auc"]["n"] + \
        qbert["deletion_insertion"]["gradcam"]["deletion_auc"]["undefined"] == 6
    assert qbert["randomization"]["gradcam"]["stages"][-1] == "conv1"
    removal = qbert["object_removal"]  # erasing each class and re-running the agent
    assert set(removal["by_class"]) == {"agent", "coily", "gremlin"}
    assert removal["pairs"] == sum(c["pairs"] for c in removal["by_class"].values())  # Qbert's intro shows none
    assert ("spearman_mass_vs_kl" in removal) == (removal["pairs"] >= 3)
    assert qbert["randomization"]["perturbation"]["frames"] == 2
    text = out.with_suffix(".md").read_text()
    assert "## Qbert: deletion / insertion AUC" in text and "Catch: not run." in text
    assert "## Qbert: map mass on agent, coily, gremlin" in text and "| current: coily | " in text
    assert ("## Qbert: object removal" in text) == (removal["pairs"] >= 3)
    assert "No object checks" not in text
    assert "## Catch" not in text
    assert "\nQbert: " in text and " s per frame in all. Command: `python tools/gradcam_faithfulness.py " in text
