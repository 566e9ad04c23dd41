"""The edge player: plays an exported policy without TensorFlow, on the trainer's inputs; wrong models are one line."""

import dataclasses
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from eac3_tf import player
from eac3_tf.config import PRESETS, EnvConfig
from eac3_tf.envs import AtariBatchEnv
from eac3_tf.rollout import rollout

OBS = PRESETS["fast"].obs
BLOCKED = ("tensorflow", "keras", "absl", "gymnasium", "matplotlib")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An untrained fast-preset Pong network, exported by `eac3_tf.export.export` (parity on 32 real frames)."""
    import keras

    from eac3_tf import checkpoint, export
    from eac3_tf.model import build_model

    base = tmp_path_factory.mktemp("player")
    keras.utils.set_random_seed(0)
    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    state = {"frames": 0, "meta": {"game": "pong", "preset": "fast", "env": dataclasses.asdict(EnvConfig(game="pong"))}}
    ckpt = checkpoint.save(base / "run", model, optimizer_vars=[], state=state, keep=1)
    export.export(ckpt, base / "pong", parity_frames=32, log=lambda s: None)
    return base / "pong"


def run_player(*args: str, blocked: tuple[str, ...] = BLOCKED) -> subprocess.CompletedProcess:
    """`python -m eac3_tf.player args...` in a fresh interpreter where importing `blocked` modules fails."""
    code = ("import runpy, sys\n"
            f"for name in {blocked!r}: sys.modules[name] = None  # import name -> ImportError\n"
            f"sys.argv = ['player', *{list(args)!r}]\n"
            "runpy.run_module('eac3_tf.player', run_name='__main__', alter_sys=True)\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)


# ------------------------------------------------------------------------------------------ playing
def test_the_player_plays_pong_in_a_process_that_cannot_import_tensorflow(exported, tmp_path):
    import imageio.v3 as iio

    gif, cam = tmp_path / "play.gif", tmp_path / "cam.gif"
    result = run_player("--model", str(exported / "policy.onnx"), "--episodes", "1", "--gif", str(gif),
                        "--cam", str(cam), "--gif_frames", "12")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("pong: ")
    assert "episode 1: score " in result.stdout and " steps/s " in result.stdout
    score = float(result.stdout.split("episode 1: score ")[1].split()[0])
    assert -21 <= score <= 21
    assert iio.improps(gif).shape == (12, 210, 160, 3) and iio.improps(cam).shape == (12, 210, 160, 3)


def test_the_player_feeds_the_model_the_trainers_inputs_for_the_same_screens(exported):
    card = player.load_card(exported / "policy.onnx")
    assert card.obs == OBS and card.env == EnvConfig(game="pong")  # the card gives back the trainer's configs
    model = player.OnnxModel(exported / "policy.onnx", card)
    seen_inputs, seen_screens = [], []

    def record(obs, screens, actions, starts):
        seen_inputs.append(obs[0].copy())
        seen_screens.append(screens[0].copy())

    def greedy(obs):
        return model(obs)["logits"].argmax(-1)

    # one episode capped at 400 frames = 100 agent steps; the trainer's transform of the same screens
    env = AtariBatchEnv(dataclasses.replace(card.env, max_episode_frames=400), card.obs, 1)
    rollout(greedy, env, 5, episodes=1, on_step=record)
    env.close()
    from eac3_tf.preprocess import model_inputs

    assert len(seen_inputs) == 100
    np.testing.assert_array_equal(np.stack(seen_inputs), model_inputs(np.stack(seen_screens), OBS))


def test_the_players_heatmap_is_eac3_tf_overlay_drawn_without_matplotlib():
    import matplotlib

    from eac3_tf.explain import overlay

    np.testing.assert_array_equal(player.JET, matplotlib.colormaps["jet"](np.arange(256))[:, :3])
    rng = np.random.default_rng(0)
    screen = rng.integers(0, 256, (210, 160, 3), dtype=np.uint8)
    cam = rng.random((80, 80)).astype(np.float32)
    cam[0, :5] = [0.0, 1.0, 0.5, 1 / 256, 255 / 256]  # the ends and the colormap's bin edges
    want = overlay.heat_overlay(overlay.play_area(screen, OBS)[0], overlay.upsample_map(cam, (160, 160)))
    got = player.cam_frame(screen, cam, OBS)
    np.testing.assert_array_equal(got[34:194], want)
    np.testing.assert_array_equal(got[:34], screen[:34])  # the score rows are left as they are
    np.testing.assert_array_equal(got[194:], screen[194:])


# ------------------------------------------------------------------------------------------ wrong models
def onnx_model(path, input_shape, output_names):
    """A tiny ONNX graph: frames -> global mean -> each output, to stand in for a wrong model."""
    import onnx
    from onnx import TensorProto, helper

    frames = helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["N", *input_shape])
    outs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 1, 1, 1]) for name in output_names]
    nodes = [helper.make_node("ReduceMean", ["frames"], [name], axes=[1, 2, 3], keepdims=1) for name in output_names]
    graph = helper.make_graph(nodes, "wrong", [frames], outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def wrong(exported, tmp_path_factory):
    base = tmp_path_factory.mktemp("wrong")
    card = (exported / "card.json").read_bytes()
    for name in ("other_shape", "no_logits", "one_logit", "no_cam"):
        (base / name).mkdir()
        (base / name / "card.json").write_bytes(card)
    onnx_model(base / "other_shape" / "policy.onnx", [84, 84, 4], ["logits", "value"])
    onnx_model(base / "no_logits" / "policy.onnx", [80, 80, 4], ["scores", "value"])
    onnx_model(base / "one_logit" / "policy.onnx", [80, 80, 4], ["logits", "value"])  # logits [N, 1, 1, 1]
    shutil.copy(exported / "policy.onnx", base / "no_cam" / "policy.onnx")
    (base / "taken.gif").write_bytes(b"an earlier recording")
    return base


# Random bytes, a missing file or card, --cam without a CAM model and an existing --gif are in
# tests/test_bad_input.py (PLAYER_BAD), which also checks that no saved file changes; these run the
# real command line in a fresh process.
BAD = [
    (["--model", "{w}/other_shape/policy.onnx"], "takes input tensor(float) [N, 84, 84, 4], but the card's "
                                                 "preprocessing gives float frames [N, 80, 80, 4]"),
    (["--model", "{w}/no_logits/policy.onnx"], "has no output named 'logits' (its outputs: scores, value)"),
    (["--model", "{w}/one_logit/policy.onnx"], "gives 1 logits, but pong has 6 actions"),
    (["--model", "{w}/no_cam/policy.onnx", "--episodes", "0"], "--episodes must be 1..10000"),
    (["--model", "{w}/no_cam/policy.onnx", "--gif", "{w}/play.png"], "must end in .gif"),
    (["--model", "{w}/no_cam/policy.onnx", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: --model"),
]


@pytest.mark.parametrize("args, expected", BAD, ids=[e[:40] for _, e in BAD])
def test_a_wrong_model_or_argument_is_one_line_and_exit_2(wrong, args, expected):
    result = run_player(*[a.format(w=wrong) for a in args])
    assert result.returncode == 2, (result.stdout[-500:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("player: error: ") and expected in lines[0], lines[0]
    assert result.stdout == ""
    assert not (wrong / "cam.gif").exists() and not (wrong / "play.png").exists()
    assert (wrong / "taken.gif").read_bytes() == b"an earlier recording"
