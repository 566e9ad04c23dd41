"""Portability of an exported policy: its score in other faithful emulators against the card's own score.

Usage: python bench/portability.py --export exported/pong [--episodes 10] [--envs 4] [--policy greedy|sample]
                                   [--seed 0] [--max_frames 108000] [--threads 1] [--out results/portability/pong]

An agent that learned the timing of our training env's reset (ale-py's vector interface: reset, FIRE, then
frame skip with a max over the last two frames) can fail in envs that are just as faithful to the game but
start on another frame phase, or skip frames inside ALE without the max-pool. This bench plays the export's
policy.onnx through gymnasium's own ALE env in five settings, `--episodes` full games each (game over, never a
life loss; `--max_frames` cap): phase0..phase3 (`frameskip=1` env; after reset k NOOP frames, then FIRE if the
game has it; frame skip, and the max over the last two frames unless the card's env says `"maxpool": false`,
done here) and stock_v5 (the registered `ALE/<Game>-v5`, plain reset()).
It imports only numpy, onnxruntime, gymnasium, ale_py, the stdlib and eac3_tf's flag parser (`eac3_tf.cli`, for
the house's one command-line dialect): the card's preprocessing is implemented
again here from the card's own words, so a match at phase0 checks the card as much as the agent. Scores are
reported against `card["evaluation"]` with the card's action rule (greedy or sampled) unless --policy says.
"""

import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from eac3_tf.cli import ArgumentParser, run  # noqa: E402
from eac3_tf.errors import Eac3Error  # noqa: E402

SETTINGS = ("phase0", "phase1", "phase2", "phase3", "stock_v5")
GRAY = (77, 150, 29)  # (77 R + 150 G + 29 B) >> 8, the card's gray formula


class BenchError(Eac3Error):
    """Bad input: one line on stderr, exit code 2."""


# --------------------------------------------------------------------------- the card's preprocessing
def transform(screens: np.ndarray, pre: dict) -> np.ndarray:
    """RGB screens (N, 210, 160, 3) or one (210, 160, 3) to frames (.., H, W, 1 or 3) uint8, as the card says.

    Keep rows crop_top..crop_bottom-1, average each downsample x downsample block with integer floor, then gray.
    """
    x = np.asarray(screens, dtype=np.uint8)
    one = x.ndim == 3
    x = (x[None] if one else x)[:, pre["crop_top"]:pre["crop_bottom"]]
    k = int(pre["downsample"])
    n, h, w, c = x.shape[0], x.shape[1] // k, x.shape[2] // k, x.shape[3]
    x = x[:, :h * k, :w * k].reshape(n, h, k, w, k, c).sum(axis=(2, 4), dtype=np.uint32) // (k * k)
    if pre["grayscale"]:
        x = ((GRAY[0] * x[..., 0] + GRAY[1] * x[..., 1] + GRAY[2] * x[..., 2]) >> 8)[..., None]
    x = x.astype(np.uint8)
    return x[0] if one else x


def stacked(frame: np.ndarray, k: int, prev: np.ndarray | None = None) -> np.ndarray:
    """The last k frames along channels, oldest first: `prev` (H, W, k c) shifted by one frame, or, at a
    game's first frame (`prev` None), the frame k times."""
    if prev is None:
        return np.concatenate([frame] * k, axis=-1)
    return np.concatenate([prev[..., frame.shape[-1]:], frame], axis=-1)


# --------------------------------------------------------------------------- the games
def env_id(game: str) -> str:
    """gymnasium's id for an ALE ROM id ("space_invaders" -> "ALE/SpaceInvaders-v5")."""
    import ale_py
    import gymnasium as gym

    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # keeps ALE's banner off stderr
    gym.register_envs(ale_py)
    want = game.replace("_", "").lower()
    for name in gym.registry:
        if name.startswith("ALE/") and name.endswith("-v5") and name[4:-3].lower() == want:
            return name
    raise BenchError(f"the card's game {game!r} has no ALE/<Game>-v5 env in gymnasium; give an ALE game's export")


