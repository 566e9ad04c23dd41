"""Object masks from the colour tables: planted sprites found exactly, and one sprite on real screens."""

import numpy as np
import pytest

from eac3_tf.explain import colours

# --- object colour masks --------------------------------------------------------------------------------


def synthetic_pong_screen() -> tuple[np.ndarray, dict]:
    screen = np.zeros((210, 160, 3), np.uint8)
    screen[:] = (144, 72, 17)  # background
    screen[24:34] = screen[194:] = colours.PONG_COLOURS["ball"]  # walls: the ball's white, outside the play area
    screen[1:20, 20:40] = colours.PONG_COLOURS["opponent"]  # score digits above the play area
    screen[1:20, 100:120] = colours.PONG_COLOURS["agent"]
    planted = {name: np.zeros((160, 160), bool) for name in ("ball", "agent", "opponent")}
    for name, rows, cols in (("ball", slice(101, 105), slice(81, 83)), ("agent", slice(50, 66), slice(140, 144)),
                             ("opponent", slice(120, 136), slice(16, 20))):
        screen[rows, cols] = colours.PONG_COLOURS[name]
        planted[name][rows.start - 34:rows.stop - 34, cols] = True
    screen[100, 60] = (236, 236, 235)  # near-white but not the ball's colour
    return screen, planted


def test_pong_masks_find_exactly_the_planted_objects():
    screen, planted = synthetic_pong_screen()
    masks = colours.object_masks("pong", screen)
    assert set(masks) == {"agent", "opponent", "ball", "objects"}
    for name, expected in planted.items():
        assert masks[name].shape == (1, 160, 160)
        np.testing.assert_array_equal(masks[name][0], expected, err_msg=name)
    np.testing.assert_array_equal(masks["objects"][0], planted["ball"] | planted["agent"] | planted["opponent"])
    assert colours.object_masks("pong", screen, tolerance=1)["ball"][0, 100 - 34, 60]  # within tolerance


OTHER_GAMES = ("space_invaders", "demon_attack", "beam_rider", "phoenix", "qbert")


def synthetic_screen(game: str) -> tuple[np.ndarray, dict]:
    """A black screen with a 3x4 block of every colour of every class of `game` inside its object rows, the
    same colours outside the play area and in the HUD rows (`OBJECT_ROWS`), and a near miss of each."""
    screen = np.zeros((210, 160, 3), np.uint8)
    first, stop = colours.OBJECT_ROWS.get(game, colours.PLAY_ROWS)
    planted = {name: np.zeros((160, 160), bool) for name in colours.OBJECT_COLOURS[game]}
    n = 0
    for name, rgbs in colours.OBJECT_COLOURS[game].items():
        for rgb in rgbs:
            r, c = first + 10 + 8 * (n // 20), 2 + 8 * (n % 20)
            screen[r:r + 3, c:c + 4] = rgb
            planted[name][r - 34:r + 3 - 34, c:c + 4] = True
            screen[r + 4, c] = np.clip(np.array(rgb) + (1, 0, 0), 0, 255) if rgb[0] < 255 else np.array(rgb) - 1
            screen[5 + n % 20, c:c + 4] = rgb  # score area, above the play area
            screen[200, c:c + 4] = rgb  # below it
            if stop < colours.PLAY_ROWS[1]:
                screen[stop + (n % (colours.PLAY_ROWS[1] - stop)), c:c + 4] = rgb  # the HUD rows inside it
            n += 1
    return screen, planted


@pytest.mark.parametrize("game", OTHER_GAMES)
def test_object_masks_find_exactly_each_planted_class_colour(game):
    screen, planted = synthetic_screen(game)
    masks = colours.object_masks(game, screen[None].repeat(2, axis=0))
    assert set(masks) == set(planted) | {"objects"} and "agent" in masks
    union = np.zeros((160, 160), bool)
    for name, expected in planted.items():
        assert masks[name].shape == (2, 160, 160)
        np.testing.assert_array_equal(masks[name][1], expected, err_msg=f"{game}: {name}")
        union |= expected
    np.testing.assert_array_equal(masks["objects"][0], union)


def test_class_colours_are_distinct_within_each_game():
    for game, classes in colours.OBJECT_COLOURS.items():
        rgbs = [rgb for cols in classes.values() for rgb in cols]
        assert len(rgbs) == len(set(rgbs)), game  # one colour names one class


def test_a_colour_flooding_the_play_area_is_a_flash_not_an_object():
    screen = np.zeros((210, 160, 3), np.uint8)
    screen[34:194] = colours.OBJECT_COLOURS["beam_rider"]["enemies"][0]  # white flash
    screen[170:180, 60:80] = colours.OBJECT_COLOURS["beam_rider"]["agent"][0]  # the ship, drawn over it
    masks = colours.object_masks("beam_rider", screen)
    assert not masks["enemies"].any()
    assert masks["agent"][0].sum() == 200 and masks["objects"][0].sum() == 200


def test_object_masks_reject_a_game_without_a_colour_table():
    with pytest.raises(ValueError, match="no object colours for 'breakout'.*pong, space_invaders"):
        colours.object_masks("breakout", np.zeros((210, 160, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        colours.object_masks("qbert", np.zeros((160, 160, 3), np.uint8))


# Measured on 3,600 screens each (random and trained play): Space Invaders' cannon is 37 px whole, down to
# 13 px while it explodes; Qbert is ~80..100 px whole (with the colours its max over two frames mixes), less
# while it drops in from the top or falls off, and at most 144 px (a disc in its colour on the same screen).
@pytest.mark.parametrize("game,rows,whole,most", [("space_invaders", (185, 194), 31, 37),
                                                  ("qbert", (34, 194), 60, 144)])
def test_the_agent_mask_on_real_screens_is_one_sprite(game, rows, whole, most):
    from eac3_tf.config import PRESETS, EnvConfig
    from eac3_tf.envs import AtariBatchEnv

    env = AtariBatchEnv(EnvConfig(game=game), PRESETS["fast"].obs, 1)
    env.reset(0)
    rng = np.random.default_rng(0)
    screens = []
    for _ in range(60):  # Qbert first shows up after ~37 agent steps
        env.step(rng.integers(0, env.num_actions, size=1))
        screens.append(env.last_screens[0])
    env.close()
    agent = colours.object_masks(game, np.stack(screens))["agent"]
    counts = agent.sum(axis=(1, 2))
    assert (counts > 0).sum() >= 10
    assert whole <= counts.max() <= most  # seen whole at least once, and never more than one sprite
    on_rows = np.nonzero(agent.any(axis=(0, 2)))[0] + 34
    assert rows[0] <= on_rows.min() and on_rows.max() < rows[1]


def test_downsampled_mask_marks_every_block_the_object_touches():
    _, planted = synthetic_pong_screen()
    small = colours.downsample_mask(planted["ball"], (80, 80))
    # the ball covers play rows 67..70 and columns 81..82 -> cells rows 33..35, columns 40..41
    expected = np.zeros((80, 80), bool)
    expected[33:36, 40:42] = True
    np.testing.assert_array_equal(small, expected)
    with pytest.raises(ValueError, match="whole multiple"):
        colours.downsample_mask(planted["ball"], (70, 70))
