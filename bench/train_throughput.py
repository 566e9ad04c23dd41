"""Training throughput against its ceiling and against the reference peer, in one run on one machine.

Usage: python bench/train_throughput.py [--game pong] [--seconds 60] [--peer_minutes 3]
Prints, then saves to results/bench/train_throughput.json + .md:
  raw      ALE `act` + RGB screen fetch per frame, one process per core: the emulator's ceiling (frames/s)
  env      eac3_tf's env pipeline (ale-py's vector interface + eac3_tf.preprocess + frame stack), random
           actions, in the trainer's layout (one thread per core, 8 envs each) and in one thread with 16
           -> R_env = env steps/s x frameskip / raw frames/s
  naive    a naive threaded A3C: one gymnasium ALE/v5 env per thread (its `act` holds the GIL), batch-1
           forwards, locked apply; the same workers and `fast` net
  peer     ../shared/peers/a2c_atari.py as it is (batched synchronous A2C, 16 envs, Nature CNN)
  trainer  `python -m eac3_tf.train`, fast and paper presets -> R_train = trainer env steps/s / peer's
"""

import csv
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from eac3_tf.cli import ArgumentParser, run  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PEER = ROOT.parent / "shared" / "peers" / "a2c_atari.py"


def _raw_worker(game: str, seconds: float, out: mp.Queue) -> None:
    from ale_py import ALEInterface, LoggerMode, roms

    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.setInt("random_seed", 0)
    ale.setFloat("repeat_action_probability", 0.25)
    ale.loadROM(roms.get_rom_path(game))
    actions = ale.getMinimalActionSet()
    screen = np.empty((210, 160, 3), np.uint8)
    rng = np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        ale.act(actions[rng.integers(len(actions))])
        ale.getScreenRGB(screen)
        n += 1
        if ale.game_over():
            ale.reset_game()
    out.put(n / (time.perf_counter() - t0))


def raw_frames_per_sec(game: str, seconds: float) -> float:
    q: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_raw_worker, args=(game, seconds, q)) for _ in range(os.cpu_count() or 1)]
    for p in procs:
        p.start()
    rates = [q.get() for _ in procs]
    for p in procs:
        p.join()
    return float(sum(rates))


