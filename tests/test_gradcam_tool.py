"""Grad-CAM drawing: exact pixels of the overlay helpers, and tools/gradcam.py run as a user runs it."""

import dataclasses
import hashlib
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import ROOT

from eac3_tf.config import PRESETS, EnvConfig, ObsConfig
from eac3_tf.explain import figures, overlay

OBS = ObsConfig()  # rows 34..193 of the 210x160 screen are the 160x160 play area


# ------------------------------------------------------------------------------------- overlay helpers
def test_play_area_keeps_screen_rows_34_to_193():
    screens = np.zeros((2, 210, 160, 3), np.uint8)
    screens[:] = np.arange(210, dtype=np.uint8)[None, :, None, None]  # every pixel holds its row number
    area = overlay.play_area(screens, OBS)
    assert area.shape == (2, 160, 160, 3) and area.dtype == np.uint8
    assert area[0, 0, 0, 0] == 34 and area[1, -1, 5, 2] == 193


def test_play_area_of_one_screen_is_a_batch_of_one():
    assert overlay.play_area(np.zeros((210, 160, 3), np.uint8), OBS).shape == (1, 160, 160, 3)


def test_embedded_play_areas_give_the_same_model_inputs_as_the_full_screens():
    from eac3_tf.preprocess import model_inputs

    rng = np.random.default_rng(0)
    screens = rng.integers(0, 256, (3, 210, 160, 3), dtype=np.uint8)  # score rows and borders hold noise
    obs = PRESETS["fast"].obs
    rebuilt = overlay.embed_play_area(overlay.play_area(screens, obs), obs)
    assert rebuilt[:, :34].max() == 0 and rebuilt[:, 194:].max() == 0  # black outside the crop
    np.testing.assert_array_equal(model_inputs(rebuilt, obs), model_inputs(screens, obs))


def test_upsample_map_repeats_each_value_over_its_block():
    # An 80x80 map covers the play area at downsample 2: each value belongs to one 2x2 block of screen pixels.
    m = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    np.testing.assert_array_equal(overlay.upsample_map(m, (4, 4)), [[0.0, 0.0, 0.25, 0.25],
                                                                   [0.0, 0.0, 0.25, 0.25],
                                                                   [0.5, 0.5, 1.0, 1.0],
                                                                   [0.5, 0.5, 1.0, 1.0]])
    assert overlay.upsample_map(np.zeros((3, 80, 80)), (160, 160)).shape == (3, 160, 160)


def test_heat_overlay_blends_jet_at_alpha_half_exactly():
    # jet(0) = (0, 0, 0.5) dark blue, jet(1) = (0.5, 0, 0) dark red; out = floor(rgb/2 + 255*jet/2 + 0.5):
    #   (0, 0, 0)       with map 0 -> (0, 0, 63.75)            -> (0, 0, 64)
    #   (255, 255, 255) with map 1 -> (191.25, 127.5, 127.5)   -> (191, 128, 128)   halves round up
    #   (100, 200, 50)  with map 0 -> (50, 100, 25 + 63.75)    -> (50, 100, 89)
    #   (10, 20, 30)    with map 1 -> (5 + 63.75, 10, 15)      -> (69, 10, 15)
    rgb = np.array([[[0, 0, 0], [255, 255, 255]], [[100, 200, 50], [10, 20, 30]]], np.uint8)
    m = np.array([[0.0, 1.0], [0.0, 1.0]])
    out = overlay.heat_overlay(rgb, m, alpha=0.5, cmap="jet")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[[0, 0, 64], [191, 128, 128]], [[50, 100, 89], [69, 10, 15]]])


def test_a_zero_map_still_tints_the_frame_with_the_colormaps_low_end():
    rgb = np.full((2, 2, 3), 200, np.uint8)
    out = overlay.heat_overlay(rgb, np.zeros((2, 2)))
    np.testing.assert_array_equal(out, np.broadcast_to([100, 100, 164], (2, 2, 3)))  # 100 + 63.75 -> 164


def test_heat_overlay_alpha_zero_is_the_frame_and_alpha_one_is_the_colormap():
    rgb = np.array([[[7, 8, 9], [250, 1, 2]]], np.uint8)
    m = np.array([[0.0, 1.0]])
    np.testing.assert_array_equal(overlay.heat_overlay(rgb, m, alpha=0.0), rgb)
    np.testing.assert_array_equal(overlay.heat_overlay(rgb, m, alpha=1.0, cmap="gray"), [[[0, 0, 0], [255] * 3]])


