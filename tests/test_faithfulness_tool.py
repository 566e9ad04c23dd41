"""tools/gradcam_faithfulness.py on a game other than Pong: the game-independent checks run, the object
checks run from Qbert's colour table, a game without one gets a line saying so, and --skip_toy drops Catch."""

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
from conftest import ROOT

from eac3_tf.config import PRESETS, EnvConfig

spec = importlib.util.spec_from_file_location("gradcam_faithfulness", ROOT / "tools" / "gradcam_faithfulness.py")
gf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gf)


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


def test_a_game_without_a_colour_table_gets_one_line_instead_of_the_object_table():
    assert gf.objects_markdown({"game": "breakout"}) == [
        "No object checks: this tool locates objects by their colours, and `eac3_tf.explain.colours.OBJECT_COLOURS` "
        "has no colour table for Breakout.", ""]


def test_catch_pointing_counts_hits_and_says_where_the_misses_land():
    frames = np.zeros((3, 10, 5, 1), np.uint8)
    frames[:, 2, 1, 0] = 255  # the ball
    frames[:, 9, 3, 0] = 255  # the paddle
    maps = np.zeros((3, 10, 5), np.float32)
    maps[0, 2, 1] = 1.0  # on the ball
    maps[1, 2, 2] = 1.0  # one cell right of it
    # maps[2] is all zero: points nowhere
    r = gf.agent_pointing(maps, frames, tolerance=1)
    assert (r["pointing"], r["pointing_tolerant"], r["all_zero_maps"]) == (1 / 3, 2 / 3, 1)
    assert r["pointing_tolerant_defined"] == 1.0
    assert r["offset_counts"] == {"0,0": 1, "0,1": 1}
    summary = gf.offset_summary({"0,1": 5, "1,1": 2, "0,0": 3, "-3,0": 1}, top=2)
    assert summary == {"by_distance": {"0": 3, "1": 7, "2": 0, "3+": 1}, "most_common": {"0,1": 5, "0,0": 3}}
