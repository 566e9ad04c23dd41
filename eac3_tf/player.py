"""Playing an exported policy on the edge with onnxruntime, ale-py and numpy only (never TensorFlow).

    python -m eac3_tf.player --model exported/pong/policy.onnx --episodes 3 [--gif play.gif] [--cam cam.gif]

The game, the emulator settings and the preprocessing come from `card.json` beside the model (written by
`eac3_tf.export`), so `--model` alone is enough. Screens go through `eac3_tf.preprocess`, the trainer's
own transform, so the model sees what it saw in training. `--cam` draws the Grad-CAM map of each action
taken, from `policy_cam.onnx` beside the model, whose graph computes the gradient itself.

Only numpy, onnxruntime, ale-py and eac3_tf's numpy modules are imported (imageio too, for --gif/--cam),
so it runs in a virtual environment without TensorFlow, Keras, absl, gymnasium or matplotlib. Bad input
(a missing card, a file that is not ONNX, a model whose input or outputs do not fit the card) is one line
on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

from eac3_tf import card as card_io
from eac3_tf.card import CARD_NAME, Card
from eac3_tf.cli import ArgumentParser, call
from eac3_tf.config import ObsConfig
from eac3_tf.envs import AtariBatchEnv
from eac3_tf.errors import Eac3Error
from eac3_tf.io import write_with
from eac3_tf.rollout import rollout

CAM_MODEL, INPUT_NAME = "policy_cam.onnx", "frames"
GIF_FPS = 15.0  # agent steps per second of video: real time at frameskip 4 (60 Hz / 4)


class PlayerError(Eac3Error):
    """Bad input to the player: reported as one line on stderr, exit code 2."""


# ------------------------------------------------------------------------------------------ the card
def load_card(model: Path) -> Card:
    """Read and check the card.json beside `model`, or raise PlayerError saying what is missing."""
    path = Path(model).parent / CARD_NAME
    if not path.is_file():
        raise PlayerError(f"no {CARD_NAME} beside {model}; give a model exported by python -m eac3_tf.export "
                          "(the card holds the game and the preprocessing the player must apply)")
    try:
        return card_io.read(path)
    except card_io.CardError as exc:
        raise PlayerError(str(exc)) from None


# ------------------------------------------------------------------------------------------ the games
class OnnxModel:
    """An exported model in onnxruntime, checked against the card before it plays."""

    def __init__(self, path: Path, card: Card, outputs: tuple[str, ...] = ("logits",), threads: int = 1) -> None:
        """Load `path` and check its input is `frames` [N, *card.obs.shape] and it has `outputs`."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise PlayerError("onnxruntime is not installed; pip install onnxruntime") from None
        path = Path(path)
        if not path.is_file():
            raise PlayerError(f"model {path} does not exist; give the policy.onnx of an export folder")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types (InvalidProtobuf, Fail, ...)
            raise PlayerError(f"{path} is not an ONNX model onnxruntime can load ({type(exc).__name__})") from None
        inputs = self.session.get_inputs()
        want = tuple(card.obs.shape)
        if len(inputs) != 1:
            raise PlayerError(f"{path} takes {len(inputs)} inputs; an exported policy takes one, "
                              f"frames [N, {', '.join(map(str, want))}]")
        got = tuple(inputs[0].shape)
        if inputs[0].type != "tensor(float)" or len(got) != 4 or tuple(got[1:]) != want:
            shown = ", ".join(["N", *(str(d) for d in got[1:])]) if got else ""
            raise PlayerError(f"{path} takes input {inputs[0].type} [{shown}], but the card's preprocessing gives "
                              f"float frames [N, {', '.join(map(str, want))}]")
        self.input_name = inputs[0].name
        names = {o.name: o for o in self.session.get_outputs()}
        for name in outputs:
            if name not in names:
                raise PlayerError(f"{path} has no output named {name!r} (its outputs: {', '.join(names)}); "
                                  "give a model exported by python -m eac3_tf.export")
        width = names["logits"].shape[-1] if "logits" in names and names["logits"].shape else None
        if isinstance(width, int) and width != card.num_actions:
            raise PlayerError(f"{path} gives {width} logits, but {card.game} has {card.num_actions} actions")
        self.outputs = outputs
        self.path = path

    def __call__(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs by name for uint8 observations [N, H, W, C] (raw 0..255 values go in as float32)."""
        return dict(zip(self.outputs, self.session.run(list(self.outputs), {self.input_name: obs.astype(np.float32)}),
                        strict=True))


# ------------------------------------------------------------------------------------------ drawing
# matplotlib's "jet" segments (matplotlib/_cm.py), so the player draws without matplotlib.
_JET_SEGMENTS = {
    "red": ((0.0, 0, 0), (0.35, 0, 0), (0.66, 1, 1), (0.89, 1, 1), (1.0, 0.5, 0.5)),
    "green": ((0.0, 0, 0), (0.125, 0, 0), (0.375, 1, 1), (0.64, 1, 1), (0.91, 0, 0), (1.0, 0, 0)),
    "blue": ((0.0, 0.5, 0.5), (0.11, 1, 1), (0.34, 1, 1), (0.65, 0, 0), (1.0, 0, 0)),
}


def _lookup_table(segments: tuple[tuple[float, float, float], ...], n: int = 256) -> np.ndarray:
    """An n-entry table of one channel, by matplotlib's own formula (so the colours match it bit for bit)."""
    data = np.array(segments, dtype=float)
    x, y0, y1 = data[:, 0] * (n - 1), data[:, 1], data[:, 2]
    xind = (n - 1) * np.linspace(0, 1, n)
    ind = np.searchsorted(x, xind)[1:-1]
    distance = (xind[1:-1] - x[ind - 1]) / (x[ind] - x[ind - 1])
    lut = np.concatenate([[y1[0]], distance * (y0[ind] - y1[ind - 1]) + y1[ind - 1], [y0[-1]]])
    return np.clip(lut, 0.0, 1.0)


JET = np.stack([_lookup_table(_JET_SEGMENTS[c]) for c in ("red", "green", "blue")], axis=-1)  # [256, 3] in [0, 1]


def jet(map_: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to RGB in [0, 1] (float64 [..., 3]), as matplotlib.colormaps["jet"] maps them."""
    xa = np.asarray(map_, dtype=np.float64) * len(JET)
    xa[xa == len(JET)] = len(JET) - 1
    return JET.take(np.clip(xa.astype(int), 0, len(JET) - 1), axis=0)


def cam_frame(screen: np.ndarray, cam: np.ndarray, obs: ObsConfig, alpha: float = 0.5) -> np.ndarray:
    """A 210x160 screen with the Grad-CAM map blended over its play area, as `eac3_tf.explain.overlay` draws it.

    The map (model-input resolution) is repeated over the k x k screen block each input pixel averaged
    (k = obs.downsample), coloured with jet and blended at `alpha`: round((1 - a) * rgb + a * 255 * jet).
    """
    k = obs.downsample
    big = np.clip(np.asarray(cam, dtype=np.float64), 0.0, 1.0).repeat(k, axis=0).repeat(k, axis=1)
    area = screen[obs.crop_top:obs.crop_bottom].astype(np.float64)
    blended = (1.0 - alpha) * area + alpha * 255.0 * jet(big)
    out = screen.copy()
    out[obs.crop_top:obs.crop_bottom] = np.floor(blended + 0.5).clip(0, 255).astype(np.uint8)
    return out


def write_gif(path: Path, frames: list[np.ndarray]) -> None:
    """A looping GIF at real-time speed (imageio's GIF duration is milliseconds per frame)."""
    import imageio.v3 as iio

    write_with(path, lambda tmp: iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=1000.0 / GIF_FPS,
                                             loop=0))


def parser() -> ArgumentParser:
    """The flags of `python -m eac3_tf.player`."""
    p = ArgumentParser("player", __doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="policy.onnx of an export folder (card.json must be beside it)")
    p.add_argument("--episodes", type=int, default=3, help="full games to play (default 3)")
    p.add_switch("greedy", help="take the argmax action instead of sampling")
    p.add_argument("--seed", type=int, default=0, help="seed of the emulator and of the action sampling")
    p.add_argument("--gif", help="write a recording of the first episode's screens here")
    p.add_argument("--cam", help="write the first episode with Grad-CAM heatmaps here (needs policy_cam.onnx)")
    p.add_argument("--gif_frames", type=int, default=600, help="agent steps recorded for --gif/--cam (default 600)")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1: one core)")
    p.add_switch("force", help="replace existing --gif/--cam files")
    return p


def _check_output(path: str | None, flag: str, force: bool) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if out.suffix.lower() != ".gif":
        raise PlayerError(f"{flag} {out} must end in .gif")
    if out.exists() and not force:
        raise PlayerError(f"{flag} {out} exists; pass --force to replace it")
    if not out.parent.is_dir():
        why = "is a file, not a folder" if out.parent.exists() else "does not exist"
        raise PlayerError(f"{flag} folder {out.parent} {why}; give a .gif path in an existing folder")
    return out


def run(argv: list[str] | None = None) -> int:
    """Play as the command line says; raise PlayerError on bad input."""
    args = parser().parse_args(argv)
    if not 1 <= args.episodes <= 10_000:
        raise PlayerError(f"--episodes must be 1..10000, got {args.episodes}")
    if not 1 <= args.gif_frames <= 100_000 or not 1 <= args.threads <= 64:
        raise PlayerError(f"--gif_frames must be 1..100000 and --threads 1..64, got {args.gif_frames}, {args.threads}")
    gif, cam_gif = _check_output(args.gif, "--gif", args.force), _check_output(args.cam, "--cam", args.force)
    if gif or cam_gif:
        try:
            import imageio  # noqa: F401  (not in the player extra: only recordings need it)
        except ImportError:
            raise PlayerError("--gif and --cam need imageio, which is not installed; pip install imageio") from None
    model_path = Path(args.model)
    if not model_path.is_file():
        raise PlayerError(f"model {model_path} does not exist; give the policy.onnx of an export folder")
    card = load_card(model_path)
    model = OnnxModel(model_path, card, ("logits",), args.threads)
    cam_model = None
    if cam_gif:
        cam_path = model_path.parent / CAM_MODEL
        if not cam_path.is_file():
            raise PlayerError(f"--cam needs {cam_path}, the Grad-CAM model python -m eac3_tf.export writes")
        cam_model = OnnxModel(cam_path, card, ("cam", "logits"), args.threads)
    # v5 as the card scores it: no reset no-ops and no jitter, whatever the agent trained with
    env = AtariBatchEnv(dataclasses.replace(card.env, noop_max=0, phase_jitter=0.0), card.obs, num_envs=1,
                        num_threads=1)
    if env.num_actions != card.num_actions:
        raise PlayerError(f"the card says {card.num_actions} actions, but {card.game} has {env.num_actions}")

    from eac3_tf.policy import greedy_actions, sample_actions

    rng = np.random.default_rng(args.seed)

    def policy(obs: np.ndarray) -> np.ndarray:
        logits = model(obs)["logits"]
        if logits.shape != (len(obs), card.num_actions):  # a model with symbolic output sizes is checked here
            raise PlayerError(f"{model_path} gives logits of shape {logits.shape}, but {card.game} needs "
                              f"({len(obs)}, {card.num_actions})")
        return greedy_actions(logits) if args.greedy else sample_actions(logits, rng)

    screens: list[np.ndarray] = []
    cams: list[np.ndarray] = []
    recording = bool(gif or cam_gif)

    def on_step(obs: np.ndarray, last_screens: np.ndarray, actions: np.ndarray, starts: np.ndarray) -> None:
        nonlocal recording
        if not recording:
            return
        screens.append(last_screens[0].copy())
        if cam_model is not None:
            cams.append(cam_frame(last_screens[0], cam_model(obs)["cam"][0], card.obs))
        recording = len(screens) < args.gif_frames

    def on_episode(i: int, score: float, steps: int, _env: int) -> None:
        nonlocal recording
        recording = False  # the recording is of the first episode
        print(f"episode {i}: score {score:g} in {steps} steps", flush=True)

    env_cfg = card.env
    print(f"{card.game}: {model_path} ({card.frames_trained:,} frames trained), ALE v5 settings: frameskip "
          f"{env_cfg.frameskip} ({'max of the last two frames' if env_cfg.maxpool else 'last frame'}), sticky actions "
          f"{env_cfg.repeat_action_probability}, no reset no-ops, full games, "
          f"{env_cfg.max_episode_frames:,}-frame cap; {'greedy' if args.greedy else 'sampled'} actions", flush=True)
    t0 = time.perf_counter()
    results = rollout(policy, env, args.seed, episodes=args.episodes, on_step=on_step, on_episode=on_episode)
    wall = time.perf_counter() - t0
    env.close()
    scores = np.array([s for s, _ in results])
    steps = sum(n for _, n in results)
    games = f"{len(results)} episode{'s' if len(results) > 1 else ''}"
    print(f"mean score {scores.mean():.2f} ± {scores.std():.2f} over {games} "
          f"(best {scores.max():g}, worst {scores.min():g})")
    extra = " and Grad-CAM of the recorded steps" if cam_model is not None else ""
    print(f"{steps} steps in {wall:.1f} s: {steps / wall:,.0f} steps/s (emulator, preprocessing, onnxruntime "
          f"{args.threads} thread{'s' if args.threads > 1 else ''}{extra})", flush=True)
    if gif:
        write_gif(gif, screens)
        print(f"wrote {gif} ({len(screens)} frames)")
    if cam_gif:
        write_gif(cam_gif, cams)
        print(f"wrote {cam_gif} ({len(cams)} frames)")
    return 0 if all(math.isfinite(s) for s in scores) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input is one line on stderr and exit code 2."""
    return call(run, argv, "player")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
