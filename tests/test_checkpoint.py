import json
import shutil

import numpy as np
import pytest

from eac3_tf import checkpoint
from eac3_tf.io import write_json


def test_training_keeps_the_newest_checkpoints_and_no_temp_folders(trained_toy_run):
    logdir, result = trained_toy_run
    found = checkpoint.list_checkpoints(logdir)
    assert 1 <= len(found) <= 3
    assert found[-1] == result.checkpoint
    assert not [p for p in (logdir / "checkpoints").iterdir() if p.name.startswith(".")]


def test_a_checkpoint_round_trips_weights_optimizer_and_counters(trained_toy_run):
    logdir, result = trained_toy_run
    ckpt = checkpoint.load(result.checkpoint)
    assert ckpt.state["frames"] == result.frames >= 4000
    assert ckpt.state["counters"]["frames"] == result.frames
    assert len(ckpt.optimizer) > 1 and all(np.all(np.isfinite(a)) for a in ckpt.optimizer)
    assert len(ckpt.state["rng"]) == 2  # one RNG state per worker


def test_a_damaged_newest_checkpoint_is_skipped_with_a_message(trained_toy_run, tmp_path):
    logdir, _ = trained_toy_run
    copy = tmp_path / "run"
    shutil.copytree(logdir, copy)
    newest = checkpoint.list_checkpoints(copy)[-1]
    data = (newest / "model.keras").read_bytes()
    (newest / "model.keras").write_bytes(data[: len(data) // 2])  # truncated
    messages = []
    ckpt = checkpoint.latest_valid(copy, warn=messages.append)
    assert ckpt is not None and ckpt.path != newest
    assert len(messages) == 1 and "damaged" in messages[0] and "model.keras" in messages[0]


def test_loading_a_damaged_checkpoint_explicitly_is_one_error(trained_toy_run, tmp_path):
    logdir, result = trained_toy_run
    bad = tmp_path / "ckpt-000000000001"
    shutil.copytree(result.checkpoint, bad)
    (bad / "optimizer.npz").write_bytes(b"garbage")
    with pytest.raises(checkpoint.CheckpointError, match="optimizer.npz does not match its sha256"):
        checkpoint.load(bad)


def test_a_checkpoint_without_manifest_is_incomplete(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"PK")
    with pytest.raises(checkpoint.CheckpointError, match="incomplete: no manifest.json"):
        checkpoint.load(tmp_path)


def test_resolve_accepts_logdir_folder_or_model_file(trained_toy_run):
    logdir, result = trained_toy_run
    assert checkpoint.resolve(logdir) == result.checkpoint
    assert checkpoint.resolve(result.checkpoint) == result.checkpoint
    assert checkpoint.resolve(result.checkpoint / "model.keras") == result.checkpoint
    assert checkpoint.resolve(result.checkpoint.parent) == result.checkpoint  # a folder of ckpt-* folders


def test_json_is_written_atomically_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": 1})
    write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
