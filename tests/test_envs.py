import numpy as np

from eac3_tf.config import PRESETS, EnvConfig
from eac3_tf.envs import AtariBatchEnv
from eac3_tf.preprocess import FrameStack, preprocess


def test_training_env_inputs_equal_the_one_preprocessing_of_its_screens():
    """What the worker feeds the model is exactly preprocess + FrameStack of the raw ALE screens."""
    obs_cfg = PRESETS["fast"].obs
    env = AtariBatchEnv(EnvConfig(game="pong"), obs_cfg, num_envs=2, num_threads=1)
    try:
        stack = FrameStack(2, obs_cfg)
        obs = env.reset(seed=3)
        np.testing.assert_array_equal(obs, stack.reset(preprocess(env.last_screens, obs_cfg)))
        rng = np.random.default_rng(0)
        for _ in range(20):
            obs, rewards, dones, _ = env.step(rng.integers(0, env.num_actions, 2))
            expected = stack.push(preprocess(env.last_screens, obs_cfg), new_episode=dones)
            np.testing.assert_array_equal(obs, expected)
        assert obs.shape == (2, 80, 80, 4) and obs.dtype == np.uint8
        assert obs.max() > 0  # a real game screen, not a blank
    finally:
        env.close()


def test_raw_scores_are_reported_unclipped_and_episodes_reset_in_the_same_step():
    env = AtariBatchEnv(EnvConfig(game="pong", repeat_action_probability=0.0), PRESETS["fast"].obs, 1)
    try:
        env.reset(seed=0)
        total, steps, done = 0.0, 0, False
        while not done and steps < 5000:
            _, r, d, _ = env.step(np.zeros(1, np.int64))
            total += float(r[0])
            done = bool(d[0])
            steps += 1
        # NOOP Pong loses 21 points: raw score -21, the clipped per-step rewards are never summed away
        assert done and total == -21.0
    finally:
        env.close()


def test_envs_of_one_seed_replay_identically():
    def roll(seed):
        env = AtariBatchEnv(EnvConfig(game="qbert"), PRESETS["fast"].obs, 2, num_threads=1)
        out = [env.reset(seed=seed)]
        for a in [1, 2, 3, 4, 5] * 4:
            out.append(env.step(np.full(2, a, np.int64))[0])
        env.close()
        return np.stack(out)

    np.testing.assert_array_equal(roll(7), roll(7))
