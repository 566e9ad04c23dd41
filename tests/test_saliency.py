import keras
import numpy as np
import pytest

from eac3_tf.config import ConvSpec, ModelConfig, ObsConfig
from eac3_tf.explain import colours, faithfulness, measures, perturbation
from eac3_tf.model import build_model

# --- tiny hand-set models -------------------------------------------------------------------------------


def pixel_net(shape, weights: dict, value_weight: float = 0.0) -> keras.Model:
    """frames -> /255 -> flatten -> logits (2): logit_0 = sum of weights[(row, col)] * pixel / 255, logit_1 = 0."""
    inputs = keras.Input(shape, name="frames")
    x = keras.layers.Flatten(name="flatten")(keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs))
    logits = keras.layers.Dense(2, name="logits")(x)
    value = keras.layers.Dense(1, name="value")(x)
    model = keras.Model(inputs, [logits, value])
    w = np.zeros((*shape, 2), np.float32)
    for (r, c), v in weights.items():
        w[r, c, :, 0] = v
    size = int(np.prod(shape))
    model.get_layer("logits").set_weights([w.reshape(size, 2), np.zeros(2, np.float32)])
    model.get_layer("value").set_weights([np.full((size, 1), value_weight, np.float32), np.zeros(1, np.float32)])
    return model


def sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


# --- object_mass / pointing_game ------------------------------------------------------------------------


def test_object_mass_is_the_share_of_the_maps_sum_inside_the_mask():
    m = np.array([[1.0, 3.0], [0.0, 4.0]])
    mask = np.array([[False, True], [False, False]])
    assert measures.object_mass(m, mask) == pytest.approx(3 / 8)
    assert measures.object_mass(np.ones((2, 2)), mask) == pytest.approx(mask.mean())  # flat map = area share
    batch = measures.object_mass(np.stack([m, m]), np.stack([mask, ~mask]))
    np.testing.assert_allclose(batch, [3 / 8, 5 / 8])


def test_object_mass_of_an_empty_map_is_nan_not_zero():
    assert np.isnan(measures.object_mass(np.zeros((2, 2)), np.ones((2, 2), bool)))


def test_pointing_game_hits_when_the_maps_argmax_is_in_the_mask():
    m = np.array([[1.0, 3.0], [0.0, 4.0]])  # max at (1, 1)
    assert measures.pointing_game(m, np.array([[False, False], [False, True]])) is True
    assert measures.pointing_game(m, np.array([[True, True], [True, False]])) is False
    assert measures.pointing_game(np.zeros((2, 2)), np.ones((2, 2), bool)) is False  # points nowhere
    hits = measures.pointing_game(np.stack([m, m]), np.stack([np.eye(2, dtype=bool), ~np.eye(2, dtype=bool)]))
    assert hits.tolist() == [True, False]


def test_pointing_game_tolerance_counts_a_max_next_to_the_mask():
    m = np.zeros((3, 3))
    m[0, 0] = 1.0
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True  # one diagonal step (Chebyshev 1) away from the max
    assert measures.pointing_game(m, mask) is False
    assert measures.pointing_game(m, mask, tolerance=1) is True


def test_pointing_rate_is_the_share_of_maps_that_point_into_their_mask():
    maps = np.zeros((4, 3, 3))
    maps[:, 0, 0] = 1.0
    masks = np.zeros((4, 3, 3), bool)
    masks[0, 0, 0] = True  # a hit
    masks[1, 1, 1] = True  # one cell off: a hit only with tolerance 1
    masks[2, 2, 2] = True  # two cells off
    # masks[3] is empty: a miss at any tolerance
    assert measures.pointing_rate(maps, masks) == 0.25
    assert measures.pointing_rate(maps, masks, tolerance=1) == 0.5


