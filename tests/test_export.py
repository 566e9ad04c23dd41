"""Export: ONNX, LiteRT and the Grad-CAM ONNX proven against Keras on real Pong frames, with a card; atomic writes."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest
from conftest import run_cli

from eac3_tf.config import PRESETS, EnvConfig

FILES = ["card.json", "policy.onnx", "policy.tflite", "policy_cam.onnx"]
PARITY_FRAMES = 64  # the CLI's default is 1,000; the figures below need real frames, not many


@pytest.fixture(scope="module")
def pong_ckpt(tmp_path_factory):
    """An untrained fast-preset Pong network saved as a real checkpoint: nothing is trained."""
    import keras

    from eac3_tf import checkpoint
    from eac3_tf.model import build_model

    root = tmp_path_factory.mktemp("pong_ckpt")
    keras.utils.set_random_seed(0)  # the same untrained weights every run
    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    state = {"frames": 0, "meta": {"game": "pong", "preset": "fast", "env": dataclasses.asdict(EnvConfig(game="pong"))}}
    return checkpoint.save(root, model, optimizer_vars=[], state=state, keep=1)


@pytest.fixture(scope="module")
def exported(pong_ckpt, tmp_path_factory):
    """`python -m eac3_tf.export` run as a user runs it, with --force over an earlier export."""
    base = tmp_path_factory.mktemp("exports")
    out = base / "pong"
    out.mkdir()
    (out / "card.json").write_text('{"an": "earlier export"}\n')
    (out / "stale.bin").write_bytes(b"from the earlier export")
    result = run_cli("eac3_tf.export", "--checkpoint", str(pong_ckpt), "--out", str(out), "--force",
                     "--parity_frames", str(PARITY_FRAMES))
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def digest(folder) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------ what is written
def test_export_writes_the_models_and_the_card_and_replaces_the_earlier_export(exported):
    out, result = exported
    assert sorted(p.name for p in out.iterdir()) == FILES  # stale.bin of the earlier export is gone
    assert [p.name for p in out.parent.iterdir()] == ["pong"]  # no temp folder left beside it
    assert f"to {out}" in result.stdout and result.stderr.strip() == ""


def test_the_card_says_what_the_player_needs_and_how_it_was_checked(exported, pong_ckpt):
    out, _ = exported
    card = json.loads((out / "card.json").read_text())
    assert card["game"] == "pong" and card["preset"] == "fast" and card["frames_trained"] == 0
    assert card["num_actions"] == 6
    assert card["action_names"] == ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    pre = card["preprocessing"]
    assert pre["obs"] == dataclasses.asdict(PRESETS["fast"].obs) and pre["input_shape"] == [80, 80, 4]
    assert card["env"] == dataclasses.asdict(EnvConfig(game="pong"))
    assert card["evaluation"] is None  # no --eval given
    assert card["reset"]["training"].startswith("reset_game(), FIRE for one frame;")  # no no-op frames
    assert card["reset"]["evaluation"] is None
    parity = card["parity"]
    assert parity["frames"] == PARITY_FRAMES and parity["tolerance"] == 1e-4
    for name in ("onnx", "tflite", "cam_onnx"):
        assert parity[name]["max_abs_logits"] <= 1e-4 and parity[name]["argmax_agreement"] == 1.0
    assert parity["cam_onnx"]["max_abs_cam"] <= 1e-4 and parity["cam_onnx"]["action_agreement"] == 1.0
    assert parity["cam_onnx"]["frames_at_relu_kink"] <= 1
    for dist in ("keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert"):
        assert card["versions"][dist]
    assert "tensorflow" in card["versions"] or "tensorflow-cpu" in card["versions"]
    assert card["command"].startswith("python -m eac3_tf.export --checkpoint ")
    assert card["checkpoint"]["path"] == str(pong_ckpt)


def test_the_card_holds_each_files_sha256_and_size(exported):
    out, _ = exported
    files = json.loads((out / "card.json").read_text())["files"]
    assert sorted(files) == ["policy.onnx", "policy.tflite", "policy_cam.onnx"]
    for name, entry in files.items():
        data = (out / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_models_have_a_named_input_and_named_outputs(exported):
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    out, _ = exported
    for name, outputs in (("policy.onnx", ["logits", "value"]), ("policy_cam.onnx", ["action", "cam", "logits",
                                                                                       "value"])):
        sess = ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
        (inp,) = sess.get_inputs()
        assert inp.name == "frames" and inp.type == "tensor(float)" and inp.shape[1:] == [80, 80, 4]
        assert sorted(o.name for o in sess.get_outputs()) == outputs
    signature = Interpreter(model_path=str(out / "policy.tflite")).get_signature_list()["serving_default"]
    assert signature == {"inputs": ["frames"], "outputs": ["logits", "value"]}


def test_an_evaluate_report_of_this_checkpoint_goes_on_the_card_with_its_protocol(tmp_path):
    from eac3_tf.errors import ExportError
    from eac3_tf.export import evaluation_entry

    report = {"game": "pong", "frames_trained": 6_000_000, "episodes": 10, "mean": 20.5, "std": 0.5, "best": 21.0,
              "min": 20.0, "protocol": {"name": "v5", "repeat_action_probability": 0.25}, "checkpoint": "runs/x",
              "scores": [20.0, 21.0] * 5, "lengths": [900] * 10}
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(report))
    entry = evaluation_entry(path, "pong", 6_000_000)
    assert entry == {k: v for k, v in report.items() if k not in ("scores", "lengths")}
    with pytest.raises(ExportError, match="scores pong at 6000000 frames, but the checkpoint is pong at 5 frames"):
        evaluation_entry(path, "pong", 5)


# ------------------------------------------------------------------------------------------ parity
def pong_inputs(n: int) -> np.ndarray:
    """`n` consecutive model inputs of one real Pong game (random actions), through the trainer's env path."""
    from eac3_tf.envs import AtariBatchEnv

    env = AtariBatchEnv(EnvConfig(game="pong"), PRESETS["fast"].obs, 1)
    rng = np.random.default_rng(1)
    obs = [env.reset(seed=3)]
    for _ in range(n - 1):
        obs.append(env.step(rng.integers(0, 6, 1))[0])
    env.close()
    return np.concatenate(obs)


