import numpy as np
import pytest

from eac3_tf.curves import area_under, rolling_mean, value_at


def test_rolling_mean_averages_the_last_n_games_and_fewer_at_the_start():
    # n = 2: [1], [1, 3], [3, 5], [5, 7]
    np.testing.assert_array_equal(rolling_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2), [1.0, 2.0, 4.0, 6.0])


def test_rolling_mean_refuses_a_window_of_no_games():
    with pytest.raises(ValueError, match="n must be >= 1 games, got 0"):
        rolling_mean(np.ones(3), 0)


def test_the_value_at_a_mark_is_that_of_the_last_game_ended_by_then():
    frames, curve = np.array([10.0, 20.0, 30.0]), np.array([-21.0, -15.0, -9.0])
    assert value_at(frames, curve, 25) == -15.0  # the game at 30 ended after the mark
    assert value_at(frames, curve, 30) == -9.0
    assert np.isnan(value_at(frames, curve, 5))  # no game had ended yet
    assert np.isnan(value_at(frames, curve, 40))  # the run stopped at 30 < 0.99 * 40
    assert value_at(frames, curve, 30.2) == -9.0  # within 1% of the budget counts as reached


def test_area_under_is_the_mean_height_of_the_step_curve_up_to_the_budget():
    # steps: -20 over [10, 20), -10 over [20, 30), 0 over [30, 40] -> (-200 - 100 + 0) / 30 = -10
    frames, curve = np.array([10.0, 20.0, 30.0, 45.0]), np.array([-20.0, -10.0, 0.0, 99.0])
    assert area_under(frames, curve, 40) == pytest.approx(-10.0)
    assert np.isnan(area_under(frames[:2], curve[:2], 40))  # stopped at 20: not reached