class Game:
    """One gymnasium ALE env in one setting: its reset sequence and, in phase settings, our skip and max-pool."""

    def __init__(self, setting: str, card: dict, max_frames: int) -> None:
        import gymnasium as gym

        env, name = card["env"], env_id(card["game"])
        if setting == "stock_v5":  # the cap is ALE's own, counted from reset (108,000 frames as registered)
            self.env, self.phase, self.skip = gym.make(name, max_num_frames_per_episode=max_frames), None, 1
            self.frames_per_call, self.pool = int(self.env.spec.kwargs["frameskip"]), False
        else:  # the cap counts play frames, as the training env's does: gym's and ALE's leave room for the reset's
            self.phase, self.skip, self.frames_per_call = int(setting[len("phase"):]), int(env["frameskip"]), 1
            self.pool = bool(env.get("maxpool", True))  # cards before the setting existed all pooled
            room = max_frames + self.phase + 1
            self.env = gym.make(name, frameskip=1, repeat_action_probability=env["repeat_action_probability"],
                                full_action_space=env["full_action_space"], max_episode_steps=room,
                                max_num_frames_per_episode=room)
        self.cap, self.meanings = max_frames, self.env.unwrapped.get_action_meanings()
        # the vector interface presses FIRE if the action set it plays has it
        self.fire = self.meanings.index("FIRE") if "FIRE" in self.meanings else None

    def reset(self, seed: int) -> np.ndarray:
        """Start a game; return its first screen (after k NOOP frames and FIRE in phase settings)."""
        screen, _ = self.env.reset(seed=seed)
        for _ in range(self.phase or 0):
            screen = self.env.step(0)[0]  # NOOP is action 0 in every ALE action set
        if self.phase is not None and self.fire is not None:
            screen = self.env.step(self.fire)[0]
        self.last = [np.zeros_like(screen), np.zeros_like(screen)]  # pooled with zeros, the first obs is the screen
        self.score, self.frames, self.truncated = 0.0, 0, False
        return screen

    def step(self, action: int) -> np.ndarray | None:
        """One agent step: the (pooled) screen, or None when the game ended."""
        for j in range(self.skip):
            screen, reward, term, trunc, _ = self.env.step(action)
            self.score += float(reward)
            self.frames += self.frames_per_call
            if term or trunc or self.frames >= self.cap:
                self.truncated = not term
                return None
            if j >= self.skip - 2:
                self.last[j - self.skip + 2] = screen
        return np.maximum(self.last[0], self.last[1]) if self.pool else screen


def play(setting: str, card: dict, forward, args) -> list[dict]:
    """`args.episodes` full games in `args.envs` envs played in lockstep, one batched forward per step."""
    pre, episodes = card["preprocessing"]["obs"], args.episodes
    games = [Game(setting, card, args.max_frames) for _ in range(min(args.envs, episodes))]
    if games[0].meanings != card.get("action_names", games[0].meanings):
        raise BenchError(f"gymnasium's {card['game']} actions {games[0].meanings} are not the card's "
                         f"{card['action_names']}; the card's full_action_space must match its model")
    k = int(pre["stack"])
    obs = np.zeros((len(games), *card["preprocessing"]["input_shape"]), dtype=np.uint8)
    slot, rngs, ended, started = [None] * len(games), [None] * len(games), {}, 0

    def start(i: int) -> None:
        nonlocal started
        slot[i] = started if started < episodes else None
        if slot[i] is not None:
            rngs[i] = np.random.default_rng([args.seed, started])  # an episode's draws do not depend on --envs
            obs[i] = stacked(transform(games[i].reset(args.seed + started), pre), k)
            started += 1

    for i in range(len(games)):
        start(i)
    while len(ended) < episodes:
        live = [i for i in range(len(games)) if slot[i] is not None]
        logits = forward(obs[live].astype(np.float32))
        for row, i in enumerate(live):
            noise = 0.0 if args.policy == "greedy" else rngs[i].gumbel(size=logits.shape[1])  # Gumbel-max draw
            screen = games[i].step(int(np.argmax(logits[row] + noise)))
            if screen is None:
                ended[slot[i]] = {key: getattr(games[i], key) for key in ("score", "frames", "truncated")}
                start(i)
            else:
                obs[i] = stacked(transform(screen, pre), k, obs[i])
    for g in games:
        g.env.close()
    return [ended[e] for e in range(episodes)]


