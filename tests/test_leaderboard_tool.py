"""tools/leaderboard.py: every method and random maps measured on an agent's own play, in one table."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from eac3_tf.config import PRESETS, EnvConfig

pytestmark = pytest.mark.integration  # whole command lines, a minute or more each


def leaderboard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tools/leaderboard.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def test_a_pong_agent_gets_faithfulness_localisation_removal_and_cost_per_method(tmp_path):
    import keras

    from eac3_tf import checkpoint
    from eac3_tf.model import build_model

    keras.utils.set_random_seed(0)
    meta = {"game": "pong", "preset": "fast", "env": dataclasses.asdict(EnvConfig(game="pong"))}
    checkpoint.save(tmp_path / "pong", build_model((80, 80, 4), 6, PRESETS["fast"]), [], {"frames": 7, "meta": meta},
                    keep=1)
    out = tmp_path / "board"
    result = leaderboard("--checkpoint", str(tmp_path / "pong"), "--frames", "32", "--cascade_frames", "2",
                         "--methods", "gradcam,eigencam", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    (b,) = json.loads(out.with_suffix(".json").read_text())["boards"]
    assert (b["game"], b["frames"], b["frames_trained"]) == ("pong", 32, 7)
    assert list(b["methods"]) == ["gradcam", "eigencam", "random"]
    from eac3_tf.explain.objects import ocatari_available

    source = "ocatari" if ocatari_available() else "colours"  # .ci/run installs OCAtari
    assert b["localisation_sources"] == {"agent": source, "opponent": source, "ball": source}
    assert b["randomisation_stages"] == ["logits", "value", "hidden", "conv2", "conv1"]  # the heads one by one
    for name, row in b["methods"].items():
        assert row["deletion_auc"]["n"] + row["deletion_auc"]["undefined"] == 32
        assert set(row["localisation"]) == {"agent", "opponent", "ball"}
        assert ("ms_per_frame" in row) == (name != "random")
        assert len(row.get("randomisation_spearman", [0] * 5)) == 5
    text = out.with_suffix(".md").read_text()
    assert "## pong (fast, 7 frames trained; 32 frames;" in text and "| random |" in text
    assert "removal ρ (mass / mass÷area)" in text
    assert f"Boxes: agent from {source}, opponent from {source}, ball from {source}." in text


def test_an_unknown_method_is_one_line_and_exit_2(tmp_path):
    result = leaderboard("--checkpoint", str(ROOT / "results" / "qbert" / "checkpoint"), "--methods", "gradcam,magic",
                         "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "unknown --methods magic; accepted: gradcam," in result.stderr
    assert not (tmp_path / "b.json").exists()
