"""The suite's Table I: our two protocols beside the references, each reference labelled with its protocol; and the
files behind it: where a game's results go, the rows read back from them, the commands logged as a user types them.

The tool's own command line is tested in tests/test_train_suite.py."""

import json
import sys

import pytest
from conftest import ROOT

from eac3_tf import checkpoint, suite
from eac3_tf.config import PRESETS


@pytest.fixture(scope="module")
def model():
    from eac3_tf.model import build_model

    return build_model((80, 80, 4), 6, PRESETS["fast"])


def test_table_row_shows_preset_both_protocols_frames_wall_clock_and_every_reference():
    row = {"game": "space_invaders", "frames": 10_000_160, "wall_seconds": 5400.0, "preset": "impala",
           "v5": {"mean": 700.0, "std": 101.0, "best": 990.0}, "noop": None, "learning_episode_end": "life loss"}
    table = suite.build_table([row]).splitlines()
    assert len(table) == 3
    cells = [c.strip() for c in table[2].strip("|").split("|")]
    assert cells[:7] == ["SpaceInvaders", "impala", "700.0 ± 101.0 (best 990)", "—", "10.0M", "1.50 h", "life loss"]
    # Dopamine at 10M, sticky: DQN 663.3 (700 is at or above it), Rainbow 743.7 (700 is below)
    assert cells[7:9] == ["663.3 (ours ≥)", "743.7 (ours <)"]
    assert cells[9:] == ["79060.1 ± 5826.59", "23846.0", "744.5"]


def test_a_game_not_yet_evaluated_shows_dashes_and_the_references_unmarked():
    cells = [c.strip() for c in suite.build_table([{"game": "pong"}]).splitlines()[2].strip("|").split("|")]
    assert cells == ["Pong", "—", "—", "—", "—", "—", "—", "-4.9", "15.2", "21.00 ± 0.00", "10.7", "19.7"]


def test_the_page_is_the_table_then_the_protocols_and_the_hardware_of_every_row():
    page = suite.table_markdown([{"game": "pong", "hardware": "test CPU, 2 cores"}])
    assert page.startswith("# Table I, reproduced\n\n| game | preset | ours, v5 (sticky 0.25) |")
    assert "\nProtocols:\n\n- ours, v5: ALE v5 settings" in page
    assert "committed as results/references/dopamine_sticky.json." in page
    assert page.endswith("\nHardware: test CPU, 2 cores.\n")


def test_a3c_reference_carries_the_corrected_space_invaders_figure_and_says_so():
    ref = suite.REFERENCES["a3c_lstm"]
    assert ref["scores"]["space_invaders"] == "23846.0"
    assert "164766.0" in ref["note"] and "StarGunner" in ref["note"]


def test_game_row_reads_frames_wall_clock_and_evaluations_from_files(tmp_path, model):
    logdir, results = tmp_path / "run", tmp_path / "results"
    results.mkdir()
    (results / "eval_v5.json").write_text(json.dumps(
        {"mean": 3.0, "std": 1.0, "best": 5.0, "min": 1.0, "episodes": 100, "frames_trained": 4000, "scores": []}))
    (results / "hardware.txt").write_text("test CPU, 2 cores\n")
    checkpoint.save(logdir, model, [], {"frames": 4000, "wall_seconds": 12.5, "meta": {"game": "pong"}}, keep=1)
    row = suite.game_row("pong", logdir, results)
    assert row["frames"] == 4000 and row["wall_seconds"] == 12.5 and row["learning_episode_end"] == "game over"
    assert row["v5"]["mean"] == 3.0 and "noop" not in row and row["hardware"] == "test CPU, 2 cores"


def test_commands_are_recorded_as_a_user_types_them_and_appended_per_sitting(tmp_path):
    log = tmp_path / "suite" / "COMMANDS.md"
    cmd = [sys.executable, "tools/plot_curve.py", "--run", f"{ROOT}/runs/suite/pong", "--title", "Pong, fast preset"]
    assert suite.shown(cmd) == "python tools/plot_curve.py --run runs/suite/pong --title 'Pong, fast preset'"
    suite.record_commands(log, ["--games", "Pong"], [suite.shown(cmd)], 0.0)
    suite.record_commands(log, ["--stages", "table"], ["# table written"], 86400.0)
    text = log.read_text()
    assert text.startswith("# Commands the six-game suite ran, oldest first\n")
    assert "## 1970-01-01 00:00 UTC: `python tools/train_suite.py --games Pong`" in text
    second = "## 1970-01-02 00:00 UTC: `python tools/train_suite.py --stages table`"
    assert text.index("1970-01-01") < text.index(second)
    assert "```bash\npython tools/plot_curve.py --run runs/suite/pong --title 'Pong, fast preset'\n```" in text


