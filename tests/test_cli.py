"""The one command-line dialect (in-process), and the command lines run as a user runs them: real ALE games,
tiny budgets, in subprocesses (the integration tier)."""

import errno
import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

from eac3_tf import checkpoint, cli
from eac3_tf.errors import ConfigError

integration = pytest.mark.integration  # each such test trains or evaluates Pong in a fresh process


def parser() -> cli.ArgumentParser:
    p = cli.ArgumentParser("demo.py")
    p.add_argument("--frames", type=int, default=3)
    p.add_argument("--rate", type=float, default=0.5)
    p.add_argument("--schedule", choices=("constant", "linear"), default="constant")
    p.add_argument("--grid", type=cli.comma_list)
    p.add_switch("force")
    p.add_switch("maxpool", default=True)
    return p


@pytest.mark.parametrize("argv, force, maxpool", [
    ([], False, True), (["--force"], True, True), (["--force=false"], False, True), (["--noforce"], False, True),
    (["--nomaxpool"], False, False), (["--maxpool", "--force=TRUE"], True, True),
])
def test_switches_read_as_the_absl_commands_did(argv, force, maxpool):
    args = parser().parse_args(argv)
    assert (args.force, args.maxpool) == (force, maxpool)


@pytest.mark.parametrize("argv, message", [
    (["--frames", "lots"], "argument --frames: invalid int value 'lots' in flag --frames=lots; accepted: an integer "
                           "(see --help)"),
    (["--rate=fast"], "argument --rate: invalid float value 'fast' in flag --rate=fast; accepted: a number (see "
                      "--help)"),
    (["--schedule", "cosine"], "argument --schedule: value should be one of <constant|linear>, got 'cosine' (see "
                               "--help)"),
    (["--force=maybe"], "argument --force: flag --force=maybe is not a boolean; accepted: true or false (see --help)"),
    (["--fram", "3"], "unrecognized arguments: --fram 3 (see --help)"),  # no prefix matching: a typo is refused
])
def test_a_bad_flag_value_is_one_usage_error_naming_the_flag(argv, message):
    with pytest.raises(cli.UsageError) as caught:
        parser().parse_args(argv)
    assert str(caught.value) == message


def test_a_negative_number_is_a_value_not_a_flag():
    assert parser().parse_args(["--frames", "-5"]).frames == -5


def test_a_comma_list_drops_empty_items():
    assert parser().parse_args(["--grid", "runs/a, runs/b,,"]).grid == ["runs/a", "runs/b"]


def failing(error: BaseException):
    def main(argv):
        raise error

    return main


@pytest.mark.parametrize("error, code, line", [
    (ConfigError("t_max", "must be a positive integer, got 0"), 2, "demo.py: error: --t_max must be a positive "
                                                                 "integer, got 0"),
    (cli.UsageError("--checkpoint is required"), 2, "demo.py: error: --checkpoint is required"),
    (checkpoint.CheckpointError("checkpoint x is damaged"), 2, "demo.py: error: checkpoint x is damaged"),
    (OSError(errno.ENOSPC, "No space left on device", "/x/model.keras"), 2,
     "demo.py: error: no space left on the device writing /x/model.keras; free some space and run again (files "
     "saved earlier are intact; a training run continues with --resume)"),
    (KeyboardInterrupt(), 130, "demo.py: error: interrupted"),
])
def test_call_turns_a_user_fixable_error_into_one_line_and_an_exit_code(capsys, error, code, line):
    assert cli.call(failing(error), [], "demo.py") == code
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", line + "\n")


def test_call_lets_a_bug_raise_with_its_traceback():
    with pytest.raises(ZeroDivisionError):
        cli.call(failing(ZeroDivisionError()), [], "demo.py")


def test_call_reports_a_system_exit_message_as_python_does_with_exit_1(capsys):
    assert cli.call(failing(SystemExit("quickstart stopped: a step failed")), [], "demo.py") == 1
    assert capsys.readouterr().err == "demo.py: error: quickstart stopped: a step failed\n"


