"""An agent's own play recorded for explaining: inputs, screens, episode starts, RAM, and the objects on them."""

import numpy as np
import pytest

from eac3_tf.agent import AgentSpec
from eac3_tf.config import PRESETS, EnvConfig
from eac3_tf.explain import objects, recording


def pong_agent() -> AgentSpec:
    """A Pong agent trained with random no-op resets, as the default trainer makes them (no checkpoint needed)."""
    obs = PRESETS["fast"].obs
    return AgentSpec(path=None, game="pong", preset="fast", frames_trained=0, obs=obs,
                     env=EnvConfig(game="pong", noop_max=30), action_names=("NOOP",) * 6)


def random_logits(x: np.ndarray) -> np.ndarray:
    return np.zeros((len(x), 6), np.float32)


def test_a_recording_with_ram_keeps_one_ram_per_step_and_the_same_screens_as_without():
    agent = pong_agent()
    with_ram = recording.record(random_logits, agent, steps=6, seed=3, with_ram=True)
    assert with_ram.rams.shape == (6, 128) and with_ram.rams.dtype == np.uint8
    assert with_ram.inputs.shape == (6, 80, 80, 4) and with_ram.starts.tolist() == [True] + [False] * 5
    assert recording.record(random_logits, agent, steps=6, seed=3).rams is None


def test_box_masks_come_from_the_colour_table_without_ram():
    rec = recording.record(random_logits, pong_agent(), steps=4, seed=0)
    masks, sources = recording.box_masks(rec, pong_agent())
    assert sources == {"ball": "colours", "agent": "colours", "opponent": "colours"}
    assert {c: m.shape for c, m in masks.items()} == {c: (4, 160, 160) for c in sources}
    assert masks["agent"].any(axis=(1, 2)).all()  # our paddle is on every frame


@pytest.mark.skipif(not objects.ocatari_available(), reason=f"ocatari is not installed: {objects.INSTALL}")
def test_box_masks_come_from_ocatari_where_it_was_validated_when_the_ram_is_kept():
    rec = recording.record(random_logits, pong_agent(), steps=60, seed=0, with_ram=True)
    masks, sources = recording.box_masks(rec, pong_agent())
    assert sources == objects.SOURCES["pong"] == {"agent": "ocatari", "opponent": "ocatari", "ball": "ocatari"}
    shown = {c: int(m.any(axis=(1, 2)).sum()) for c, m in masks.items()}
    assert shown["agent"] == 60 and 0 < shown["opponent"] < 60 and 0 < shown["ball"] < 60  # served after a pause