def test_the_overlay_module_draws_without_tensorflow():
    code = "import sys, eac3_tf.explain.overlay; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


BAD_OVERLAY = [
    (lambda: overlay.play_area(np.zeros((2, 160, 160, 3), np.uint8), OBS), "shape (210, 160, 3)"),
    (lambda: overlay.play_area(np.zeros((1, 210, 160, 3), np.float32), OBS), "uint8"),
    (lambda: overlay.embed_play_area(np.zeros((1, 84, 84, 3), np.uint8), OBS), "(N, 160, 160, 3)"),
    (lambda: overlay.upsample_map(np.zeros((3, 3)), (160, 160)), "integer multiple"),
    (lambda: overlay.upsample_map(np.zeros(5), (10,)), "[H, W] or [N, H, W]"),
    (lambda: overlay.upsample_map(np.full((2, 2), 1.5), (4, 4)), "in [0, 1]"),
    (lambda: overlay.heat_overlay(np.zeros((4, 4, 3), np.uint8), np.zeros((2, 2))), "must equal the image's"),
    (lambda: overlay.heat_overlay(np.zeros((2, 2, 3)), np.zeros((2, 2))), "rgb must be uint8"),
    (lambda: overlay.heat_overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2)), alpha=2), "alpha"),
    (lambda: overlay.heat_overlay(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2)), cmap="nope"), "colormap"),
]


@pytest.mark.parametrize("call, expected", BAD_OVERLAY, ids=[e for _, e in BAD_OVERLAY])
def test_overlay_helpers_reject_bad_arrays_in_one_line(call, expected):
    with pytest.raises(ValueError) as info:
        call()
    assert expected in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------------------------- the command line
