"""A3C workers: each rolls out its own envs and applies its gradients to one shared global network.

A worker does not wait for the other workers (A3C's asynchrony). The global network, its optimizer
(RMSProp with shared statistics, as in the A3C paper) and the lock that serialises
`apply_gradients` live in `GlobalNetwork`. A worker keeps a local copy of the network, acts and
computes gradients with it, then applies its gradients to the global network and copies the global
weights back, all in one locked step. Workers get their env and model from factories, so tests can
hand them a toy game.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from eac3_tf import a3c
from eac3_tf.config import A3CConfig, learning_rate_at
from eac3_tf.envs import BatchEnv
from eac3_tf.policy import sample_actions

EnvFactory = Callable[[int], BatchEnv]  # worker id -> its batch of envs
ModelFactory = Callable[[], "tf.keras.Model"]  # -> a fresh network of the training architecture


class NonFiniteError(RuntimeError):
    """Raised when more updates than allowed had non-finite losses or gradients."""


class GlobalNetwork:
    """The shared network, the shared optimizer, the update lock and the global counters."""

    def __init__(self, model, a3c_cfg: A3CConfig) -> None:
        """Wrap `model` and build its optimizer before any worker thread starts."""
        import keras

        self.model = model
        self.optimizer = keras.optimizers.RMSprop(
            learning_rate=a3c_cfg.learning_rate, rho=a3c_cfg.rmsprop_rho, epsilon=a3c_cfg.rmsprop_epsilon)
        self.optimizer.build(model.trainable_variables)  # before threads: building is not thread-safe
        self.lock = threading.Lock()
        self.frames = 0  # emulator frames consumed by applied updates
        self.updates = 0
        self.bad_updates = 0  # updates skipped for non-finite numbers

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, int]]:
        """Consistent copies of the weights, optimizer variables and counters (taken under the lock)."""
        import keras

        with self.lock:
            weights = [np.array(w) for w in self.model.get_weights()]
            opt = [keras.ops.convert_to_numpy(v) for v in self.optimizer.variables]
            counters = {"frames": self.frames, "updates": self.updates, "bad_updates": self.bad_updates}
        return weights, opt, counters

    def restore(self, weights: list[np.ndarray], opt: list[np.ndarray], counters: dict[str, int]) -> None:
        """Load a snapshot taken by `snapshot` (before workers start)."""
        with self.lock:
            self.model.set_weights(weights)
            if len(opt) != len(self.optimizer.variables):
                raise ValueError(f"optimizer state has {len(opt)} arrays, expected {len(self.optimizer.variables)}")
            for var, value in zip(self.optimizer.variables, opt, strict=True):
                var.assign(value)
            self.frames = int(counters["frames"])
            self.updates = int(counters["updates"])
            self.bad_updates = int(counters.get("bad_updates", 0))


@dataclass
class Episode:
    """A finished game: raw score, agent steps, and the global frame count when it ended."""

    worker: int
    score: float
    length: int
    frames: int


class Worker:
    """One asynchronous A3C actor-learner driving a batch of envs."""

    def __init__(self, worker_id: int, global_net: GlobalNetwork, env_fn: EnvFactory, model_fn: ModelFactory,
                 cfg: A3CConfig, seed: int, frame_budget: int, stop: threading.Event,
                 events: queue.Queue, rng_state: dict | None = None) -> None:
        """Create the worker's envs and local network (call from the main thread, before `start`)."""
        self.id = worker_id
        self.global_net = global_net
        self.cfg = cfg
        self.seed = seed
        self.frame_budget = frame_budget
        self.stop = stop
        self.events = events
        self.env = env_fn(worker_id)
        self.model = model_fn()
        self.rng = np.random.default_rng([seed, worker_id])
        if rng_state is not None:
            self.rng.bit_generator.state = rng_state
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run_guarded, name=f"a3c-worker-{worker_id}", daemon=True)
        self.gradient_hook: Callable[[list], list] | None = None  # tests use it to inject bad numbers
        self._build_functions()

    def _build_functions(self) -> None:
        local_vars = self.model.trainable_variables
        global_vars = self.global_net.model.trainable_variables
        cfg = self.cfg

        @tf.function(reduce_retracing=True)
        def act(obs):
            logits, _ = self.model(tf.cast(obs, tf.float32), training=False)
            return logits

        @tf.function(reduce_retracing=True)
        def gradients(obs, actions, rewards, discounts, last_obs):
            t, n = rewards.shape[0], rewards.shape[1]
            _, last_v = self.model(tf.cast(last_obs, tf.float32), training=False)
            returns = a3c.nstep_returns(a3c.clip_rewards(rewards, cfg.reward_clip), discounts, last_v[:, 0])
            flat_obs = tf.reshape(tf.cast(obs, tf.float32), [t * n, *obs.shape[2:]])
            with tf.GradientTape() as tape:
                logits, values = self.model(flat_obs, training=True)
                loss, metrics = a3c.a3c_loss(logits, values[:, 0], tf.reshape(actions, [-1]),
                                             tf.reshape(returns, [-1]), cfg.entropy_beta, cfg.value_coef)
            grads = tape.gradient(loss, local_vars)
            grads, norm = tf.clip_by_global_norm(grads, cfg.max_grad_norm)
            finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads]) & tf.math.is_finite(loss)
            metrics["grad_norm"] = norm
            return grads, metrics, finite

        @tf.function
        def apply_and_sync(grads):
            self.global_net.optimizer.apply_gradients(zip(grads, global_vars, strict=True))
            for local, shared in zip(local_vars, global_vars, strict=True):
                local.assign(shared)

        @tf.function
        def sync():
            for local, shared in zip(local_vars, global_vars, strict=True):
                local.assign(shared)

        self._act, self._gradients, self._apply_and_sync, self._sync = act, gradients, apply_and_sync, sync

    def start(self) -> None:
        """Start the worker thread."""
        self.thread.start()

    def _run_guarded(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # surfaced by the trainer in the main thread
            self.error = exc
            self.stop.set()
        finally:
            self.env.close()

    def _run(self) -> None:
        cfg, env = self.cfg, self.env
        n, t_max = env.num_envs, cfg.t_max
        obs_buf = np.zeros((t_max, n, *env.obs_shape), dtype=np.uint8)
        act_buf = np.zeros((t_max, n), dtype=np.int32)
        rew_buf = np.zeros((t_max, n), dtype=np.float32)
        disc_buf = np.zeros((t_max, n), dtype=np.float32)
        scores = np.zeros(n, dtype=np.float64)
        lengths = np.zeros(n, dtype=np.int64)
        frames_per_update = t_max * n * env.frames_per_step
        with self.global_net.lock:
            start_frames = self.global_net.frames
        obs = env.reset(seed=int(self.rng.integers(2**31)) ^ (start_frames & 0x7FFFFFFF))
        self._sync()
        while not self.stop.is_set() and self.global_net.frames < self.frame_budget:
            for t in range(t_max):
                logits = self._act(obs).numpy()
                actions = sample_actions(logits, self.rng)
                obs_buf[t], act_buf[t] = obs, actions
                obs, rewards, dones, _ = env.step(actions)
                rew_buf[t] = rewards
                disc_buf[t] = np.where(dones, 0.0, cfg.gamma)
                scores += rewards
                lengths += 1
                for i in np.flatnonzero(dones):
                    self.events.put(Episode(self.id, float(scores[i]), int(lengths[i]), self.global_net.frames))
                    scores[i], lengths[i] = 0.0, 0
            grads, metrics, finite = self._gradients(obs_buf, act_buf, rew_buf, disc_buf, obs)
            grads = list(grads)
            if self.gradient_hook is not None:
                grads = self.gradient_hook(grads)
                finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
            with self.global_net.lock:
                if bool(finite):
                    self.global_net.optimizer.learning_rate.assign(
                        learning_rate_at(cfg, self.global_net.frames, self.frame_budget))
                    self._apply_and_sync(grads)
                    self.global_net.updates += 1
                else:
                    self.global_net.bad_updates += 1
                    self._sync()
                self.global_net.frames += frames_per_update
                bad = self.global_net.bad_updates
            if not bool(finite):
                self.events.put(("bad_update", bad))
                if bad > cfg.max_bad_updates:
                    raise NonFiniteError(f"{bad} updates had non-finite loss or gradients "
                                         f"(limit max_bad_updates={cfg.max_bad_updates}); stopping")
            self.events.put({k: float(v) for k, v in metrics.items()})
