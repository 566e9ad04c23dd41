"""The Ray Core backend of `eac3_tf.train.train`: the same A3C, with its workers spread over a Ray cluster.

One `ParameterServer` actor holds the global network and the shared RMSProp: a `GlobalNetwork`, the class
the thread backend uses, updated by the same `GlobalNetwork.apply_update`. Each `RolloutWorker` actor runs
the thread backend's `ActorLearner`: it rolls out its batch of envs, takes the clipped A3C gradients on a
tape, pushes them (numpy arrays) to the parameter server and gets the fresh weights back in the reply,
which it collects after playing its next rollout (one push stays in flight). Workers never wait for each
other (A3C's asynchrony); the parameter server
serialises the pushes as the thread backend's lock does.

Frames are counted once, by the parameter server, when an update reaches it. A worker actor whose
process dies (a lost node, OOM, `ray.kill`) is restarted by Ray (`MAX_RESTARTS`) and its `run` call is
retried: the new incarnation registers again, takes the current weights and the RNG state of its last
push, and goes on; the rollout in flight when it died never reached the parameter server, so it is not
counted. Each push carries (worker, incarnation, sequence number) and a repeated one is ignored, so no
update or frame is counted twice. The parameter server itself is not restarted: if it dies the run stops
with an error, and `--resume` continues from the last checkpoint.

Ray is imported by this module only; `import eac3_tf.train` and the thread backend never load it.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable

import numpy as np

from eac3_tf.config import A3CConfig

MAX_RESTARTS = 10  # times Ray restarts a worker actor whose process died (and retries its `run`)
POLL_SECONDS = 0.2  # how often the driver collects episodes, metrics and counters from the parameter server


def _import_tensorflow():
    from eac3_tf.cli import import_tensorflow_quietly, quiet_tensorflow

    quiet_tensorflow()
    return import_tensorflow_quietly()


def connect(address: str, num_cpus: int | None = None, log: Callable[[str], None] = print):
    """Start (`address` "local") or join ("auto", "host:port") a Ray cluster, unless already connected; return ray.

    A local cluster binds to the loopback interface only (it serves this machine's workers alone).
    ray.init installs its own SIGTERM handler; the caller's one is put back, so SIGTERM still means
    "checkpoint and stop" for the trainer.
    """
    if address == "local" and "ray" not in sys.modules:
        # Read once when ray is imported: on Linux Ray binds to the host's network address unless this is 0.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    if ray.is_initialized():
        return ray
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main_thread else None
    if address == "local":
        ray.init(num_cpus=num_cpus, include_dashboard=False)
    else:
        ray.init(address=address)
    if main_thread and callable(previous):
        signal.signal(signal.SIGTERM, previous)
    resources = ray.cluster_resources()
    log(f"ray {ray.__version__}: {'started a local cluster' if address == 'local' else 'joined ' + address}, "
        f"{int(resources.get('CPU', 0))} CPUs on {len(ray.nodes())} node(s)")
    return ray


class ParameterServer:
    """The global network and optimizer as an actor: applies pushed gradients, returns fresh weights.

    A plain class, wrapped by `ray.remote` in `RayBackend` (and usable in-process in tests).
    """

    def __init__(self, model_fn: Callable, a3c_cfg: A3CConfig, frame_budget: int, num_workers: int,
                 seed: int = 0) -> None:
        """Build the global network (initialised from `seed`) and its optimizer; `frame_budget` is the run's target."""
        tf = _import_tensorflow()
        from eac3_tf.workers import GlobalNetwork

        tf.keras.utils.set_random_seed(seed)
        self.net = GlobalNetwork(model_fn(), a3c_cfg)
        self.frame_budget = frame_budget
        self._variables = self.net.model.trainable_variables
        optimizer, variables = self.net.optimizer, self._variables

        @tf.function
        def apply(grads):
            optimizer.apply_gradients(zip(grads, variables, strict=True))

        self._apply = apply
        self.stop_requested = False
        self.events: list[tuple] = []  # drained by `poll`
        self.worker_frames = [0] * num_workers  # frames each worker's updates brought
        self.registrations = [0] * num_workers  # incarnations of each worker seen (1 + its restarts)
        self.rng_states: list = [None] * num_workers  # each worker's RNG state after its last push
        self._last_seq: dict[tuple[int, int], int] = {}
        self.pushes = self.duplicates = 0
        self.push_seconds = self.apply_seconds = 0.0  # time inside `push`, and inside the optimizer step
        self.bytes_in = self.bytes_out = 0  # of the last push: gradients received, weights returned

    def _grow(self, worker_id: int) -> None:
        for lst, fill in ((self.worker_frames, 0), (self.registrations, 0), (self.rng_states, None)):
            lst.extend([fill] * (worker_id + 1 - len(lst)))

    def _weights(self) -> list[np.ndarray]:
        return [v.numpy() for v in self._variables]

    def _stop(self) -> bool:
        return self.stop_requested or self.net.frames >= self.frame_budget

    def register(self, worker_id: int) -> dict:
        """A worker (or its restarted incarnation) joins: its incarnation, RNG state, and the current weights."""
        self._grow(worker_id)
        incarnation = self.registrations[worker_id]
        self.registrations[worker_id] += 1
        return {"incarnation": incarnation, "rng_state": self.rng_states[worker_id], "frames": self.net.frames,
                "weights": self._weights(), "stop": self._stop()}

    def push(self, worker_id: int, incarnation: int, seq: int, grads: list[np.ndarray], finite: bool, frames: int,
             episodes: list[tuple[float, int]], metrics: dict[str, float], rng_state: dict) -> tuple:
        """Apply one update (once per (worker, incarnation, seq)); return (weights, stop, bad updates so far)."""
        t0 = time.perf_counter()
        key = (worker_id, incarnation)
        if seq <= self._last_seq.get(key, 0):
            self.duplicates += 1
            return self._weights(), self._stop(), self.net.bad_updates
        self._last_seq[key] = seq
        self._grow(worker_id)
        t1 = time.perf_counter()
        bad = self.net.apply_update(grads, finite, frames, self.frame_budget, self._apply)
        self.apply_seconds += time.perf_counter() - t1
        self.worker_frames[worker_id] += frames
        self.rng_states[worker_id] = rng_state
        self.events.extend(("episode", worker_id, score, length, self.net.frames) for score, length in episodes)
        if not finite:
            self.events.append(("bad_update", bad))
        self.events.append(("metrics", metrics))
        weights = self._weights()
        self.pushes += 1
        self.bytes_in = sum(g.nbytes for g in grads)
        self.bytes_out = sum(w.nbytes for w in weights)
        self.push_seconds += time.perf_counter() - t0
        return weights, self._stop(), bad

    def request_stop(self) -> None:
        """Tell every worker to stop after its current update."""
        self.stop_requested = True

    def poll(self) -> dict:
        """Drain the events (episodes, metrics, skipped updates) and read the counters."""
        events, self.events = self.events, []
        return {"events": events, "frames": self.net.frames, "updates": self.net.updates,
                "bad_updates": self.net.bad_updates}

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray], dict, list]:
        """Weights, optimizer variables, counters (with per-worker frames and restarts) and workers' RNG states."""
        weights, opt, counters = self.net.snapshot()
        counters["worker_frames"] = list(self.worker_frames)
        counters["worker_restarts"] = [max(0, r - 1) for r in self.registrations]  # in this run, not restored
        return weights, opt, counters, list(self.rng_states)

    def restore(self, weights: list[np.ndarray], opt: list[np.ndarray], counters: dict, rng_states: list) -> None:
        """Load a checkpoint's state (before workers register)."""
        self.net.restore(weights, opt, counters)
        for i, frames in enumerate(counters.get("worker_frames", [])):
            self._grow(i)
            self.worker_frames[i] = int(frames)
        for i, state in enumerate(rng_states):
            self._grow(i)
            self.rng_states[i] = state

    def stats(self) -> dict:
        """Timing and message sizes, for benchmarks."""
        return {"pushes": self.pushes, "duplicates": self.duplicates, "push_seconds": self.push_seconds,
                "apply_seconds": self.apply_seconds, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
                "frames": self.net.frames}


