"""Ground-truth objects of the six games, per frame and class, as boxes: from OCAtari's RAM reading or from colours.

An object check of a saliency map ("does the map lie on the ball?") needs to know where each object is.
Two sources give it:

* "ocatari": OCAtari (Delfosse et al. 2023, "OCAtari: Object-Centric Atari 2600 Reinforcement Learning
  Environments") reads object positions from the emulator's RAM, so it tells apart objects that share a
  colour and finds objects the screen does not show well. Its per-game RAM readers are called directly on
  RAM read from our own emulator (`RamAtariEnv`), not through its gymnasium env, whose observation
  layer fails on games whose reader works; the RAM is passed as Python ints, the arithmetic the readers
  were written for (numpy 2 keeps uint8 scalars uint8 and wraps).
* "colours": the bounding boxes of connected components of each class's colours (`eac3_tf.explain.colours.
  OBJECT_COLOURS`) on the screen the agent saw; no RAM needed, but a class is only as good as its colours.

`SOURCES` says which source each class of each game comes from, chosen by `objects_validation`
(results/explain/objects_validation.md). A box is (x, y, w, h) in pixels of the 210x160 screen: column and
row of its top-left pixel, width and height.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import numpy as np

from eac3_tf.config import EnvConfig, ObsConfig

INSTALL = 'pip install "eac3_tf[objects]" && pip install --no-deps ocatari==2.2.1'

# OCAtari's name of each game and, per class of ours, the OCAtari categories it gathers. The classes of a
# game's colour table keep their names; the others are classes only OCAtari sees apart.
OCATARI: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "pong": ("Pong", {"agent": ("Player",), "opponent": ("Enemy",), "ball": ("Ball",)}),
    "space_invaders": ("SpaceInvaders", {"agent": ("Player",), "invaders": ("Alien",), "shots": ("Bullet",),
                                         "shields": ("Shield",), "mothership": ("Satellite",)}),
    "demon_attack": ("DemonAttack", {"agent": ("Player",), "agent_shots": ("PlayerMissile",),
                                     "demon_shots": ("EnemyMissile",), "demons": ("Enemy", "EnemyPart")}),
    "beam_rider": ("BeamRider", {"agent": ("Player",), "enemies": ("Saucer",)}),
    "phoenix": ("Phoenix", {"agent": ("Player",), "birds": ("Phoenix", "Bat"), "agent_shots": ("Player_Projectile",),
                            "bird_shots": ("Enemy_Projectile",), "boss": ("Boss",)}),
    "qbert": ("Qbert", {"agent": ("Player",), "coily": ("PurpleBall", "Coily"), "gremlin": ("Sam",),
                        "green_ball": ("GreenBall",), "red_ball": ("RedBall",), "discs": ("Disk",)}),
}

# Where `boxes(..., source="auto")` takes each class from, by `objects_validation.choose`: OCAtari where its
# boxes sit on the class's pixels, the colour table where they do not; a class of neither is left out.
SOURCES: dict[str, dict[str, str]] = {
    "pong": {"agent": "ocatari", "opponent": "ocatari", "ball": "ocatari"},
    "space_invaders": {"agent": "ocatari", "invaders": "ocatari", "shots": "colours", "shields": "ocatari"},
    "demon_attack": {"agent": "colours", "agent_shots": "colours", "demon_shots": "colours", "demons": "ocatari"},
    "beam_rider": {"agent": "ocatari", "enemies": "colours"},
    "phoenix": {"agent": "colours", "birds": "ocatari"},
    "qbert": {"agent": "colours", "coily": "colours", "gremlin": "colours"},
}

Boxes = dict[str, np.ndarray]  # class -> int [k, 4] boxes (x, y, w, h) of one frame


class ObjectsError(Exception):
    """Objects cannot be given as asked (OCAtari missing, RAM missing, unknown game or class)."""


def ocatari_available() -> bool:
    """Whether OCAtari and what it imports are installed (the `objects` extra plus ocatari itself)."""
    try:
        _ocatari()
    except ObjectsError:
        return False
    return True


def _ocatari():
    """OCAtari's RAM readers (`init_objects`, `detect_objects_ram`), or ObjectsError saying how to install them."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # ocatari imports pygame, which greets on stdout
    try:
        from ocatari.ram import extract_ram_info
    except ImportError as e:
        raise ObjectsError(f"OCAtari is not installed ({e}); install it with: {INSTALL}") from e
    return extract_ram_info


def _game(game: str) -> str:
    if game not in OCATARI:
        raise ObjectsError(f"no objects for {game!r}; games: {', '.join(OCATARI)}")
    return game


# --- colour boxes ---------------------------------------------------------------------------------------


