import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from eac3_tf.config import ConvSpec, ModelConfig, ObsConfig
from eac3_tf.explain import METHODS, MethodResult, explain, gradcam, perturbation
from eac3_tf.explain import gradients as g
from eac3_tf.model import build_model

# --- a 3x3, two-channel network whose maps can be worked out by hand --------------------------------------
#
# frames (3, 3, 2) -> /255 -> conv1 (1x1, identity kernel, zero bias, ReLU) -> flatten -> logits (2), value (1)
# so A^1 = frame channel 0 / 255 and A^2 = channel 1 / 255, and the head is linear in A: dy/dA is the dense
# weights, G^k below. The frames: a ball at the centre in channel 0, a paddle down the middle column in 1:
#
#   A^1 = 0 0 0     A^2 = 0 1 0      sum A^1 = 1, sum A^2 = 3
#         0 1 0           0 1 0
#         0 0 0           0 1 0
#
# logit 0: G^1 = 1 everywhere, 2 at the centre;  G^2 = +1 at (0, 1) and (2, 1), -1 at the centre, else 0
# logit 1: G^1 = 1 everywhere;                   G^2 = 0
# value:   G^1 = 1 everywhere;                   G^2 = 0.5 everywhere; bias 3
# logits = (2 + (1 - 1 + 1), 1) = (3, 1): the greedy action is 0; value = 1 + 0.5 * 3 + 3 = 5.5.
BALL, PADDLE = (1, 1), [(0, 1), (2, 1)]  # the ball's cell and the paddle's two other cells


def frames_of(a1: np.ndarray, a2: np.ndarray) -> np.ndarray:
    """A float frame batch [1, 3, 3, 2] whose activations are a1, a2."""
    return (np.stack([a1, a2], axis=-1) * 255.0)[None].astype(np.float32)


def ball_and_paddle() -> np.ndarray:
    a1, a2 = np.zeros((3, 3)), np.zeros((3, 3))
    a1[1, 1] = 1.0
    a2[:, 1] = 1.0
    return frames_of(a1, a2)


def hand_map(ball: float, paddle: float, rest: float = 0.0) -> np.ndarray:
    m = np.full((3, 3), rest, np.float32)
    m[BALL] = ball
    for cell in PADDLE:
        m[cell] = paddle
    return m


