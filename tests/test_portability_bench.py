"""bench/portability.py re-implements the card's preprocessing and our reset: both must equal ours bit for bit."""

import ast
import dataclasses
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from eac3_tf.config import PRESETS, EnvConfig
from eac3_tf.envs import AtariBatchEnv
from eac3_tf.preprocess import FrameStack, preprocess

BENCH = ROOT / "bench" / "portability.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("portability_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pong_screens():
    """Twelve consecutive real Pong screens from gymnasium's own env, random actions (the ball in play)."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", repeat_action_probability=0.0)
    screen, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    screens = [env.step(int(rng.integers(6)))[0] for _ in range(70)]  # the ball appears after ~60 steps
    env.close()
    return np.stack(screens[-12:])


def test_the_bench_imports_neither_tensorflow_nor_our_preprocessing():
    """Of eac3_tf, only the flag parser and its errors: the preprocessing and the reset are the bench's own."""
    tree = ast.parse(BENCH.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module if n.module.startswith("eac3_tf") else n.module.split(".")[0]
              for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names <= {"json", "os", "platform", "sys", "time", "importlib", "pathlib", "numpy", "gymnasium",
                     "ale_py", "onnxruntime", "eac3_tf.cli", "eac3_tf.errors"}


@pytest.mark.parametrize("preset", ["fast", "paper"])  # 80x80 gray, 160x160 RGB
def test_bench_preprocessing_and_stack_equal_ours_bit_for_bit(bench, pong_screens, preset):
    obs_cfg = PRESETS[preset].obs
    card_words = dataclasses.asdict(obs_cfg)  # what card.json's preprocessing.obs holds
    ours = preprocess(pong_screens, obs_cfg)
    theirs = bench.transform(pong_screens, card_words)
    assert theirs.shape == ours.shape == (12, obs_cfg.height, obs_cfg.width, obs_cfg.channels_per_frame)
    np.testing.assert_array_equal(theirs, ours)
    np.testing.assert_array_equal(bench.transform(pong_screens[3], card_words), ours[3])  # one screen alone
    assert len(np.unique(ours)) > 2  # real content (paddles, ball, score), not a blank field

    stack = FrameStack(1, obs_cfg)
    want, got = stack.reset(ours[:1])[0], bench.stacked(theirs[0], obs_cfg.stack)
    np.testing.assert_array_equal(got, want)  # the first frame fills the stack
    for t in range(1, len(ours)):
        want, got = stack.push(ours[t:t + 1])[0], bench.stacked(theirs[t], obs_cfg.stack, got)
        np.testing.assert_array_equal(got, want)
    assert got.shape == obs_cfg.shape


@pytest.mark.parametrize("maxpool", [True, False])
def test_phase0_in_gymnasium_reproduces_our_training_env_observations(bench, maxpool):
    """Sticky actions off: reset + FIRE, then skip 4 with the max of the last two frames (or the last frame
    alone, as the card's env says), equals AtariBatchEnv."""
    obs_cfg = PRESETS["fast"].obs
    card_words = dataclasses.asdict(obs_cfg)
    env_cfg = EnvConfig(game="pong", repeat_action_probability=0.0, maxpool=maxpool)
    card = {"game": "pong", "env": dataclasses.asdict(env_cfg)}
    ours = AtariBatchEnv(env_cfg, obs_cfg, 1, num_threads=1)
    game = bench.Game("phase0", card, max_frames=108_000)
    try:
        want = ours.reset(seed=5)[0]
        screen = game.reset(seed=5)
        np.testing.assert_array_equal(screen, ours.last_screens[0])
        got = bench.stacked(bench.transform(screen, card_words), obs_cfg.stack)
        np.testing.assert_array_equal(got, want)
        for t, action in enumerate([0, 1, 2, 2, 3, 3, 4, 5] * 10):  # 80 steps: the ball is served and moves
            want = ours.step(np.array([action]))[0][0]
            screen = game.step(action)
            assert screen is not None, f"game ended at step {t}"
            np.testing.assert_array_equal(screen, ours.last_screens[0], err_msg=f"step {t}")
            got = bench.stacked(bench.transform(screen, card_words), obs_cfg.stack, got)
            np.testing.assert_array_equal(got, want, err_msg=f"step {t}")
        assert game.frames == 80 * 4
    finally:
        ours.close()
        game.env.close()


@pytest.mark.integration  # 300 emulator resets
def test_random_reset_no_ops_start_training_games_at_the_benchs_odd_and_even_phases(bench):
    """Our env's reset no-ops (noop_max 30, sticky off) put each seed's game on some phase k of the bench's resets.

    Training on them covers odd phases too, so an agent that plays odd phases badly does so for its own reasons.
    """
    obs_cfg = PRESETS["fast"].obs
    env_cfg = EnvConfig(game="pong", repeat_action_probability=0.0, noop_max=30)
    card = {"game": "pong", "env": dataclasses.asdict(env_cfg)}
    actions = [2, 2, 2, 3, 3, 3] * 2

    def bench_screens(k: int) -> list[np.ndarray]:
        game = bench.Game(f"phase{k}", card, max_frames=108_000)
        try:
            return [game.reset(seed=0), *(game.step(a) for a in actions)]
        finally:
            game.env.close()

    phases = {k: bench_screens(k) for k in range(30)}
    matched = []
    for seed in range(10):
        ours = AtariBatchEnv(env_cfg, obs_cfg, 1, num_threads=1)
        try:
            ours.reset(seed=seed)
            screens = [ours.last_screens[0].copy()]
            for a in actions:
                ours.step(np.array([a]))
                screens.append(ours.last_screens[0].copy())
        finally:
            ours.close()
        ks = [k for k, theirs in phases.items()
              if all(np.array_equal(a, b) for a, b in zip(screens, theirs, strict=True))]
        assert ks, f"seed {seed}: no phase of the bench starts as our env does"
        matched.append(ks)
    parities = {k % 2 for ks in matched for k in ks}
    assert parities == {0, 1}, matched


@pytest.mark.integration
def test_the_bench_plays_every_setting_against_the_card(tmp_path):
    out = tmp_path / "pong"
    cmd = [sys.executable, str(BENCH), "--export", "exported/pong", "--episodes", "1", "--max_frames", "3000",
           "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    record = json.loads(out.with_suffix(".json").read_text())
    card = json.loads((ROOT / "exported" / "pong" / "card.json").read_text())
    assert list(record["settings"]) == ["phase0", "phase1", "phase2", "phase3", "stock_v5"]
    assert record["card"]["mean"] == card["evaluation"]["mean"] and record["policy"] == "greedy"
    for r in record["settings"].values():
        assert len(r["scores"]) == 1 and r["frames"] == [3000] and r["truncated"] == [True]  # capped, not ended
    assert "| stock_v5 |" in out.with_suffix(".md").read_text()
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic writes left no temp file


def test_bad_input_is_one_line_on_stderr_and_exit_code_2(tmp_path):
    no_eval = tmp_path / "no_eval"
    no_eval.mkdir()
    card = json.loads((ROOT / "exported" / "pong" / "card.json").read_text())
    del card["evaluation"]
    (no_eval / "card.json").write_text(json.dumps(card))
    (no_eval / "policy.onnx").symlink_to(ROOT / "exported" / "pong" / "policy.onnx")
    cases = {(str(tmp_path / "nowhere"),): "policy.onnx and card.json", (str(no_eval),): "no evaluation",
             ("exported/pong", "--episodes", "0"): "--episodes must be an integer 1.."}
    for args, says in cases.items():
        bad = subprocess.run([sys.executable, str(BENCH), "--export", *args], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert bad.returncode == 2 and bad.stdout == "", args
        assert len(bad.stderr.strip().splitlines()) == 1 and says in bad.stderr, bad.stderr