def run_tool(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(ROOT / "tools" / "gradcam.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


def png_size(path) -> tuple[int, int]:
    image = iio.imread(path)
    return image.shape[1], image.shape[0]


@pytest.fixture(scope="module")
def pong_ckpt(tmp_path_factory):
    """An untrained fast-preset Pong network saved as a real checkpoint: nothing is trained."""
    from eac3_tf import checkpoint
    from eac3_tf.model import build_model

    root = tmp_path_factory.mktemp("pong_ckpt")
    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    state = {"frames": 0, "meta": {"game": "pong", "preset": "fast", "env": dataclasses.asdict(EnvConfig(game="pong"))}}
    return checkpoint.save(root, model, optimizer_vars=[], state=state, keep=1)


@pytest.mark.integration
def test_record_draws_a_strip_the_per_action_panel_a_gif_and_saves_the_frames(pong_ckpt, tmp_path):
    out = tmp_path / "figs"
    result = run_tool("--checkpoint", str(pong_ckpt), "--record", "8", "--strip", "4", "--gif", "--per_action",
                      "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    # exactly these files: no temp file is left behind
    assert sorted(p.name for p in out.iterdir()) == ["actions.png", "frames.npz", "overlay.gif", "strip.png"]
    assert f"wrote {out / 'strip.png'}" in result.stdout
    side = 2 * 160  # --scale 2: each screen pixel is 2x2 figure pixels
    assert png_size(out / "strip.png") == figures.figure_px(rows=1, cols=4, labels=False, side=side)
    assert png_size(out / "strip.png")[0] >= 4 * side
    # the input frame, Pong's 6 actions and the value: 8 panels in one row
    assert png_size(out / "actions.png") == figures.figure_px(rows=1, cols=8, labels=False, side=side)
    assert iio.improps(out / "overlay.gif").shape == (8, 160, 160, 3)  # every frame's 160x160 play area
    with np.load(out / "frames.npz", allow_pickle=False) as z:
        assert z["screens"].shape == (8, 210, 160, 3) and z["inputs"].shape == (8, 80, 80, 4)
        assert z["maps"].shape == (8, 80, 80) and 0 <= z["maps"].min() and z["maps"].max() <= 1
        assert z["steps"].tolist() == list(range(8))
        assert z["actions"].shape == (8,) and np.all((0 <= z["actions"]) & (z["actions"] < 6))
        np.testing.assert_allclose(z["probs"].sum(axis=1), 1.0, rtol=1e-5)
        assert z["action_names"].tolist() == ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
        assert str(z["game"]) == "pong" and str(z["layer"]) == "conv2" and str(z["target"]) == "the action taken"


@pytest.mark.integration
def test_frames_from_an_npy_draw_a_strip_of_all_of_them(pong_ckpt, tmp_path):
    screens = np.random.default_rng(0).integers(0, 256, (3, 210, 160, 3), dtype=np.uint8)
    np.save(tmp_path / "screens.npy", screens)
    out = tmp_path / "figs"
    result = run_tool("--checkpoint", str(pong_ckpt), "--frames", str(tmp_path / "screens.npy"), "--target", "value",
                      "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["strip.png"]  # nothing recorded, so no frames.npz
    # without an explicit --strip, the default 6 shrinks to the 3 frames there are
    assert png_size(out / "strip.png") == figures.figure_px(rows=1, cols=3, labels=False, side=320)


@pytest.mark.integration
def test_another_saliency_method_draws_the_same_figures_and_names_itself(pong_ckpt, tmp_path):
    out = tmp_path / "figs"
    result = run_tool("--checkpoint", str(pong_ckpt), "--record", "4", "--strip", "4", "--method", "hirescam",
                      "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    with np.load(out / "frames.npz", allow_pickle=False) as z:
        assert str(z["method"]) == "hirescam" and z["maps"].shape == (4, 80, 80)
    assert png_size(out / "strip.png") == figures.figure_px(rows=1, cols=4, labels=False, side=320)


@pytest.mark.integration
def test_a_folder_of_play_area_pngs_draws_a_strip(pong_ckpt, tmp_path):
    frames = tmp_path / "pngs"
    frames.mkdir()
    for i in (0, 1):  # 160x160 play areas: the tool puts them back at screen rows 34..193
        iio.imwrite(frames / f"frame{i}.png", np.full((160, 160, 3), 40 * i, np.uint8))
    out = tmp_path / "figs"
    result = run_tool("--checkpoint", str(pong_ckpt), "--frames", str(frames), "--strip", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert png_size(out / "strip.png") == figures.figure_px(rows=1, cols=2, labels=False, side=320)


# ------------------------------------------------------------------------------------- bad input
def digest(folder) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def inputs(pong_ckpt, tmp_path_factory):
    base = tmp_path_factory.mktemp("inputs")
    np.save(base / "small.npy", np.zeros((3, 84, 84, 3), np.uint8))
    (base / "no_pngs").mkdir()
    (base / "no_pngs" / "notes.txt").write_text("no images here\n")
    (base / "taken").mkdir()
    (base / "taken" / "strip.png").write_bytes(b"an earlier figure")
    (base / "taken" / "frames.npz").write_bytes(b"earlier frames")
    return {"ckpt": pong_ckpt, "base": base}


BAD = [
    (["--checkpoint", "{base}/missing", "--record", "4"], "does not exist"),
    (["--checkpoint", "{ckpt}", "--record", "4", "--method", "gradcam+"],
     "unknown --method 'gradcam+'; accepted: gradcam, gradcam++, hirescam,"),
    (["--checkpoint", "{ckpt}", "--frames", "{base}/small.npy"], "frames of shape (84, 84, 3)"),
    (["--checkpoint", "{ckpt}", "--frames", "{base}/no_pngs"], "holds no .png files"),
    (["--checkpoint", "{ckpt}", "--record", "4", "--out", "{base}/taken"], "already holds strip.png, frames.npz"),
    (["--checkpoint", "{ckpt}", "--record", "4", "--target", "banana"], "unknown --target 'banana'"),
    (["--checkpoint", "{ckpt}", "--record", "4", "--frames", "{base}/small.npy"], "exactly one frame source"),
    (["--checkpoint", "{ckpt}", "--record", "0"], "--record must be 1..10000"),
]


@pytest.mark.parametrize("args, expected", BAD, ids=[e for _, e in BAD])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(inputs, args, expected):
    args = [a.format(**inputs) for a in args]
    if "--out" not in args:
        args += ["--out", str(inputs["base"] / "fresh")]
    before = digest(inputs["base"])
    result = run_tool(*args)
    assert result.returncode == 2, (result.stdout[-500:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0] and "Traceback" not in result.stderr
    assert digest(inputs["base"]) == before  # byte for byte
    assert not (inputs["base"] / "fresh").exists()
