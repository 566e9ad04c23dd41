import keras
import numpy as np
import pytest
import tensorflow as tf

from eac3_tf.config import ConvSpec, ModelConfig, ObsConfig
from eac3_tf.explain import gradcam
from eac3_tf.explain.gradcam import CamResult, explain, grad_cam, grad_cam_raw
from eac3_tf.model import build_model

# --- a 4x4, two-frame network whose Grad-CAM maps can be worked out by hand -----------------------------
#
# frames (4, 4, 2) -> /255 -> conv1 (1x1, identity kernel, zero bias, ReLU) -> flatten -> logits (3), value (1)
# so A^1 = frame 0 / 255 and A^2 = frame 1 / 255. The dense weights of flat index (i*4 + j)*2 + k:
#   logit 0: +1 on channel 1, -1 on channel 2          -> dy/dA^k_ij = (+1, -1) everywhere, alpha = (1, -1)
#   logit 1: -1 on channel 1, +2 on channel 2          -> alpha = (-1, 2)
#   logit 2: 16 at pixel (0, 0) of channel 1, else 0   -> alpha = (16/16, 0) = (1, 0): Grad-CAM averages
#   value:   0.5 everywhere                            -> alpha = (0.5, 0.5)
#
# The frames: a ball (255) on a background of 51 (0.2 after scaling) moves from (1, 1) to (1, 2):
#   A^1 = 0.2 everywhere, 1.0 at (1, 1);   A^2 = 0.2 everywhere, 1.0 at (1, 2);   sum A^1 = sum A^2 = 4.0
# logits = (4 - 4, -4 + 2*4, 16*0.2) = (0, 4, 3.2): the greedy action is 1; value = 0.5*4 + 0.5*4 = 4.
BG, BALL = 51, 255


def ball_frames() -> np.ndarray:
    x = np.full((4, 4, 2), BG, np.uint8)
    x[1, 1, 0] = BALL
    x[1, 2, 1] = BALL
    return x


def hand_map(background: float, at_11: float, at_12: float) -> np.ndarray:
    m = np.full((4, 4), background, np.float32)
    m[1, 1], m[1, 2] = at_11, at_12
    return m


# ReLU(alpha_1 A^1 + alpha_2 A^2) at (background, (1, 1), (1, 2)):
ACTION0 = hand_map(0.0, 0.8, 0.0)  # relu(0.2-0.2), relu(1-0.2), relu(0.2-1)
ACTION1 = hand_map(0.2, 0.0, 1.8)  # relu(-0.2+0.4), relu(-1+0.4), relu(-0.2+2)
ACTION2 = hand_map(0.2, 1.0, 0.2)  # A^1: one pixel's weight is spread over the whole channel
VALUE = hand_map(0.2, 0.6, 0.6)  # 0.5 A^1 + 0.5 A^2
CONTRAST_1_0 = hand_map(0.2, 0.0, 2.6)  # alpha = (-1-1, 2+1) = (-2, 3): relu(-0.4+0.6), relu(-2+0.6), relu(-0.4+3)


