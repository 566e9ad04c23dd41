"""A3C workers: each rolls out its own envs and applies its gradients to one shared global network.

A worker does not wait for the other workers (A3C's asynchrony). The global network, its optimizer
(RMSProp with shared statistics, as in the A3C paper) and the lock that serialises
`apply_gradients` live in `GlobalNetwork`. A worker keeps a local copy of the network, acts and
computes gradients with it, then applies its gradients to the global network and copies the global
weights back, all in one locked step. Workers get their env and model from factories, so tests can
hand them a toy game.

The rollout-and-gradient half of a worker is `ActorLearner`, shared with the Ray backend
(`eac3_tf.ray_backend`), whose parameter server applies updates with the same `GlobalNetwork.apply_update`.
`ThreadBackend` is what `eac3_tf.train.train` drives by default.
"""

from __future__ import annotations

import queue
import threading
import time
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
        self.cfg = a3c_cfg
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

    def apply_update(self, grads: list, finite: bool, frames: int, frame_budget: int,
                     apply_fn: Callable[[list], object], skip_fn: Callable[[], object] | None = None) -> int:
        """Apply one worker's update under the lock and count its frames; return the bad updates so far.

        Both backends call this: a worker thread with `apply_fn` applying to the global variables and
        copying them into its local network, the Ray parameter server with `apply_fn` applying numpy
        gradients. A non-finite update is not applied (`skip_fn` runs instead) but its frames count:
        frames are emulator frames consumed, counted exactly once, when an update reaches the global net.
        """
        with self.lock:
            if finite:
                self.optimizer.learning_rate.assign(learning_rate_at(self.cfg, self.frames, frame_budget))
                apply_fn(grads)
                self.updates += 1
            else:
                self.bad_updates += 1
                if skip_fn is not None:
                    skip_fn()
            self.frames += frames
            return self.bad_updates

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


@dataclass
class Update:
    """One worker update: clipped gradients and what the rollout behind them produced."""

    grads: list  # clipped to cfg.max_grad_norm, one per trainable variable
    metrics: dict[str, float]  # loss terms, entropy, grad_norm
    finite: bool  # False: a non-finite loss or gradient; the update must not be applied
    frames: int  # emulator frames the rollout consumed
    episodes: list[tuple[float, int]]  # (raw score, agent steps) of each game that ended in the rollout


def check_bad_updates(bad: int, cfg: A3CConfig) -> None:
    """Raise NonFiniteError once more than `cfg.max_bad_updates` updates were skipped."""
    if bad > cfg.max_bad_updates:
        raise NonFiniteError(f"{bad} updates had non-finite loss or gradients "
                             f"(limit max_bad_updates={cfg.max_bad_updates}); stopping")


