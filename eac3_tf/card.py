"""The contract between export and player: `card.json` as a dataclass, TensorFlow-free, version-checked on read.

`eac3_tf.export` writes a card beside the models it exports; `eac3_tf.player` (and any edge runtime)
reads it to know the game, the emulator settings and the preprocessing the model expects. A card of a
version this code does not know is refused rather than guessed at.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from eac3_tf.config import EnvConfig, ObsConfig
from eac3_tf.errors import Eac3Error

CARD_NAME = "card.json"
CARD_VERSION = 2  # 2 added "reset": the reset sequence the agent was trained and scored with
READABLE_VERSIONS = (1, 2)


class CardError(Eac3Error):
    """A card that is missing, unreadable, of an unknown version, or without what a player needs."""


@dataclasses.dataclass(frozen=True)
class Card:
    """What a player needs from an export's card; `raw` keeps every other field (parity, versions, ...)."""

    version: int
    game: str
    preset: str
    frames_trained: int
    num_actions: int
    action_names: tuple[str, ...]
    obs: ObsConfig
    env: EnvConfig
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Card:
        """Check and convert a card's JSON object; CardError says what is wrong."""
        if not isinstance(raw, dict):
            raise CardError(f"a card is a JSON object, got {type(raw).__name__}")
        version = raw.get("card_version")
        if version not in READABLE_VERSIONS:
            raise CardError(f"card_version {version!r} is not one this eac3_tf reads "
                            f"({', '.join(map(str, READABLE_VERSIONS))}); export the checkpoint again")
        try:
            return cls(version=int(version), game=str(raw["game"]), preset=str(raw.get("preset", "")),
                       frames_trained=int(raw.get("frames_trained", 0)), num_actions=int(raw["num_actions"]),
                       action_names=tuple(raw.get("action_names") or ()),
                       obs=ObsConfig(**raw["preprocessing"]["obs"]), env=EnvConfig(**raw["env"]), raw=raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise CardError(f"not an eac3_tf export card ({type(exc).__name__}: "
                            f"{' '.join(str(exc).split())[:80]})") from None


def read(folder_or_file: str | Path) -> Card:
    """The card in an export folder (or at a card.json path); CardError if it is missing or not a card."""
    path = Path(folder_or_file)
    path = path / CARD_NAME if path.is_dir() else path
    if not path.is_file():
        raise CardError(f"no {CARD_NAME} at {path}; give a folder written by python -m eac3_tf.export")
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CardError(f"{path} is not readable JSON ({type(exc).__name__})") from None
    try:
        return Card.from_dict(raw)
    except CardError as exc:
        raise CardError(f"{path}: {exc}") from None
