import numpy as np
import pytest

from eac3_tf.config import A3CConfig, RunConfig
from eac3_tf.model import build_model
from eac3_tf.policy import greedy_actions, sample_actions
from eac3_tf.toy import CatchBatchEnv, toy_model_config
from eac3_tf.train import train
from eac3_tf.workers import NonFiniteError

CFG = toy_model_config()


def make_model():
    return build_model((10, 5, 1), 3, CFG)


def poison_every(k):
    """A gradient hook that turns every k-th update of a worker into NaN."""
    def hook_worker(worker):
        count = {"n": 0}

        def hook(grads):
            count["n"] += 1
            return [g * np.nan for g in grads] if count["n"] % k == 0 else grads
        worker.gradient_hook = hook
    return hook_worker


def test_non_finite_gradients_are_skipped_counted_and_training_goes_on(tmp_path):
    run = RunConfig(frames=3000, workers=2, logdir=str(tmp_path), checkpoint_every=10**9, log_every=60)
    logs = []
    result = train(lambda i: CatchBatchEnv(4), make_model, A3CConfig(envs_per_worker=4), run,
                   {"game": "catch", "preset": "toy"}, log=logs.append, worker_hook=poison_every(3))
    assert result.frames >= 3000
    assert result.bad_updates > 0
    assert any("non-finite" in line for line in logs)
    from eac3_tf import checkpoint
    weights = checkpoint.load(result.checkpoint).model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in weights)


def test_too_many_non_finite_updates_stop_training_with_a_clear_error(tmp_path):
    run = RunConfig(frames=10**6, workers=1, logdir=str(tmp_path), checkpoint_every=10**9, log_every=60)
    with pytest.raises(NonFiniteError, match="max_bad_updates=2"):
        train(lambda i: CatchBatchEnv(4), make_model, A3CConfig(envs_per_worker=4, max_bad_updates=2), run,
              {"game": "catch", "preset": "toy"}, log=lambda s: None, worker_hook=poison_every(1))


def test_actions_are_sampled_with_the_policy_probabilities():
    logits = np.log(np.array([[0.7, 0.2, 0.1]] * 20000))
    actions = sample_actions(logits, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(actions, minlength=3) / 20000, [0.7, 0.2, 0.1], atol=0.01)


def test_greedy_actions_take_the_argmax_and_sampling_is_reproducible():
    logits = np.array([[0.0, 2.0, 1.0], [5.0, 0.0, 0.0]])
    assert greedy_actions(logits).tolist() == [1, 0]
    a = sample_actions(logits, np.random.default_rng(3))
    b = sample_actions(logits, np.random.default_rng(3))
    assert a.tolist() == b.tolist()


def test_resume_drops_curve_rows_written_after_the_checkpoint_it_resumes_from(tmp_path):
    from eac3_tf.train import EPISODES_CSV, _Curves

    path = tmp_path / EPISODES_CSV
    path.write_text("wall_seconds,frames,worker,score,length\n1.0,100,0,1,5\n2.0,200,0,1,5\n3.0,300,1,-1,5\n4.0,3")
    _Curves(tmp_path, resumed_frames=200).close()
    assert path.read_text().splitlines() == ["wall_seconds,frames,worker,score,length", "1.0,100,0,1,5",
                                             "2.0,200,0,1,5"]


class _OneLifeLost(CatchBatchEnv):
    """Catch that reports a lost life (the game going on) on its second step."""

    def step(self, actions):
        out = super().step(actions)
        self.steps = getattr(self, "steps", 0) + 1
        self.lives_lost = np.full(self.num_envs, self.steps == 2)
        return out


@pytest.mark.parametrize("life_loss_terminal, expected", [(False, 0.9), (True, 0.0)])
def test_a_lost_life_cuts_bootstrapping_only_when_asked(life_loss_terminal, expected):
    from eac3_tf.workers import ActorLearner

    cfg = A3CConfig(t_max=3, envs_per_worker=2, gamma=0.9, life_loss_terminal=life_loss_terminal)
    learner = ActorLearner(0, lambda _: _OneLifeLost(2), make_model, cfg, seed=0)
    learner.reset(0)
    update = learner.compute_update()
    expected_discounts = np.array([[0.9, 0.9], [expected, expected], [0.9, 0.9]], dtype=np.float32)
    np.testing.assert_array_equal(learner._disc_buf, expected_discounts)
    assert update.episodes == []  # a lost life does not end the game whose score is reported
