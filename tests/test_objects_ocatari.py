"""The OCAtari path of `eac3_tf.explain.objects`: needs the `objects` extra and ocatari (see docs/objects.md).

Skipped, with the reason printed by `-ra`, only where ocatari cannot be imported; CI installs it, so there
the tests run.
"""

import warnings

import numpy as np
import pytest

pytest.importorskip("ocatari", reason='ocatari is not installed: pip install "eac3_tf[objects]" && '
                                      "pip install --no-deps ocatari==2.2.1")

from eac3_tf.config import EnvConfig  # noqa: E402
from eac3_tf.explain import objects as ob  # noqa: E402


def test_pong_boxes_from_a_hand_set_ram():
    ram = np.zeros((1, 128), np.uint8)
    # OCAtari's Pong reader: ball at (ram[49] - 49, ram[54] - 14), opponent at (16, ram[50] - 15) and the
    # agent at (140, ram[51] - 13), paddles 4 x 15, the ball 2 x 4.
    ram[0, 49], ram[0, 54], ram[0, 50], ram[0, 51] = 100, 114, 100, 120
    (frame,) = ob.ocatari_boxes("pong", ram)
    assert {k: v.tolist() for k, v in frame.items()} == {
        "agent": [[140, 107, 4, 15]], "opponent": [[16, 85, 4, 15]], "ball": [[51, 100, 2, 4]]}


def test_ocatari_boxes_sit_on_the_paddles_pixels_in_play():
    p = ob.play(EnvConfig(game="pong"), steps=30, seed=0)
    found = ob.boxes("pong", p.screens, p.rams, p.starts)  # auto: every pong class from OCAtari
    colours = ob.colour_boxes("pong", p.frames)
    for t in range(10, 30):  # after the serve, both paddles are drawn
        (x, y, w, h), (cx, cy, cw, ch) = found[t]["agent"][0], colours[t]["agent"][0]
        assert (x, w) == (cx, cw) == (140, 4)
        overlap = min(y + h, cy + ch) - max(y, cy)
        assert overlap >= h - 2  # the RAM's box holds the paddle drawn on its frame, give or take its ends


def test_ram_is_read_as_python_ints_so_no_uint8_arithmetic_wraps():
    p = ob.play(EnvConfig(game="space_invaders"), steps=60, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy 2 warns on uint8 scalar overflow
        out = ob.ocatari_boxes("space_invaders", p.rams, p.starts)
    assert all(len(f["agent"]) == 1 for f in out)


@pytest.mark.parametrize("game", sorted(ob.OCATARI))
def test_every_games_reader_runs_on_our_ram(game):
    p = ob.play(EnvConfig(game=game), steps=20, seed=1)
    out = ob.boxes(game, p.screens, p.rams, p.starts)
    assert len(out) == 20 and set(out[0]) == set(ob.SOURCES[game])
    assert all(b.ndim == 2 and b.shape[1] == 4 for f in out for b in f.values())
