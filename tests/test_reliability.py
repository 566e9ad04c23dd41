"""Crash consistency: training killed with SIGKILL resumes from its newest valid checkpoint, and no checkpoint on disk
is ever half-written, half-deleted or changed. The kill loop is `eac3_tf.reliability.run_kill_loop`, the one
tools/kill9.py runs; its tally and page are tested in tests/test_reliability_report.py."""

import shutil

import pytest

from eac3_tf import checkpoint
from eac3_tf.reliability import check_after_kill, leftovers, resumed_as_expected, run_kill_loop


@pytest.mark.integration
@pytest.mark.timeout(900)  # four TensorFlow start-ups take far longer on a loaded machine than on an idle one
def test_training_killed_with_sigkill_three_times_resumes_every_time_and_loses_nothing(tmp_path):
    lines: list[str] = []
    tally = run_kill_loop(tmp_path / "run", kills=3, seed=1, window=1.0, checkpoint_every=100, workers=1, envs=4,
                          log=lines.append)
    report = "\n".join(lines)
    assert tally["ok"], report
    assert tally["resumed"] == 3 and tally["corrupt"] == 0 and tally["frames_monotonic"], report
    assert all(r["problems"] == [] for r in tally["rounds"]), report
    assert tally["rounds"][0]["newest"] is not None  # the first kill came after a checkpoint, so later rounds ...
    assert all(r["expected_resume"] for r in tally["rounds"][1:])  # ... resumed from a real one, not from scratch
    assert [r["mode"].split(" ")[0] for r in tally["rounds"]] == ["random", "mid-save", "random"]
    assert tally["temp_folders_listed_as_checkpoints"] == 0
    final = tally["final"]
    assert final["exit_code"] == 0 and final["resumed"] and final["leftovers"] == []  # a clean save tidies up
    assert final["frames"] > tally["rounds"][-1]["frames"]
    assert tally["line"].startswith("3/3 resumed, 0 corrupt, frames monotonic"), tally["line"]


# ------------------------------------------------------------------------- what a killed save leaves behind
@pytest.fixture(scope="module")
def toy_model():
    from eac3_tf.model import build_model
    from eac3_tf.toy import toy_model_config

    return build_model((10, 5, 1), 3, toy_model_config())


def save(root, model, frames, keep=3):
    return checkpoint.save(root, model, [], {"frames": frames, "meta": {"game": "catch", "preset": "toy"}}, keep)


def test_leftovers_of_a_killed_save_or_removal_are_never_checkpoints_and_a_next_save_removes_them(tmp_path, toy_model):
    good = save(tmp_path, toy_model, 100)
    half_written = tmp_path / checkpoint.CKPT_DIR / ".ckpt-000000000200.x1y2.tmp"
    shutil.copytree(good, half_written)
    (half_written / "manifest.json").unlink()  # killed before its manifest was written
    half_deleted = tmp_path / checkpoint.CKPT_DIR / ".ckpt-000000000050.4242.del"
    half_deleted.mkdir()
    (half_deleted / "state.json").write_text("{}")
    assert checkpoint.list_checkpoints(tmp_path) == [good]
    assert leftovers(tmp_path) == [".ckpt-000000000050.4242.del", ".ckpt-000000000200.x1y2.tmp"]
    warnings: list[str] = []
    assert checkpoint.latest_valid(tmp_path, warn=warnings.append).path == good and warnings == []
    newer = save(tmp_path, toy_model, 300)
    assert sorted(p.name for p in (tmp_path / checkpoint.CKPT_DIR).iterdir()) == [good.name, newer.name]
    assert leftovers(tmp_path) == []