class ActorLearner:
    """The rollout-and-gradient half of an A3C worker, shared by the thread and the Ray backends.

    It owns a batch of envs, a local copy of the network and the worker's RNG. `compute_update` rolls
    out `t_max` agent steps on every env with the local network and returns the clipped gradients of
    the A3C loss; applying them to the global network is the backend's job.
    """

    def __init__(self, worker_id: int, env_fn: EnvFactory, model_fn: ModelFactory, cfg: A3CConfig, seed: int,
                 rng_state: dict | None = None) -> None:
        """Create the envs, the local network and the RNG (seeded by `seed` and `worker_id`, or `rng_state`)."""
        self.id = worker_id
        self.cfg = cfg
        self.env = env_fn(worker_id)
        self.model = model_fn()
        self.rng = np.random.default_rng([seed, worker_id])
        if rng_state is not None:
            self.rng.bit_generator.state = rng_state
        n, t_max = self.env.num_envs, cfg.t_max
        self._obs_buf = np.zeros((t_max, n, *self.env.obs_shape), dtype=np.uint8)
        self._act_buf = np.zeros((t_max, n), dtype=np.int32)
        self._rew_buf = np.zeros((t_max, n), dtype=np.float32)
        self._disc_buf = np.zeros((t_max, n), dtype=np.float32)
        self._scores = np.zeros(n, dtype=np.float64)
        self._lengths = np.zeros(n, dtype=np.int64)
        self.frames_per_update = t_max * n * self.env.frames_per_step
        self._obs: np.ndarray | None = None
        # Seconds spent acting (forward + sampling), stepping the envs and taking gradients, for benches.
        self.seconds = {"act": 0.0, "env": 0.0, "gradients": 0.0}
        self._build_functions()

    def _build_functions(self) -> None:
        local_vars = self.model.trainable_variables
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

        self._act, self._gradients = act, gradients

    def reset(self, start_frames: int) -> None:
        """Start every env; the seed mixes the worker's RNG with the global frame count (differs on resume)."""
        self._obs = self.env.reset(seed=int(self.rng.integers(2**31)) ^ (start_frames & 0x7FFFFFFF))
        self._scores[:] = 0.0
        self._lengths[:] = 0

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Copy weights (one array per trainable variable, e.g. pulled from a parameter server) into the local net."""
        for var, value in zip(self.model.trainable_variables, weights, strict=True):
            var.assign(value)

    def compute_update(self) -> Update:
        """Roll out `t_max` steps on every env, then take the clipped A3C gradients on a tape."""
        if self._obs is None:
            raise RuntimeError("call reset() before compute_update()")
        cfg, env = self.cfg, self.env
        episodes = []
        obs = self._obs
        clock, spent = time.perf_counter, self.seconds
        for t in range(cfg.t_max):
            t0 = clock()
            logits = self._act(obs).numpy()
            actions = sample_actions(logits, self.rng)
            self._obs_buf[t], self._act_buf[t] = obs, actions
            t1 = clock()
            obs, rewards, dones, _ = env.step(actions)
            spent["act"] += t1 - t0
            spent["env"] += clock() - t1
            self._rew_buf[t] = rewards
            cut = np.logical_or(dones, env.lives_lost) if cfg.life_loss_terminal else dones
            self._disc_buf[t] = np.where(cut, 0.0, cfg.gamma)
            self._scores += rewards
            self._lengths += 1
            for i in np.flatnonzero(dones):
                episodes.append((float(self._scores[i]), int(self._lengths[i])))
                self._scores[i], self._lengths[i] = 0.0, 0
        self._obs = obs
        t0 = clock()
        grads, metrics, finite = self._gradients(self._obs_buf, self._act_buf, self._rew_buf, self._disc_buf, obs)
        update = Update(list(grads), {k: float(v) for k, v in metrics.items()}, bool(finite), self.frames_per_update,
                        episodes)
        spent["gradients"] += clock() - t0
        return update

    def close(self) -> None:
        """Free the envs."""
        self.env.close()


class Worker:
    """One asynchronous A3C actor-learner thread: an `ActorLearner` applying to a `GlobalNetwork` in-process."""

    def __init__(self, worker_id: int, global_net: GlobalNetwork, env_fn: EnvFactory, model_fn: ModelFactory,
                 cfg: A3CConfig, seed: int, frame_budget: int, stop: threading.Event,
                 events: queue.Queue, rng_state: dict | None = None) -> None:
        """Create the worker's envs and local network (call from the main thread, before `start`)."""
        self.id = worker_id
        self.global_net = global_net
        self.cfg = cfg
        self.frame_budget = frame_budget
        self.stop = stop
        self.events = events
        self.learner = ActorLearner(worker_id, env_fn, model_fn, cfg, seed, rng_state)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run_guarded, name=f"a3c-worker-{worker_id}", daemon=True)
        self.gradient_hook: Callable[[list], list] | None = None  # tests use it to inject bad numbers
        self.apply_seconds = 0.0  # waiting for the lock, applying and copying the global weights back
        self._build_functions()

    @property
    def rng(self) -> np.random.Generator:
        """The worker's RNG (its state is checkpointed)."""
        return self.learner.rng

    def _build_functions(self) -> None:
        local_vars = self.learner.model.trainable_variables
        global_vars = self.global_net.model.trainable_variables

        @tf.function
        def apply_and_sync(grads):
            self.global_net.optimizer.apply_gradients(zip(grads, global_vars, strict=True))
            for local, shared in zip(local_vars, global_vars, strict=True):
                local.assign(shared)

        @tf.function
        def sync():
            for local, shared in zip(local_vars, global_vars, strict=True):
                local.assign(shared)

        self._apply_and_sync, self._sync = apply_and_sync, sync

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
            self.learner.close()

    def _run(self) -> None:
        with self.global_net.lock:
            start_frames = self.global_net.frames
        self.learner.reset(start_frames)
        self._sync()
        while not self.stop.is_set() and self.global_net.frames < self.frame_budget:
            update = self.learner.compute_update()
            grads, finite = update.grads, update.finite
            if self.gradient_hook is not None:
                grads = self.gradient_hook(grads)
                finite = bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in grads]))
            t0 = time.perf_counter()
            bad = self.global_net.apply_update(grads, finite, update.frames, self.frame_budget,
                                               self._apply_and_sync, self._sync)
            self.apply_seconds += time.perf_counter() - t0
            for score, length in update.episodes:
                self.events.put(Episode(self.id, score, length, self.global_net.frames))
            if not finite:
                self.events.put(("bad_update", bad))
                check_bad_updates(bad, self.cfg)
            self.events.put(update.metrics)