def test_the_cam_onnx_gives_the_grad_cam_of_eac3_tf_gradcam(exported, pong_ckpt):
    import onnxruntime as ort

    from eac3_tf import checkpoint
    from eac3_tf.explain import gradcam

    out, _ = exported
    model = checkpoint.load(pong_ckpt, with_optimizer=False).model
    frames = pong_inputs(48)[8:]  # past the first frames, whose stacks repeat the reset screen
    sess = ort.InferenceSession(str(out / "policy_cam.onnx"), providers=["CPUExecutionProvider"])
    cam, action, logits = sess.run(["cam", "action", "logits"], {"frames": frames.astype(np.float32)})
    ref = gradcam.explain(model, frames)
    assert cam.shape == (40, 80, 80) and cam.dtype == np.float32
    np.testing.assert_array_equal(action, ref.actions)
    np.testing.assert_allclose(cam, ref.maps, rtol=0, atol=1e-4)
    np.testing.assert_allclose(logits, model(frames.astype(np.float32))[0], rtol=0, atol=1e-4)
    # Each 10x10 map is divided by its own max. Upsampled x8 bilinearly, the output pixel nearest a source
    # pixel's centre is 1/16 of a source pixel off in each axis, so even a lone peak keeps (15/16)^2 = 0.88 of it.
    assert cam.min() >= 0 and cam.max() <= 1 and np.all(cam.max(axis=(1, 2)) >= (15 / 16) ** 2 - 1e-6)


