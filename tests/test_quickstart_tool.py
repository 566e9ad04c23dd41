"""tools/quickstart.py: a newcomer sees an agent learn and the shipped agent explained, in one command."""

import csv
import os
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.integration  # whole command lines, a minute or more each


def quickstart(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tools/quickstart.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    result = quickstart("--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result


def test_catch_is_learnt_and_its_curve_drawn(done):
    out, result = done
    rows = list(csv.DictReader(open(out / "catch" / "curve.csv")))
    assert float(rows[99]["mean100_score"]) < 0 < 0.9 <= float(rows[-1]["mean100_score"])  # random, then ~optimal
    assert (out / "catch" / "curve.png").stat().st_size > 0
    assert "of the last 100 +" in result.stdout


def test_the_shipped_pong_agent_is_shown_as_a_gradcam_gif_and_an_explainer_page(done):
    out, result = done
    assert (out / "pong_gradcam.gif").read_bytes()[:6] == b"GIF89a"
    assert "<html" in (out / "pong_explained.html").read_text()[:500].lower()
    printed = result.stdout.splitlines()[-3:]
    assert printed == [f"  {out / name}" for name in ("catch/curve.png", "pong_gradcam.gif", "pong_explained.html")]


def test_a_second_run_into_the_same_folder_is_refused_in_one_line_and_touches_nothing(done):
    out, _ = done
    before = (out / "pong_gradcam.gif").read_bytes()
    result = quickstart("--out", str(out))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "already holds catch, pong_gradcam.gif, pong_explained.html; --force replaces them" in result.stderr
    assert (out / "pong_gradcam.gif").read_bytes() == before