def test_mass_ratio_is_the_mean_mass_share_over_the_mean_area_share():
    maps = np.zeros((2, 2, 2))
    maps[0] = [[3.0, 0.0], [0.0, 1.0]]  # 3 of 4 units on the top-left cell
    maps[1] = [[1.0, 1.0], [1.0, 1.0]]  # even: its share is the area's
    masks = np.zeros((2, 2, 2), bool)
    masks[:, 0, 0] = True
    mass, ratio = measures.mass_ratio(maps, masks)
    assert mass.tolist() == [0.75, 0.25]
    assert ratio == 2.0  # (0.75 + 0.25) / 2 over 0.25
    _, even = measures.mass_ratio(maps[1:], masks[1:])
    assert even == 1.0


def test_mass_ratio_of_massless_maps_keeps_their_area_or_leaves_the_frame_out():
    maps = np.zeros((2, 2, 2))
    maps[0] = [[3.0, 0.0], [0.0, 1.0]]  # maps[1] has no mass
    masks = np.zeros((2, 2, 2), bool)
    masks[0, 0, 0] = True  # area 0.25
    masks[1, 0] = True  # area 0.5
    mass, kept = measures.mass_ratio(maps, masks)
    assert mass[0] == 0.75 and np.isnan(mass[1])
    assert kept == 2.0  # 0.75 over (0.25 + 0.5) / 2
    assert measures.mass_ratio(maps, masks, massless_area=False)[1] == 3.0  # 0.75 over 0.25


def test_mass_ratio_is_nan_without_mass_or_without_area():
    masks = np.ones((2, 2, 2), bool)
    assert np.isnan(measures.mass_ratio(np.zeros((2, 2, 2)), masks)[1])
    assert np.isnan(measures.mass_ratio(np.ones((2, 2, 2)), ~masks)[1])
    assert np.isnan(measures.mass_ratio(np.zeros((2, 2, 2)), masks, massless_area=False)[1])


def test_argmax_offsets_point_from_the_nearest_mask_cell_to_the_maximum():
    m = np.zeros((4, 5))
    m[1, 3] = 1.0  # the maximum
    mask = np.zeros((4, 5), bool)
    mask[1, 2] = mask[3, 0] = True  # (1, 2) is one cell left of the max; (3, 0) is 3 away
    assert measures.argmax_offsets(m, mask).tolist() == [0, 1]
    mask[1, 2] = False
    assert measures.argmax_offsets(m, mask).tolist() == [-2, 3]


def test_argmax_offsets_agree_with_the_pointing_game_at_every_tolerance():
    rng = np.random.default_rng(0)
    maps, masks = rng.random((200, 6, 7)), rng.random((200, 6, 7)) < 0.05
    masks[:, 0, 0] = True  # no empty mask
    dist = np.abs(measures.argmax_offsets(maps, masks)).max(axis=-1)
    for tol in range(4):
        assert np.array_equal(dist <= tol, measures.pointing_game(maps, masks, tol))


def test_argmax_offsets_of_an_empty_map_or_mask_are_flagged_undefined():
    maps = np.stack([np.zeros((2, 2)), np.eye(2), np.eye(2)])
    masks = np.stack([np.ones((2, 2), bool), np.zeros((2, 2), bool), np.eye(2, dtype=bool)])
    assert measures.offsets_defined(maps, masks).tolist() == [False, False, True]
    assert measures.argmax_offsets(maps, masks).tolist() == [[-1, -1], [-1, -1], [0, 0]]


# --- rank correlation -----------------------------------------------------------------------------------


def test_rank_correlation_is_1_for_identical_and_minus_1_for_reversed_maps():
    a = np.arange(12.0).reshape(3, 4) ** 2
    assert measures.rank_correlation(a, a) == pytest.approx(1.0)
    assert measures.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert measures.rank_correlation(a, np.sqrt(a)) == pytest.approx(1.0)  # only the order counts