def constant_net(dict_outputs: bool = False) -> keras.Model:
    inputs = keras.Input((4, 4, 2), name="frames")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    x = keras.layers.Conv2D(2, 1, activation="relu", name="conv1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(3, name="logits")(x)
    value = keras.layers.Dense(1, name="value")(x)
    outputs = {"logits": logits, "value": value} if dict_outputs else [logits, value]
    model = keras.Model(inputs, outputs)
    model.get_layer("conv1").set_weights([np.eye(2, dtype=np.float32)[None, None], np.zeros(2, np.float32)])
    w = np.zeros((4, 4, 2, 3), np.float32)
    w[..., 0, 0], w[..., 1, 0] = 1.0, -1.0
    w[..., 0, 1], w[..., 1, 1] = -1.0, 2.0
    w[0, 0, 0, 2] = 16.0
    model.get_layer("logits").set_weights([w.reshape(32, 3), np.zeros(3, np.float32)])
    model.get_layer("value").set_weights([np.full((32, 1), 0.5, np.float32), np.zeros(1, np.float32)])
    return model


@pytest.fixture(scope="module")
def net() -> keras.Model:
    return constant_net()


@pytest.mark.parametrize("target, expected", [(0, ACTION0), (1, ACTION1), (2, ACTION2), ("value", VALUE),
                                              ((1, 0), CONTRAST_1_0)])
def test_raw_map_is_relu_of_gradient_averaged_weights_times_activations(net, target, expected):
    raw = grad_cam_raw(net, ball_frames()[None], target=target)
    assert raw.shape == (1, 4, 4) and raw.dtype == np.float32
    np.testing.assert_allclose(raw[0], expected, atol=1e-6)


def test_default_target_is_each_frames_greedy_action(net):
    # frame a: logits (0, 4, 3.2) -> action 1. frame b adds a ball at (0, 0) of frame 0: sum A^1 = 4.8, so
    # logits (4.8 - 4, -4.8 + 8, 16 * 1.0) = (0.8, 3.2, 16) -> action 2.
    other = ball_frames()
    other[0, 0, 0] = BALL
    frames = np.stack([ball_frames(), other])
    per_frame = np.concatenate([grad_cam_raw(net, frames[0], target=1), grad_cam_raw(net, frames[1], target=2)])
    np.testing.assert_allclose(grad_cam_raw(net, frames), per_frame, atol=1e-6)
    assert explain(net, frames).actions.tolist() == [1, 2]


def test_normalised_map_divides_by_its_own_max(net):
    maps = grad_cam(net, ball_frames(), target=1)  # 4x4 layer on 4x4 frames: the upsampling is the identity
    np.testing.assert_allclose(maps[0], ACTION1 / 1.8, atol=1e-6)  # background 1/9, ball's new place 1
    np.testing.assert_allclose(grad_cam(net, ball_frames(), target=0)[0], ACTION0 / 0.8, atol=1e-6)


def test_explain_reports_greedy_action_probabilities_and_value(net):
    result = explain(net, ball_frames())
    assert isinstance(result, CamResult) and result.layer == "conv1"
    probs = np.exp([0.0, 4.0, 3.2]) / np.exp([0.0, 4.0, 3.2]).sum()
    np.testing.assert_allclose(result.probs, [probs], rtol=1e-5)
    assert result.actions.tolist() == [1]
    np.testing.assert_allclose(result.values, [4.0], rtol=1e-6)
    np.testing.assert_allclose(result.maps, grad_cam(net, ball_frames()), atol=0)


def test_contrast_of_an_action_with_itself_is_all_zero_not_nan(net):
    maps = grad_cam(net, ball_frames(), target=(2, 2))
    assert np.array_equal(maps, np.zeros((1, 4, 4), np.float32))


def test_black_frames_give_all_zero_maps_not_nan(net):
    # every activation is relu(0) = 0, so every map is 0 and the division by its max must be skipped
    frames = np.zeros((2, 4, 4, 2), np.uint8)
    for target in (None, 0, 1, "value", (0, 1)):
        maps = grad_cam(net, frames, target=target)
        assert maps.shape == (2, 4, 4) and not np.isnan(maps).any() and not maps.any()


def test_float_frames_in_pixel_range_give_the_same_maps_as_uint8(net):
    expected = grad_cam_raw(net, ball_frames())
    for dtype in (np.float32, np.float64):
        np.testing.assert_allclose(grad_cam_raw(net, ball_frames().astype(dtype)), expected, atol=0)


def test_dict_outputs_model_gives_the_same_maps():
    net_dict = constant_net(dict_outputs=True)
    for target, expected in [(None, ACTION1), ("value", VALUE), ((1, 0), CONTRAST_1_0)]:
        np.testing.assert_allclose(grad_cam_raw(net_dict, ball_frames(), target=target)[0], expected, atol=1e-6)
    assert explain(net_dict, ball_frames()).values.tolist() == pytest.approx([4.0])


def test_maps_follow_the_models_current_weights():
    # the cached submodel shares the model's layers, so a weight update (training) shows in the next map
    model = constant_net()
    np.testing.assert_allclose(grad_cam_raw(model, ball_frames(), target="value")[0], VALUE, atol=1e-6)
    model.get_layer("value").set_weights([np.full((32, 1), 1.0, np.float32), np.zeros(1, np.float32)])
    np.testing.assert_allclose(grad_cam_raw(model, ball_frames(), target="value")[0], 2 * VALUE, atol=1e-6)


@pytest.mark.parametrize("frames, match", [
    (np.zeros((4, 4, 1), np.uint8), r"shape \(4, 4, 2\) or \(N, 4, 4, 2\) with N >= 1, got \(4, 4, 1\)"),
    (np.zeros((2, 4, 4, 2, 1), np.uint8), r"got \(2, 4, 4, 2, 1\)"),
    (np.zeros((0, 4, 4, 2), np.uint8), r"N >= 1, got \(0, 4, 4, 2\)"),
    (np.zeros((1, 4, 4, 2), np.int64), "got dtype int64"),
    (np.zeros((1, 4, 4, 2), bool), "got dtype bool"),
    (np.zeros((1, 4, 4, 2), np.complex64), "got dtype complex64"),
    (np.full((1, 4, 4, 2), 256.0), r"\[0, 255\], got values in \[256, 256\]"),
    (np.full((1, 4, 4, 2), -1.0, np.float32), r"\[0, 255\], got values in \[-1, -1\]"),
    (np.full((1, 4, 4, 2), np.nan), "finite"),
    (np.full((1, 4, 4, 2), np.inf, np.float32), "finite"),
])
def test_bad_frames_raise_one_line_value_error(net, frames, match):
    with pytest.raises(ValueError, match=match) as info:
        grad_cam(net, frames)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("target", [3, -1, (0, 3)])
def test_action_outside_the_action_set_raises(net, target):
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        grad_cam(net, ball_frames(), target=target)


# A list [0, 1] is refused: it could as well mean one action per frame as a contrast.
@pytest.mark.parametrize("target", ["values", "logits", 1.0, True, (0,), (0, 1, 2), ("value", 0), [0, 1],
                                    np.array([[0, 1], [1, 0]])])
def test_unaccepted_target_raises_naming_what_is_accepted(net, target):
    with pytest.raises(ValueError, match=r"target must be None .*'value', or a pair \(a, b\)") as info:
        grad_cam(net, ball_frames(), target=target)
    assert "\n" not in str(info.value)


def test_numpy_integer_targets_are_actions(net):
    np.testing.assert_allclose(grad_cam_raw(net, ball_frames(), target=np.int64(1))[0], ACTION1, atol=1e-6)
    np.testing.assert_allclose(grad_cam_raw(net, ball_frames(), target=(np.int32(1), 0))[0], CONTRAST_1_0, atol=1e-6)


@pytest.mark.parametrize("layer", ["conv9", "logits", "flatten"])
def test_unknown_or_non_spatial_layer_raises_listing_conv_and_pool_layers(net, layer):
    with pytest.raises(ValueError, match=rf"unknown layer '{layer}'.*conv/pool layers of the model: conv1$"):
        grad_cam(net, ball_frames(), layer=layer)


# --- agreement with finite differences on a random E-A3C network ----------------------------------------

CFG = ModelConfig("t", ObsConfig(grayscale=True, downsample=8, stack=2), (ConvSpec(8, 3), ConvSpec(8, 3)), dense=16)
NUM_ACTIONS = 4


@pytest.fixture(scope="module")
def eac3():
    keras.utils.set_random_seed(0)
    model = build_model(CFG.obs.shape, NUM_ACTIONS, CFG)  # (20, 20, 2) -> conv1 20x20 -> pool1 10x10 -> conv2 10x10
    frames = np.random.default_rng(0).integers(0, 256, (3, *CFG.obs.shape)).astype(np.uint8)
    # Keep every A^k_ij > 0: a max-pool window of tied zeros (ReLU) has no derivative; TF sends the gradient
    # to one of the tied inputs while finite differences would split it. A large bias lifts all activations
    # above 0, then each channel's bias is lowered so its smallest activation on these frames is 0.05.
    conv2 = model.get_layer("conv2")
    kernel, _ = conv2.get_weights()
    conv2.set_weights([kernel, np.full(8, 10.0, np.float32)])
    lowest = conv2_outputs(model, frames).min(axis=(0, 1, 2))
    assert lowest.min() > 0
    conv2.set_weights([kernel, (10.0 - lowest + 0.05).astype(np.float32)])
    # Logits of the usual 0.01-gain init are nearly tied; a larger head makes the greedy action clear-cut.
    w, b = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([w * 100, b])
    return model, frames


def conv2_outputs(model, frames):
    return keras.Model(model.input, model.get_layer("conv2").output)(frames.astype(np.float32)).numpy()


def numpy_head(model, acts):
    """pool2 -> flatten -> hidden -> (logits, value) in float64 numpy, from conv2 outputs acts [M, 10, 10, 8]."""
    w1, b1 = (v.astype(np.float64) for v in model.get_layer("hidden").get_weights())
    wl, bl = (v.astype(np.float64) for v in model.get_layer("logits").get_weights())
    wv, bv = (v.astype(np.float64) for v in model.get_layer("value").get_weights())
    pooled = acts.reshape(len(acts), 5, 2, 5, 2, 8).max(axis=(2, 4))
    pre = pooled.reshape(len(acts), -1) @ w1 + b1
    hidden = np.maximum(pre, 0.0)
    return hidden @ wl + bl, (hidden @ wv + bv)[:, 0], pooled, pre


def target_score(logits, value, target):
    if target == "value":
        return value
    if isinstance(target, tuple):
        return logits[:, target[0]] - logits[:, target[1]]
    return logits[:, target]


def finite_difference_cam(model, acts, target, eps=1e-4):
    """Raw Grad-CAM of one frame's conv2 output acts [10, 10, 8], with dy/dA by central differences."""
    bump = np.eye(acts.size).reshape(-1, *acts.shape) * eps
    logits, value, pooled, pre = numpy_head(model, acts[None])
    if target is None:
        target = int(np.argmax(logits[0]))
    # y is piecewise linear in A; central differences are exact unless a bump crosses a kink, so check none can:
    # the top two of every pool window differ by more than 2 eps and no hidden unit is within reach of 0.
    windows = np.sort(acts.reshape(5, 2, 5, 2, 8).transpose(0, 2, 4, 1, 3).reshape(-1, 4), axis=1)
    assert (windows[:, -1] - windows[:, -2]).min() > 2 * eps
    assert np.abs(pre).min() > eps * np.abs(model.get_layer("hidden").get_weights()[0]).max()
    up = target_score(*numpy_head(model, acts + bump)[:2], target)
    down = target_score(*numpy_head(model, acts - bump)[:2], target)
    grads = ((up - down) / (2 * eps)).reshape(acts.shape)
    alpha = grads.mean(axis=(0, 1))  # equation (1)
    return np.maximum((acts * alpha).sum(axis=-1), 0.0)  # equation (2)


@pytest.mark.parametrize("target", [None, 0, "value", (0, 3), (3, 0)])
def test_raw_map_agrees_with_finite_differences_on_a_random_network(eac3, target):
    model, frames = eac3
    acts = conv2_outputs(model, frames)
    assert acts.min() > 0.04  # see the conv2 bias above
    expected = np.stack([finite_difference_cam(model, a.astype(np.float64), target) for a in acts])
    assert expected.max() > 0  # a comparison of two all-zero maps would prove nothing
    # TF works in float32 (relative error ~1e-7 per op, sums of ~100 terms); the float64 differences are exact
    # to ~1e-12. 1e-5 of the largest value, plus 1e-5 relative, allows for float32 and nothing more.
    np.testing.assert_allclose(grad_cam_raw(model, frames, target=target), expected, rtol=1e-5,
                               atol=1e-5 * expected.max())


def tf_keras_vis_raw_cam(model, frames, target):
    """Raw Grad-CAM by tf-keras-vis (an independent library), on a copy of the model with the target's
    one linear output; its gradient flows through conv2's max-pool, where ours stops at the pool's output."""
    from tf_keras_vis.gradcam import Gradcam

    logits = model(frames.astype(np.float32))[0].numpy()
    if target == "value":
        out, score = model.output[1], (lambda y: y[:, 0])
    elif isinstance(target, tuple):
        out, score = model.output[0], (lambda y: y[:, target[0]] - y[:, target[1]])
    else:
        actions = logits.argmax(axis=1) if target is None else np.full(len(frames), target)
        out, score = model.output[0], (lambda y: tf.gather(y, actions, axis=1, batch_dims=1))
    cam = Gradcam(keras.Model(model.input, out), clone=True)
    return np.asarray(cam(score, frames.astype(np.float32), penultimate_layer="conv2",
                          seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=False))


@pytest.mark.parametrize("target", [None, 2, "value", (0, 3)])
def test_raw_map_agrees_with_tf_keras_vis_gradcam_on_a_random_network(eac3, target):
    model, frames = eac3
    expected = tf_keras_vis_raw_cam(model, frames, target)
    assert expected.shape == (3, 10, 10) and expected.max() > 0
    np.testing.assert_allclose(grad_cam_raw(model, frames, target=target), expected, rtol=1e-5,
                               atol=1e-5 * expected.max())


def test_default_layer_is_the_last_conv_before_its_pool_and_pool2_is_after(eac3):
    model, frames = eac3
    default = grad_cam_raw(model, frames)
    assert default.shape == (3, 10, 10)  # conv2's resolution: before pool2
    np.testing.assert_array_equal(default, grad_cam_raw(model, frames, layer="conv2"))
    assert grad_cam_raw(model, frames, layer="pool2").shape == (3, 5, 5)
    assert explain(model, frames).layer == "conv2" and explain(model, frames, layer="pool2").layer == "pool2"


def test_maps_are_float32_in_unit_range_at_the_frames_resolution(eac3):
    model, frames = eac3
    for layer in ("conv1", "conv2", "pool2"):
        maps = grad_cam(model, frames, layer=layer)
        assert maps.shape == (3, 20, 20) and maps.dtype == np.float32
        assert maps.min() >= 0.0 and maps.max() <= 1.0 and maps.max() > 0.5
    single = grad_cam(model, frames[0])
    assert single.shape == (1, 20, 20)
    np.testing.assert_allclose(single[0], grad_cam(model, frames)[0], atol=1e-6)


def test_upsampled_maps_equal_tf_image_resize_of_the_normalised_raw_maps(eac3):
    # The step upsamples with two matmuls; they must be exactly the bilinear resize the docstring promises.
    model, frames = eac3
    for layer in ("conv1", "conv2", "pool2"):
        raw = grad_cam_raw(model, frames, layer=layer)
        peak = raw.max(axis=(1, 2), keepdims=True)
        normed = (raw / np.where(peak > 0, peak, 1))[..., None]
        expected = tf.image.resize(normed, model.input_shape[1:3], method="bilinear")[..., 0].numpy()
        np.testing.assert_allclose(grad_cam(model, frames, layer=layer), np.clip(expected, 0, 1), atol=1e-6)


def direct_raw_cam(model, layer, frames, action):
    """Equations (1)-(2) with the gradient taken at the layer itself (what the pool shortcut must equal)."""
    sub = keras.Model(model.input, [model.get_layer(layer).output, model.output[0]])
    x = tf.constant(frames.astype(np.float32))
    with tf.GradientTape() as tape:
        acts, logits = sub(x)
        y = logits[:, action]
    alpha = tf.reduce_mean(tape.gradient(y, acts), axis=(1, 2))
    return tf.nn.relu(tf.einsum("nhwk,nk->nhw", acts, alpha)).numpy()


def check_against_own_gradient(model, frames, action, shortcut: bool):
    """grad_cam_raw at layer "conv" equals `direct_raw_cam`, on the shortcut path or off it as `shortcut` says."""
    expected = direct_raw_cam(model, "conv", frames, action)
    assert expected.max() > 0  # a comparison of two all-zero maps would prove nothing
    assert (gradcam._cam_function(model, "conv").pool is not None) == shortcut  # the path under test
    np.testing.assert_allclose(grad_cam_raw(model, frames, target=action, layer="conv"), expected, rtol=1e-5,
                               atol=1e-6 * expected.max())


@pytest.mark.parametrize("pool", [
    keras.layers.MaxPooling2D(2, padding="same"),  # 7x7 -> 4x4: a padded edge
    keras.layers.AveragePooling2D(3, strides=2, padding="same"),  # overlapping windows
    keras.layers.AveragePooling2D(2),  # 7x7 -> 3x3: the last row and column are dropped
])
def test_a_pooled_layers_map_is_the_one_from_its_own_gradient(pool):
    # The step stops the gradient at the pool after the layer (a pool's backward spreads each output
    # cell's gradient with weights summing to 1, so sum_ij dy/dA_ij is unchanged); the maps must not change.
    keras.utils.set_random_seed(1)
    inp = keras.Input((7, 7, 2))
    acts = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(pool(acts)))
    model = keras.Model(inp, [keras.layers.Dense(3)(hidden), keras.layers.Dense(1)(hidden)])
    frames = np.random.default_rng(1).integers(0, 256, (5, 7, 7, 2)).astype(np.uint8)
    check_against_own_gradient(model, frames, 2, shortcut=True)


