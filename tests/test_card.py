"""The export -> player contract: card.json read into a dataclass, its version checked."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from eac3_tf import card
from eac3_tf.config import EnvConfig, ObsConfig


def test_a_committed_version_1_card_still_reads():
    c = card.read(ROOT / "exported" / "pong")
    assert c.version == 1 and c.game == "pong" and c.num_actions == 6 and c.action_names[:2] == ("NOOP", "FIRE")
    assert c.obs == ObsConfig(grayscale=True, downsample=2, stack=4) and c.obs.shape == (80, 80, 4)
    assert c.env == EnvConfig(game="pong")
    assert c.env.maxpool  # cards from before the setting are of agents that saw the max of two frames


def test_a_card_says_whether_its_agent_saw_the_max_of_two_frames_or_the_last_frame():
    raw = minimal(env={"game": "pong", "maxpool": False})
    assert card.Card.from_dict(raw).env == EnvConfig(game="pong", maxpool=False)


def minimal(**changes) -> dict:
    raw = {"card_version": card.CARD_VERSION, "game": "pong", "num_actions": 6,
           "preprocessing": {"obs": {"grayscale": True, "downsample": 2}}, "env": {"game": "pong"}}
    return {**raw, **changes}


def test_a_card_of_an_unknown_version_is_refused_naming_the_versions_read():
    with pytest.raises(card.CardError, match=r"card_version 99 is not one this eac3_tf reads \(1, 2\)"):
        card.Card.from_dict(minimal(card_version=99))
    with pytest.raises(card.CardError, match="card_version None"):
        card.Card.from_dict({k: v for k, v in minimal().items() if k != "card_version"})


def test_a_card_without_what_a_player_needs_says_which_field():
    with pytest.raises(card.CardError, match="KeyError: 'num_actions'"):
        card.Card.from_dict({k: v for k, v in minimal().items() if k != "num_actions"})
    with pytest.raises(card.CardError, match="TypeError"):
        card.Card.from_dict(minimal(env={"game": "pong", "sticky": 0.25}))


def test_read_names_the_file_when_it_is_missing_or_not_json(tmp_path):
    with pytest.raises(card.CardError, match=f"no card.json at {tmp_path}/card.json"):
        card.read(tmp_path)
    (tmp_path / "card.json").write_text("{not json")
    with pytest.raises(card.CardError, match="is not readable JSON"):
        card.read(tmp_path)


def test_the_player_refuses_a_card_of_an_unknown_version_in_one_line(tmp_path):
    for name in ("policy.onnx", "policy_cam.onnx"):
        (tmp_path / name).write_bytes((ROOT / "exported" / "pong" / name).read_bytes())
    raw = json.loads((ROOT / "exported" / "pong" / "card.json").read_text())
    (tmp_path / "card.json").write_text(json.dumps({**raw, "card_version": 7}))
    result = subprocess.run([sys.executable, "-m", "eac3_tf.player", "--model", str(tmp_path / "policy.onnx"),
                             "--episodes", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "card_version 7 is not one this eac3_tf reads (1, 2)" in result.stderr