def hand_net() -> keras.Model:
    inputs = keras.Input((3, 3, 2), name="frames")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    x = keras.layers.Conv2D(2, 1, activation="relu", name="conv1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    model = keras.Model(inputs, [keras.layers.Dense(2, name="logits")(x), keras.layers.Dense(1, name="value")(x)])
    model.get_layer("conv1").set_weights([np.eye(2, dtype=np.float32)[None, None], np.zeros(2, np.float32)])
    w = np.zeros((3, 3, 2, 2), np.float32)  # (row, col, channel, logit): flatten's order
    w[:, :, 0, 0], w[1, 1, 0, 0] = 1.0, 2.0
    w[0, 1, 1, 0], w[2, 1, 1, 0], w[1, 1, 1, 0] = 1.0, 1.0, -1.0
    w[:, :, 0, 1] = 1.0
    v = np.zeros((3, 3, 2), np.float32)
    v[..., 0], v[..., 1] = 1.0, 0.5
    model.get_layer("logits").set_weights([w.reshape(18, 2), np.zeros(2, np.float32)])
    model.get_layer("value").set_weights([v.reshape(18, 1), np.full(1, 3.0, np.float32)])
    return model


@pytest.fixture(scope="module")
def net() -> keras.Model:
    return hand_net()


E2 = math.exp(2.0)
LOGIT0 = {
    # w = mean G = (10/9, 1/9): ball 10/9 + 1/9, paddle 1/9
    "gradcam": hand_map(11 / 9, 1 / 9),
    # ch 1 (sum A = 1): alpha = 1/(2 + 1*1) = 1/3 on the eight cells with g = 1, 4/(8 + 8) = 1/4 at the ball
    #   (g = 2): w_1 = 8/3 + 2/4 = 19/6; ch 2 (sum A = 3): alpha = 1/(2 + 3) = 1/5 on the two g = +1 cells,
    #   ReLU(-1) = 0 at the ball: w_2 = 2/5. Ball 19/6 + 2/5 = 107/30, paddle 2/5.
    "gradcam++": hand_map(107 / 30, 2 / 5),
    "hirescam": hand_map(2 * 1 - 1 * 1, 1),  # sum_k G^k A^k: the ball's -1 on the paddle channel cancels
    # w_1 = (2 * 1) / 1 = 2, w_2 = (1 - 1 + 1) / 3 = 1/3: ball 2 + 1/3, paddle 1/3
    "xgradcam": hand_map(7 / 3, 1 / 3),
    "layercam": hand_map(2, 1),  # ReLU(G) drops the ball's -1
    # copy 1 = X * A^1: A = (ball, ball) -> y = 2 - 1 = 1; copy 2 = X * A^2: (ball, paddle) -> y = 2 + 1 = 3;
    #   black: y = 0. w = softmax(1, 3) = (1, e^2) / (1 + e^2): ball w_1 + w_2 = 1, paddle w_2
    "scorecam": hand_map(1, E2 / (1 + E2)),
}
# The value's gradients are the same in every cell of a channel (1 and 0.5): Grad-CAM, HiResCAM, XGrad-CAM
# and LayerCAM all give 1 * A^1 + 0.5 * A^2. Grad-CAM++ reweights each channel by 1 / (2 + g sum A):
# w_1 = 9 * 1 / (2 + 1) = 3, w_2 = 9 * 0.5 / (2 + 0.5 * 3) = 9/7. Score-CAM keeps the value's rise over the
# black frame: copy 1 (ball, ball) 1 + 0.5 = 1.5, copy 2 (ball, paddle) 1 + 0.5 * 3 = 2.5.
VALUE = {"gradcam": hand_map(1.5, 0.5), "gradcam++": hand_map(3 + 9 / 7, 9 / 7), "hirescam": hand_map(1.5, 0.5),
         "xgradcam": hand_map(1.5, 0.5), "layercam": hand_map(1.5, 0.5), "scorecam": hand_map(1.5 + 2.5, 2.5)}


@pytest.mark.parametrize("method", list(LOGIT0))
def test_each_methods_raw_map_on_the_hand_worked_network(net, method):
    for target, expected in ((0, LOGIT0[method]), ("value", VALUE[method])):
        result = explain(net, ball_and_paddle(), method=method, target=target)
        assert result.raw.shape == (1, 3, 3) and result.raw.dtype == np.float32
        np.testing.assert_allclose(result.raw[0], expected, rtol=1e-6, atol=1e-6)
        # a 3x3 layer on 3x3 frames: the upsampling is the identity, the maps are raw / max
        np.testing.assert_allclose(result.maps[0], expected / expected.max(), atol=1e-6)
        assert result.layer == "conv1" and result.method == method


@pytest.mark.parametrize("method", METHODS)
def test_default_target_is_the_greedy_action_and_the_outputs_are_the_policys(net, method):
    greedy = explain(net, ball_and_paddle(), method=method)
    np.testing.assert_array_equal(greedy.raw, explain(net, ball_and_paddle(), method=method, target=0).raw)
    assert isinstance(greedy, MethodResult) and greedy.actions.tolist() == [0]
    np.testing.assert_allclose(greedy.probs, [[E2 / (1 + E2), 1 / (1 + E2)]], rtol=1e-6)  # softmax(3, 1)
    np.testing.assert_allclose(greedy.values, [5.5], rtol=1e-6)


def test_a_contrast_explains_the_difference_of_two_logits(net):
    # logit 0 - logit 1: G^1 = 0 except 1 at the ball, G^2 as logit 0's. HiResCAM: ball 1 - 1 = 0, paddle 1
    raw = explain(net, ball_and_paddle(), method="hirescam", target=(0, 1)).raw
    np.testing.assert_allclose(raw[0], hand_map(0, 1), atol=1e-6)


def test_eigencam_is_the_first_principal_component_signed_to_follow_the_mean_activation(net):
    # A^1 = the ball (1 at the centre), A^2 = 0.5 everywhere but 0 at the ball: centred, every cell is
    # d * (1, -0.5) with d = ball - 1/9, so the first axis is +-(2, -1)/sqrt(5) and the projection +-d sqrt(5)/2.
    # The channels' mean (0.25 + 0.25 ball) rises on the ball: the sign that follows it gives the ball
    # (8/9) sqrt(5)/2 = 4 sqrt(5)/9 and every other cell -sqrt(5)/18, cut by the ReLU.
    ball = np.zeros((3, 3))
    ball[1, 1] = 1.0
    result = explain(net, frames_of(ball, 0.5 * (1 - ball)), method="eigencam")
    np.testing.assert_allclose(result.raw[0], ball * 4 * math.sqrt(5) / 9, atol=1e-6)
    # A^1 = 0.25 ball, A^2 = 1 - ball: cells d * (0.25, -1), projection +-d sqrt(17)/4. Now the mean
    # (0.5 - 0.375 ball) is lower on the ball, so the map is the background's: sqrt(17)/36 off the ball, 0 on it.
    raw = explain(net, frames_of(0.25 * ball, 1 - ball), method="eigencam").raw
    np.testing.assert_allclose(raw[0], (1 - ball) * math.sqrt(17) / 36, atol=1e-6)
    # no gradient: the same map for every target
    np.testing.assert_array_equal(explain(net, frames_of(0.25 * ball, 1 - ball), method="eigencam", target=1).raw, raw)


def test_perturbation_scores_the_targets_change_under_the_blur(net):
    # The ball alone (channel 1 black). stride 3: one mask centre, (1, 1); patch 1e4: the mask is 1 everywhere
    # (exp(-2 / 2e8) rounds to 1 in float32), so the perturbed frame is the blurred one. Blur sigma 0.5:
    # kernel (e^-8, e^-2, 1, e^-2, e^-8) / Z, Z = 1 + 2e^-2 + 2e^-8, mirror-padded: the blurred ball is the
    # outer product of b = (e^-2 + e^-8, 1, e^-2 + e^-8) / Z, whose sum is 1. Logit 0 = sum A^1 + A^1 at the ball
    # goes from 2 to 1 + 1/Z^2: S = 0.5 (1/Z^2 - 1)^2. The value (sum A^1) keeps its sum 1: S = 0, all-zero map.
    ball = np.zeros((3, 3))
    ball[1, 1] = 1.0
    z = 1 + 2 * math.exp(-2) + 2 * math.exp(-8)
    options = {"stride": 3, "patch": 1e4, "sigma": 0.5}
    result = explain(net, frames_of(ball, 0 * ball), method="perturbation", **options)
    assert result.raw.shape == (1, 1, 1) and result.layer == "input"
    np.testing.assert_allclose(result.raw[0, 0, 0], 0.5 * (1 / z**2 - 1) ** 2, rtol=1e-5)
    np.testing.assert_array_equal(result.maps, np.ones((1, 3, 3), np.float32))  # one cell, upsampled
    value = explain(net, frames_of(ball, 0 * ball), method="perturbation", target="value", **options)
    assert not value.raw.any() and not value.maps.any()


def test_smoothgrad_is_the_mean_absolute_input_gradient_summed_over_channels(net):
    # Every pixel 51 (A = 0.2, ReLU open) and noise of 1% of 255: 20 sigma from the ReLU's kink, so every
    # noisy copy has dy/dx = G / 255. Logit 0: sum_c |G_c| / 255 = (2 + 1) / 255 at the ball, (1 + 1) / 255
    # on the paddle, 1 / 255 elsewhere.
    frames = np.full((1, 3, 3, 2), 51.0, np.float32)
    result = explain(net, frames, method="smoothgrad", target=0, noise=0.01, samples=4)
    assert result.raw.shape == (1, 3, 3) and result.layer == "input"
    np.testing.assert_allclose(result.raw[0], hand_map(3, 2, 1) / 255, rtol=1e-5)


BLACK = np.zeros((2, 3, 3, 2), np.uint8)


@pytest.mark.parametrize("method", METHODS)
def test_black_frames_give_all_zero_maps_not_nan(net, method):
    # every activation is 0 (and ReLU's gradient at 0 is 0): each raw map is 0 and the division by its max is skipped
    options = {"noise": 0.0, "samples": 1} if method == "smoothgrad" else {}
    for target in (None, 1, "value", (0, 1)):
        result = explain(net, BLACK, method=method, target=target, **options)
        assert result.maps.shape == (2, 3, 3) and np.isfinite(result.maps).all() and np.isfinite(result.raw).all()
        assert not result.maps.any() and not result.raw.any()


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam", "xgradcam", "layercam"])
def test_a_contrast_of_an_action_with_itself_is_all_zero(net, method):
    assert not explain(net, ball_and_paddle(), method=method, target=(1, 1)).maps.any()


def test_an_unknown_method_raises_listing_the_methods(net):
    with pytest.raises(ValueError, match=r"unknown method 'grad-cam'; methods: gradcam, gradcam\+\+, hirescam, "
                                         r"xgradcam, layercam, eigencam, scorecam, perturbation, smoothgrad$"):
        explain(net, ball_and_paddle(), method="grad-cam")


def test_an_unknown_option_or_a_layer_for_an_input_method_raises(net):
    with pytest.raises(ValueError, match=r"unknown option\(s\) steps for method 'smoothgrad'; "
                                         r"its options: noise, samples, seed"):
        explain(net, ball_and_paddle(), method="smoothgrad", steps=4)
    with pytest.raises(ValueError, match="its options: none"):
        explain(net, ball_and_paddle(), method="hirescam", batch_size=4)
    with pytest.raises(ValueError, match="'perturbation' works on the input frames; layer must be None"):
        explain(net, ball_and_paddle(), method="perturbation", layer="conv1")


# --- random networks of the two torsos -------------------------------------------------------------------

CFG = ModelConfig("t", ObsConfig(grayscale=True, downsample=8, stack=2), (ConvSpec(8, 3), ConvSpec(8, 3)), dense=16)
RES_CFG = ModelConfig("r", ObsConfig(grayscale=True, downsample=8, stack=2), torso="residual", stages=(4, 8),
                      res_blocks=1, dense=16)


def random_net(cfg: ModelConfig, seed: int) -> tuple[keras.Model, np.ndarray]:
    keras.utils.set_random_seed(seed)
    model = build_model(cfg.obs.shape, 4, cfg)  # (20, 20, 2) frames
    w, b = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([w * 100, b])  # clear-cut greedy actions
    frames = np.random.default_rng(seed).integers(0, 256, (3, *cfg.obs.shape)).astype(np.uint8)
    return model, frames


@pytest.fixture(scope="module")
def pooled():
    return random_net(CFG, 0)  # conv1 20x20 -> pool1 10x10 -> conv2 10x10 -> pool2 5x5


@pytest.fixture(scope="module")
def residual():
    model, frames = random_net(RES_CFG, 1)  # ... -> torso 5x5
    w, b = model.get_layer("value").get_weights()
    model.get_layer("value").set_weights([-w, b])  # with this seed the value's Grad-CAM is all zero otherwise
    return model, frames


@pytest.mark.parametrize("torso", ["pooled", "residual"])
@pytest.mark.parametrize("target", [None, 1, "value", (2, 0)])
def test_gradcam_is_todays_gradcam_exactly(request, torso, target):
    model, frames = request.getfixturevalue(torso)
    result = explain(model, frames, target=target)
    today = gradcam.explain(model, frames, target=target)
    np.testing.assert_array_equal(result.raw, gradcam.grad_cam_raw(model, frames, target=target))
    for field in ("maps", "actions", "probs", "values"):
        np.testing.assert_array_equal(getattr(result, field), getattr(today, field))
    assert result.layer == today.layer == ("conv2" if torso == "pooled" else "torso")


def test_the_shared_upsampling_is_gradcams_and_tf_image_resize(pooled):
    model, frames = pooled
    for layer in ("conv1", "conv2", "pool2"):
        raw = gradcam.grad_cam_raw(model, frames, layer=layer)
        assert raw.max() > 0
        peak = raw.max(axis=(1, 2), keepdims=True)
        resized = tf.image.resize((raw / np.where(peak > 0, peak, 1))[..., None], (20, 20), method="bilinear")
        np.testing.assert_allclose(g.normalise_upsample(raw, (20, 20)), np.clip(resized[..., 0], 0, 1), atol=1e-6)
        np.testing.assert_allclose(g.normalise_upsample(raw, (20, 20)), gradcam.grad_cam(model, frames, layer=layer),
                                   atol=1e-6)


@pytest.mark.parametrize("target", [1, "value"])
def test_perturbation_is_saliencys_perturbation_saliency(pooled, target):
    model, frames = pooled
    result = explain(model, frames, method="perturbation", target=target)
    assert result.raw.shape == (3, 4, 4) and result.raw.max() > 0  # 20x20 frames, stride 5: a 4x4 grid
    # normalise-then-upsample here, upsample-then-normalise there: equal where the stride divides the frame
    np.testing.assert_allclose(result.maps, perturbation.perturbation_saliency(model, frames, target=target), atol=1e-6)


# --- agreement with tf-keras-vis ---------------------------------------------------------------------------


def coefficients(model, frames, target):
    """[N, A + 1] coefficients of (logits, value) whose sum is the target's score, worked out independently."""
    logits = model(frames.astype(np.float32))[0].numpy()
    coef = np.zeros((len(frames), logits.shape[1] + 1), np.float32)
    if target is None:
        coef[np.arange(len(frames)), logits.argmax(axis=1)] = 1.0
    elif target == "value":
        coef[:, -1] = 1.0
    elif isinstance(target, tuple):
        coef[:, target[0]], coef[:, target[1]] = 1.0, -1.0
    else:
        coef[:, target] = 1.0
    return coef


def one_output_copy(model):
    """The model with one output, (logits, value) side by side, for tf-keras-vis' single-output classes."""
    return keras.Model(model.input, keras.layers.Concatenate()([model.output[0], model.output[1]]))


def tf_keras_vis_raw(cls, model, frames, target, layer):
    coef = tf.constant(coefficients(model, frames, target))
    cam = cls(one_output_copy(model), clone=True)
    return np.asarray(cam(lambda y: tf.reduce_sum(y * coef, axis=-1), frames.astype(np.float32),
                          penultimate_layer=layer, seek_penultimate_conv_layer=False, expand_cam=False,
                          normalize_cam=False))


@pytest.mark.parametrize("torso, layer", [("pooled", "conv2"), ("residual", "torso")])
@pytest.mark.parametrize("method", ["gradcam", "layercam"])
def test_gradcam_and_layercam_agree_with_tf_keras_vis(request, torso, layer, method):
    # tf-keras-vis' Layercam is ours (ReLU of the gradient, times A, summed, ReLU); both raw, un-normalised.
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.layercam import Layercam

    model, frames = request.getfixturevalue(torso)
    for target in (None, 1, "value", (2, 0)):
        expected = tf_keras_vis_raw(Layercam if method == "layercam" else Gradcam, model, frames, target, layer)
        assert expected.max() > 0
        got = explain(model, frames, method=method, target=target).raw
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * expected.max())


