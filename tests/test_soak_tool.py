"""The soak tool's arithmetic: memory growth after warm-up and the trainer's latest speed."""

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("soak", ROOT / "tools" / "soak.py")
soak = importlib.util.module_from_spec(spec)
spec.loader.exec_module(soak)


def test_rss_growth_ignores_warm_up_and_takes_the_peak_after_it():
    samples = [{"seconds": 0, "rss_mib": 100.0}, {"seconds": 300, "rss_mib": 500.0},
               {"seconds": 600, "rss_mib": 550.0}, {"seconds": 900, "rss_mib": 520.0}]
    assert soak.rss_growth(samples, warmup_s=300) == 550 / 500 - 1


def test_latest_progress_reads_the_last_line_of_progress_csv(tmp_path):
    (tmp_path / "progress.csv").write_text("wall_seconds,frames,frames_per_sec\n1,100,10.5\n2,260,16.0\n")
    assert soak.latest_progress(tmp_path) == (260, 16.0)
    assert soak.latest_progress(tmp_path / "missing") == (0, 0.0)


def test_proc_status_reads_this_process_and_none_for_a_dead_pid():
    import os

    status = soak.proc_status(os.getpid())
    assert status["rss_kib"] > 0 and status["threads"] >= 1
    assert soak.proc_status(2**22 + 1) is None