def test_call_returns_the_commands_own_code_and_help_exits_0(capsys):
    assert cli.call(lambda argv: 1, [], "demo.py") == 1
    assert cli.call(lambda argv: parser().parse_args(argv), ["--help"], "demo.py") == 0
    assert "--frames" in capsys.readouterr().out


TINY = ["--workers", "2", "--envs_per_worker", "2", "--log_every", "1"]


@pytest.fixture(scope="module")
def pong_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("pong") / "run"
    first = run_cli("eac3_tf.train", "--game", "Pong", "--frames", "2000", "--checkpoint_every", "1000",
                    "--logdir", str(logdir), *TINY)
    assert first.returncode == 0, first.stderr[-2000:]
    return logdir, first


@integration
def test_train_prints_progress_and_saves_a_checkpoint(pong_run):
    logdir, first = pong_run
    assert "frames/s" in first.stdout
    state = checkpoint.verify(checkpoint.list_checkpoints(logdir)[-1])
    assert state["frames"] >= 2000 and state["meta"]["game"] == "pong"
    assert (logdir / "progress.csv").is_file() and list((logdir / "tb").iterdir())


@integration
def test_a_plain_run_trains_the_studys_winner(pong_run):
    """No flags: the IMPALA torso, 20-step rollouts, a linear decay, life loss ends learning, random reset no-ops."""
    logdir, _ = pong_run
    meta = checkpoint.verify(checkpoint.list_checkpoints(logdir)[-1])["meta"]
    assert meta["preset"] == "impala" and meta["model"]["torso"] == "residual"
    assert (meta["a3c"]["t_max"], meta["a3c"]["lr_schedule"], meta["a3c"]["life_loss_terminal"]) == (20, "linear", True)
    assert meta["env"]["noop_max"] == 30


@integration
def test_resume_continues_the_frame_counter_with_new_learning_settings(pong_run):
    """Resuming with other settings fine-tunes: here shorter rollouts, random reset no-ops, the last frame only."""
    logdir, _ = pong_run
    before = checkpoint.verify(checkpoint.list_checkpoints(logdir)[-1])["frames"]
    out = run_cli("eac3_tf.train", "--game", "Pong", "--frames", "4000", "--logdir", str(logdir), "--resume",
                  "--t_max", "3", "--reset_noop_frames", "30", "--nomaxpool", *TINY)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"at {before / 1e3:.1f}k frames" in out.stdout
    state = checkpoint.verify(checkpoint.list_checkpoints(logdir)[-1])
    assert state["frames"] >= 4000 > before
    # the resumed part rolls out 3 steps x 2 envs x 4 frames = 24 frames per update
    assert state["meta"]["a3c"]["t_max"] == 3 and (state["frames"] - before) % 24 == 0
    assert state["meta"]["env"]["noop_max"] == 30 and state["meta"]["env"]["maxpool"] is False


@integration
def test_evaluate_reports_mean_std_and_protocol(pong_run, tmp_path):
    logdir, _ = pong_run
    out_json = tmp_path / "eval.json"
    out = run_cli("eac3_tf.evaluate", "--checkpoint", str(logdir), "--episodes", "2", "--envs", "2",
                  "--output", str(out_json))
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out_json.read_text())
    assert report["episodes"] == 2 and len(report["scores"]) == 2
    assert -21 <= report["min"] <= report["mean"] <= report["best"] <= 21
    assert report["protocol"]["repeat_action_probability"] == 0.25
    assert report["protocol"]["episode_end"].startswith("game over")
    assert "| pong |" in out_json.with_suffix(".md").read_text()


@integration
def test_sigint_stops_training_with_a_final_checkpoint(tmp_path):
    logdir = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "eac3_tf.train", "--game", "Pong", "--frames", "100000000",
                             "--logdir", str(logdir), *TINY], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # a progress line after the first applied update (the first ones may show 0 frames)
        if "frames/s" in line and not line.startswith("frames 0.0k/"):
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    assert "received SIGINT" in stdout
    assert checkpoint.verify(checkpoint.list_checkpoints(logdir)[-1])["frames"] > 0


# Bad input to every command line (these commands' included) is tests/test_bad_input.py.
