"""Bad input to every command line: one line on stderr naming the problem and what is accepted, exit code 2,
no traceback, and every file that existed before is byte-identical after.

The package's commands run in-process through `cli.call(main, argv, prog)`, exactly as their `__main__` does;
the tools run as a user runs them, in subprocesses. Nothing is trained: the checkpoints are untrained networks
saved by `checkpoint.save`. The disk-full case runs `python -m eac3_tf.train` in a subprocess.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from eac3_tf.config import PRESETS, EnvConfig
from eac3_tf.io import write_json

COMMANDS = {
    "train": ["-m", "eac3_tf.train"],
    "evaluate": ["-m", "eac3_tf.evaluate"],
    "export": ["-m", "eac3_tf.export"],
    "gradcam": [str(ROOT / "tools" / "gradcam.py")],
    "faithfulness": [str(ROOT / "tools" / "gradcam_faithfulness.py")],
    "plot_curve": [str(ROOT / "tools" / "plot_curve.py")],
}
OBS = PRESETS["fast"].obs

# Disk full while a checkpoint is written: optimizer.npz gets a few bytes, then the write fails with ENOSPC.
DISK_FULL = """
import errno, os, runpy, sys
import numpy as np
def savez(file, *args, **kwargs):
    file.write(b"\\0" * 4096)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
np.savez = savez
sys.argv = ["train.py", *sys.argv[1:]]
runpy.run_module("eac3_tf.train", run_name="__main__", alter_sys=True)
"""


def run(cli: str, args: list[str], prelude: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-c", prelude, *args] if prelude else [sys.executable, *COMMANDS[cli], *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def digest(folder: Path) -> dict:
    """Every file's sha256 and every folder, by path: equal before and after means nothing was touched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(folder.rglob("*"))}