class ThreadBackend:
    """The default backend of `eac3_tf.train.train`: the global network and worker threads in this process.

    A backend owns the global network and the workers' lifetime; `train` owns everything else (progress,
    TensorBoard, CSV, checkpoints). `eac3_tf.ray_backend.RayBackend` has the same methods.
    """

    def __init__(self, env_fn: EnvFactory, model_fn: ModelFactory, a3c_cfg: A3CConfig, seed: int, workers: int,
                 frame_budget: int, stop: threading.Event) -> None:
        """Build the global network and its optimizer (the workers are created by `start`)."""
        self.global_net = GlobalNetwork(model_fn(), a3c_cfg)
        self.env_fn, self.model_fn, self.cfg = env_fn, model_fn, a3c_cfg
        self.seed, self.num_workers, self.frame_budget, self.stop = seed, workers, frame_budget, stop
        self.rng_states: list = []
        self.workers: list[Worker] = []

    @property
    def frames(self) -> int:
        """Frames consumed by updates that reached the global network."""
        return self.global_net.frames

    @property
    def updates(self) -> int:
        """Updates applied."""
        return self.global_net.updates

    @property
    def bad_updates(self) -> int:
        """Updates skipped for non-finite numbers."""
        return self.global_net.bad_updates

    def restore(self, weights: list[np.ndarray], opt: list[np.ndarray], counters: dict, rng_states: list) -> None:
        """Load a checkpoint's state (before `start`)."""
        self.global_net.restore(weights, opt, counters)
        self.rng_states = list(rng_states)

    def start(self, events: queue.Queue, worker_hook: Callable | None = None) -> None:
        """Create the workers (each passed to `worker_hook`, if given) and start their threads."""
        self.workers = [Worker(i, self.global_net, self.env_fn, self.model_fn, self.cfg, self.seed, self.frame_budget,
                               self.stop, events, rng_state=self.rng_states[i] if i < len(self.rng_states) else None)
                        for i in range(self.num_workers)]
        if worker_hook is not None:
            for w in self.workers:
                worker_hook(w)
        for w in self.workers:
            w.start()

    def running(self) -> bool:
        """True while any worker thread is alive."""
        return any(w.thread.is_alive() for w in self.workers)

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray], dict, list]:
        """Weights, optimizer variables and counters taken under the lock, and the workers' RNG states."""
        weights, opt, counters = self.global_net.snapshot()
        rng = [w.rng.bit_generator.state for w in self.workers] if self.workers else self.rng_states
        return weights, opt, counters, rng

    def join(self, timeout: float) -> list[BaseException]:
        """Stop the workers, wait for them, and return the errors they raised."""
        self.stop.set()
        for w in self.workers:
            w.thread.join(timeout=timeout)
        return [w.error for w in self.workers if w.error is not None]

    def close(self) -> None:
        """Nothing to free: the threads have ended."""
