"""The colour-box path of `eac3_tf.explain.objects` and its RAM env: base install, no OCAtari needed."""

import numpy as np
import pytest

from eac3_tf.config import EnvConfig, ObsConfig
from eac3_tf.explain import objects as ob

PONG_BACKGROUND = (144, 72, 17)
GREEN, ORANGE, WHITE = (92, 186, 92), (213, 130, 74), (236, 236, 236)  # pong's agent, opponent, ball


def pong_screen() -> np.ndarray:
    screen = np.zeros((210, 160, 3), np.uint8)
    screen[:] = PONG_BACKGROUND
    screen[60:76, 140:144] = GREEN  # the agent's paddle: 4 columns x 16 rows from (x 140, y 60)
    screen[80:84, 16:20] = ORANGE  # the opponent in two parts, one background row (84) between them
    screen[85:89, 16:20] = ORANGE
    screen[100:104, 50:52] = WHITE  # the ball, 2 x 4
    screen[5:9, 60:62] = WHITE  # white in the score rows (above the play area, 34..193): not an object
    return screen


# --- components -----------------------------------------------------------------------------------------


def test_components_join_diagonal_neighbours_and_bridge_gaps_only_when_asked():
    mask = np.zeros((1, 6, 8), bool)
    mask[0, 0, 0] = mask[0, 1, 1] = True  # diagonal neighbours: one object under 8-connectivity
    mask[0, 4, 0] = mask[0, 4, 2] = True  # one background pixel between them: joined by gap 1 only
    mask[0, 0, 7] = True  # alone
    # gap 0: (0,0)+(1,1) -> x 0, y 0, 2x2; (4,0) and (4,2) apart; (0,7) alone. Sorted by (y, x).
    assert ob.mask_boxes(mask, gap=0)[0].tolist() == [[0, 0, 2, 2], [7, 0, 1, 1], [0, 4, 1, 1], [2, 4, 1, 1]]
    # gap 1 also joins (4,0)..(4,2) -> x 0, y 4, 3 wide; (1,1) and (4,0) are 3 rows apart: still two objects.
    assert ob.mask_boxes(mask, gap=1)[0].tolist() == [[0, 0, 2, 2], [7, 0, 1, 1], [0, 4, 3, 1]]


def test_component_labels_are_per_frame_and_follow_a_winding_shape():
    mask = np.zeros((2, 5, 5), bool)
    mask[0, 0, :] = mask[0, :, 4] = mask[0, 4, :] = True  # a "U" turned on its side: one component
    mask[1, 2, 2] = True
    labels = ob.component_labels(mask)
    assert np.unique(labels[0][mask[0]]).tolist() == [0]  # flat index of its first pixel, (0, 0, 0)
    assert labels[1, 2, 2] == 25 + 2 * 5 + 2  # frame 1 starts at flat index 25
    assert (labels[~mask] == -1).all()
    boxes = ob.mask_boxes(mask, row_offset=34)
    assert [b.tolist() for b in boxes] == [[[0, 34, 5, 5]], [[2, 36, 1, 1]]]


def test_an_empty_mask_has_no_boxes():
    assert [b.shape for b in ob.mask_boxes(np.zeros((2, 4, 4), bool))] == [(0, 4), (0, 4)]


# --- colour boxes ---------------------------------------------------------------------------------------


def test_colour_boxes_of_a_synthetic_pong_screen():
    (frame,) = ob.colour_boxes("pong", pong_screen()[None])
    assert {k: v.tolist() for k, v in frame.items()} == {
        "agent": [[140, 60, 4, 16]],
        "opponent": [[16, 80, 4, 9]],  # rows 80..88: the one-row hole is bridged (gap 1)
        "ball": [[50, 100, 2, 4]],  # the white in the score rows is outside the play area
    }
    (split,) = ob.colour_boxes("pong", pong_screen()[None], gap=0)
    assert split["opponent"].tolist() == [[16, 80, 4, 4], [16, 85, 4, 4]]