def test_a_residual_torso_exports_with_parity_and_its_cam_onnx_is_taken_at_the_torsos_output(tmp_path):
    import keras
    import onnxruntime as ort

    from eac3_tf import checkpoint, export
    from eac3_tf.explain import gradcam
    from eac3_tf.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model((80, 80, 4), 6, PRESETS["impala"])
    state = {"frames": 0, "meta": {"game": "pong", "preset": "impala",
                                   "env": dataclasses.asdict(EnvConfig(game="pong", noop_max=30))}}
    ckpt = checkpoint.save(tmp_path / "run", model, optimizer_vars=[], state=state, keep=1)
    export.export(ckpt, tmp_path / "pong", parity_frames=32, log=lambda s: None)
    card = json.loads((tmp_path / "pong" / "card.json").read_text())
    assert card["preset"] == "impala" and "from layer torso" in card["models"]["policy_cam.onnx"]["outputs"]["cam"]
    assert card["env"]["noop_max"] == 30  # the reset the agent was trained with travels on the card
    assert card["reset"]["training"].startswith("reset_game(), NOOP for max(u - 1, 0) emulator frames, u uniform in "
                                                "0..29, then FIRE for one frame;")
    for name in ("onnx", "tflite", "cam_onnx"):
        assert card["parity"][name]["argmax_agreement"] == 1.0
    frames = pong_inputs(24)[8:]
    sess = ort.InferenceSession(str(tmp_path / "pong" / "policy_cam.onnx"), providers=["CPUExecutionProvider"])
    (cam,) = sess.run(["cam"], {"frames": frames.astype(np.float32)})
    np.testing.assert_allclose(cam, gradcam.explain(model, frames).maps, rtol=0, atol=1e-4)


