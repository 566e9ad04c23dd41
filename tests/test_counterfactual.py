"""Object removal: erase an object, re-run the agent, and see whether a map's mass predicted the change."""

import math

import numpy as np
import pytest

from eac3_tf.config import ObsConfig
from eac3_tf.explain import counterfactual as cf
from eac3_tf.preprocess import model_inputs


def test_inpaint_fills_an_object_from_the_nearest_background_on_each_side():
    row = np.array([[[5], [0], [0], [7]]], np.uint8)[None]  # [1, 1, 4, 1]: the middle two pixels are an object
    mask = np.array([[[False, True, True, False]]])
    # first pass: pixel 2 takes its right neighbour (7), pixel 1 its left neighbour (5)
    assert cf.inpaint(row, mask)[0, 0, :, 0].tolist() == [5, 5, 7, 7]


def test_inpaint_leaves_unmasked_pixels_and_a_fully_masked_image_alone():
    img = np.arange(9, dtype=np.uint8).reshape(1, 3, 3, 1)
    centre = np.zeros((1, 3, 3), bool)
    centre[0, 1, 1] = True
    out = cf.inpaint(img, centre)
    assert out[0, 1, 1, 0] == 7  # the pixel below (y + 1) is the first known neighbour tried
    assert np.array_equal(np.delete(out.reshape(-1), 4), np.delete(img.reshape(-1), 4))
    assert np.array_equal(cf.inpaint(img, np.ones((1, 3, 3), bool)), img)
    with pytest.raises(ValueError, match="masks must be"):
        cf.inpaint(img, np.ones((1, 3, 2), bool))


def test_stack_indices_repeat_an_episodes_first_screen_as_a_reset_does():
    starts = np.array([True, False, False, True, False])
    assert cf.stack_indices(starts, 3).tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [3, 3, 3], [3, 3, 4]]


def test_erasing_nothing_rebuilds_the_recorded_inputs_exactly():
    obs = ObsConfig(grayscale=True, downsample=2, stack=4)
    screens = np.random.default_rng(0).integers(0, 256, (6, 210, 160, 3), dtype=np.uint8)
    idx = cf.stack_indices(np.array([True] + [False] * 5), obs.stack)
    rebuilt = cf.erased_inputs(screens, idx, np.zeros((6, 4, 210, 160), bool), obs)
    assert np.array_equal(rebuilt, model_inputs(screens, obs))


def test_erasing_an_object_changes_only_the_stacked_frames_that_showed_it():
    obs = ObsConfig(grayscale=True, downsample=1, stack=2)
    screens = np.zeros((2, 210, 160, 3), np.uint8)
    screens[1, 100, 50] = 255  # a one-pixel object on the newest screen only
    mask = np.zeros((1, 2, 210, 160), bool)
    mask[0, 1, 100, 50] = True
    x = cf.erased_inputs(screens, np.array([[0, 1]]), mask, obs)
    assert x.shape == (1, 160, 160, 2) and not x.any()  # erased: filled with the black around it


def test_policy_kl_is_zero_for_the_same_policy_and_worked_out_otherwise():
    assert cf.policy_kl(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]]))[0] == pytest.approx(0.0)
    # uniform against (0.75, 0.25): 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25) = 0.5 ln(4/3)
    kl = cf.policy_kl(np.array([[0.0, 0.0]]), np.array([[math.log(3.0), 0.0]]))[0]
    assert kl == pytest.approx(0.5 * math.log(4 / 3))


def test_effects_measure_policy_and_value_moves_of_each_pair():
    def agent(x):
        s = x.reshape(len(x), -1).sum(axis=1).astype(np.float64)
        return np.stack([np.zeros_like(s), s], axis=1), s[:, None] * 2

    inputs = np.array([[[[0]]], [[[1]]]], np.uint8)
    erased = np.array([[[[0]]], [[[0]]]], np.uint8)
    eff = cf.effects(agent, inputs, erased)
    assert eff["value"].tolist() == [0.0, 2.0]
    assert eff["kl"][0] == pytest.approx(0.0) and eff["kl"][1] > 0


def test_object_removal_scores_a_map_by_whether_its_mass_ranks_the_agents_moves():
    # four screens with a "ball" of 1..4 lit pixels; the agent's logit_0 is the input's sum / 255, so erasing
    # a bigger ball moves its policy further (KL grows with the size)
    obs = ObsConfig(grayscale=True, downsample=1, stack=1)
    screens = np.zeros((4, 210, 160, 3), np.uint8)
    for t in range(4):
        screens[t, 100, 10:11 + t] = 255
    inputs = model_inputs(screens, obs)
    ball = (screens[:, obs.crop_top:obs.crop_bottom, :, 0] > 0)

    def agent(x):
        s = x.reshape(len(x), -1).astype(np.float64).sum(axis=1) / 255
        return np.stack([s, np.zeros_like(s)], axis=1), np.zeros(len(x))

    sizes = np.arange(1, 5)[:, None, None]
    follows = 1.0 + 10.0 * ball * sizes  # more mass on a bigger ball
    against = 1.0 * ball + np.where(ball, 0.0, sizes ** 2)  # less mass on a bigger ball
    out = cf.object_removal(agent, inputs, screens, np.array([True, False, False, False]), {"ball": ball}, obs,
                            {"follows": follows, "against": against})
    assert out["pairs"] == 4 and out["by_class"]["ball"]["pairs"] == 4
    assert out["by_class"]["ball"]["kl"]["mean"] > 0
    assert out["spearman_mass_vs_kl"] == pytest.approx({"follows": 1.0, "against": -1.0})
    with pytest.raises(ValueError, match="do not rebuild the inputs"):
        cf.object_removal(agent, inputs[::-1], screens, np.array([True, False, False, False]), {"ball": ball},
                          obs, {})
