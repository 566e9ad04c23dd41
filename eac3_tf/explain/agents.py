"""One agent under explanation: its checkpoint checked before TensorFlow loads, its play recorded, its frames explained.

The figures (`eac3_tf.explain.figures`), the explainer page and the tools share this path from a checkpoint to
maps, so a strip, a grid and a page of the same frames show the same numbers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from eac3_tf import checkpoint
from eac3_tf.agent import agent_spec
from eac3_tf.config import EnvConfig, ObsConfig, camel_game
from eac3_tf.errors import ExplainError
from eac3_tf.explain.names import TITLES
from eac3_tf.io import write_with

EXPLAIN_BATCH = 32  # frames per explain() call: bounds memory for the 160x160 paper preset


@dataclasses.dataclass
class Agent:
    """A checkpoint resolved and checked, everything known before TensorFlow is loaded."""

    path: Path
    game: str
    frames_trained: int
    preset: str
    obs: ObsConfig
    env: EnvConfig
    names: tuple[str, ...]
    target: object  # "taken", None (greedy), "value", an action index or a pair of them
    model: object = None
    method: str = "gradcam"  # one of eac3_tf.explain.names.METHODS


@dataclasses.dataclass
class Explained:
    """Frames of one agent with their maps and the policy's outputs."""

    screens: np.ndarray  # uint8 (T, 210, 160, 3)
    inputs: np.ndarray  # uint8 (T, H, W, C), what the model saw
    steps: np.ndarray  # int64 (T,), agent step of each frame (recording) or its index in the file
    maps: np.ndarray  # float32 (T, H, W) in [0, 1]
    actions: np.ndarray  # int64 (T,), the action taken (the greedy one for --frames)
    greedy: np.ndarray  # int64 (T,)
    probs: np.ndarray  # float32 (T, A)
    values: np.ndarray  # float32 (T,)
    layer: str


def parse_target(text: str) -> str | tuple[str, ...]:
    """Split --target into a keyword or one/two action tokens; names are resolved per game later."""
    t = (text or "").strip()
    if t.lower() in ("taken", "greedy", "value"):
        return t.lower()
    parts = tuple(p.strip() for p in t.split(","))
    if not t or len(parts) > 2 or not all(parts):
        raise ExplainError(f"unknown --target {text!r}; accepted: taken, greedy, value, an action (index or name) "
                         "or a contrast a,b of two actions")
    return parts


def resolve_target(parsed: str | tuple[str, ...], text: str, game: str, names: tuple[str, ...]) -> object:
    """The target for `explain` (or "taken"), with action names of `game` turned into indices."""
    if parsed == "greedy":
        return None
    if isinstance(parsed, str):
        return parsed
    upper = [n.upper() for n in names]

    def index(tok: str) -> int:
        if tok.lstrip("-").isdigit() and 0 <= int(tok) < len(names):
            return int(tok)
        if tok.upper() in upper:
            return upper.index(tok.upper())
        raise ExplainError(f"unknown --target {text!r}; accepted: taken, greedy, value, an action of "
                           f"{camel_game(game)} (0..{len(names) - 1} or {', '.join(names)}), or a contrast a,b of "
                           "two actions")

    idx = [index(tok) for tok in parsed]
    return idx[0] if len(idx) == 1 else (idx[0], idx[1])


def describe_target(target: object, names: tuple[str, ...]) -> str:
    """Words for a figure title: what y^c is."""
    if target == "taken":
        return "the action taken"
    if target is None:
        return "the greedy action"
    if target == "value":
        return "the value V(s)"
    if isinstance(target, tuple):
        return f"{names[target[0]]} \u2212 {names[target[1]]} (logit contrast)"
    return f"action {names[target]}"


def check_agent(spec: str, target_text: str, parsed_target) -> Agent:
    """Resolve and verify a checkpoint and its game, without loading TensorFlow."""
    a = agent_spec(spec)  # a damaged checkpoint fails here, before TensorFlow is loaded
    target = resolve_target(parsed_target, target_text, a.game, a.action_names)
    return Agent(path=a.path, game=a.game, frames_trained=a.frames_trained, preset=a.preset, obs=a.obs, env=a.env,
                 names=a.action_names, target=target)


def load_model(agent: Agent, layer: str | None) -> None:
    """Load the agent's network and check it against its game and the map's layer."""
    ckpt = checkpoint.load(agent.path, with_optimizer=False)
    model = ckpt.model
    if tuple(model.input_shape[1:]) != agent.obs.shape or int(model.outputs[0].shape[-1]) != len(agent.names):
        raise checkpoint.CheckpointError(f"checkpoint {agent.path} takes inputs {tuple(model.input_shape[1:])} with "
                         f"{int(model.outputs[0].shape[-1])} actions, but {camel_game(agent.game)} with preset "
                         f"{agent.preset!r} gives {agent.obs.shape} with {len(agent.names)}")
    from eac3_tf.explain import explain

    try:  # one zero frame: an unknown --layer fails now, not after a long recording
        explain(model, np.zeros((1, *agent.obs.shape), np.uint8), method=agent.method, layer=layer)
    except ValueError as exc:
        raise ExplainError(str(exc)) from None
    agent.model = model


