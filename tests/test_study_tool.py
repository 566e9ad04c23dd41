"""tools/study.py: the report stage tabulates committed runs; bad flags are one line and exit 2."""

import json
import subprocess
import sys

from conftest import ROOT


def study(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tools/study.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_the_report_gives_the_baselines_marks_area_and_speed_from_its_committed_curve(tmp_path):
    result = study("--stages", "report", "--games", "Qbert", "--candidates", "fast", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = json.loads((tmp_path / "study.json").read_text())["rows"]
    assert row["game"] == "qbert" and row["candidate"] == "fast" and row["source"] == "results/qbert/curve.csv"
    assert set(row["mean100_at"]) == {"2.5M", "5M", "10M"} and all(v is not None for v in row["mean100_at"].values())
    assert row["frames_so_far"] >= 9_900_000 and row["frames_per_sec"] > 0 and row["auc"] is not None
    assert (tmp_path / "qbert.png").stat().st_size > 0 and (tmp_path / "qbert_fast.csv").is_file()
    assert "| Qbert | fast |" in (tmp_path / "study.md").read_text()


def test_an_unknown_candidate_or_game_is_one_line_and_exit_2(tmp_path):
    for args, expected in ((["--candidates", "huge"], "unknown --candidates huge; accepted: fast,"),
                           (["--games", "Pongg"], "did you mean Pong?")):
        result = study("--stages", "report", "--out", str(tmp_path), *args)
        assert result.returncode == 2 and expected in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "study.json").exists()


def test_keep_copies_a_runs_curves_and_newest_checkpoint_so_another_machine_can_resume(tmp_path):
    from eac3_tf import checkpoint
    from eac3_tf.config import PRESETS
    from eac3_tf.model import build_model

    logdir = tmp_path / "runs" / "pong" / "impala_t20"
    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    for frames in (100, 200):
        checkpoint.save(logdir, model, [], {"frames": frames, "meta": {"game": "pong", "preset": "fast"}}, keep=3)
    (logdir / "episodes.csv").write_text("wall_seconds,frames,worker,score,length\n1.0,100,0,-21.0,800\n")
    result = study("--stages", "keep", "--games", "Pong", "--candidates", "impala_t20",
                   "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    kept = tmp_path / "out" / "runs" / "pong" / "impala_t20"
    assert [c.name for c in checkpoint.list_checkpoints(kept)] == ["ckpt-000000000200"]  # the newest only
    assert (kept / "episodes.csv").read_text() == (logdir / "episodes.csv").read_text()


def test_keep_again_replaces_the_kept_run_whole_and_leaves_nothing_partial(tmp_path):
    from eac3_tf import checkpoint
    from eac3_tf.config import PRESETS
    from eac3_tf.model import build_model

    logdir, out = tmp_path / "runs" / "pong" / "impala_t20", tmp_path / "out"
    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    args = ("--stages", "keep", "--games", "Pong", "--candidates", "impala_t20", "--runs", str(tmp_path / "runs"),
            "--out", str(out))
    checkpoint.save(logdir, model, [], {"frames": 100, "meta": {"game": "pong", "preset": "fast"}}, keep=3)
    (logdir / "progress.csv").write_text("frames\n100\n")
    assert study(*args).returncode == 0
    checkpoint.save(logdir, model, [], {"frames": 200, "meta": {"game": "pong", "preset": "fast"}}, keep=3)
    (logdir / "progress.csv").unlink()
    result = study(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    kept = out / "runs" / "pong" / "impala_t20"
    assert [c.name for c in checkpoint.list_checkpoints(kept)] == ["ckpt-000000000200"]
    assert not (kept / "progress.csv").exists()  # the old copy went whole, not merged into
    assert [p.name for p in kept.parent.iterdir()] == ["impala_t20"]  # no partial or old copy beside it


def test_a_report_of_one_game_keeps_the_rows_and_curves_earlier_reports_wrote(tmp_path):
    earlier = {"game": "pong", "candidate": "impala_t20", "flags": [], "seed": 0, "command": "c", "source": "s",
               "frames_so_far": 200, "games": 2, "mean100_at": {"2.5M": None, "5M": None, "10M": -3.0}, "auc": -3.0,
               "frames_per_sec": 1.0, "wall_hours": 0.1}
    (tmp_path / "study.json").write_text(json.dumps({"rows": [earlier]}))
    (tmp_path / "pong_impala_t20.csv").write_text("frames,wall_seconds,mean100_score\n100,1.0,-5.0\n200,2.0,-3.0\n")
    result = study("--stages", "report", "--games", "Qbert", "--candidates", "fast", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((tmp_path / "study.json").read_text())["rows"]
    assert [(r["game"], r["candidate"]) for r in rows] == [("pong", "impala_t20"), ("qbert", "fast")]
    assert rows[0] == earlier
    assert "| Pong | impala_t20 | — | — | -3 | -3 |" in (tmp_path / "study.md").read_text()
    assert (tmp_path / "pong.png").stat().st_size > 0
