"""A3C's math as plain functions of arrays (time-major: [T, N] = steps x envs).

Every function takes numpy arrays or tensors and returns tensors, so the same code runs in tests and
inside the workers' `tf.function`. A terminal step has `discount = 0`, which cuts bootstrapping.
"""

from __future__ import annotations

import tensorflow as tf


def _check_same_shape(**arrays: tf.Tensor) -> None:
    shapes = {name: tuple(a.shape) for name, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"arrays must share one shape, got {shapes}")


def nstep_returns(rewards, discounts, bootstrap) -> tf.Tensor:
    """n-step returns  R_t = r_t + d_t * R_{t+1},  R_T = bootstrap  (rewards, discounts [T, N]; bootstrap [N]).

    `d_t` is gamma, or 0 where step t ended its episode.
    """
    rewards = tf.convert_to_tensor(rewards, tf.float32)
    discounts = tf.convert_to_tensor(discounts, tf.float32)
    bootstrap = tf.convert_to_tensor(bootstrap, tf.float32)
    _check_same_shape(rewards=rewards, discounts=discounts)
    if rewards.shape.rank != 2 or tuple(bootstrap.shape) != tuple(rewards.shape[1:]):
        raise ValueError(f"rewards must be [T, N] and bootstrap [N], got {rewards.shape}, {bootstrap.shape}")
    returns = []
    acc = bootstrap
    for t in range(rewards.shape[0] - 1, -1, -1):  # T is static: a short unrolled loop
        acc = rewards[t] + discounts[t] * acc
        returns.append(acc)
    return tf.stack(returns[::-1])


def advantages(returns, values) -> tf.Tensor:
    """A_t = R_t - V(s_t), with no gradient through either side (it weights the policy gradient)."""
    returns = tf.convert_to_tensor(returns, tf.float32)
    values = tf.convert_to_tensor(values, tf.float32)
    _check_same_shape(returns=returns, values=values)
    return tf.stop_gradient(returns - values)


def policy_loss(logits, actions, adv) -> tf.Tensor:
    """-mean_t( log pi(a_t | s_t) * A_t ) over a flat batch (logits [B, A]; actions, adv [B])."""
    logp = tf.nn.log_softmax(tf.convert_to_tensor(logits, tf.float32))
    logp_a = tf.gather(logp, tf.cast(actions, tf.int32), batch_dims=1)
    return -tf.reduce_mean(logp_a * tf.convert_to_tensor(adv, tf.float32))


def value_loss(returns, values) -> tf.Tensor:
    """mean_t( (R_t - V(s_t))^2 ) / 2: the critic's regression to the n-step returns."""
    returns = tf.convert_to_tensor(returns, tf.float32)
    values = tf.convert_to_tensor(values, tf.float32)
    _check_same_shape(returns=returns, values=values)
    return 0.5 * tf.reduce_mean(tf.square(tf.stop_gradient(returns) - values))


def entropy(logits) -> tf.Tensor:
    """mean_t( -sum_a pi(a|s_t) log pi(a|s_t) ): the bonus that keeps the policy exploring."""
    logp = tf.nn.log_softmax(tf.convert_to_tensor(logits, tf.float32))
    return -tf.reduce_mean(tf.reduce_sum(tf.exp(logp) * logp, axis=-1))


def a3c_loss(logits, values, actions, returns, entropy_beta: float,
             value_coef: float) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """L = policy_loss + value_coef * value_loss - entropy_beta * entropy, on a flat batch [B].

    Returns the loss and its named terms for logging.
    """
    adv = advantages(returns, values)
    pg = policy_loss(logits, actions, adv)
    vl = value_loss(returns, values)
    ent = entropy(logits)
    loss = pg + value_coef * vl - entropy_beta * ent
    return loss, {"loss": loss, "policy_loss": pg, "value_loss": vl, "entropy": ent,
                  "advantage_mean": tf.reduce_mean(adv)}


def clip_rewards(rewards, clip: float) -> tf.Tensor:
    """Clip raw game rewards to [-clip, clip] for learning (scores are reported unclipped)."""
    return tf.clip_by_value(tf.convert_to_tensor(rewards, tf.float32), -clip, clip)