def record_play(agent: Agent, n: int, skip: int, seed: int, greedy: bool) -> tuple[np.ndarray, ...]:
    """Play `skip + n` agent steps through the training env path; keep the last n screens, inputs, actions."""
    from tqdm import tqdm

    from eac3_tf.cli import import_tensorflow_quietly
    from eac3_tf.envs import AtariBatchEnv
    from eac3_tf.policy import greedy_actions, sample_actions
    from eac3_tf.rollout import rollout

    tf = import_tensorflow_quietly()
    model = agent.model
    forward = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False)[0])
    rng = np.random.default_rng(seed)
    screens = np.empty((n, 210, 160, 3), np.uint8)
    inputs = np.empty((n, *agent.obs.shape), np.uint8)
    actions = np.empty(n, np.int64)
    total = skip + n
    bar = tqdm(total=total, desc=f"{camel_game(agent.game)} play", unit="step", disable=total < 100, leave=False)
    t = 0

    def on_step(obs: np.ndarray, last_screens: np.ndarray, a: np.ndarray, _starts: np.ndarray) -> None:
        nonlocal t
        if t >= skip:  # the screen the agent saw and the input it acted on, at this same step
            screens[t - skip], inputs[t - skip], actions[t - skip] = last_screens[0], obs[0], a[0]
        t += 1
        bar.update(1)

    def policy(obs: np.ndarray) -> np.ndarray:
        logits = forward(obs).numpy()
        return greedy_actions(logits) if greedy else sample_actions(logits, rng)

    env = AtariBatchEnv(agent.env, agent.obs, 1)
    try:
        rollout(policy, env, seed, steps=total, on_step=on_step)
    finally:
        env.close()
        bar.close()
    return screens, inputs, np.arange(skip, skip + n), actions


def explain_all(agent: Agent, screens: np.ndarray, inputs: np.ndarray, steps: np.ndarray,
                actions: np.ndarray | None, layer: str | None) -> Explained:
    """The maps of every frame in batches; `actions` None means the greedy ones were taken (file frames)."""
    from tqdm import tqdm

    from eac3_tf.explain import explain

    n = len(inputs)
    target = None if agent.target == "taken" else agent.target
    parts = [explain(agent.model, inputs[i:i + EXPLAIN_BATCH], method=agent.method, target=target, layer=layer)
             for i in tqdm(range(0, n, EXPLAIN_BATCH), desc=TITLES[agent.method], unit="batch",
                           disable=n < 4 * EXPLAIN_BATCH, leave=False)]
    maps = np.concatenate([p.maps for p in parts])
    greedy = np.concatenate([p.actions for p in parts])
    probs = np.concatenate([p.probs for p in parts])
    values = np.concatenate([p.values for p in parts])
    actions = greedy.copy() if actions is None else np.asarray(actions, np.int64)
    if agent.target == "taken":  # sampled actions that are not the argmax: explain those frames' own action
        for a in np.unique(actions[actions != greedy]):
            idx = np.flatnonzero((actions == a) & (actions != greedy))
            for i in range(0, len(idx), EXPLAIN_BATCH):
                batch = idx[i:i + EXPLAIN_BATCH]
                maps[batch] = explain(agent.model, inputs[batch], method=agent.method, target=int(a), layer=layer).maps
    return Explained(screens=screens, inputs=inputs, steps=np.asarray(steps, np.int64), maps=maps, actions=actions,
                     greedy=greedy, probs=probs, values=values, layer=parts[0].layer)


def npz_arrays(agent: Agent, ex: Explained, prefix: str = "") -> dict[str, np.ndarray]:
    """What frames.npz holds for one agent (plain arrays and strings, loadable without pickle)."""
    return {f"{prefix}{k}": v for k, v in {
        "screens": ex.screens, "inputs": ex.inputs, "steps": ex.steps, "maps": ex.maps, "actions": ex.actions,
        "greedy": ex.greedy, "probs": ex.probs, "values": ex.values, "action_names": np.array(agent.names),
        "game": np.array(agent.game), "layer": np.array(ex.layer), "method": np.array(agent.method),
        "checkpoint": np.array(str(agent.path)),
        "target": np.array(describe_target(agent.target, agent.names)),
    }.items()}


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write frames.npz atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    write_with(path, write)