def small_net(cam_channels: int, seed: int) -> tuple[keras.Model, np.ndarray]:
    """(6, 6, 2) -> conv1 (3) -> cam (cam_channels), both 'same' at 6x6 -> hidden (8) -> logits (3), value."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(cam_channels, 3, padding="same", activation="relu", name="cam",
                            bias_initializer=keras.initializers.Constant(0.05))(x)
    hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, [keras.layers.Dense(3)(hidden), keras.layers.Dense(1)(hidden)])
    return model, np.random.default_rng(seed).integers(0, 256, (4, 6, 6, 2)).astype(np.uint8)


def max_normalised(x):
    return x / x.max(axis=(1, 2), keepdims=True)


def test_gradcam_pp_agrees_with_tf_keras_vis_on_a_one_channel_layer():
    # tf-keras-vis follows the paper's code: its weights carry exp(S) and divide alpha by its sum over the
    # cells, a factor per channel and frame (pytorch-grad-cam and we do neither), so only with one channel do
    # the two agree, up to a positive factor per frame that dividing by the max removes. With one channel the
    # map is ReLU(w A) for any weight w > 0: this checks the layer, the target and w's sign; the weights
    # themselves are checked on the hand-worked network.
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

    model, frames = small_net(1, 3)
    for target in (None, 1, "value"):
        expected = tf_keras_vis_raw(GradcamPlusPlus, model, frames, target, "cam")
        assert (expected.max(axis=(1, 2)) > 0).all()
        got = explain(model, frames, method="gradcam++", target=target).raw
        np.testing.assert_allclose(max_normalised(got), max_normalised(expected), atol=1e-5)


def recovered_score(coef, exp):
    """A tf-keras-vis score function: from p = softmax(outputs, 0), sum_j coef_j (log p_j - log p_0) = y; or exp(y)."""
    def score(p):
        y = tf.reduce_sum((tf.math.log(p[:, :-1]) - tf.math.log(p[:, -1:])) * tf.constant(coef), axis=-1)
        return tf.exp(y) if exp else y

    return score


def test_scorecam_agrees_with_tf_keras_vis_at_the_inputs_resolution():
    # tf-keras-vis weights each channel by its score function applied to softmax(outputs) of the masked copy
    # (the paper's code: the class probability), with no softmax over channels and no baseline, and it
    # upsamples with scipy's zoom (corners aligned; TF's bilinear is half-pixel): at a 6x6 layer on 6x6
    # frames no upsampling happens. Its copy outputs (logits, value - value(black), 0); from the softmax p,
    # log p_j - log p_0 gives back output j, so its weights become the value's rise (our value weights) or
    # exp(logit) (our softmax over channels times one factor per frame, removed by dividing by the max).
    from tf_keras_vis.scorecam import Scorecam

    model, frames = small_net(4, 4)
    black = model(np.zeros((1, 6, 6, 2), np.float32))[1].numpy()[0, 0]
    shifted = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer=keras.initializers.Constant(-black))
    zero = keras.layers.Dense(1, kernel_initializer="zeros")
    copy = keras.Model(model.input, keras.layers.Concatenate()([model.output[0], shifted(model.output[1]),
                                                                 zero(model.output[1])]))
    for target in (None, 2, (0, 1), "value"):
        score = recovered_score(coefficients(model, frames, target), exp=target != "value")
        expected = np.asarray(Scorecam(copy)(score, frames.astype(np.float32), penultimate_layer="cam",
                                             seek_penultimate_conv_layer=False, expand_cam=False,
                                             normalize_cam=False))
        assert (expected.max(axis=(1, 2)) > 0).all()
        got = explain(model, frames, method="scorecam", target=target, batch_size=7).raw
        if target == "value":
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * expected.max())
        else:
            np.testing.assert_allclose(max_normalised(got), max_normalised(expected), atol=1e-5)


def test_smoothgrad_without_noise_is_tf_keras_vis_saliency_summed_over_channels(pooled):
    # tf-keras-vis' Saliency takes |dy/dx| too but keeps the max over channels (keepdims=False) and sets its
    # noise per frame as a share of the frame's own range; with keepdims and no noise it is |dy/dx| per channel.
    from tf_keras_vis.saliency import Saliency

    model, frames = pooled
    for target in (None, "value"):
        coef = tf.constant(coefficients(model, frames, target))
        per_channel = Saliency(one_output_copy(model))(lambda y, coef=coef: tf.reduce_sum(y * coef, axis=-1),
                                                       frames.astype(np.float32), keepdims=True, normalize_map=False)
        expected = np.asarray(per_channel).sum(axis=-1)
        assert expected.max() > 0
        got = explain(model, frames, method="smoothgrad", target=target, noise=0.0, samples=1).raw
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * expected.max())