def env_steps_per_sec(game: str, seconds: float, num_envs: int, threads: int = 1) -> float:
    """Random-action steps/s of `threads` Python threads each stepping `num_envs` envs, as the workers do."""
    from eac3_tf.config import PRESETS, EnvConfig
    from eac3_tf.envs import AtariBatchEnv

    counts = [0] * threads
    envs = [AtariBatchEnv(EnvConfig(game=game), PRESETS["fast"].obs, num_envs,
                          num_threads=max(1, (os.cpu_count() or 1) // threads)) for _ in range(threads)]

    def run(i: int, t_end: float) -> None:
        env, rng = envs[i], np.random.default_rng(i)
        env.reset(seed=i * 1000)
        while time.perf_counter() < t_end:
            env.step(rng.integers(0, env.num_actions, num_envs))
            counts[i] += num_envs

    t0 = time.perf_counter()
    workers = [threading.Thread(target=run, args=(i, t0 + seconds)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    for env in envs:
        env.close()
    return sum(counts) / elapsed


class GymSingleEnv:
    """One gymnasium ALE/<Game>-v5 env through eac3_tf.preprocess: the naive A3C's env (holds the GIL)."""

    def __init__(self, game: str, obs_cfg) -> None:
        import ale_py
        import gymnasium as gym

        from eac3_tf.config import camel_game
        from eac3_tf.preprocess import FrameStack

        gym.register_envs(ale_py)
        self.env = gym.make(f"ALE/{camel_game(game)}-v5", obs_type="rgb")
        self.num_envs, self.frames_per_step = 1, 4
        self.num_actions = int(self.env.action_space.n)
        self.obs_cfg, self.obs_shape = obs_cfg, obs_cfg.shape
        self.stack = FrameStack(1, obs_cfg)
        self.lives_lost = np.zeros(1, dtype=bool)  # BatchEnv contract; this reference never ends on a lost life

    def reset(self, seed: int) -> np.ndarray:
        from eac3_tf.preprocess import preprocess

        obs, _ = self.env.reset(seed=seed)
        return self.stack.reset(preprocess(obs, self.obs_cfg))

    def step(self, actions):
        from eac3_tf.preprocess import preprocess

        obs, r, term, trunc, _ = self.env.step(int(actions[0]))
        done = term or trunc
        if done:
            obs, _ = self.env.reset()
        o = self.stack.push(preprocess(obs, self.obs_cfg), new_episode=np.array([done]))
        return o, np.array([r], np.float32), np.array([done]), np.array([trunc])

    def close(self) -> None:
        self.env.close()


def naive_a3c_steps_per_sec(game: str, seconds: float, workers: int) -> float:
    from eac3_tf.cli import import_tensorflow_quietly

    import_tensorflow_quietly()
    from eac3_tf.config import PRESETS, A3CConfig, RunConfig
    from eac3_tf.model import build_model
    from eac3_tf.train import train

    cfg = PRESETS["fast"]
    probe = GymSingleEnv(game, cfg.obs)
    actions = probe.num_actions
    probe.close()
    stop = threading.Event()
    logdir = tempfile.mkdtemp(prefix="naive_")
    rows = []
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    train(lambda i: GymSingleEnv(game, cfg.obs), lambda: build_model(cfg.obs.shape, actions, cfg),
          A3CConfig(envs_per_worker=1), RunConfig(frames=10**12, workers=workers, logdir=logdir, log_every=5,
                                                   checkpoint_every=10**12),
          {"game": game, "preset": "fast"}, stop=stop, log=rows.append)
    return _fps_from_progress(Path(logdir)) / 4


def _fps_from_progress(logdir: Path) -> float:
    rows = list(csv.DictReader(open(logdir / "progress.csv")))
    first, last = rows[0], rows[-1]
    return (int(last["frames"]) - int(first["frames"])) / (float(last["wall_seconds"]) - float(first["wall_seconds"]))


def peer_steps_per_sec(game: str, minutes: float) -> float:
    log = Path(tempfile.mkdtemp(prefix="peer_")) / "a2c.csv"
    subprocess.run([sys.executable, str(PEER), "--game", game, "--minutes", str(minutes), "--log", str(log)],
                   check=True, capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    rows = list(csv.DictReader(open(log)))[1:]  # drop the first 10 s: tracing
    first, last = rows[0], rows[-1]
    return (int(last["agent_steps"]) - int(first["agent_steps"])) / (
        float(last["wall_seconds"]) - float(first["wall_seconds"]))


def main(argv: list[str] | None = None) -> int | None:
    from trainer_fps import measure

    p = ArgumentParser(prog="train_throughput.py")
    p.add_argument("--game", default="pong")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--peer_minutes", type=float, default=3)
    p.add_argument("--out", default="results/bench/train_throughput")
    args = p.parse_args(argv)
    r: dict = {"game": args.game, "cpu_count": os.cpu_count(), "command": "python bench/train_throughput.py " +
               " ".join(sys.argv[1:])}

    def show(key: str, value: float, unit: str) -> None:
        r[key] = round(value, 3)
        print(f"{key:28s} {value:10,.1f} {unit}", flush=True)

    show("raw_frames_per_sec", raw_frames_per_sec(args.game, min(args.seconds, 20)), "frames/s (all cores)")
    cores = os.cpu_count() or 1
    show("env_steps_per_sec_1thread", env_steps_per_sec(args.game, min(args.seconds, 20), 16),
         "steps/s (16 envs, one thread)")
    show("env_steps_per_sec", env_steps_per_sec(args.game, min(args.seconds, 20), 8, threads=cores),
         f"steps/s ({cores} threads x 8 envs, the trainer's layout)")
    show("R_env", r["env_steps_per_sec"] * 4 / r["raw_frames_per_sec"], "(trainer's layout; goal >= 0.75)")
    show("R_env_1thread", r["env_steps_per_sec_1thread"] * 4 / r["raw_frames_per_sec"], "(one thread)")
    show("naive_a3c_steps_per_sec", naive_a3c_steps_per_sec(args.game, args.seconds, os.cpu_count() or 2), "steps/s")
    show("peer_steps_per_sec", peer_steps_per_sec(args.game, args.peer_minutes), "steps/s")
    for preset in ("fast", "paper"):
        m = measure(args.game, preset, os.cpu_count() or 2, args.seconds if preset == "fast" else 2 * args.seconds, 8)
        show(f"trainer_{preset}_steps_per_sec", m["agent_steps_per_sec"], "steps/s")
    show("R_train", r["trainer_fast_steps_per_sec"] / r["peer_steps_per_sec"], "(fast; goal >= 1.0, stretch 1.5)")
    show("R_train_paper", r["trainer_paper_steps_per_sec"] / r["peer_steps_per_sec"], "(paper preset)")
    show("trainer_vs_naive", r["trainer_fast_steps_per_sec"] / r["naive_a3c_steps_per_sec"], "x")
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(r, indent=2) + "\n")
    lines = ["| measure | value |", "|---|---|"] + [f"| {k} | {v:,} |" for k, v in r.items()
                                                     if isinstance(v, float)]
    out.with_suffix(".md").write_text(f"`{r['command']}` on {r['cpu_count']} cores, {args.game}\n\n" +
                                      "\n".join(lines) + "\n")


if __name__ == "__main__":
    run(main, "train_throughput.py")