def pool_and_flatten(inp, acts):
    """conv feeds a pool and, directly, a Flatten: two consumers."""
    return [keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(acts)), keras.layers.Flatten()(acts)]


def pool_and_shared_second_call(inp, acts):
    """conv feeds a pool and the second call of a shared Flatten, which `layer.input` does not show."""
    other = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="other")(inp)
    flat = keras.layers.Flatten()
    return [flat(other), flat(acts), keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(acts))]


@pytest.mark.parametrize("heads", [pool_and_flatten, pool_and_shared_second_call])
def test_a_layer_read_by_more_than_its_pool_is_differentiated_where_it_is(heads):
    keras.utils.set_random_seed(2)
    inp = keras.Input((6, 6, 1))
    acts = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv")(inp)
    both = keras.layers.Concatenate()(heads(inp, acts))
    model = keras.Model(inp, [keras.layers.Dense(2)(both), keras.layers.Dense(1)(both)])
    frames = np.random.default_rng(2).integers(0, 256, (4, 6, 6, 1)).astype(np.uint8)
    check_against_own_gradient(model, frames, 1, shortcut=False)


# ------------------------------------------------------------------------------------------ a residual torso
RES_CFG = ModelConfig("r", ObsConfig(grayscale=True, downsample=8, stack=2), torso="residual", stages=(4, 8),
                      res_blocks=1, dense=16)


