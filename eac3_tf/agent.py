"""Which agent a checkpoint holds: its game, emulator settings, preprocessing and actions, read once.

Every stage after training (evaluate, export, the Grad-CAM and faithfulness tools, the explainer page) asks
this before it loads TensorFlow, so a damaged or foreign checkpoint fails fast and every stage agrees on the
preprocessing: the model config saved with the run wins over today's preset table, which may have changed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from eac3_tf import checkpoint
from eac3_tf.checkpoint import CheckpointError
from eac3_tf.config import PRESETS, EnvConfig, ObsConfig


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """A checkpoint resolved and verified, with everything known about its agent before TensorFlow loads."""

    path: Path  # the ckpt-* folder
    game: str  # ALE ROM id
    preset: str
    frames_trained: int
    env: EnvConfig  # the emulator settings it trained with
    obs: ObsConfig  # the one transform from a screen to its input
    action_names: tuple[str, ...]  # in the policy's output order


def _obs_of(meta: dict) -> ObsConfig:
    saved = meta.get("model", {}).get("obs") if isinstance(meta.get("model"), dict) else None
    return ObsConfig(**saved) if isinstance(saved, dict) else PRESETS[meta["preset"]].obs


def agent_spec(spec: str | Path) -> AgentSpec:
    """Resolve a run folder, ckpt-* folder or model.keras and say which agent it holds.

    Raises CheckpointError for a missing, damaged or foreign checkpoint, or one that names no ALE game.
    """
    from eac3_tf.envs import action_names, game_id

    path = checkpoint.resolve(spec)
    state = checkpoint.verify_agent(path)
    meta = state["meta"]
    try:
        env = EnvConfig(**meta["env"])
        game = game_id(env.game)
        obs = _obs_of(meta)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} names no playable game ({exc})") from None
    return AgentSpec(path=path, game=game, preset=meta["preset"], frames_trained=int(state.get("frames", 0)),
                     env=env, obs=obs, action_names=action_names(game, env.full_action_space))
