"""Measures of a map against object masks and against another map: plain functions of arrays."""

import numpy as np
import pytest

from eac3_tf.explain import measures

# --- object_mass / pointing_game ------------------------------------------------------------------------


def test_object_mass_is_the_share_of_the_maps_sum_inside_the_mask():
    m = np.array([[1.0, 3.0], [0.0, 4.0]])
    mask = np.array([[False, True], [False, False]])
    assert measures.object_mass(m, mask) == pytest.approx(3 / 8)
    assert measures.object_mass(np.ones((2, 2)), mask) == pytest.approx(mask.mean())  # flat map = area share
    batch = measures.object_mass(np.stack([m, m]), np.stack([mask, ~mask]))
    np.testing.assert_allclose(batch, [3 / 8, 5 / 8])


def test_object_mass_of_an_empty_map_is_nan_not_zero():
    assert np.isnan(measures.object_mass(np.zeros((2, 2)), np.ones((2, 2), bool)))


def test_pointing_game_hits_when_the_maps_argmax_is_in_the_mask():
    m = np.array([[1.0, 3.0], [0.0, 4.0]])  # max at (1, 1)
    assert measures.pointing_game(m, np.array([[False, False], [False, True]])) is True
    assert measures.pointing_game(m, np.array([[True, True], [True, False]])) is False
    assert measures.pointing_game(np.zeros((2, 2)), np.ones((2, 2), bool)) is False  # points nowhere
    hits = measures.pointing_game(np.stack([m, m]), np.stack([np.eye(2, dtype=bool), ~np.eye(2, dtype=bool)]))
    assert hits.tolist() == [True, False]


def test_pointing_game_tolerance_counts_a_max_next_to_the_mask():
    m = np.zeros((3, 3))
    m[0, 0] = 1.0
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True  # one diagonal step (Chebyshev 1) away from the max
    assert measures.pointing_game(m, mask) is False
    assert measures.pointing_game(m, mask, tolerance=1) is True


def test_pointing_rate_is_the_share_of_maps_that_point_into_their_mask():
    maps = np.zeros((4, 3, 3))
    maps[:, 0, 0] = 1.0
    masks = np.zeros((4, 3, 3), bool)
    masks[0, 0, 0] = True  # a hit
    masks[1, 1, 1] = True  # one cell off: a hit only with tolerance 1
    masks[2, 2, 2] = True  # two cells off
    # masks[3] is empty: a miss at any tolerance
    assert measures.pointing_rate(maps, masks) == 0.25
    assert measures.pointing_rate(maps, masks, tolerance=1) == 0.5


def test_mass_ratio_is_the_mean_mass_share_over_the_mean_area_share():
    maps = np.zeros((2, 2, 2))
    maps[0] = [[3.0, 0.0], [0.0, 1.0]]  # 3 of 4 units on the top-left cell
    maps[1] = [[1.0, 1.0], [1.0, 1.0]]  # even: its share is the area's
    masks = np.zeros((2, 2, 2), bool)
    masks[:, 0, 0] = True
    mass, ratio = measures.mass_ratio(maps, masks)
    assert mass.tolist() == [0.75, 0.25]
    assert ratio == 2.0  # (0.75 + 0.25) / 2 over 0.25
    _, even = measures.mass_ratio(maps[1:], masks[1:])
    assert even == 1.0


def test_mass_ratio_of_massless_maps_keeps_their_area_or_leaves_the_frame_out():
    maps = np.zeros((2, 2, 2))
    maps[0] = [[3.0, 0.0], [0.0, 1.0]]  # maps[1] has no mass
    masks = np.zeros((2, 2, 2), bool)
    masks[0, 0, 0] = True  # area 0.25
    masks[1, 0] = True  # area 0.5
    mass, kept = measures.mass_ratio(maps, masks)
    assert mass[0] == 0.75 and np.isnan(mass[1])
    assert kept == 2.0  # 0.75 over (0.25 + 0.5) / 2
    assert measures.mass_ratio(maps, masks, massless_area=False)[1] == 3.0  # 0.75 over 0.25


def test_mass_ratio_is_nan_without_mass_or_without_area():
    masks = np.ones((2, 2, 2), bool)
    assert np.isnan(measures.mass_ratio(np.zeros((2, 2, 2)), masks)[1])
    assert np.isnan(measures.mass_ratio(np.ones((2, 2, 2)), ~masks)[1])
    assert np.isnan(measures.mass_ratio(np.zeros((2, 2, 2)), masks, massless_area=False)[1])


def test_argmax_offsets_point_from_the_nearest_mask_cell_to_the_maximum():
    m = np.zeros((4, 5))
    m[1, 3] = 1.0  # the maximum
    mask = np.zeros((4, 5), bool)
    mask[1, 2] = mask[3, 0] = True  # (1, 2) is one cell left of the max; (3, 0) is 3 away
    assert measures.argmax_offsets(m, mask).tolist() == [0, 1]
    mask[1, 2] = False
    assert measures.argmax_offsets(m, mask).tolist() == [-2, 3]


def test_argmax_offsets_agree_with_the_pointing_game_at_every_tolerance():
    rng = np.random.default_rng(0)
    maps, masks = rng.random((200, 6, 7)), rng.random((200, 6, 7)) < 0.05
    masks[:, 0, 0] = True  # no empty mask
    dist = np.abs(measures.argmax_offsets(maps, masks)).max(axis=-1)
    for tol in range(4):
        assert np.array_equal(dist <= tol, measures.pointing_game(maps, masks, tol))


def test_argmax_offsets_of_an_empty_map_or_mask_are_flagged_undefined():
    maps = np.stack([np.zeros((2, 2)), np.eye(2), np.eye(2)])
    masks = np.stack([np.ones((2, 2), bool), np.zeros((2, 2), bool), np.eye(2, dtype=bool)])
    assert measures.offsets_defined(maps, masks).tolist() == [False, False, True]
    assert measures.argmax_offsets(maps, masks).tolist() == [[-1, -1], [-1, -1], [0, 0]]


# --- rank correlation -----------------------------------------------------------------------------------


def test_rank_correlation_is_1_for_identical_and_minus_1_for_reversed_maps():
    a = np.arange(12.0).reshape(3, 4) ** 2
    assert measures.rank_correlation(a, a) == pytest.approx(1.0)
    assert measures.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert measures.rank_correlation(a, np.sqrt(a)) == pytest.approx(1.0)  # only the order counts


def test_rank_correlation_matches_spearmans_formula_and_averages_ties():
    # ranks (1,2,3,4) vs (1,3,2,4): 1 - 6 * sum d^2 / (n (n^2 - 1)) = 1 - 6 * 2 / 60 = 0.8
    assert measures.rank_correlation(np.array([[1, 2], [3, 4]]), np.array([[1, 3], [2, 4]])) == pytest.approx(0.8)
    # tied maps: ranks (1.5, 1.5, 3, 4) against themselves stay perfectly correlated
    tied = np.array([[0.0, 0.0], [0.5, 1.0]])
    assert measures.rank_correlation(tied, tied) == pytest.approx(1.0)
    assert np.isnan(measures.rank_correlation(np.zeros((2, 2)), tied))  # a constant map has no ranking
    out = measures.rank_correlation(np.stack([tied, tied]), np.stack([tied, -tied]))
    np.testing.assert_allclose(out, [1.0, -1.0])


def test_each_map_is_divided_by_its_own_max_and_a_zero_map_stays_zero():
    raw = np.array([[[0.0, 2.0], [1.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    out = measures.normalise_maps(raw)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[[0, 0.5], [0.25, 1]], [[0, 0], [0, 0]]])