def onnx_policy(path: Path, input_shape: list[int], num_actions: int) -> None:
    """A tiny ONNX model frames [N, *input_shape] -> logits [N, num_actions], value [N] (the onnx helper API)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    c = input_shape[-1]
    w = numpy_helper.from_array(np.full((c, num_actions), 0.01, np.float32), "w")
    nodes = [helper.make_node("ReduceMean", ["frames"], ["pooled"], axes=[1, 2], keepdims=0),
             helper.make_node("MatMul", ["pooled", "w"], ["logits"]),
             helper.make_node("ReduceMean", ["logits"], ["value"], axes=[1], keepdims=0)]
    graph = helper.make_graph(nodes, "stand_in", [helper.make_tensor_value_info("frames", TensorProto.FLOAT,
                                                                                ["N", *input_shape])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", num_actions]),
                               helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N"])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A folder of things already saved, which no bad command may change."""
    import keras

    from eac3_tf import checkpoint, export
    from eac3_tf.config import A3CConfig
    from eac3_tf.envs import action_names
    from eac3_tf.model import build_model
    from eac3_tf.toy import toy_model_config
    from eac3_tf.workers import GlobalNetwork

    base = tmp_path_factory.mktemp("saved")
    keras.utils.set_random_seed(0)
    # a Pong run that can be resumed: weights, optimizer state and counters as the trainer saves them
    net = GlobalNetwork(build_model((80, 80, 4), 6, PRESETS["fast"]), A3CConfig())
    weights, opt, counters = net.snapshot()
    net.model.set_weights(weights)
    meta = {"game": "pong", "preset": "fast", "env": dataclasses.asdict(EnvConfig(game="pong"))}
    good = checkpoint.save(base / "run", net.model, opt, {"frames": 0, "counters": counters, "rng": [],
                                                          "meta": meta}, keep=3)
    write_json(base / "run" / "run.json", meta)
    # damaged copies: truncated model.keras (checksum off), the same with a re-made manifest, random bytes
    trunc = base / "trunc" / "ckpt-000000000100"
    shutil.copytree(good, trunc)
    data = (trunc / "model.keras").read_bytes()
    (trunc / "model.keras").write_bytes(data[: len(data) // 3])
    trunc_ok = base / "trunc_ok" / "ckpt-000000000100"
    shutil.copytree(trunc, trunc_ok)
    manifest = json.loads((trunc_ok / "manifest.json").read_text())
    manifest["model.keras"] = {"sha256": checkpoint.sha256(trunc_ok / "model.keras"),
                               "bytes": (trunc_ok / "model.keras").stat().st_size}
    (trunc_ok / "manifest.json").write_text(json.dumps(manifest))
    (base / "garbage").mkdir()
    (base / "garbage" / "model.keras").write_bytes(os.urandom(4096))
    toy = checkpoint.save(base / "toy", build_model((10, 5, 1), 3, toy_model_config()), [],
                          {"frames": 0, "meta": {"game": "catch", "preset": "toy"}}, keep=1)
    qbert = checkpoint.save(base / "qbert", net.model, [], {"frames": 0, "meta": {
        "game": "qbert", "preset": "fast", "env": dataclasses.asdict(EnvConfig(game="qbert"))}}, keep=1)
    (base / "badrun").mkdir()
    (base / "badrun" / "run.json").write_bytes(b"{not json")
    # plain files: a file paths are put under, notes, outputs that already exist
    (base / "a_file").write_text("a regular file, not a folder\n")
    (base / "notes.txt").write_text("not a checkpoint\n")
    (base / "eval.json").write_text('{"an": "earlier evaluation"}\n')
    (base / "bad_eval.json").write_bytes(b"\x00\x01 not json")
    (base / "other_eval.json").write_text(json.dumps({"game": "qbert", "frames_trained": 0, "episodes": 1, "mean": 0,
                                                      "std": 0, "best": 0, "min": 0, "protocol": {}}))
    (base / "export_taken").mkdir()
    (base / "export_taken" / "notes.txt").write_text("my own files, not an export\n")
    (base / "figs_taken").mkdir()
    (base / "figs_taken" / "strip.png").write_bytes(b"an earlier figure")
    # frames for Grad-CAM: wrong shape, dtype, range, none at all, not numpy, a pickle
    rng = np.random.default_rng(0)
    np.save(base / "frames_84.npy", rng.integers(0, 256, (2, 84, 84, 3), dtype=np.uint8))
    np.save(base / "frames_float01.npy", rng.random((2, 210, 160, 3), dtype=np.float32))
    np.save(base / "frames_int16.npy", rng.integers(0, 1000, (2, 210, 160, 3), dtype=np.int16))
    np.save(base / "frames_none.npy", np.zeros((0, 210, 160, 3), np.uint8))
    np.save(base / "frames_gray.npy", np.zeros((2, 210, 160), np.uint8))
    np.save(base / "frames_pickle.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    (base / "frames_random.npy").write_bytes(rng.bytes(5000))
    (base / "frames.txt").write_text("frames\n")
    (base / "no_frames").mkdir()
    # exported models for the player: a card made by export's own helpers beside stand-in ONNX files
    card = {"card_version": export.CARD_VERSION, "game": "pong", "num_actions": 6, "frames_trained": 0,
            "action_names": list(action_names("pong")), "preprocessing": export.card_preprocessing(OBS),
            "env": dataclasses.asdict(EnvConfig(game="pong"))}
    for name in ("p_random", "p_chw", "p_4actions", "p_ok", "p_nocard", "p_badcard"):
        (base / name).mkdir()
        if name not in ("p_nocard", "p_badcard"):
            (base / name / "card.json").write_text(json.dumps(card))
    (base / "p_badcard" / "card.json").write_text('{"game": "pong"}')
    (base / "p_random" / "policy.onnx").write_bytes(rng.bytes(4096))
    onnx_policy(base / "p_chw" / "policy.onnx", [4, 80, 80], 6)  # channels first
    onnx_policy(base / "p_4actions" / "policy.onnx", [80, 80, 4], 4)
    for name in ("p_ok", "p_nocard", "p_badcard"):
        onnx_policy(base / name / "policy.onnx", [80, 80, 4], 6)
    (base / "taken.gif").write_bytes(b"an earlier recording")
    # learning curves
    (base / "curve_none").mkdir()
    (base / "curve_empty").mkdir()
    (base / "curve_empty" / "episodes.csv").write_text("wall_seconds,frames,worker,score,length\n")
    (base / "curve_bad").mkdir()
    (base / "curve_bad" / "episodes.csv").write_text("time,step,reward\n1,2,3\n")
    (base / "curve").mkdir()
    (base / "curve" / "episodes.csv").write_text("wall_seconds,frames,worker,score,length\n"
                                                 "1.0,4000,0,-21,800\n2.0,8000,1,-20,900\n")
    return {"base": base, "run": base / "run", "ckpt": good, "trunc": trunc, "trunc_ok": trunc_ok,
            "garbage": base / "garbage", "toy": toy, "qbert": qbert}


T, E, X, G, F, P = "train", "evaluate", "export", "gradcam", "faithfulness", "plot_curve"
FRESH = "{base}/fresh"  # outputs that must never appear
BAD = [
    # ------------------------------------------------------------------ train: games, numbers, logdirs
    (T, ["--game", "Pongg", "--logdir", FRESH], "unknown game 'Pongg'; did you mean Pong"),
    (T, ["--game", "space_invaderz", "--logdir", FRESH], "did you mean SpaceInvaders"),
    (T, ["--game", "ALE/Qbertt-v5", "--logdir", FRESH], "did you mean Qbert"),
    (T, ["--game", "Zzzzqq", "--logdir", FRESH], "unknown game 'Zzzzqq'; paper games: DemonAttack"),
    (T, ["--preset", "huge", "--logdir", FRESH], "unknown --preset 'huge'; accepted: paper, fast"),
    (T, ["--frames", "0", "--logdir", FRESH], "--frames must be a positive integer, got 0"),
    (T, ["--frames", "-5", "--logdir", FRESH], "--frames must be a positive integer, got -5"),
    (T, ["--frames", "lots", "--logdir", FRESH], "flag --frames=lots"),
    (T, ["--workers", "0", "--logdir", FRESH], "--workers must be a positive integer"),
    (T, ["--workers", "1000", "--logdir", FRESH], "--workers must be 1..64"),
    (T, ["--envs_per_worker", "100000", "--logdir", FRESH], "--envs_per_worker must be 1..256"),
    (T, ["--checkpoint_every", "0", "--logdir", FRESH], "--checkpoint_every must be a positive integer"),
    (T, ["--log_every", "0", "--logdir", FRESH], "--log_every must be positive seconds"),
    (T, ["--learning_rate", "5", "--logdir", FRESH], "--learning_rate must be in (0, 1), got 5.0"),
    (T, ["--learning_rate", "nan", "--logdir", FRESH], "--learning_rate must be in (0, 1), got nan"),
    (T, ["--entropy_beta", "-1", "--logdir", FRESH], "--entropy_beta must be in [0, 1)"),
    (T, ["--t_max", "0", "--logdir", FRESH], "--t_max must be a positive integer, got 0"),
    (T, ["--t_max", "5000", "--logdir", FRESH], "--t_max must be 1..1000 agent steps, got 5000"),
    (T, ["--phase_jitter", "2", "--logdir", FRESH], "--phase_jitter must be in [0, 1], got 2.0"),
    (T, ["--lr_schedule", "cosine", "--logdir", FRESH], "value should be one of <constant|linear>"),
    (T, ["--bogus_flag", "1", "--logdir", FRESH], "bogus_flag"),
    (T, ["--game", "Qbert", "--logdir", "{run}"], "holds a run of game 'pong', not 'qbert'"),
    (T, ["--game", "Pong", "--preset", "fast", "--logdir", "{run}"], "already has checkpoints; pass --resume"),
    (T, ["--game", "Pong", "--logdir", "{run}", "--resume"],
     "holds a run of preset 'fast', not 'impala'; pass --preset fast to continue it"),
    (T, ["--game", "Pong", "--logdir", "{base}/badrun"], "run.json is unreadable; choose a new --logdir"),
    (T, ["--game", "Pong", "--frames", "1000", "--workers", "1", "--envs_per_worker", "1",
         "--logdir", "{base}/a_file/run"], ("a_file", "give a path in a")),  # names the file in the way
    # ------------------------------------------------------------------ evaluate
    (E, [], "--checkpoint is required"),
    (E, ["--checkpoint", "{base}/missing"], "checkpoint {base}/missing does not exist; give a run logdir"),
    (E, ["--checkpoint", "{base}/notes.txt"], "is not a checkpoint; give a run logdir, a ckpt-* folder"),
    (E, ["--checkpoint", "{trunc}"], "damaged: model.keras does not match its sha256"),
    (E, ["--checkpoint", "{trunc_ok}"], "model.keras does not load"),  # checksums fine, the archive is cut
    (E, ["--checkpoint", "{garbage}"], "incomplete: no manifest.json"),
    (E, ["--checkpoint", "{toy}"], "not trained on an ALE game with a known preset"),
    (E, ["--checkpoint", "{run}", "--episodes", "0"], "--episodes must be a positive integer"),
    (E, ["--checkpoint", "{run}", "--episodes", "10000000"], "--episodes must be at most 100000"),
    (E, ["--checkpoint", "{run}", "--envs", "-2"], "--envs must be a positive integer"),
    (E, ["--checkpoint", "{run}", "--protocol", "human"], "value should be one of <v5|noop>"),
    (E, ["--checkpoint", "{run}", "--policy", "best"], "value should be one of <sample|greedy>"),
    (E, ["--checkpoint", "{run}", "--output", "{base}/eval.json"], "eval.json exists; pass --force"),
    (E, ["--checkpoint", "{run}", "--output", "{base}/nope/x.json"], "nope does not exist"),
    (E, ["--checkpoint", "{run}", "--output", "{base}/a_file/x.json"], "a_file is a file, not a folder"),
    # ------------------------------------------------------------------ export
    (X, ["--out", FRESH], "--checkpoint is required"),
    (X, ["--checkpoint", "{run}"], "--out is required"),
    (X, ["--checkpoint", "{run}", "--out", "{base}/export_taken"], "export_taken exists; pass --force"),
    (X, ["--checkpoint", "{run}", "--out", "{base}/export_taken", "--force"], "is not an export (no card.json)"),
    (X, ["--checkpoint", "{run}", "--out", "{base}/a_file/export"], "a_file is a file, not a folder"),
    (X, ["--checkpoint", "{run}", "--out", FRESH, "--parity_frames", "0"], "--parity_frames must be a positive"),
    (X, ["--checkpoint", "{run}", "--out", FRESH, "--parity_frames", "999999999"], "at most 100000"),
    (X, ["--checkpoint", "{run}", "--out", FRESH, "--tolerance", "-1"], "--tolerance must be a finite number >= 0"),
    (X, ["--checkpoint", "{run}", "--out", FRESH, "--tolerance", "inf"], "--tolerance must be a finite number"),
    (X, ["--checkpoint", "{run}", "--out", FRESH, "--eval", "{base}/missing.json"], "missing.json does not exist"),
    (X, ["--checkpoint", "{run}", "--out", FRESH, "--eval", "{base}/bad_eval.json"], "not a readable evaluate"),
    (X, ["--checkpoint", "{run}", "--out", FRESH, "--eval", "{base}/other_eval.json"],
     "scores qbert at 0 frames, but the checkpoint is pong at 0 frames"),
    (X, ["--checkpoint", "{trunc}", "--out", FRESH], "damaged: model.keras does not match its sha256"),
    (X, ["--checkpoint", "{toy}", "--out", FRESH], "not trained on an ALE game"),
    # ------------------------------------------------------------------ tools/gradcam.py
    (G, ["--checkpoint", "{run}", "--frames", "{base}/frames_84.npy", "--out", FRESH], "frames of shape (84, 84, 3)"),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/frames_gray.npy", "--out", FRESH], "(2, 210, 160)"),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/frames_float01.npy", "--out", FRESH],
     "holds float32 values in 3.457e-06..1; accepted: uint8 RGB"),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/frames_int16.npy", "--out", FRESH], "holds int16 values in 0.."),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/frames_none.npy", "--out", FRESH], "(array (0, 210, 160, 3))"),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/frames_random.npy", "--out", FRESH], "does not load as a numpy"),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/frames_pickle.npy", "--out", FRESH], "allow_pickle=False"),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/no_frames", "--out", FRESH], "no_frames holds no .png files"),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/frames.txt", "--out", FRESH], "neither .npy, .npz nor a folder"),
    (G, ["--checkpoint", "{run}", "--frames", "{base}/missing.npy", "--out", FRESH], "missing.npy does not exist"),
    (G, ["--checkpoint", "{run}", "--record", "4", "--out", "{base}/figs_taken"], "already holds strip.png; pass"),
    (G, ["--checkpoint", "{run}", "--record", "4", "--out", "{base}/a_file/figs"], "a_file is a file, not a folder"),
    (G, ["--checkpoint", "{run}", "--record", "100000", "--out", FRESH], "--record must be 1..10000"),
    (G, ["--checkpoint", "{run}", "--record", "4", "--alpha", "2", "--out", FRESH], "--alpha must be in [0, 1]"),
    (G, ["--checkpoint", "{run}", "--record", "4", "--fps", "0", "--out", FRESH], "--fps must be in (0, 120]"),
    (G, ["--checkpoint", "{run}", "--record", "4", "--cmap", "rainbowz", "--out", FRESH], "unknown --cmap"),
    (G, ["--checkpoint", "{run}", "--record", "4", "--target", "UP", "--out", FRESH],
     "an action of Pong (0..5 or NOOP, FIRE, RIGHT, LEFT, RIGHTFIRE, LEFTFIRE)"),
    (G, ["--checkpoint", "{trunc}", "--record", "4", "--out", FRESH], "damaged"),
    (G, ["--grid", "{run}", "--frames", "{base}/frames_84.npy", "--out", FRESH], "give --record N"),
    # ------------------------------------------------------------------ tools/gradcam_faithfulness.py
    (F, [], "the following arguments are required: --checkpoint"),
    (F, ["--checkpoint", "{run}", "--bogus"], "unrecognized arguments: --bogus"),
    (F, ["--checkpoint", "{base}/missing", "--out", FRESH], "does not exist"),
    (F, ["--checkpoint", "{trunc}", "--out", FRESH], "damaged: model.keras does not match its sha256"),
    (F, ["--checkpoint", "{toy}", "--out", FRESH], "not trained on an ALE game"),
    (F, ["--checkpoint", "{qbert}", "--skip_toy", "--toy_checkpoint", "{toy}", "--out", FRESH],
     "--toy_checkpoint and --skip_toy contradict each other"),
    (F, ["--checkpoint", "{run}", "--frames", "0", "--out", FRESH], "--frames must be >= 1, got 0"),
    (F, ["--checkpoint", "{run}", "--cascade_frames", "-3", "--out", FRESH], "--cascade_frames must be >= 1"),
    (F, ["--checkpoint", "{run}", "--frames", "100000000", "--out", FRESH], "--frames must be 1..100000"),
    (F, ["--checkpoint", "{run}", "--toy_agents", "0", "--out", FRESH], "--toy_agents must be >= 1, got 0"),
    (F, ["--checkpoint", "{run}", "--toy_agents", "50", "--out", FRESH], "--toy_agents must be 1..20, got 50"),
    (F, ["--checkpoint", "{run}", "--toy_checkpoint", "{garbage}", "--out", FRESH], "incomplete: no manifest"),
    (F, ["--checkpoint", "{run}", "--out", "{base}/a_file/faith"], "a_file is a file, not a folder"),
    # ------------------------------------------------------------------ tools/plot_curve.py
    (P, [], "the following arguments are required: --run, --out"),
    (P, ["--run", "{base}/curve_none", "--out", FRESH], "curve_none has no episodes.csv"),
    (P, ["--run", "{base}/curve_empty", "--out", FRESH], "has no episodes yet"),
    (P, ["--run", "{base}/curve_bad", "--out", FRESH], "has no readable rows; accepted: an eac3_tf.train episodes"),
    (P, ["--run", "{base}/curve", "--out", FRESH, "--points", "0"], "--points must be 1..1000000"),
    (P, ["--run", "{base}/curve", "--out", FRESH, "--peer", "{base}/missing.csv"], "missing.csv does not exist"),
    (P, ["--run", "{base}/curve", "--out", FRESH, "--peer", "{base}/eval.json"], "not a CSV with columns frames"),
    (P, ["--run", "{base}/curve", "--out", FRESH, "--peer_points", "5e6-20"], "is not a list of frames:score pairs"),
    (P, ["--run", "{base}/curve", "--out", FRESH, "--also", "{base}/eval.json"], "is not a curve CSV of plot_curve.py"),
    (P, ["--run", "{base}/curve", "--out", "{base}/a_file/curve"], "a_file is a file, not a folder"),
]