@pytest.mark.parametrize("padding, size", [("same", 5), ("valid", 5), ("same", 4)])
def test_the_exported_max_pool_gradient_goes_to_the_first_maximum_of_each_window_as_in_tensorflow(padding, size):
    # ONNX has no MaxPoolGrad, so the export writes the gradient itself; TensorFlow's kernel sends each
    # window's gradient to its first maximum in row-major order, which matters where windows tie (all
    # zeros after a ReLU are common). Inputs with many ties, 2x2 windows, odd and even sizes:
    import tensorflow as tf

    from eac3_tf.export.graphs import max_pool_first_max

    rng = np.random.default_rng(0)
    x = tf.constant(rng.integers(0, 3, (2, size, size, 3)).astype(np.float32))  # values 0..2: ties everywhere
    pooled = tf.nn.max_pool2d(x, 2, 2, padding.upper())
    dy = tf.constant(rng.normal(size=pooled.shape).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours, theirs = max_pool_first_max(x, 2, padding), tf.nn.max_pool2d(x, 2, 2, padding.upper())
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(tape.gradient(ours, x, dy), tape.gradient(theirs, x, dy))


def test_a_frame_that_puts_a_hidden_relu_unit_at_its_kink_is_found():
    # Grad-CAM's weights are a gradient, which jumps where a ReLU unit switches on; a frame whose hidden
    # pre-activation is 0 up to round-off is found (here one planted by moving a bias), and no other.
    import keras

    from eac3_tf.export import relu_kink_frames
    from eac3_tf.model import build_model

    keras.utils.set_random_seed(1)
    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    frames = np.random.default_rng(1).integers(0, 256, (12, 80, 80, 4), dtype=np.uint8)
    assert relu_kink_frames(model, frames).tolist() == []
    hidden = model.get_layer("hidden")
    x = np.asarray(keras.Model(model.input, hidden.input)(frames.astype(np.float32)))
    bias = np.asarray(hidden.bias).copy()
    bias[7] = -(x[5] @ np.asarray(hidden.kernel)[:, 7])
    hidden.bias.assign(bias)
    assert relu_kink_frames(model, frames).tolist() == [5]


@pytest.mark.parametrize("at_kink, cam_diff, ok", [(1, 1e-6, True), (0, 2e-4, False), (50, 1e-6, True),
                                                    (51, 1e-6, False)])
def test_cam_parity_forgives_round_off_at_relu_kinks_up_to_five_percent_of_frames(at_kink, cam_diff, ok):
    from eac3_tf.export.parity import ParityError, check_parity

    same = {"max_abs_logits": 1e-6, "argmax_agreement": 1.0}
    parity = {"frames": 1000, "onnx": same, "tflite": same,
              "cam_onnx": {**same, "max_abs_cam": cam_diff, "frames_at_relu_kink": at_kink, "action_agreement": 1.0}}
    if ok:
        check_parity(parity, 1e-4)
    else:
        with pytest.raises(ParityError, match="nothing exported"):
            check_parity(parity, 1e-4)


@pytest.mark.integration
def test_a_failed_parity_writes_nothing_and_keeps_the_earlier_export(exported, pong_ckpt, tmp_path):
    # --tolerance 0 stands in for a converter that drifts: ONNX and LiteRT agree with Keras only to ~1e-7.
    earlier, _ = exported
    out = tmp_path / "pong"
    import shutil
    shutil.copytree(earlier, out)
    before = digest(out)
    result = run_cli("eac3_tf.export", "--checkpoint", str(pong_ckpt), "--out", str(out), "--force",
                     "--parity_frames", "16", "--tolerance", "0")
    assert result.returncode == 1, (result.stdout[-1000:], result.stderr[-3000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "parity failed" in lines[0] and "nothing exported" in lines[0], result.stderr
    assert digest(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["pong"]  # no temp folder left beside it


# ------------------------------------------------------------------------------------------ bad input
@pytest.fixture(scope="module")
def places(pong_ckpt, tmp_path_factory):
    base = tmp_path_factory.mktemp("places")
    (base / "taken").mkdir()
    (base / "taken" / "card.json").write_text('{"an": "earlier export"}\n')
    (base / "taken" / "policy.onnx").write_bytes(b"earlier model")
    (base / "notes").mkdir()
    (base / "notes" / "todo.txt").write_text("not an export\n")
    (base / "eval.json").write_text(json.dumps({"game": "qbert", "frames_trained": 0, "episodes": 1, "mean": 0,
                                                "std": 0, "best": 0, "min": 0, "protocol": {}}))
    return {"ckpt": pong_ckpt, "base": base}


BAD = [
    ([], "--checkpoint is required"),
    (["--checkpoint", "{ckpt}"], "--out is required"),
    (["--checkpoint", "{base}/missing", "--out", "{base}/new"], "does not exist"),
    (["--checkpoint", "{ckpt}", "--out", "{base}/taken"], "--out {base}/taken exists; pass --force to replace it"),
    (["--checkpoint", "{ckpt}", "--out", "{base}/notes", "--force"], "is not an export (no card.json)"),
    (["--checkpoint", "{ckpt}", "--out", "{base}/new", "--parity_frames", "0"], "--parity_frames must be a positive"),
    (["--checkpoint", "{ckpt}", "--out", "{base}/new", "--eval", "{base}/none.json"], "--eval {base}/none.json does"),
    (["--checkpoint", "{ckpt}", "--out", "{base}/new", "--eval", "{base}/eval.json"], "scores qbert at 0 frames"),
]


@pytest.mark.parametrize("args, expected", BAD, ids=[e for _, e in BAD])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(places, args, expected):
    args = [a.format(**places) for a in args]
    before = digest(places["base"])
    result = run_cli("eac3_tf.export", *args, timeout=120)
    assert result.returncode == 2, (result.stdout[-500:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected.format(**places) in lines[0] and "Traceback" not in result.stderr
    assert digest(places["base"]) == before
    assert not (places["base"] / "new").exists()