def test_game_row_takes_frames_from_the_committed_checkpoint_its_evaluation_scored(tmp_path, model):
    results = tmp_path / "results"
    (results / "checkpoint").mkdir(parents=True)
    for frames, life in ((8000, True), (50_000, False)):  # the one evaluated, and a longer run's checkpoint
        state = {"frames": frames, "wall_seconds": frames / 100, "meta": {"a3c": {"life_loss_terminal": life}}}
        checkpoint.save(tmp_path / f"run{frames}", model, [], state, keep=1)
        newest = checkpoint.list_checkpoints(tmp_path / f"run{frames}")[-1]
        newest.rename(results / "checkpoint" / newest.name)
    (results / "eval_v5.json").write_text(json.dumps(
        {"mean": 3.0, "std": 1.0, "best": 5.0, "min": 1.0, "episodes": 100, "frames_trained": 8000, "scores": []}))
    row = suite.game_row("pong", tmp_path / "no_such_run", results)
    assert (row["frames"], row["wall_seconds"], row["learning_episode_end"]) == (8000, 80.0, "life loss")
    (results / "eval_v5.json").unlink()
    assert "frames" not in suite.game_row("pong", tmp_path / "no_such_run", results)  # not the long run's


def test_a_tag_keeps_a_suite_run_apart_and_the_table_falls_back_to_untagged_games(tmp_path):
    (tmp_path / "results" / "pong" / "suite_10m").mkdir(parents=True)
    assert suite.game_dirs(tmp_path, "pong") == (tmp_path / "results" / "pong", tmp_path / "exported" / "pong")
    assert suite.game_dirs(tmp_path, "pong", "suite_10m") == (tmp_path / "results" / "pong" / "suite_10m",
                                                             tmp_path / "exported" / "pong_suite_10m")
    assert suite.game_dirs(tmp_path, "qbert", "suite_10m")[0] == tmp_path / "results" / "qbert"


def test_the_checkpoint_stage_keeps_the_newest_checkpoint_beside_the_results_once(tmp_path, model):
    logdir, results = tmp_path / "run", tmp_path / "results"
    for frames in (4000, 8000):
        checkpoint.save(logdir, model, [], {"frames": frames, "wall_seconds": 1.0, "meta": {}}, keep=2)
    kept = suite.keep_checkpoint(logdir, results)
    assert kept == results / "checkpoint" / checkpoint.list_checkpoints(logdir)[-1].name
    assert checkpoint.verify(kept)["frames"] == 8000
    assert suite.keep_checkpoint(logdir, results) == kept  # a second sitting leaves it as it is
    assert sorted(p.name for p in (results / "checkpoint").iterdir()) == [kept.name]
    with pytest.raises(suite.SuiteError, match="has no checkpoint to keep; run the train stage first"):
        suite.keep_checkpoint(tmp_path / "empty", results)


def test_paths_inside_the_project_go_to_the_tools_relative_so_their_files_name_no_machine_paths(tmp_path):
    assert suite.as_arg(ROOT / "runs" / "suite" / "pong") == "runs/suite/pong"
    assert suite.as_arg(ROOT / "results" / "gradcam" / "faithfulness_pong") == "results/gradcam/faithfulness_pong"
    assert suite.as_arg(tmp_path / "pong") == str(tmp_path / "pong")  # outside the project: as given


def test_the_cpu_is_named_as_proc_cpuinfo_names_it():
    from pathlib import Path

    lines = [s for s in Path("/proc/cpuinfo").read_text().splitlines() if s.startswith("model name")]
    assert suite.cpu_model() == lines[0].split(":", 1)[1].strip()
    assert suite.hardware().startswith(suite.cpu_model() + ", ")