@pytest.fixture(scope="module")
def residual():
    keras.utils.set_random_seed(1)
    model = build_model(RES_CFG.obs.shape, NUM_ACTIONS, RES_CFG)  # (20, 20, 2) -> pool1 10x10 -> pool2 5x5
    w, b = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([w * 100, b])
    w, b = model.get_layer("value").get_weights()
    model.get_layer("value").set_weights([-w, b])  # with this seed the value's own map is all zero otherwise
    frames = np.random.default_rng(1).integers(0, 256, (3, *RES_CFG.obs.shape)).astype(np.uint8)
    return model, frames


def residual_head_cam(model, acts, target, eps=1e-4):
    """Raw Grad-CAM of one frame's torso output acts [5, 5, 8]; dy/dA by central differences of a numpy head."""
    w1, b1 = (v.astype(np.float64) for v in model.get_layer("hidden").get_weights())
    wl, bl = (v.astype(np.float64) for v in model.get_layer("logits").get_weights())
    wv, bv = (v.astype(np.float64) for v in model.get_layer("value").get_weights())

    def head(a):
        hidden = np.maximum(a.reshape(len(a), -1) @ w1 + b1, 0.0)
        return hidden @ wl + bl, (hidden @ wv + bv)[:, 0]

    pre = acts.reshape(1, -1) @ w1 + b1
    assert np.abs(pre).min() > eps * np.abs(w1).max()  # no hidden unit within a bump of its kink
    if target is None:
        target = int(np.argmax(head(acts[None])[0][0]))
    bump = np.eye(acts.size).reshape(-1, *acts.shape) * eps
    grads = (target_score(*head(acts + bump), target) - target_score(*head(acts - bump), target)) / (2 * eps)
    alpha = grads.reshape(acts.shape).mean(axis=(0, 1))  # equation (1)
    return np.maximum((acts * alpha).sum(axis=-1), 0.0)  # equation (2)


@pytest.mark.parametrize("target", [None, 1, "value", (2, 0)])
def test_a_residual_torsos_default_map_is_taken_at_its_output_and_agrees_with_finite_differences(residual, target):
    model, frames = residual
    acts = keras.Model(model.input, model.get_layer("torso").output)(frames.astype(np.float32)).numpy()
    expected = np.stack([residual_head_cam(model, a.astype(np.float64), target) for a in acts])
    assert expected.max() > 0
    got = grad_cam_raw(model, frames, target=target)
    assert got.shape == (3, 5, 5) and explain(model, frames).layer == "torso"
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * expected.max())


def test_a_residual_torsos_finer_layers_can_be_chosen_by_name(residual):
    model, frames = residual
    assert grad_cam_raw(model, frames, layer="res1a").shape == (3, 10, 10)  # stage 1's output, before pool2
    assert grad_cam_raw(model, frames, layer="conv2").shape == (3, 10, 10)
    assert explain(model, frames, layer="res2a_relu2").layer == "res2a_relu2"


def test_the_old_import_path_is_the_same_module():
    import eac3_tf.explain.gradcam as new
    import eac3_tf.gradcam as old

    assert old is new
