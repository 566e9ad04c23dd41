"""agent_spec: which agent a checkpoint holds, read once, before TensorFlow is needed."""

import dataclasses

import pytest

from eac3_tf import checkpoint
from eac3_tf.agent import agent_spec
from eac3_tf.checkpoint import CheckpointError
from eac3_tf.config import PRESETS, EnvConfig


@pytest.fixture(scope="module")
def model():
    from eac3_tf.model import build_model

    return build_model((80, 80, 4), 6, PRESETS["fast"])


def save(root, model, meta, frames=1234):
    return checkpoint.save(root, model, [], {"frames": frames, "meta": meta}, keep=1)


def test_the_spec_names_game_preset_frames_settings_and_actions(tmp_path, model):
    env = dataclasses.asdict(EnvConfig(game="pong", noop_max=30, maxpool=False))
    save(tmp_path, model, {"game": "pong", "preset": "fast", "env": env,
                           "model": dataclasses.asdict(PRESETS["fast"])})
    spec = agent_spec(tmp_path)  # a run folder resolves to its newest checkpoint
    assert spec.path.name == "ckpt-000000001234"
    assert (spec.game, spec.preset, spec.frames_trained) == ("pong", "fast", 1234)
    assert spec.env == EnvConfig(game="pong", noop_max=30, maxpool=False)
    assert spec.action_names == ("NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE")


def test_the_preprocessing_saved_with_the_run_wins_over_todays_preset_table(tmp_path, model):
    saved = dataclasses.asdict(PRESETS["fast"])
    saved["obs"]["crop_top"] = 30  # as if the preset table had changed since this run
    save(tmp_path, model, {"game": "pong", "preset": "fast", "env": {"game": "pong"}, "model": saved})
    assert agent_spec(tmp_path).obs.crop_top == 30


def test_a_run_that_saved_no_model_config_takes_its_presets(tmp_path, model):
    save(tmp_path, model, {"game": "pong", "preset": "fast", "env": {"game": "pong"}})
    assert agent_spec(tmp_path).obs == PRESETS["fast"].obs


def test_a_checkpoint_of_no_ale_game_is_a_checkpoint_error_naming_it(tmp_path, model):
    save(tmp_path, model, {"game": "pongg", "preset": "fast", "env": {"game": "pongg"}})
    with pytest.raises(CheckpointError, match="names no playable game"):
        agent_spec(tmp_path)
    with pytest.raises(CheckpointError, match="known preset"):
        save(tmp_path / "toy", model, {"game": "catch", "preset": "toy"})
        agent_spec(tmp_path / "toy")
