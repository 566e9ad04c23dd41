import math

import numpy as np
import pytest
import tensorflow as tf

from eac3_tf import a3c

LN3 = math.log(3.0)


def test_nstep_returns_bootstrap_from_the_last_value():
    # R2 = 2 + 0.9*10 = 11;  R1 = 0 + 0.9*11 = 9.9;  R0 = 1 + 0.9*9.9 = 9.91
    r = a3c.nstep_returns([[1.0], [0.0], [2.0]], [[0.9], [0.9], [0.9]], [10.0])
    np.testing.assert_allclose(r.numpy()[:, 0], [9.91, 9.9, 11.0], rtol=1e-6)


def test_a_terminal_step_cuts_the_bootstrap():
    # discount 0 at t=1: R2 = 2 + 0.9*10 = 11; R1 = 0 + 0*11 = 0; R0 = 1 + 0.9*0 = 1
    r = a3c.nstep_returns([[1.0], [0.0], [2.0]], [[0.9], [0.0], [0.9]], [10.0])
    np.testing.assert_allclose(r.numpy()[:, 0], [1.0, 0.0, 11.0], rtol=1e-6)


def test_returns_are_computed_per_env_column():
    r = a3c.nstep_returns([[1.0, 0.0]], [[0.5, 0.0]], [4.0, 4.0])
    np.testing.assert_allclose(r.numpy(), [[3.0, 0.0]])  # 1 + 0.5*4 = 3; 0 + 0*4 = 0


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="one shape"):
        a3c.nstep_returns([[1.0]], [[0.9], [0.9]], [0.0])


def test_advantages_carry_no_gradient():
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        adv = a3c.advantages([3.0, 3.0], v)
    np.testing.assert_allclose(adv.numpy(), [2.0, 1.0])
    assert tape.gradient(adv, v) is None


def test_policy_loss_by_hand():
    # row 0: uniform over 2, a=1, A=2:        log pi = -ln2,   term -(-ln2 * 2) = 1.386294
    # row 1: pi = (0.75, 0.25), a=0, A=-1:    log pi = ln .75, term -(ln .75 * -1) = -0.287682
    loss = a3c.policy_loss([[0.0, 0.0], [LN3, 0.0]], [1, 0], [2.0, -1.0])
    assert loss.numpy() == pytest.approx((1.386294 - 0.287682) / 2, abs=1e-6)


def test_value_loss_is_half_the_mean_square_error():
    assert a3c.value_loss([1.0, 3.0], [0.0, 1.0]).numpy() == pytest.approx(0.5 * (1 + 4) / 2)


def test_entropy_by_hand():
    # uniform over 2: ln2 = 0.693147;  (0.75, 0.25): -(.75 ln .75 + .25 ln .25) = 0.562335
    assert a3c.entropy([[0.0, 0.0], [LN3, 0.0]]).numpy() == pytest.approx((0.693147 + 0.562335) / 2, abs=1e-6)


def test_a3c_loss_combines_the_terms_with_their_weights():
    # adv = returns - values = [2, -1] -> policy 0.549306; value 0.5*mean(4, 1) = 1.25; entropy 0.627741
    loss, m = a3c.a3c_loss([[0.0, 0.0], [LN3, 0.0]], [0.0, 1.0], [1, 0], [2.0, 0.0],
                           entropy_beta=0.01, value_coef=0.5)
    assert m["policy_loss"].numpy() == pytest.approx(0.549306, abs=1e-6)
    assert m["value_loss"].numpy() == pytest.approx(1.25)
    assert m["entropy"].numpy() == pytest.approx(0.627741, abs=1e-6)
    assert loss.numpy() == pytest.approx(0.549306 + 0.5 * 1.25 - 0.01 * 0.627741, abs=1e-6)


def test_value_gradient_pulls_values_toward_returns():
    v = tf.Variable([0.0, 1.0])
    with tf.GradientTape() as tape:
        loss = a3c.value_loss([1.0, 3.0], v)
    # d/dv 0.5*mean((R-v)^2) = -(R-v)/B = [-0.5, -1.0]
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), [-0.5, -1.0])


def test_rewards_are_clipped_for_learning():
    np.testing.assert_allclose(a3c.clip_rewards([-5.0, 0.5, 3.0], 1.0).numpy(), [-1.0, 0.5, 1.0])