class RolloutWorker:
    """An A3C actor-learner as an actor: the thread backend's `ActorLearner`, pushing to a `ParameterServer`."""

    def __init__(self, worker_id: int, ps_name: str, env_fn: Callable, model_fn: Callable, a3c_cfg: A3CConfig,
                 seed: int) -> None:
        """Register with the parameter server (again, after a restart) and build envs and network.

        The parameter server is found by name: an actor handle among a restartable actor's arguments would
        make Ray warn that a restart could fail, though the driver owning it outlives the workers.
        """
        import ray

        _import_tensorflow()
        from eac3_tf.workers import ActorLearner

        self.id, self.ps, self.cfg = worker_id, ray.get_actor(ps_name), a3c_cfg
        reg = ray.get(self.ps.register.remote(worker_id))
        self.incarnation = reg["incarnation"]
        self.learner = ActorLearner(worker_id, env_fn, model_fn, a3c_cfg, seed, reg["rng_state"])
        self.learner.set_weights(reg["weights"])
        self.learner.reset(reg["frames"])
        self.stopped = reg["stop"]
        self.pushes = 0

    def run(self) -> int:
        """Roll out, push, pull, until the parameter server says stop; return this incarnation's pushes."""
        import ray

        from eac3_tf.workers import check_bad_updates

        seq, pending, pending_finite = 0, None, True

        def collect(ref, finite: bool) -> None:
            weights, self.stopped, bad = ray.get(ref)
            self.pushes += 1
            if not finite:
                check_bad_updates(bad, self.cfg)
            self.learner.set_weights(weights)

        # One push stays in flight while the next rollout runs, so the parameter server's apply and the
        # round trip overlap with stepping the games (the next update is one update staler, as in A3C).
        while not self.stopped:
            update = self.learner.compute_update()
            if pending is not None:
                collect(pending, pending_finite)
                if self.stopped:
                    break  # this rollout was never pushed, so its frames are never counted
            seq += 1
            pending, pending_finite = self.ps.push.remote(
                self.id, self.incarnation, seq, [g.numpy() for g in update.grads], update.finite, update.frames,
                update.episodes, update.metrics, self.learner.rng.bit_generator.state), update.finite
        if pending is not None and not self.stopped:
            collect(pending, pending_finite)
        self.learner.close()
        return self.pushes

    def progress(self) -> dict:
        """This incarnation's number and pushes so far (answered while `run` goes on: the actor has 2 threads)."""
        return {"incarnation": self.incarnation, "pushes": self.pushes}


