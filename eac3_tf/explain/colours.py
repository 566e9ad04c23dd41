"""Where the six games' objects are on a screen, from their colours: the colour tables and the masks they give.

On Atari screens a colour names an object, so exact colour matches locate the ball, paddles, ships and enemies
without a detector; `eac3_tf.explain.objects` uses these where OCAtari's RAM readers do not work. Numpy only.
"""

from __future__ import annotations

import numpy as np

from eac3_tf.config import ObsConfig

PLAY_ROWS = (ObsConfig.crop_top, ObsConfig.crop_bottom)  # the model's crop: first screen row, one past its last

# Object colours of the six games, RGB, in the play area of ale-py 0.12 screens as `AtariBatchEnv` gives them
# (v5 settings, max over the last two frames of a skip; that max can mix two sprites' colours, which is why
# some classes list mixes). Measured by counting every colour in the play area of recorded screens and
# looking at the screens (PNGs, each colour lit alone): "random" = uniformly random actions (600 steps from
# seed 0; 3,000 from seeds 1 and 2 where said), "trained" = 3,000 steps of the sampled policy of the committed
# export (exported/<game>/policy.onnx, seed 1), one screen per step. What is left out is left
# out on purpose: background, score and lives, ground, shields; and any class whose colour is shared with
# something else in the play area (a mask that mixes two kinds of object answers neither question).
OBJECT_COLOURS: dict[str, dict[str, tuple[tuple[int, int, int], ...]]] = {
    # 600 random screens: exactly these three colours and the background (144, 72, 17). The walls share the
    # ball's white but lie outside the play area (rows 24..33 and 194..209); the score digits (rows 1..20) too.
    "pong": {
        "agent": ((92, 186, 92),),  # green paddle, columns 140..143 of the play area
        "opponent": ((213, 130, 74),),  # orange paddle, columns 16..19
        "ball": ((236, 236, 236),),  # white, 2 columns x 4 rows on one screen (more when the max spans two)
    },
    # 600 random + 3,000 trained screens (3 games over): 6 colours in all. Left out: the shields (181, 83, 40),
    # the lives digit (162, 134, 56, rows 185..193, columns 84..95) and the background (0, 0, 0). The
    # mothership (151, 25, 122) flies above the play area (rows < 34).
    "space_invaders": {
        "agent": ((50, 132, 50),),  # green laser cannon, rows 185..193; 37 px whole, fewer while it explodes
        "invaders": ((134, 134, 29),),  # every invader row, in every wave seen
        "shots": ((142, 142, 142),),  # the cannon's laser AND the invaders' bombs: one grey, not separable
    },
    # 600 random + 3,000 trained screens (the waves a score of 825 reaches), 183 colours. The demons change
    # colour every wave and flicker, so the max over two frames mixes their colours: "demons" lists the 36
    # colours with >= 1,000 px over these screens, 98.7% of the pixels in rows 34..187 that are neither
    # background nor another class (the rest are 1..4 px mixes at sprite edges). Some of them (e.g.
    # (84, 92, 214), (92, 186, 92)) are also colours of the ground band and the lives markers (rows 188..193):
    # OBJECT_ROWS leaves those rows out. (181, 108, 224), (149, 111, 227) and (228, 111, 111)
    # are also the debris of the agent's explosion, which then counts as demons; (214, 214, 214) also floods
    # the screen in flashes (FLASH_SHARE).
    "demon_attack": {
        "agent": ((184, 70, 162),),  # magenta cannon, rows 174..185, 68 px whole
        "agent_shots": ((212, 140, 252),),  # the cannon's laser
        "demon_shots": ((252, 144, 144),),  # the demons' bullets and, in later waves, beams
        "demons": ((214, 92, 92), (213, 130, 74), (84, 92, 214), (92, 186, 92), (127, 92, 213), (72, 160, 72),
                   (224, 236, 124), (84, 138, 210), (104, 72, 198), (195, 144, 61), (84, 160, 197),
                   (181, 108, 224), (149, 111, 227), (197, 124, 238), (200, 72, 72), (252, 188, 116),
                   (214, 214, 214), (101, 111, 228), (214, 130, 92), (228, 111, 111), (84, 184, 153),
                   (212, 108, 195), (214, 92, 214), (92, 186, 214), (117, 181, 239), (84, 160, 210),
                   (84, 138, 214), (227, 151, 89), (213, 144, 74), (127, 92, 214), (181, 111, 227),
                   (214, 92, 213), (84, 184, 197), (149, 111, 228), (224, 236, 238), (214, 214, 228)),
    },
    # 600 + 6,000 random screens (sector 1 only), 77 colours, most of them one-screen flashes and the colour
    # cycling stripe on the ship's top. Left out: the beams and their dots (45, 109, 152); the torpedo
    # and enemy counters (104, 25, 154), (82, 126, 45) (rows 34..40); pink (184, 70, 162), which is both the
    # agent's laser and one enemy kind; small sprites not identified for sure (purple (164, 89, 208),
    # yellow (187, 187, 53), grey specks (170, 170, 170) at the horizon); the ship's stripe and its red
    # explosion (200, 72, 72). The lives icons share the ship's yellow (rows 183..189): OBJECT_ROWS.
    "beam_rider": {
        "agent": ((210, 210, 64),),  # yellow hull, rows 167..179, ~95 px (also 33 of 6,000 screens: <= 18 px
                                     # of a yellow sprite higher up)
        # white saucers, orange rings; not the rings' mix with a beam's blue (198, 109, 152): on the orange
        # flash screens every beam takes that colour
        "enemies": ((236, 236, 236), (198, 108, 58)),
    },
    # 600 + 6,000 random screens (waves 1..4), 15 colours. Left out: the purple ground (146, 70, 192), rows
    # 184..193; white (236, 236, 236), which is both the birds' bullets and the ship's force field; green
    # (158, 208, 101), both the ship's shots and the wings of the wave-2 birds.
    "phoenix": {
        "agent": ((213, 130, 74),),  # orange ship, rows 173..182, 33 px median
        "birds": ((125, 48, 173), (227, 151, 89),  # small birds: purple body, orange wings (waves 1, 2)
                  (24, 26, 167), (45, 50, 184), (84, 92, 214), (101, 111, 228), (132, 144, 252)),  # big blue
    },
    # 600 random + 3,000 trained screens (level 1 only; later levels recolour the cubes and may recolour
    # more), 137 colours, 124 of them the colour-cycling discs (rows 138..139), which also take Qbert's,
    # Coily's and the gremlin's colour on ~1.5% of screens (<= 32 px). Left out: cube sides (84, 184, 153) and
    # tops (45, 87, 176) -> (210, 210, 64), the "@!#?@!" balloon (252, 224, 112).
    "qbert": {
        "agent": ((181, 83, 40), (181, 184, 153), (181, 87, 176)),  # orange Qbert, 80..100 px; mixes with a
                                                                    # cube's side and top (all within 3 px of it)
        "coily": ((146, 70, 192), (146, 184, 192)),  # purple: Coily's ball and Coily; its mix with a side
        "gremlin": ((50, 132, 50),),  # the green gremlin that undoes cubes (catching it scores)
    },
}
PONG_COLOURS = {name: rgb for name, (rgb,) in OBJECT_COLOURS["pong"].items()}  # one colour per class

# Screen rows (first, one past the last) that can hold a game's objects, where the play area also holds
# HUD in object colours; elsewhere the whole play area. Demon Attack: the ground band and lives markers
# (rows 188..193) use demon colours; Beam Rider: the lives icons (rows 183..189) are the ship's yellow.
OBJECT_ROWS: dict[str, tuple[int, int]] = {"demon_attack": (34, 188), "beam_rider": (34, 182)}

# A colour filling more than this share of a screen's play area is a flash (Demon Attack, Beam Rider), not
# an object: it is left out of that screen's masks. The largest real class fills 8% (Space Invaders' invaders).
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
