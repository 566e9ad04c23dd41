"""Learning is proven, not assumed: the Atari worker/trainer code learns a toy visual game."""

import time

import numpy as np
import tensorflow as tf

from eac3_tf import checkpoint
from eac3_tf.model import build_model
from eac3_tf.policy import sample_actions
from eac3_tf.rollout import play_episodes
from eac3_tf.toy import OPTIMAL_RETURN, CatchBatchEnv, toy_model_config, train_catch

CFG = toy_model_config()


def make_model():
    return build_model((10, 5, 1), 3, CFG)


def mean_score(model, episodes=320, seed=1):
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32))[0])
    rng = np.random.default_rng(seed)

    def policy(obs):
        return sample_actions(forward(obs).numpy(), rng)

    return np.mean([s for s, _ in play_episodes(policy, CatchBatchEnv(16), episodes, seed)])


def test_threaded_a3c_learns_catch_to_90_percent_of_optimal_in_100k_frames(tmp_path):
    tf.keras.utils.set_random_seed(0)
    untrained = mean_score(make_model())
    t0 = time.time()
    result = train_catch(str(tmp_path), seed=0, log=lambda s: None)
    seconds = time.time() - t0
    trained = mean_score(checkpoint.load(result.checkpoint).model)
    print(f"catch: untrained {untrained:.3f}, trained {trained:.3f} after {result.frames} frames in {seconds:.1f} s")
    assert untrained < 0.0  # a random policy misses most balls
    assert trained >= 0.9 * OPTIMAL_RETURN