class RayBackend:
    """`train`'s backend on Ray: a `ParameterServer` actor and `workers` `RolloutWorker` actors.

    The same methods as `eac3_tf.workers.ThreadBackend`. A driver thread polls the parameter server every
    `POLL_SECONDS`, turning its events into the trainer's (`Episode`, metric dicts, skipped updates) and
    keeping `frames`, `updates` and `bad_updates` current.
    """

    def __init__(self, env_fn: Callable, model_fn: Callable, a3c_cfg: A3CConfig, seed: int, workers: int,
                 frame_budget: int, stop: threading.Event, address: str = "local",
                 log: Callable[[str], None] = print) -> None:
        """Connect to the cluster and start the parameter server on this (the driver's) node."""
        ray = connect(address, num_cpus=max(os.cpu_count() or 1, workers), log=log)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.env_fn, self.model_fn, self.cfg = env_fn, model_fn, a3c_cfg
        self.seed, self.num_workers, self.stop = seed, workers, stop
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
        self.ps_name = f"eac3_tf-parameter-server-{uuid.uuid4().hex}"
        self.ps = ray.remote(ParameterServer).options(
            name=self.ps_name, num_cpus=0, max_restarts=0, scheduling_strategy=here).remote(
            model_fn, a3c_cfg, frame_budget, workers, seed)
        self._counters = ray.get(self.ps.poll.remote())  # waits for the parameter server to be built
        self.workers: list = []
        self.errors: list[BaseException] = []
        self._runs: list = []
        self._poller: threading.Thread | None = None

    @property
    def frames(self) -> int:
        """Frames consumed by updates that reached the parameter server (as of the last poll)."""
        return self._counters["frames"]

    @property
    def updates(self) -> int:
        """Updates applied (as of the last poll)."""
        return self._counters["updates"]

    @property
    def bad_updates(self) -> int:
        """Updates skipped for non-finite numbers (as of the last poll)."""
        return self._counters["bad_updates"]

    def restore(self, weights: list[np.ndarray], opt: list[np.ndarray], counters: dict, rng_states: list) -> None:
        """Load a checkpoint's state into the parameter server (before `start`)."""
        import ray

        ray.get(self.ps.restore.remote(weights, opt, counters, rng_states))
        self._counters = ray.get(self.ps.poll.remote())

    def start(self, events: queue.Queue, worker_hook: Callable | None = None) -> None:
        """Start the worker actors (spread over the cluster's nodes) and the driver's polling thread."""
        import ray

        actor = ray.remote(RolloutWorker).options(num_cpus=1, max_restarts=MAX_RESTARTS,
                                                  max_task_retries=MAX_RESTARTS, max_concurrency=2,
                                                  scheduling_strategy="SPREAD")
        self.workers = [actor.remote(i, self.ps_name, self.env_fn, self.model_fn, self.cfg, self.seed)
                        for i in range(self.num_workers)]
        if worker_hook is not None:
            for w in self.workers:
                worker_hook(w)
        self._runs = [w.run.remote() for w in self.workers]
        self._poller = threading.Thread(target=self._poll_loop, args=(events,), name="ray-poller", daemon=True)
        self._poller.start()

    def _publish(self, info: dict, events: queue.Queue | None) -> None:
        from eac3_tf.workers import Episode

        self._counters = {k: info[k] for k in ("frames", "updates", "bad_updates")}
        if events is None:
            return
        for event in info["events"]:
            if event[0] == "episode":
                events.put(Episode(*event[1:]))
            elif event[0] == "metrics":
                events.put(event[1])
            else:
                events.put(event)

    def _poll_loop(self, events: queue.Queue) -> None:
        import ray

        pending, stop_sent = list(self._runs), False
        try:
            while True:
                if self.stop.is_set() and not stop_sent:
                    self.ps.request_stop.remote()
                    stop_sent = True
                self._publish(ray.get(self.ps.poll.remote()), events)
                if not pending:
                    return
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_SECONDS)
                for ref in done:
                    try:
                        ray.get(ref)
                    except Exception as exc:  # a worker's error (e.g. NonFiniteError), or one beyond its restarts
                        self.errors.append(exc)
                        self.stop.set()
        except Exception as exc:  # the parameter server is gone
            self.errors.append(exc)
            self.stop.set()

    def running(self) -> bool:
        """True while any worker actor's `run` is unfinished."""
        return self._poller is not None and self._poller.is_alive()

    def snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray], dict, list]:
        """The parameter server's weights, optimizer variables and counters, and the workers' RNG states."""
        import ray

        return ray.get(self.ps.snapshot.remote())

    def join(self, timeout: float) -> list[BaseException]:
        """Stop the workers, wait for them, and return the errors they raised."""
        self.stop.set()
        if self._poller is not None:
            self._poller.join(timeout=timeout)
        return list(self.errors)

    def close(self) -> None:
        """Kill the actors (the cluster itself stays up)."""
        import ray

        for actor in [*self.workers, self.ps]:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone
                pass