def test_rank_correlation_matches_spearmans_formula_and_averages_ties():
    # ranks (1,2,3,4) vs (1,3,2,4): 1 - 6 * sum d^2 / (n (n^2 - 1)) = 1 - 6 * 2 / 60 = 0.8
    assert measures.rank_correlation(np.array([[1, 2], [3, 4]]), np.array([[1, 3], [2, 4]])) == pytest.approx(0.8)
    # tied maps: ranks (1.5, 1.5, 3, 4) against themselves stay perfectly correlated
    tied = np.array([[0.0, 0.0], [0.5, 1.0]])
    assert measures.rank_correlation(tied, tied) == pytest.approx(1.0)
    assert np.isnan(measures.rank_correlation(np.zeros((2, 2)), tied))  # a constant map has no ranking
    out = measures.rank_correlation(np.stack([tied, tied]), np.stack([tied, -tied]))
    np.testing.assert_allclose(out, [1.0, -1.0])


# --- deletion / insertion -------------------------------------------------------------------------------

# A 4x4 frame whose top-left 2x2 block is lit (255); logit_0 = sum of that block / 255 = 4, logit_1 = 0,
# so P(action 0) = sigmoid(4) = 0.982. With a "zero" baseline and 4 steps (4 pixels per step):
#   a map ranking the block first  -> deletion (s4, .5, .5, .5, .5), insertion (.5, s4, s4, s4, s4)
#   the reversed map               -> deletion (s4, s4, s4, s4, .5), insertion (.5, .5, .5, .5, s4)
BLOCK = [(0, 0), (0, 1), (1, 0), (1, 1)]


def block_frame() -> np.ndarray:
    x = np.zeros((4, 4, 1), np.uint8)
    x[:2, :2] = 255
    return x


def block_map() -> np.ndarray:
    m = np.arange(16, 0, -1, dtype=np.float32).reshape(4, 4) / 100  # distinct values, no ties
    m[:2, :2] += 1.0
    return m