def test_a_kill_while_an_old_checkpoint_is_removed_leaves_no_half_deleted_checkpoint(tmp_path, toy_model, monkeypatch):
    old = save(tmp_path, toy_model, 100, keep=1)
    real_rmtree = shutil.rmtree

    def killed_midway(path, *args, **kwargs):  # removes one file, then the process "dies"
        if str(path).endswith(".del"):
            next(p for p in sorted(path.iterdir()) if p.is_file()).unlink()
            raise SystemExit("killed")
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint.shutil, "rmtree", killed_midway)
    with pytest.raises(SystemExit):
        save(tmp_path, toy_model, 200, keep=1)  # keep=1: removes ckpt-100 after writing ckpt-200
    monkeypatch.undo()
    listed = checkpoint.list_checkpoints(tmp_path)
    assert [p.name for p in listed] == ["ckpt-000000000200"] and not old.exists()
    for path in listed:
        checkpoint.verify(path)  # what is listed is whole; the half-deleted folder is hidden
    save(tmp_path, toy_model, 300, keep=1)
    assert [p.name for p in (tmp_path / checkpoint.CKPT_DIR).iterdir()] == ["ckpt-000000000300"]


def test_saving_the_same_frame_count_again_keeps_the_complete_folder_and_replaces_a_damaged_one(tmp_path, toy_model):
    first = save(tmp_path, toy_model, 100)
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    assert save(tmp_path, toy_model, 100) == first
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before  # never deleted, never rewritten
    (first / "optimizer.npz").write_bytes(b"damaged")
    assert save(tmp_path, toy_model, 100) == first
    checkpoint.verify(first)
    assert [p.name for p in (tmp_path / checkpoint.CKPT_DIR).iterdir()] == [first.name]


# ------------------------------------------------------------------------- the checks after each kill
def test_after_a_kill_the_newest_checkpoint_loads_and_every_one_on_disk_is_remembered_as_first_seen(tmp_path,
                                                                                                   toy_model):
    save(tmp_path, toy_model, 100)
    save(tmp_path, toy_model, 200)
    seen: dict = {}
    checks = check_after_kill(tmp_path, seen, last_frames=0)
    assert checks == {"listed": ["ckpt-000000000100", "ckpt-000000000200"],
                      "new": ["ckpt-000000000100", "ckpt-000000000200"], "newest": "ckpt-000000000200",
                      "frames": 200, "leftovers": [], "corrupt": [], "problems": []}
    assert sorted(seen) == ["ckpt-000000000100", "ckpt-000000000200"]
    assert sorted(seen["ckpt-000000000100"]) == ["manifest.json", "model.keras", "optimizer.npz", "state.json"]
    assert check_after_kill(tmp_path, seen, last_frames=200)["new"] == []  # nothing written since


def test_a_damaged_older_checkpoint_is_corrupt_and_a_lower_frame_count_is_frames_going_backwards(tmp_path, toy_model):
    older = save(tmp_path, toy_model, 100)
    save(tmp_path, toy_model, 200)
    (older / "optimizer.npz").write_bytes(b"damaged")
    checks = check_after_kill(tmp_path, {}, last_frames=300)
    damaged = (f"ckpt-000000000100: checkpoint {older} is damaged: optimizer.npz does not match its sha256 in "
               "manifest.json")
    assert checks["corrupt"] == [damaged]
    assert checks["problems"] == ["frames went backwards: 300 -> 200", damaged]


def test_a_run_folder_whose_checkpoints_are_all_gone_fails_and_one_that_never_had_any_passes(tmp_path):
    assert check_after_kill(tmp_path, {}, last_frames=400)["problems"] == ["every checkpoint is gone"]
    assert check_after_kill(tmp_path, {}, last_frames=0) == {
        "listed": [], "new": [], "newest": None, "frames": 0, "leftovers": [], "corrupt": [], "problems": []}


def test_a_child_resumed_as_expected_only_from_the_very_checkpoint_or_from_scratch_when_there_was_none(tmp_path):
    ckpt = str(tmp_path / "checkpoints" / "ckpt-000000000100")
    line = f"resumed from {ckpt} at 100 frames"
    assert resumed_as_expected(line, ckpt)
    assert not resumed_as_expected(line, str(tmp_path / "checkpoints" / "ckpt-000000000200"))
    assert not resumed_as_expected(line, None)  # a checkpoint appeared where there should have been none
    assert resumed_as_expected(f"no valid checkpoint in {tmp_path}; starting from scratch", None)
    assert not resumed_as_expected(f"no valid checkpoint in {tmp_path}; starting from scratch", ckpt)
    assert not resumed_as_expected(None, None)  # the child said nothing before it was killed