# --------------------------------------------------------------------------- input, output
def load(args) -> tuple[dict, Path]:
    """The export's card and model path, checked; BenchError naming what is wrong and what is accepted."""
    for flag, top in (("episodes", 100_000), ("envs", 64), ("max_frames", 10**9), ("threads", 64)):
        if not 1 <= getattr(args, flag) <= top:
            raise BenchError(f"--{flag} must be an integer 1..{top}, got {getattr(args, flag)}")
    folder = Path(args.export)
    model, card_path = folder / "policy.onnx", folder / "card.json"
    if not model.is_file() or not card_path.is_file():
        raise BenchError(f"--export {folder} is not an export folder; give one holding policy.onnx and card.json "
                         "(python -m eac3_tf.export writes them)")
    try:
        card = json.loads(card_path.read_text())
        ev, pre, o = card.get("evaluation"), card["preprocessing"], card["preprocessing"]["obs"]
        k = int(o["downsample"])
        shape = [(o["crop_bottom"] - o["crop_top"]) // k, 160 // k, (1 if o["grayscale"] else 3) * int(o["stack"])]
        _ = [card["env"][key] for key in ("frameskip", "repeat_action_probability", "full_action_space")]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BenchError(f"{card_path} is not an eac3_tf export card ({type(exc).__name__}: {exc})") from None
    if list(pre.get("input_shape", shape)) != shape:
        raise BenchError(f"{card_path}: preprocessing {o} gives inputs {shape}, not its input_shape "
                         f"{pre['input_shape']}; give a card whose preprocessing matches its model")
    if not isinstance(ev, dict) or not isinstance(ev.get("mean"), int | float):
        raise BenchError(f"{card_path} has no evaluation with a mean score; give an export made with "
                         "python -m eac3_tf.export --eval <evaluation json>")
    pre["input_shape"] = shape
    return card, model


def summary(scores: list[float], card_mean: float) -> dict:
    a = np.asarray(scores, dtype=np.float64)  # population std, as the card's evaluation reports it
    return {"mean": float(a.mean()), "std": float(a.std()), "min": float(a.min()), "max": float(a.max()),
            "episodes": int(a.size), "pct_of_card": 100.0 * a.mean() / card_mean if card_mean else None,
            "diff_from_card": float(a.mean() - card_mean)}


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # in the same folder, so os.replace is atomic
    tmp.write_text(text)
    os.replace(tmp, path)


def cpu_model() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    return next((s.split(":", 1)[1].strip() for s in lines if s.startswith("model name")), platform.processor())


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser("portability.py", __doc__.split("\n\n")[0])
    p.add_argument("--export", required=True, help="export folder holding policy.onnx and card.json")
    p.add_argument("--episodes", type=int, default=10, help="full games per setting (default 10)")
    p.add_argument("--envs", type=int, default=4, help="games played in lockstep per setting (default 4)")
    p.add_argument("--policy", choices=("greedy", "sample"), help="action rule (default: the card evaluation's)")
    p.add_argument("--seed", type=int, default=0, help="episode i's env is seeded seed + i (default 0)")
    p.add_argument("--max_frames", type=int, default=108_000, help="frame cap per game (default 108000)")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    p.add_argument("--out", help="output path without suffix (default results/portability/<game>)")
    args = p.parse_args(argv)
    card, model = load(args)
    ev, card_mean = card["evaluation"], float(card["evaluation"]["mean"])
    protocol = ev.get("protocol") or {}
    card_rule = "sample" if str(protocol.get("actions", "greedy")).startswith("sampl") else "greedy"
    args.policy = args.policy or card_rule
    out = Path(args.out or Path(__file__).resolve().parents[1] / "results" / "portability" / card["game"])
    name = env_id(card["game"])

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads, opts.log_severity_level = args.threads, 1, 3
    session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def forward(x: np.ndarray) -> np.ndarray:
        return session.run(["logits"], {input_name: x})[0]

    card_line = f"{card_mean:.2f} ± {float(ev.get('std', 0)):.2f} over {ev.get('episodes')} episodes ({card_rule})"
    print(f"{card['game']}: {model}, card {card_line}; playing {args.policy}, {args.episodes} full games per setting",
          flush=True)
    t0, results = time.perf_counter(), {}
    for setting in SETTINGS:
        t, eps = time.perf_counter(), play(setting, card, forward, args)
        r = results[setting] = summary([e["score"] for e in eps], card_mean)
        r.update({k: [e[k] for e in eps] for k in ("score", "frames", "truncated")})
        r["scores"], r["seconds"] = r.pop("score"), round(time.perf_counter() - t, 1)
        pct = f"{r['pct_of_card']:.0f}% of card" if r["pct_of_card"] is not None else "card mean is 0"
        diff = f" (diff {r['diff_from_card']:+.2f})" if card_mean < 0 else ""
        print(f"{setting:9s} {r['mean']:7.2f} ± {r['std']:5.2f}  min {r['min']:g}  max {r['max']:g}  "
              f"{r['episodes']} episodes  {pct}{diff}", flush=True)
    wall = time.perf_counter() - t0
    env = card["env"]
    how = {"phaseK": f"gymnasium {name} frameskip=1, sticky {env['repeat_action_probability']}; after reset k "
                     f"NOOP frames then FIRE if the game has it; skip {env['frameskip']}, "
                     + ("max of the last two frames" if env.get("maxpool", True) else "the last frame alone"),
           "stock_v5": f"gymnasium {name} as registered (frameskip 4 inside ALE, no max-pool, sticky 0.25), plain "
                       "reset(); same preprocessing"}
    table = "\n".join(["| setting | mean ± std | min | max | episodes | % of card | diff from card |",
                       "|---|---|---|---|---|---|---|"] + [
        f"| {k} | {r['mean']:.2f} ± {r['std']:.2f} | {r['min']:g} | {r['max']:g} | {r['episodes']} | "
        + (f"{r['pct_of_card']:.0f}%" if r["pct_of_card"] is not None else "n/a")
        + f" | {r['diff_from_card']:+.2f} |" for k, r in results.items()])
    print("\n" + table)
    command = " ".join(["python bench/portability.py", *(sys.argv[1:] if argv is None else argv)])
    record = {"export": str(args.export), "game": card["game"], "policy": args.policy, "seed": args.seed,
              "episodes": args.episodes, "envs": args.envs, "max_frames": args.max_frames,
              "card": {"mean": card_mean, "std": ev.get("std"), "episodes": ev.get("episodes"), "actions": card_rule,
                       "protocol": protocol, "env": env, "reset": card.get("reset"),
                       "preprocessing": card["preprocessing"]["obs"]},
              "settings": results, "how": how, "command": command, "wall_seconds": round(wall, 1),
              "versions": {m: metadata.version(m) for m in ("gymnasium", "ale-py", "onnxruntime", "numpy")},
              "python": platform.python_version(), "cpu": cpu_model(), "date": time.strftime("%Y-%m-%d")}
    md = (f"# Portability of {args.export} ({card['game']})\n\n`{command}`: {record['date']}, {record['cpu']}, "
          f"{wall:.0f} s wall.\n\nCard: {card_line}. Played {args.policy}, {args.episodes} full games per setting "
          f"(episode i seeded {args.seed} + i), {args.max_frames:,}-frame cap.\n\n{table}\n\n"
          + "".join(f"- {k}: {v}\n" for k, v in how.items()))
    write_atomic(Path(f"{out}.json"), json.dumps(record, indent=1) + "\n")
    write_atomic(Path(f"{out}.md"), md)
    print(f"\nwrote {out}.json and {out}.md ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    run(main, "portability.py")
