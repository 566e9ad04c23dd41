"""An agent's own play, recorded for explaining: its inputs, the screens they came from, and the objects on them.

Every measure of a map is taken on frames the agent itself produced (its sampled actions, its training env
settings), and the screens are kept beside the inputs so object masks and object removal work on pixels
the emulator drew, not on the preprocessed input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from eac3_tf.agent import AgentSpec
from eac3_tf.explain.counterfactual import stack_indices


@dataclasses.dataclass(frozen=True)
class Recording:
    """T agent steps of one game.

    Attributes:
        inputs: uint8 [T, H, W, C], the model input at each step.
        screens: uint8 [T, 210, 160, 3], the screen each input's newest frame was made from.
        starts: bool [T], which inputs begin an episode (their stack is the first screen repeated).
        rams: uint8 [T, 128], the emulator's RAM at each step (OCAtari reads objects from it), or None.
    """

    inputs: np.ndarray
    screens: np.ndarray
    starts: np.ndarray
    rams: np.ndarray | None = None


def record(logits_fn: Callable[[np.ndarray], np.ndarray], agent: AgentSpec, steps: int, seed: int,
           progress: Callable = lambda it, **_: it, with_ram: bool = False) -> Recording:
    """Play `steps` agent steps with actions sampled from `logits_fn` in one env of the agent's settings.

    `with_ram` plays the same protocol in `RamAtariEnv` and keeps each step's RAM too; its resets have no
    random no-op frames (the v5 evaluation protocol's), whatever the agent trained with.
    """
    from eac3_tf.envs import AtariBatchEnv
    from eac3_tf.policy import sample_actions
    from eac3_tf.rollout import rollout

    if with_ram:
        from eac3_tf.explain.ram_env import RamAtariEnv

        env = RamAtariEnv(dataclasses.replace(agent.env, noop_max=0), agent.obs)
    else:
        env = AtariBatchEnv(agent.env, agent.obs, 1)
    rng = np.random.default_rng(seed)
    inputs, screens, starts, rams = [], [], [], []
    bar = progress(range(steps), desc=f"{agent.game}: play", leave=False)
    ticks = iter(bar)

    def on_step(obs: np.ndarray, last_screens: np.ndarray, _actions: np.ndarray, start: np.ndarray) -> None:
        inputs.append(obs[0].copy())
        screens.append(last_screens[0].copy())
        starts.append(bool(start[0]))
        if with_ram:
            rams.append(env.last_rams[0].copy())
        next(ticks, None)

    try:
        rollout(lambda x: sample_actions(logits_fn(x), rng), env, seed, steps=steps, on_step=on_step)
    finally:
        env.close()
    return Recording(inputs=np.stack(inputs), screens=np.stack(screens), starts=np.array(starts),
                     rams=np.stack(rams) if with_ram else None)


def object_masks(recording: Recording, agent: AgentSpec) -> tuple[dict, dict]:
    """Object masks of a recording at play-area resolution [T, rows, 160], from the game's colour table.

    Returns ({"stack": objects on any screen an input stacks, "current": on its newest screen},
    {class: that class on the newest screen}).
    """
    from eac3_tf.explain import colours

    rows = (agent.obs.crop_top, agent.obs.crop_bottom)
    masks = colours.object_masks(agent.game, recording.screens, rows)
    idx = stack_indices(recording.starts, agent.obs.stack)
    union = masks.pop("objects")
    return {"stack": union[idx].any(axis=1), "current": union}, masks


def box_masks(recording: Recording, agent: AgentSpec) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Ground-truth object boxes of a recording as masks by class at play-area resolution [T, rows, 160].

    Each class comes from the source `objects.SOURCES` names (OCAtari's RAM reading where it was validated,
    the colour table's connected components elsewhere); without the RAM, or without OCAtari installed,
    every class comes from the colour table. Returns ({class: masks}, {class: its source}).
    """
    from eac3_tf.explain import objects

    use_ram = recording.rams is not None and objects.ocatari_available()
    source = "auto" if use_ram else "colours"
    frames = objects.boxes(agent.game, recording.screens, recording.rams if use_ram else None, recording.starts,
                           source=source)
    rows = slice(agent.obs.crop_top, agent.obs.crop_bottom)
    classes = list(frames[0]) if frames else []
    masks = {c: np.stack([objects.box_masks(f[c])[rows] for f in frames]) for c in classes}
    sources = {c: objects.SOURCES[agent.game][c] if use_ram else "colours" for c in classes}
    return masks, sources