def component_labels(mask: np.ndarray, gap: int = 0) -> np.ndarray:
    """Label connected components of boolean masks [N, H, W]: int [N, H, W], -1 off the mask.

    Two pixels are one object when a chain of mask pixels links them, each within Chebyshev distance
    `gap + 1` of the next (gap 0: 8-connectivity; gap 1 also bridges one background pixel, as a sprite's
    own holes do). A label is the flat index (into the [N, H, W] array) of the component's first pixel.
    Min-propagation over the neighbourhood with pointer jumping: plain numpy, no scipy in the base install.
    """
    mask = np.asarray(mask, bool)
    if mask.ndim != 3:
        raise ValueError(f"mask must be [N, H, W], got shape {mask.shape}")
    n, h, w = mask.shape
    r, none = gap + 1, mask.size
    labels = np.where(mask, np.arange(mask.size).reshape(mask.shape), none)
    while True:
        padded = np.pad(labels, ((0, 0), (r, r), (r, r)), constant_values=none)
        new = labels.copy()
        for dy in range(2 * r + 1):
            for dx in range(2 * r + 1):
                np.minimum(new, padded[:, dy:dy + h, dx:dx + w], out=new)
        flat = np.append(np.where(mask, new, none).ravel(), none)
        while True:  # pointer jumping: a label is a pixel of the same component, so take that pixel's label
            jumped = flat[flat]
            if np.array_equal(jumped, flat):
                break
            flat = jumped
        new = flat[:-1].reshape(mask.shape)
        if np.array_equal(new, labels):
            return np.where(mask, labels, -1)
        labels = new


def mask_boxes(mask: np.ndarray, gap: int = 0, row_offset: int = 0) -> list[np.ndarray]:
    """Bounding boxes (x, y, w, h) of the connected components of each mask [N, H, W], int [k, 4] per mask.

    Boxes are sorted by (y, x); `row_offset` is added to y (a mask of the play area gives screen rows).
    """
    mask = np.asarray(mask, bool)
    labels = component_labels(mask, gap)
    n, h, w = mask.shape
    frame, rows, cols = np.nonzero(mask)
    lab = labels[frame, rows, cols]
    out = [np.zeros((0, 4), np.int64) for _ in range(n)]
    if lab.size == 0:
        return out
    order = np.argsort(lab, kind="stable")
    lab, frame, rows, cols = lab[order], frame[order], rows[order], cols[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    y0, y1 = np.minimum.reduceat(rows, starts), np.maximum.reduceat(rows, starts)
    x0, x1 = np.minimum.reduceat(cols, starts), np.maximum.reduceat(cols, starts)
    boxes = np.stack([x0, y0 + row_offset, x1 - x0 + 1, y1 - y0 + 1], axis=1).astype(np.int64)
    owner = frame[starts]
    for i in np.unique(owner):
        mine = boxes[owner == i]
        out[i] = mine[np.lexsort((mine[:, 0], mine[:, 1]))]
    return out


def colour_boxes(game: str, screens: np.ndarray, gap: int = 1,
                 play_rows: tuple[int, int] = (ObsConfig.crop_top, ObsConfig.crop_bottom)) -> list[Boxes]:
    """Per screen, {class: boxes} of each class of the game's colour table (`eac3_tf.explain.colours.object_masks`).

    The masks are those of the play area (the tables were measured there; the score and HUD outside share
    object colours), so every box lies in `play_rows`, in screen coordinates.
    """
    from eac3_tf.explain import colours

    if _game(game) not in colours.OBJECT_COLOURS:
        raise ObjectsError(f"no colour table for {game!r}")
    masks = colours.object_masks(game, screens, play_rows)
    masks.pop("objects")
    per_class = {name: mask_boxes(mask, gap, play_rows[0]) for name, mask in masks.items()}
    n = len(next(iter(per_class.values())))
    return [{name: per_class[name][i] for name in per_class} for i in range(n)]


# --- OCAtari boxes --------------------------------------------------------------------------------------


def ocatari_boxes(game: str, rams: np.ndarray, starts: np.ndarray | None = None,
                  classes: Sequence[str] | None = None) -> list[Boxes]:
    """Per RAM, {class: boxes} from OCAtari's RAM reader of the game, clipped to the screen.

    `rams` uint8 [T, 128] are consecutive steps of play (the readers keep state from step to step: which
    invaders are left, say); `starts` bool [T] marks the first step of each game, where that state
    restarts (default: only step 0). `classes` default: every class of `OCATARI[game]`.
    """
    name, mapping = OCATARI[_game(game)]
    classes = list(mapping) if classes is None else list(classes)
    unknown = [c for c in classes if c not in mapping]
    if unknown:
        raise ObjectsError(f"OCAtari has no class {unknown} in {game}; classes: {', '.join(mapping)}")
    of_category = {cat: c for c in classes for cat in mapping[c]}
    reader = _ocatari()
    rams = np.asarray(rams)
    if rams.ndim != 2 or rams.shape[1] != 128:
        raise ValueError(f"rams must be [T, 128], got shape {rams.shape}")
    starts = np.zeros(len(rams), bool) if starts is None else np.asarray(starts, bool)
    out, objects = [], None
    for t, ram in enumerate(rams):
        if objects is None or starts[t]:
            objects = reader.init_objects(name, False)
        reader.detect_objects_ram(objects, [int(v) for v in ram], name, False)
        found: dict[str, list] = {c: [] for c in classes}
        for obj in objects:
            if obj and obj.category in of_category:
                found[of_category[obj.category]].append([int(v) for v in obj.xywh])
        out.append({c: _clip(np.array(b, np.int64).reshape(-1, 4)) for c, b in found.items()})
    return out


def _clip(boxes: np.ndarray) -> np.ndarray:
    """Boxes cut to the 160x210 screen; boxes left with no pixel dropped."""
    x0, y0 = np.clip(boxes[:, 0], 0, 160), np.clip(boxes[:, 1], 0, 210)
    x1, y1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, 160), np.clip(boxes[:, 1] + boxes[:, 3], 0, 210)
    out = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    return out[(out[:, 2] > 0) & (out[:, 3] > 0)]


