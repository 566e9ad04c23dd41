"""plot_curve.py reads back the curve CSVs it writes, so two runs can be drawn on one figure."""

import importlib.util

import numpy as np
import pytest
from conftest import ROOT

spec = importlib.util.spec_from_file_location("plot_curve", ROOT / "tools" / "plot_curve.py")
plot_curve = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_curve)


def test_a_written_curve_is_read_back_as_frames_and_mean100(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("frames,wall_seconds,episodes,mean100_score,score\n1000,1.0,1,5.000,5.0\n3000,2.5,2,6.500,8.0\n")
    frames, mean100 = plot_curve.load_curve(path)
    np.testing.assert_array_equal(frames, [1000, 3000])
    np.testing.assert_array_equal(mean100, [5.0, 6.5])


def test_a_csv_without_the_mean100_column_is_refused(tmp_path):
    path = tmp_path / "peer.csv"
    path.write_text("frames,mean20_return\n1000,-20\n")
    with pytest.raises(plot_curve.UsageError, match="not a curve CSV of plot_curve.py"):
        plot_curve.load_curve(path)


