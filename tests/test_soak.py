"""The soak's arithmetic and records: memory growth after warm-up, the trainer's latest speed, the summary."""

import os

import pytest

from eac3_tf import soak
from eac3_tf.errors import Eac3Error

SAMPLES = [{"seconds": 0, "rss_mib": 100.0, "threads": 9, "frames": 0, "frames_per_sec": 0.0},
           {"seconds": 300, "rss_mib": 500.0, "threads": 12, "frames": 3000, "frames_per_sec": 10.0},
           {"seconds": 600, "rss_mib": 550.0, "threads": 12, "frames": 6000, "frames_per_sec": 11.0},
           {"seconds": 900, "rss_mib": 520.0, "threads": 11, "frames": 9000, "frames_per_sec": 12.0}]
STOPPED = {"sigint_sent": True, "exit_seconds_after_sigint": 1.8,
           "final_checkpoint_written_on_sigint": "ckpt-000000009000"}


def test_rss_growth_ignores_warm_up_and_takes_the_peak_after_it():
    samples = [{"seconds": 0, "rss_mib": 100.0}, {"seconds": 300, "rss_mib": 500.0},
               {"seconds": 600, "rss_mib": 550.0}, {"seconds": 900, "rss_mib": 520.0}]
    assert soak.rss_growth(samples, warmup_s=300) == 550 / 500 - 1


def test_a_soak_shorter_than_its_warm_up_has_no_growth_figure():
    with pytest.raises(Eac3Error, match="no samples after the 900 s warm-up; soak longer"):
        soak.rss_growth(SAMPLES, warmup_s=900)


def test_latest_progress_reads_the_last_line_of_progress_csv(tmp_path):
    (tmp_path / "progress.csv").write_text("wall_seconds,frames,frames_per_sec\n1,100,10.5\n2,260,16.0\n")
    assert soak.latest_progress(tmp_path) == (260, 16.0)
    assert soak.latest_progress(tmp_path / "missing") == (0, 0.0)


def test_proc_status_reads_this_process_and_none_for_a_dead_pid():
    status = soak.proc_status(os.getpid())
    assert status["rss_kib"] > 0 and status["threads"] >= 1
    assert soak.proc_status(2**22 + 1) is None


def test_the_summary_gives_memory_after_warm_up_speed_threads_and_how_the_stop_went(tmp_path):
    summary = soak.summarize(SAMPLES, STOPPED, warmup_s=300, max_growth=0.10, attached=True, logdir=tmp_path)
    assert summary == {
        "minutes": 15.0, "samples": 4, "warmup_s": 300, "rss_mib_at_warmup_end": 500.0,
        "rss_mib_max_after_warmup": 550.0, "rss_growth_after_warmup": 0.1, "max_growth": 0.10,
        "frames_per_sec_median": 11.0, "threads_max": 12, "frames_first": 0, "frames_last": 9000,
        **STOPPED, "attached_to_running_trainer": True, "logdir": str(tmp_path)}


def test_a_soak_passes_on_growth_within_the_limit_and_a_sigint_exit_with_a_final_checkpoint():
    assert soak.passed(SAMPLES, STOPPED, warmup_s=300, max_growth=0.11)
    assert not soak.passed(SAMPLES, STOPPED, warmup_s=300, max_growth=0.09)  # grew 10 % after warm-up
    assert not soak.passed(SAMPLES, {**STOPPED, "exit_seconds_after_sigint": None}, warmup_s=300, max_growth=0.11)
    assert not soak.passed(SAMPLES, {**STOPPED, "final_checkpoint_written_on_sigint": None}, warmup_s=300,
                           max_growth=0.11)
    ended_by_itself = {"sigint_sent": False, "exit_seconds_after_sigint": None,
                       "final_checkpoint_written_on_sigint": None}
    assert soak.passed(SAMPLES, ended_by_itself, warmup_s=300, max_growth=0.11)


def test_the_samples_csv_has_a_column_per_field_and_a_row_per_sample():
    assert soak.samples_csv(SAMPLES[:2]).splitlines() == ["seconds,rss_mib,threads,frames,frames_per_sec",
                                                          "0,100.0,9,0,0.0", "300,500.0,12,3000,10.0"]
