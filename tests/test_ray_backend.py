"""The Ray backend trains the same A3C on a real Ray cluster: it learns, survives a killed worker, and resumes.

One local cluster (2 CPUs, no dashboard, bound to loopback) serves the whole module; the tests on it are
integration tests, the parameter server's own bookkeeping (in-process) is in the fast tier. Env and model factories
are lambdas and partials of importable functions, so Ray can ship them to the actor processes.
"""

import os

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read when ray is imported: bind to loopback only

import functools  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import ray  # noqa: E402
import tensorflow as tf  # noqa: E402
from conftest import ROOT  # noqa: E402

from eac3_tf import checkpoint  # noqa: E402
from eac3_tf.config import A3CConfig, RunConfig  # noqa: E402
from eac3_tf.model import build_model  # noqa: E402
from eac3_tf.policy import sample_actions  # noqa: E402
from eac3_tf.ray_backend import ParameterServer  # noqa: E402
from eac3_tf.rollout import play_episodes  # noqa: E402
from eac3_tf.toy import OPTIMAL_RETURN, CatchBatchEnv, toy_model_config  # noqa: E402
from eac3_tf.train import train  # noqa: E402

MAKE_MODEL = functools.partial(build_model, (10, 5, 1), 3, toy_model_config())
META = {"game": "catch", "preset": "toy"}


def catch_envs(n):
    return lambda worker_id: CatchBatchEnv(n)


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def mean_score(model, episodes=320, seed=1):
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32))[0])
    rng = np.random.default_rng(seed)
    return np.mean([s for s, _ in play_episodes(lambda obs: sample_actions(forward(obs).numpy(), rng),
                                                CatchBatchEnv(16), episodes, seed)])


@pytest.mark.integration
def test_ray_a3c_learns_catch_to_the_threaded_backends_threshold_in_the_same_frame_budget(cluster, tmp_path):
    # The same settings and bar as tests/test_learning.py: 100k frames, 2 workers x 16 envs, mean >= 0.9.
    run = RunConfig(frames=100_000, workers=2, logdir=str(tmp_path), seed=0, checkpoint_every=50_000, log_every=60)
    t0 = time.time()
    result = train(catch_envs(16), MAKE_MODEL, A3CConfig(envs_per_worker=16, learning_rate=2e-3), run, META,
                   log=lambda s: None, backend="ray")
    seconds = time.time() - t0
    trained = mean_score(checkpoint.load(result.checkpoint).model)
    print(f"catch on ray: trained {trained:.3f} after {result.frames} frames in {seconds:.1f} s")
    assert result.frames >= 100_000
    assert trained >= 0.9 * OPTIMAL_RETURN


@pytest.mark.integration
def test_a_killed_worker_actor_is_restarted_and_no_frame_is_lost_or_counted_twice(cluster, tmp_path):
    run = RunConfig(frames=10**8, workers=2, logdir=str(tmp_path), seed=0, checkpoint_every=10**9, log_every=60)
    frames_per_update = 5 * 8 * 1  # t_max x envs_per_worker x frames per Catch step
    handles, seen, stop = [], {}, threading.Event()

    def kill_worker_0_mid_run_then_stop_once_its_new_incarnation_has_pushed():
        try:
            w = handles[0]
            while ray.get(w.progress.remote())["pushes"] < 10:
                time.sleep(0.05)
            ray.kill(w, no_restart=False)  # the process dies, as on a lost node; Ray restarts the actor
            deadline = time.time() + 150
            while time.time() < deadline:  # calls wait while the actor restarts
                p = ray.get(w.progress.remote())
                if p["incarnation"] == 1 and p["pushes"] >= 5:
                    seen.update(p)
                    return
                time.sleep(0.1)
        finally:
            stop.set()

    killer = threading.Thread(target=kill_worker_0_mid_run_then_stop_once_its_new_incarnation_has_pushed, daemon=True)

    def hook(actor):
        handles.append(actor)
        if len(handles) == 2:
            killer.start()

    result = train(catch_envs(8), MAKE_MODEL, A3CConfig(envs_per_worker=8), run, META, stop=stop,
                   log=lambda s: None, worker_hook=hook, backend="ray")
    killer.join(timeout=5)
    counters = checkpoint.load(result.checkpoint).state["counters"]
    print(f"after a kill: {counters}")
    assert seen.get("incarnation") == 1 and seen["pushes"] >= 5  # the restarted worker trained on
    assert counters["worker_restarts"] == [1, 0]
    # Each update that reached the parameter server counts its frames once: none lost, none twice.
    assert counters["frames"] == (counters["updates"] + counters["bad_updates"]) * frames_per_update
    assert sum(counters["worker_frames"]) == counters["frames"] == result.frames
    assert counters["worker_frames"][0] >= (10 + 5) * frames_per_update


