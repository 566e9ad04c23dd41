"""Faithfulness of a map: deletion and insertion curves, and cascading randomisation of the network."""

import keras
import numpy as np
import pytest
from conftest import pixel_net, sigmoid

from eac3_tf.config import ConvSpec, ModelConfig, ObsConfig
from eac3_tf.explain import faithfulness
from eac3_tf.model import build_model

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

def test_randomisation_stages_run_from_the_heads_down_and_can_split_the_two_heads():
    from eac3_tf.config import PRESETS
    from eac3_tf.model import build_model

    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    assert faithfulness.randomization_stages(model) == [("logits", "value"), "hidden", "conv2", "conv1"]
    assert faithfulness.randomization_stages(model, split_heads=True) == ["logits", "value", "hidden", "conv2",
                                                                           "conv1"]
