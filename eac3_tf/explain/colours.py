"""Where the six games' objects are on a screen, from their colours: the colour tables and the masks they give.

On Atari screens a colour names an object, so exact colour matches locate the ball, paddles, ships and enemies
without a detector; `eac3_tf.explain.objects` uses these where OCAtari's RAM readers do not work. Numpy only.
"""

from __future__ import annotations

import numpy as np

from eac3_tf.config import ObsConfig

PLAY_ROWS = (ObsConfig.crop_top, ObsConfig.crop_bottom)  # the model's crop: first screen row, one past its last

# Object colours of the six games, RGB, in the play area of screens as `AtariBatchEnv` gives them (v5 settings,
# the max over the last two frames of a skip, which can mix two sprites' colours: some classes list mixes).
# Left out on purpose: background, score and lives, ground, shields, and any colour that two kinds of object
# share (a mask mixing them answers neither question). How each table was measured: docs/objects.md.
OBJECT_COLOURS: dict[str, dict[str, tuple[tuple[int, int, int], ...]]] = {
    "pong": {
        "agent": ((92, 186, 92),),  # green paddle
        "opponent": ((213, 130, 74),),  # orange paddle
        "ball": ((236, 236, 236),),  # white
    },
    "space_invaders": {
        "agent": ((50, 132, 50),),  # green laser cannon
        "invaders": ((134, 134, 29),),
        "shots": ((142, 142, 142),),  # the cannon's laser and the invaders' bombs: one grey
    },
    "demon_attack": {
        "agent": ((184, 70, 162),),  # magenta cannon
        "agent_shots": ((212, 140, 252),),
        "demon_shots": ((252, 144, 144),),  # bullets and, in later waves, beams
        # the demons change colour every wave and flicker, so the max over two frames mixes their colours
        "demons": ((214, 92, 92), (213, 130, 74), (84, 92, 214), (92, 186, 92), (127, 92, 213), (72, 160, 72),
                   (224, 236, 124), (84, 138, 210), (104, 72, 198), (195, 144, 61), (84, 160, 197),
                   (181, 108, 224), (149, 111, 227), (197, 124, 238), (200, 72, 72), (252, 188, 116),
                   (214, 214, 214), (101, 111, 228), (214, 130, 92), (228, 111, 111), (84, 184, 153),
                   (212, 108, 195), (214, 92, 214), (92, 186, 214), (117, 181, 239), (84, 160, 210),
                   (84, 138, 214), (227, 151, 89), (213, 144, 74), (127, 92, 214), (181, 111, 227),
                   (214, 92, 213), (84, 184, 197), (149, 111, 228), (224, 236, 238), (214, 214, 228)),
    },
    "beam_rider": {
        "agent": ((210, 210, 64),),  # yellow hull
        "enemies": ((236, 236, 236), (198, 108, 58)),  # white saucers, orange rings
    },
    "phoenix": {
        "agent": ((213, 130, 74),),  # orange ship
        "birds": ((125, 48, 173), (227, 151, 89),  # small birds: purple body, orange wings
                  (24, 26, 167), (45, 50, 184), (84, 92, 214), (101, 111, 228), (132, 144, 252)),  # big blue ones
    },
    "qbert": {
        "agent": ((181, 83, 40), (181, 184, 153), (181, 87, 176)),  # orange Qbert, and its mixes with a cube
        "coily": ((146, 70, 192), (146, 184, 192)),  # purple: Coily's ball and Coily, and its mix with a cube
        "gremlin": ((50, 132, 50),),  # the green gremlin that undoes cubes
    },
}
PONG_COLOURS = {name: rgb for name, (rgb,) in OBJECT_COLOURS["pong"].items()}  # one colour per class

# Screen rows (first, one past the last) that can hold a game's objects, where the play area also holds HUD
# in object colours (Demon Attack's ground band and lives markers, Beam Rider's lives icons); elsewhere the
# whole play area.
OBJECT_ROWS: dict[str, tuple[int, int]] = {"demon_attack": (34, 188), "beam_rider": (34, 182)}

# A colour filling more than this share of a screen's play area is a flash (Demon Attack, Beam Rider), not an
# object: it is left out of that screen's masks. No real class comes near it.
FLASH_SHARE = 0.25


def object_masks(game: str, screens: np.ndarray, play_rows: tuple[int, int] = PLAY_ROWS,
                 tolerance: int = 0) -> dict[str, np.ndarray]:
    """Boolean masks [N, rows, 160] of each object class of `OBJECT_COLOURS[game]` in RGB screens' play area.

    Object positions are what the object checks need, and on Atari screens a colour names an object: the
    masks are exact colour matches (within `OBJECT_ROWS[game]` where the play area also holds HUD, and
    without a colour that floods the screen in a flash, see `FLASH_SHARE`).

    Args:
        game: an ALE rom id with a colour table (`OBJECT_COLOURS`).
        screens: [N, 210, 160, 3] or [210, 160, 3] uint8 RGB screens.
        play_rows: the rows kept (the model's crop), first and one past the last.
        tolerance: largest per-channel difference from a table colour still counted (0: exact colours,
            which is all the emulator shows).

    Returns:
        {class name: bool [N, rows, 160]} for each class of the game, and "objects": their union.
    """
    if game not in OBJECT_COLOURS:
        raise ValueError(f"no object colours for {game!r}; games with colour tables: {', '.join(OBJECT_COLOURS)}")
    screens = np.asarray(screens)
    if screens.shape[-3:] != (210, 160, 3):
        raise ValueError(f"screens must have shape (N, 210, 160, 3), got {screens.shape}")
    area = screens.reshape(-1, 210, 160, 3)[:, play_rows[0]:play_rows[1]].astype(np.int16)
    first, stop = OBJECT_ROWS.get(game, play_rows)
    rows = np.arange(play_rows[0], play_rows[1])
    allowed = ((rows >= first) & (rows < stop))[None, :, None]
    masks = {}
    for name, colours in OBJECT_COLOURS[game].items():
        mask = np.zeros(area.shape[:-1], bool)
        for rgb in colours:
            hit = np.all(np.abs(area - np.array(rgb, np.int16)) <= tolerance, axis=-1)
            mask |= hit & (hit.mean(axis=(1, 2)) <= FLASH_SHARE)[:, None, None]
        masks[name] = mask & allowed
    masks["objects"] = np.logical_or.reduce(list(masks.values()))
    return masks


def downsample_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Shrink boolean masks [..., H, W] to [..., h, w] by whole blocks: a cell is on if any pixel of it is.

    The model's downsampling averages blocks, so a cell the ball touches at all still shows the ball.
    """
    mask = np.asarray(mask, bool)
    big_h, big_w = mask.shape[-2:]
    h, w = shape
    if big_h % h or big_w % w:
        raise ValueError(f"mask size {(big_h, big_w)} is not a whole multiple of {(h, w)}")
    blocks = mask.reshape(*mask.shape[:-2], h, big_h // h, w, big_w // w)
    return blocks.any(axis=(-3, -1))
