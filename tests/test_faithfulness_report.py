"""eac3_tf.explain.faithfulness_report's plain-numpy parts: Catch's objects, the pointing game and object mass."""

import numpy as np

from eac3_tf.explain import faithfulness_report as fr


def test_catch_objects_are_the_lit_cells_above_and_on_the_bottom_row():
    frames = np.zeros((1, 3, 2, 1), np.uint8)
    frames[0, 0, 1, 0] = 255  # the ball
    frames[0, 2, 0, 0] = 255  # the paddle
    frames[0, 1, 0, 0] = 254  # not lit
    masks = fr.catch_object_masks(frames)
    assert masks["ball"][0].tolist() == [[False, True], [False, False], [False, False]]
    assert masks["paddle"][0].tolist() == [[False, False], [False, False], [True, False]]
    assert masks["objects"][0].tolist() == [[False, True], [False, False], [True, False]]


def test_catch_pointing_counts_hits_and_says_where_the_misses_land():
    frames = np.zeros((3, 10, 5, 1), np.uint8)
    frames[:, 2, 1, 0] = 255  # the ball
    frames[:, 9, 3, 0] = 255  # the paddle
    maps = np.zeros((3, 10, 5), np.float32)
    maps[0, 2, 1] = 1.0  # on the ball
    maps[1, 2, 2] = 1.0  # one cell right of it
    # maps[2] is all zero: points nowhere
    r = fr.agent_pointing(maps, frames, tolerance=1)
    assert (r["pointing"], r["pointing_tolerant"], r["all_zero_maps"]) == (1 / 3, 2 / 3, 1)
    assert r["pointing_tolerant_defined"] == 1.0
    assert r["offset_counts"] == {"0,0": 1, "0,1": 1}
    summary = fr.offset_summary({"0,1": 5, "1,1": 2, "0,0": 3, "-3,0": 1}, top=2)
    assert summary == {"by_distance": {"0": 3, "1": 7, "2": 0, "3+": 1}, "most_common": {"0,1": 5, "0,0": 3}}


def test_object_mass_and_pointing_keep_the_frames_without_objects():
    maps = np.array([[[3.0, 0.0], [0.0, 1.0]],   # 3 of 4 units on the object
                     [[1.0, 0.0], [0.0, 1.0]]])  # no object on this frame
    masks = np.zeros((2, 2, 2), bool)
    masks[0, 0, 0] = True
    out = fr.mass_and_pointing({"m": maps}, masks, tolerance=1)
    assert out["area_share"] == {"mean": 0.125, "std": 0.125, "n": 2, "undefined": 0}
    assert out["pointing_tolerance_cells"] == 1
    # mean mass (0.75 + 0) / 2 over mean area (0.25 + 0) / 2 = 3; the empty frame is a miss at any tolerance
    assert out["m"] == {"mass": {"mean": 0.375, "std": 0.375, "n": 2, "undefined": 0}, "ratio": 3.0,
                        "pointing": 0.5, "pointing_tolerant": 0.5}


def test_the_mass_ratio_is_none_when_no_frame_shows_an_object():
    out = fr.mass_and_pointing({"m": np.ones((2, 2, 2))}, np.zeros((2, 2, 2), bool), tolerance=0)
    assert out["m"]["ratio"] is None and out["m"]["pointing"] == 0.0