def test_deletion_of_the_pixels_that_matter_drops_the_probability_first():
    model = pixel_net((4, 4, 1), {rc: 1.0 for rc in BLOCK})
    s4 = sigmoid(4.0)
    frames = np.repeat(block_frame()[None], 2, axis=0)
    res = faithfulness.deletion_insertion(model, frames, np.stack([block_map(), -block_map()]), action=0, steps=4,
                                 baseline="zero")
    np.testing.assert_allclose(res.fractions, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(res.deletion, [[s4, .5, .5, .5, .5], [s4, s4, s4, s4, .5]], atol=1e-6)
    np.testing.assert_allclose(res.insertion, [[.5, s4, s4, s4, s4], [.5, .5, .5, .5, s4]], atol=1e-6)
    # trapezoids over steps of 0.25
    np.testing.assert_allclose(res.deletion_auc, [0.25 * ((s4 + .5) / 2 + 1.5), 0.25 * (3 * s4 + (s4 + .5) / 2)],
                               atol=1e-6)
    np.testing.assert_allclose(res.insertion_auc, [0.25 * ((s4 + .5) / 2 + 3 * s4), 0.25 * (1.5 + (s4 + .5) / 2)],
                               atol=1e-6)


def test_the_values_curves_move_first_when_the_pixels_the_critic_reads_go_first():
    # V = sum of all pixels / 255 = 4 on the block frame (only the block is lit); zero baseline, 4 steps
    model = pixel_net((4, 4, 1), {rc: 1.0 for rc in BLOCK}, value_weight=1.0)
    frames = np.repeat(block_frame()[None], 2, axis=0)
    res = faithfulness.deletion_insertion(model, frames, np.stack([block_map(), -block_map()]), action=0, steps=4,
                                 baseline="zero")
    np.testing.assert_allclose(res.value_deletion, [[0, 4, 4, 4, 4], [0, 0, 0, 0, 4]], atol=1e-5)
    np.testing.assert_allclose(res.value_insertion, [[4, 0, 0, 0, 0], [4, 4, 4, 4, 0]], atol=1e-5)
    # 0.25 * (2 + 4 + 4 + 4) = 3.5 against 0.25 * 2 = 0.5, and the mirror for insertion
    np.testing.assert_allclose(res.value_deletion_auc, [3.5, 0.5], atol=1e-5)
    np.testing.assert_allclose(res.value_insertion_auc, [0.5, 3.5], atol=1e-5)


def test_deletion_with_a_blurred_baseline_still_ranks_the_right_map_first():
    model = pixel_net((4, 4, 1), {rc: 1.0 for rc in BLOCK})
    frames = np.repeat(block_frame()[None], 2, axis=0)
    res = faithfulness.deletion_insertion(model, frames, np.stack([block_map(), -block_map()]), action=[0, 0], steps=8)
    assert res.deletion_auc[0] < res.deletion_auc[1]
    assert res.insertion_auc[0] > res.insertion_auc[1]


def test_deletion_rejects_maps_that_do_not_match_the_frames():
    model = pixel_net((4, 4, 1), {(0, 0): 1.0})
    with pytest.raises(ValueError, match=r"maps must have shape \(1, 4, 4\)"):
        faithfulness.deletion_insertion(model, block_frame()[None], np.zeros((1, 3, 3)), action=0)


def test_salience_order_ranks_the_largest_value_first_and_is_a_permutation():
    m = np.array([[[0.0, 0.0], [2.0, 1.0]]])
    ranks = faithfulness.salience_order(m)
    assert ranks[0, 1, 0] == 0 and ranks[0, 1, 1] == 1
    assert sorted(ranks.ravel().tolist()) == [0, 1, 2, 3]


# --- perturbation saliency ------------------------------------------------------------------------------


def checkerboard(n: int = 10) -> np.ndarray:
    return ((np.add.outer(np.arange(n), np.arange(n)) % 2) * 255).astype(np.uint8)[..., None]


def test_perturbation_saliency_peaks_at_the_only_pixel_the_policy_reads():
    # Only pixel (7, 2) moves logit_0. With a mask per pixel (stride 1) of sigma 1, perturbing at (i, j)
    # changes that pixel by M_ij(7, 2) * (blur - frame)(7, 2), so the score is proportional to
    # exp(-d^2 / 2)^2 = exp(-d^2), d the distance to (7, 2): exactly that map after division by its max.
    model = pixel_net((10, 10, 1), {(7, 2): 5.0})
    maps = perturbation.perturbation_saliency(model, checkerboard()[None], patch=1.0, stride=1, sigma=1.0)
    ii, jj = np.mgrid[:10, :10]
    np.testing.assert_allclose(maps[0], np.exp(-((ii - 7) ** 2 + (jj - 2) ** 2)), atol=1e-4)


def test_perturbation_grid_centres_land_where_the_bilinear_upsampling_puts_them():
    # 10x10 with stride 5: a 2x2 grid of centres at rows/cols 2 and 7, and the pixel read, (7, 2), is one of
    # them; the bilinear upsampling puts each grid value exactly on its centre (and holds it flat to the edge)
    model = pixel_net((10, 10, 1), {(7, 2): 5.0})
    maps = perturbation.perturbation_saliency(model, checkerboard()[None], patch=2.0, stride=5, sigma=1.0)
    assert maps.shape == (1, 10, 10) and maps[0, 7, 2] == pytest.approx(1.0)
    assert max(maps[0, 2, 2], maps[0, 2, 7], maps[0, 7, 7]) < 0.5


def test_perturbation_targets_an_unused_action_or_value_give_zero_maps_not_nan():
    model = pixel_net((10, 10, 1), {(7, 2): 5.0})  # logit_1 and the value never change
    for target in (1, [1], "value"):
        maps = perturbation.perturbation_saliency(model, checkerboard()[None], target=target, patch=1.0, stride=2,
                                                  sigma=1.0)
        assert not np.isnan(maps).any() and not maps.any()


def test_perturbation_batches_give_the_same_maps_as_one_frame_at_a_time():
    model = pixel_net((10, 10, 1), {(7, 2): 5.0, (1, 1): -3.0})
    frames = np.stack([checkerboard(), 255 - checkerboard()])
    together = perturbation.perturbation_saliency(model, frames, patch=1.0, stride=2, sigma=1.0, batch_size=7)
    alone = np.concatenate([perturbation.perturbation_saliency(model, f[None], patch=1.0, stride=2, sigma=1.0)
                            for f in frames])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_gaussian_blur_keeps_constants_and_never_mixes_channels():
    x = np.zeros((1, 9, 9, 2), np.float32)
    x[0, 4, 4, 0] = 100.0
    y = perturbation.gaussian_blur(x, 1.0)
    assert not y[..., 1].any()  # the other frame of the stack stays untouched
    assert y[0, ..., 0].sum() == pytest.approx(100.0, rel=1e-3) and y[0, 4, 4, 0] == y[0, ..., 0].max()
    # sigma larger than the image
    np.testing.assert_allclose(perturbation.gaussian_blur(np.full((1, 5, 3, 1), 7.0), 4.0), 7.0, rtol=1e-5)


def test_blur_change_map_of_a_flat_frame_is_all_zero():
    maps = perturbation.blur_change_map(np.full((2, 10, 10, 1), 80, np.uint8), patch=1.0, stride=2, sigma=1.0)
    assert maps.shape == (2, 10, 10) and not maps.any()


# --- cascading randomisation ----------------------------------------------------------------------------


def tiny_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    cfg = ModelConfig(name="tiny", obs=ObsConfig(grayscale=True, stack=1), convs=(ConvSpec(8, 3),), dense=16)
    return build_model((8, 8, 1), 3, cfg)


def test_reinitialise_layer_redraws_from_the_layers_own_initializers():
    inputs = keras.Input((3,))
    out = keras.layers.Dense(2, kernel_initializer=keras.initializers.Constant(3.0), name="d")(inputs)
    model = keras.Model(inputs, out)
    model.get_layer("d").set_weights([np.zeros((3, 2), np.float32), np.ones(2, np.float32)])
    faithfulness.reinitialise_layer(model.get_layer("d"), seed=0)
    kernel, bias = model.get_layer("d").get_weights()
    assert np.all(kernel == 3.0) and np.all(bias == 0.0)  # Constant(3) kernel, zeros bias


def test_cascading_randomisation_decorrelates_maps_and_leaves_the_model_alone():
    model = tiny_cnn()
    before = [w.copy() for w in model.get_weights()]
    rng = np.random.default_rng(0)
    frames = np.zeros((6, 8, 8, 1), np.uint8)
    for f in frames:  # a few lit pixels per frame
        f[tuple(rng.integers(0, 8, size=(2, 3)))] = 255
    stages = [("logits", "value"), "hidden", "conv1"]
    res = faithfulness.cascading_randomization(model, frames, stages, seed=0)
    assert res.stages == ["logits+value", "hidden", "conv1"]
    assert res.maps.shape == (3, 6, 8, 8) and res.correlations.shape == (3, 6)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert np.nanmean(res.correlations[-1]) < 0.9  # everything random: the maps no longer follow the model
    again = faithfulness.cascading_randomization(model, frames, stages, seed=0)
    np.testing.assert_array_equal(again.correlations, res.correlations)  # seeded


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


def test_randomisation_stages_run_from_the_heads_down_and_can_split_the_two_heads():
    from eac3_tf.config import PRESETS
    from eac3_tf.model import build_model

    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    assert faithfulness.randomization_stages(model) == [("logits", "value"), "hidden", "conv2", "conv1"]
    assert faithfulness.randomization_stages(model, split_heads=True) == ["logits", "value", "hidden", "conv2",
                                                                           "conv1"]