def test_the_parameter_server_counts_a_repeated_push_once_and_a_restarted_worker_anew():
    ps = ParameterServer(MAKE_MODEL, A3CConfig(envs_per_worker=8), frame_budget=10_000, num_workers=1)
    first = ps.register(0)
    zeros = [np.zeros_like(w) for w in first["weights"]]
    ps.push(0, first["incarnation"], 1, zeros, True, 40, [(1.0, 9)], {"loss": 0.5}, {"s": 1})
    ps.push(0, first["incarnation"], 1, zeros, True, 40, [(1.0, 9)], {"loss": 0.5}, {"s": 1})  # delivered twice
    polled = ps.poll()
    assert (polled["frames"], polled["updates"], ps.stats()["duplicates"]) == (40, 1, 1)
    assert [e[0] for e in polled["events"]] == ["episode", "metrics"]
    again = ps.register(0)  # the worker's process died and Ray restarted it
    assert (again["incarnation"], again["rng_state"], again["frames"]) == (1, {"s": 1}, 40)
    ps.push(0, again["incarnation"], 1, zeros, False, 40, [], {"loss": float("nan")}, {"s": 2})  # non-finite
    polled = ps.poll()
    assert (polled["frames"], polled["updates"], polled["bad_updates"]) == (80, 1, 1)
    assert ps.snapshot()[2]["worker_frames"] == [80]


@pytest.mark.integration
def test_parameter_server_state_is_checkpointed_restored_and_resume_continues_the_frame_counter(cluster, tmp_path):
    cfg = A3CConfig(envs_per_worker=8)
    first = train(catch_envs(8), MAKE_MODEL, cfg, RunConfig(frames=6000, workers=2, logdir=str(tmp_path),
                                                            checkpoint_every=10**9, log_every=60),
                  META, log=lambda s: None, backend="ray")
    saved = checkpoint.load(first.checkpoint)
    assert len(saved.state["rng"]) == 2 and all(saved.state["rng"])

    # A fresh parameter server (the actor's class, here in-process) restored from it holds exactly the saved state.
    ps = ParameterServer(MAKE_MODEL, cfg, frame_budget=12_000, num_workers=2, seed=1)
    ps.restore(saved.model.get_weights(), saved.optimizer, saved.state["counters"], saved.state["rng"])
    weights, opt, counters, rng = ps.snapshot()
    assert all(np.array_equal(a, b) for a, b in zip(weights, saved.model.get_weights(), strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(opt, saved.optimizer, strict=True))
    assert {k: counters[k] for k in ("frames", "updates", "worker_frames")} == \
        {k: saved.state["counters"][k] for k in ("frames", "updates", "worker_frames")}
    assert rng == saved.state["rng"]
    assert ps.register(1)["rng_state"] == saved.state["rng"][1]  # a worker goes on with its saved RNG stream

    logs = []
    second = train(catch_envs(8), MAKE_MODEL, cfg, RunConfig(frames=12_000, workers=2, logdir=str(tmp_path),
                                                             checkpoint_every=10**9, log_every=60),
                   META, resume=True, log=logs.append, backend="ray")
    assert any(f"at {first.frames / 1e3:.1f}k frames" in line for line in logs if line.startswith("resumed"))
    counters = checkpoint.load(second.checkpoint).state["counters"]
    assert counters["frames"] == second.frames >= 12_000
    assert counters["frames"] == (counters["updates"] + counters["bad_updates"]) * 40 == sum(counters["worker_frames"])


@pytest.mark.integration
def test_the_command_line_trains_pong_on_a_running_cluster(cluster, tmp_path):
    out = subprocess.run([sys.executable, "-m", "eac3_tf.train", "--game", "Pong", "--frames", "1600", "--workers", "1",
                          "--envs_per_worker", "2", "--logdir", str(tmp_path / "run"), "--log_every", "1",
                          "--backend", "ray", "--ray_address", cluster],
                         cwd=ROOT, capture_output=True, text=True, timeout=240,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1 ray workers x 2 envs" in out.stdout and f"joined {cluster}" in out.stdout
    assert "frames/s" in out.stdout and "done: " in out.stdout
    assert checkpoint.latest_valid(tmp_path / "run").state["frames"] >= 1600