PLAYER_BAD = [
    (["--model", "{base}/p_random/policy.onnx"], "is not an ONNX model onnxruntime can load"),
    (["--model", "{base}/p_chw/policy.onnx"], "takes input tensor(float) [N, 4, 80, 80], but the card's preprocessing "
                                              "gives float frames [N, 80, 80, 4]"),
    (["--model", "{base}/p_4actions/policy.onnx"], "gives 4 logits, but pong has 6 actions"),
    (["--model", "{base}/p_nocard/policy.onnx"], "no card.json beside"),
    (["--model", "{base}/p_badcard/policy.onnx"], "card_version None is not one this eac3_tf reads (1, 2)"),
    (["--model", "{base}/missing.onnx"], "missing.onnx does not exist"),
    (["--model", "{base}/p_ok/policy.onnx", "--cam", "{base}/cam.gif"], "--cam needs"),
    (["--model", "{base}/p_ok/policy.onnx", "--episodes", "-1"], "--episodes must be 1..10000, got -1"),
    (["--model", "{base}/p_ok/policy.onnx", "--episodes", "many"], "argument --episodes: invalid int value"),
    (["--model", "{base}/p_ok/policy.onnx", "--threads", "0"], "--threads 1..64"),
    (["--model", "{base}/p_ok/policy.onnx", "--gif", "{base}/a_file/play.gif"], "a_file is a file, not a folder"),
    (["--model", "{base}/p_ok/policy.onnx", "--gif", "{base}/taken.gif"], "taken.gif exists; pass --force"),
]


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    return lines[0]