# --- both -----------------------------------------------------------------------------------------------


def boxes(game: str, screens: np.ndarray | None = None, rams: np.ndarray | None = None,
          starts: np.ndarray | None = None, source: str = "auto") -> list[Boxes]:
    """Per frame, {class: int [k, 4] boxes (x, y, w, h)} of a game's objects.

    Args:
        game: an ALE rom id of `OCATARI` ("pong", ...).
        screens: uint8 [T, 210, 160, 3], the screens the agent saw (needed for colour classes).
        rams: uint8 [T, 128], the RAM of the same emulator states (`RamAtariEnv.last_rams`, or `play`);
            needed for OCAtari classes.
        starts: bool [T], the first step of each game (OCAtari restarts its state there).
        source: "auto" (each class from `SOURCES[game]`), "ocatari" (every OCAtari class) or "colours"
            (every colour-table class).
    """
    _game(game)
    if source == "auto":
        wanted = SOURCES[game]
    elif source == "ocatari":
        wanted = {c: "ocatari" for c in OCATARI[game][1]}
    elif source == "colours":
        from eac3_tf.explain.colours import OBJECT_COLOURS

        wanted = {c: "colours" for c in OBJECT_COLOURS[game]}
    else:
        raise ObjectsError(f"source must be 'auto', 'ocatari' or 'colours', got {source!r}")
    from_ram = [c for c, s in wanted.items() if s == "ocatari"]
    from_colours = [c for c, s in wanted.items() if s == "colours"]
    if from_ram and rams is None:
        raise ObjectsError(f"{game}: classes {from_ram} come from OCAtari, which needs the RAM of each frame "
                           "(play with eac3_tf.explain.objects.play, or pass source='colours')")
    if from_colours and screens is None:
        raise ObjectsError(f"{game}: classes {from_colours} come from colours, which need the screens")
    parts = []
    if from_ram:
        parts.append(ocatari_boxes(game, rams, starts, from_ram))
    if from_colours:
        parts.append([{c: b[c] for c in from_colours} for b in colour_boxes(game, screens)])
    n = {len(p) for p in parts}
    if len(n) != 1:
        raise ValueError(f"screens and rams must have the same length, got {sorted(n)}")
    return [{c: merged[c] for c in wanted} for merged in ({k: v for p in frame for k, v in p.items()}
                                                         for frame in zip(*parts, strict=True))]


def box_masks(frame_boxes: np.ndarray, shape: tuple[int, int] = (210, 160)) -> np.ndarray:
    """Boolean mask [H, W] of the pixels inside any of a frame's boxes int [k, 4]."""
    mask = np.zeros(shape, bool)
    for x, y, w, h in np.asarray(frame_boxes).reshape(-1, 4):
        mask[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)] = True
    return mask


# --- play -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Play:
    """T steps of one game with what both sources need.

    Attributes:
        screens: uint8 [T, 210, 160, 3], each step's screen as `AtariBatchEnv` gives it.
        frames: uint8 [T, 210, 160, 3], the last emulator frame of each step alone (the RAM's own frame).
        rams: uint8 [T, 128], the RAM after each step's last frame.
        starts: bool [T], which steps begin a game.
    """

    screens: np.ndarray
    frames: np.ndarray
    rams: np.ndarray
    starts: np.ndarray


def play(env: EnvConfig, steps: int, seed: int, policy: Callable[[np.ndarray], np.ndarray] | None = None) -> Play:
    """Play `steps` agent steps of `env` in a `RamAtariEnv` (the one play loop) with `policy(obs) -> actions`.

    The default policy draws uniformly random actions from a generator seeded by `seed`.
    """
    from eac3_tf.explain.ram_env import RamAtariEnv
    from eac3_tf.rollout import rollout

    game = RamAtariEnv(env)
    if policy is None:
        policy = random_policy(game.num_actions, seed)
    screens, frames, rams, starts = [], [], [], []

    def on_step(_obs: np.ndarray, last_screens: np.ndarray, _actions: np.ndarray, start: np.ndarray) -> None:
        screens.append(last_screens[0].copy())
        frames.append(game.last_frames[0].copy())
        rams.append(game.last_rams[0].copy())
        starts.append(bool(start[0]))

    try:
        rollout(policy, game, seed, steps=steps, on_step=on_step)
    finally:
        game.close()
    return Play(np.stack(screens), np.stack(frames), np.stack(rams), np.array(starts))


def random_policy(num_actions: int, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Uniformly random actions for a batch of observations, from a seeded generator."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(num_actions, size=len(obs))