def test_boxes_from_colours_need_no_ram_and_auto_says_what_it_needs():
    screens = np.stack([pong_screen(), np.full((210, 160, 3), PONG_BACKGROUND, np.uint8)])
    out = ob.boxes("pong", screens, source="colours")
    assert out[0]["ball"].tolist() == [[50, 100, 2, 4]] and out[1]["ball"].shape == (0, 4)
    with pytest.raises(ob.ObjectsError, match="needs the RAM"):
        ob.boxes("pong", screens)  # pong's classes come from OCAtari
    with pytest.raises(ob.ObjectsError, match="no objects for 'breakout'"):
        ob.boxes("breakout", screens)
    with pytest.raises(ob.ObjectsError, match="source must be"):
        ob.boxes("pong", screens, source="ram")


def test_every_class_has_a_source_of_its_own_kind():
    from eac3_tf.explain.colours import OBJECT_COLOURS

    for game, classes in ob.SOURCES.items():
        for name, source in classes.items():
            assert source in ("ocatari", "colours"), (game, name)
            assert name in (ob.OCATARI[game][1] if source == "ocatari" else OBJECT_COLOURS[game]), (game, name)
        assert set(OBJECT_COLOURS[game]) <= set(classes), game  # every colour-table class has a source


def test_box_masks_and_clipping():
    # x 1, y 0, 2 wide, 3 tall; and a box hanging off the left edge, 2 of its 4 columns on screen
    mask = ob.box_masks(np.array([[1, 0, 2, 3], [-2, 4, 4, 1]]), (6, 5))
    assert mask.sum() == 2 * 3 + 2 * 1 and mask[0:3, 1:3].all() and mask[4, 0:2].all()
    clipped = ob._clip(np.array([[-2, 4, 4, 1], [150, 205, 20, 20], [170, 10, 3, 3]]))
    assert clipped.tolist() == [[0, 4, 2, 1], [150, 205, 10, 5]]  # the third lies wholly off screen


# --- the RAM env ----------------------------------------------------------------------------------------


def test_ram_env_gives_the_screens_of_atari_batch_env_and_a_ram_each_step():
    from eac3_tf.envs import AtariBatchEnv
    from eac3_tf.explain.ram_env import RamAtariEnv

    cfg = EnvConfig(game="pong")  # v5 settings: sticky actions 0.25, frameskip 4, max over two frames
    vec, ram = AtariBatchEnv(cfg, ObsConfig(), 1), RamAtariEnv(cfg)
    actions = np.random.default_rng(0).integers(vec.num_actions, size=40)
    assert np.array_equal(vec.reset(7), ram.reset(7))
    for a in actions:
        obs_v, r_v, d_v, _ = vec.step(np.array([a]))
        obs_r, r_r, d_r, _ = ram.step(np.array([a]))
        assert np.array_equal(vec.last_screens, ram.last_screens) and np.array_equal(obs_v, obs_r)
        assert (r_v, d_v) == (r_r, d_r)
    assert ram.last_rams.shape == (1, 128) and ram.last_rams.dtype == np.uint8
    assert ram.last_frames.shape == (1, 210, 160, 3)
    assert (ram.last_screens >= ram.last_frames).all()  # the screen is a max over the last frame and one before


def test_ram_env_refuses_noop_resets_it_cannot_reproduce():
    from eac3_tf.explain.ram_env import RamAtariEnv

    with pytest.raises(ValueError, match="noop_max=30"):
        RamAtariEnv(EnvConfig(game="pong", noop_max=30))


def test_play_keeps_screens_frames_rams_and_starts_in_step():
    p = ob.play(EnvConfig(game="pong"), steps=5, seed=0)
    assert p.screens.shape == (5, 210, 160, 3) and p.frames.shape == (5, 210, 160, 3)
    assert p.rams.shape == (5, 128) and p.starts.tolist() == [True, False, False, False, False]


def test_missing_ocatari_is_one_line_with_the_install_command(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ocatari(name, *args, **kwargs):
        if name.startswith("ocatari"):
            raise ImportError("No module named 'ocatari'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ocatari)
    assert not ob.ocatari_available()
    with pytest.raises(ob.ObjectsError) as e:
        ob.ocatari_boxes("pong", np.zeros((1, 128), np.uint8))
    assert "\n" not in str(e.value) and "pip install --no-deps ocatari==2.2.1" in str(e.value)
