"""Curve files: a written curve is read back, so two runs can be drawn on one figure (tools/plot_curve.py --also)."""

import numpy as np
import pytest

from eac3_tf import curve_files


def test_a_written_curve_is_read_back_as_frames_and_mean100(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("frames,wall_seconds,episodes,mean100_score,score\n1000,1.0,1,5.000,5.0\n3000,2.5,2,6.500,8.0\n")
    frames, mean100 = curve_files.read_curve(path)
    np.testing.assert_array_equal(frames, [1000, 3000])
    np.testing.assert_array_equal(mean100, [5.0, 6.5])


def test_a_csv_without_the_mean100_column_is_refused(tmp_path):
    path = tmp_path / "peer.csv"
    path.write_text("frames,mean20_return\n1000,-20\n")
    with pytest.raises(curve_files.CurveError, match="not a curve CSV of plot_curve.py"):
        curve_files.read_curve(path)




def test_episodes_are_read_sorted_by_frames_and_a_row_cut_short_is_skipped(tmp_path):
    (tmp_path / "episodes.csv").write_text("wall_seconds,frames,worker,score,length\n"
                                           "2.0,8000,1,-20,900\n1.0,4000,0,-21,800\n3.0,12000\n")
    np.testing.assert_array_equal(curve_files.read_episodes(tmp_path), [[4000, 1.0, -21], [8000, 2.0, -20]])


def test_a_curve_is_written_with_the_rolling_mean_and_read_back(tmp_path):
    episodes = np.array([[1000, 1.0, 2.0], [2000, 2.0, 4.0], [3000, 3.0, 9.0]])
    mean100 = curve_files.write_curve(tmp_path / "c.csv", episodes, points=2)
    np.testing.assert_allclose(mean100, [2.0, 3.0, 5.0])
    assert (tmp_path / "c.csv").read_text() == ("frames,wall_seconds,episodes,mean100_score,score\n"
                                               "1000,1.0,1,2.000,2.0\n3000,3.0,3,5.000,9.0\n")
    frames, values = curve_files.read_curve(tmp_path / "c.csv")
    np.testing.assert_array_equal(frames, [1000, 3000])
    np.testing.assert_array_equal(values, [2.0, 5.0])


def test_peer_points_parse_as_frames_score_pairs():
    np.testing.assert_array_equal(curve_files.parse_points("5e6:-20,10e6:-18.9"), [[5e6, -20], [1e7, -18.9]])
    with pytest.raises(curve_files.CurveError, match="is not a list of frames:score pairs"):
        curve_files.parse_points("5e6-20")