IN_PROCESS = {"train": ("eac3_tf.train", "train.py"), "evaluate": ("eac3_tf.evaluate", "evaluate.py"),
              "export": ("eac3_tf.export.__main__", "export")}


def run_in_process(cli: str, args: list[str], capsys) -> subprocess.CompletedProcess:
    """A package command through `main(argv)`, as its `__main__` calls it; the tools run as scripts."""
    import importlib

    from eac3_tf import cli as dialect

    module, prog = IN_PROCESS[cli]
    code = dialect.call(importlib.import_module(module).main, args, prog)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


@pytest.mark.parametrize("cli, args, expected", BAD, ids=[f"{c}:{' '.join(a)}" for c, a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(saved, capsys, cli, args, expected):
    base = saved["base"]
    args = [a.format(**saved) for a in args]
    before = digest(base)
    out = run_in_process(cli, args, capsys) if cli in IN_PROCESS else run(cli, args)
    assert out.returncode == 2, (out.stdout[-500:], out.stderr[-3000:])
    line = one_line(out.stderr)
    for part in (expected,) if isinstance(expected, str) else expected:
        assert part.format(**saved) in line, line
    assert digest(base) == before  # byte for byte, and nothing new (no half-written output, no folder)


@pytest.mark.parametrize("args, expected", PLAYER_BAD, ids=[f"player:{' '.join(a)}" for a, _ in PLAYER_BAD])
def test_bad_input_to_the_player_is_one_line_exit_2_and_changes_nothing(saved, capsys, args, expected):
    from eac3_tf import player

    base = saved["base"]
    before = digest(base)
    code = player.main([a.format(**saved) for a in args])
    captured = capsys.readouterr()
    assert code == 2, (captured.out[-500:], captured.err[-3000:])
    line = one_line(captured.err)
    assert line.startswith("player: error: ") and expected.format(**saved) in line, line
    assert digest(base) == before


def test_disk_full_while_checkpointing_is_one_line_and_leaves_the_saved_checkpoints_intact(saved, tmp_path):
    """ENOSPC in the middle of writing a checkpoint: no partial checkpoint, earlier ones intact, exit 2."""
    from eac3_tf import checkpoint

    logdir = tmp_path / "run"
    shutil.copytree(saved["run"], logdir)
    before, before_base = digest(logdir / checkpoint.CKPT_DIR), digest(saved["base"])
    out = run("train", ["--game", "Pong", "--preset", "fast", "--frames", "1000", "--checkpoint_every", "400",
                        "--workers", "1",
                        "--envs_per_worker", "2", "--log_every", "60", "--logdir", str(logdir), "--resume"],
              prelude=DISK_FULL)
    assert out.returncode == 2, (out.stdout[-1000:], out.stderr[-3000:])
    line = one_line(out.stderr)
    assert line.startswith("train.py: error: no space left on the device") and "--resume" in line, line
    assert "resumed from" in out.stdout  # it got as far as training, so the failing write was a checkpoint's
    assert digest(logdir / checkpoint.CKPT_DIR) == before  # no partial folder, no temp folder, the old one intact
    assert [p.name for p in checkpoint.list_checkpoints(logdir)] == ["ckpt-000000000000"]
    checkpoint.verify(checkpoint.list_checkpoints(logdir)[0])
    assert digest(saved["base"]) == before_base


def test_the_table_covers_every_command_line_with_at_least_30_cases():
    assert {c for c, _, _ in BAD} == set(COMMANDS)
    assert len(BAD) + len(PLAYER_BAD) + 1 >= 30
