import numpy as np
import pytest

from eac3_tf.config import PRESETS, ConvSpec, ModelConfig, ObsConfig
from eac3_tf.model import build_model, cam_layer_name, last_conv_name


def test_outputs_are_logits_and_value_for_each_frame():
    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    logits, value = model(np.zeros((3, 80, 80, 4), np.float32))
    assert logits.shape == (3, 6) and value.shape == (3, 1)
    assert model.output_names == ["logits", "value"]


def test_every_conv_is_followed_by_a_max_pool_and_the_last_conv_is_named():
    cfg = PRESETS["paper"]
    model = build_model(cfg.obs.shape, 6, cfg)
    names = [layer.name for layer in model.layers]
    for i in range(1, len(cfg.convs) + 1):
        assert names[names.index(f"conv{i}") + 1] == f"pool{i}"
    assert last_conv_name(cfg) == "conv4"
    assert model.get_layer("conv4").output.shape[1:3] == (20, 20)  # 160 -> 80 -> 40 -> 20 before pool4


def test_pixel_scaling_is_inside_the_graph():
    # one conv with all-ones kernel and no bias: a frame of 255s must look like a frame of 1.0s
    cfg = ModelConfig("t", ObsConfig(), (ConvSpec(1, 1),), dense=1)
    model = build_model((2, 2, 1), 2, cfg)
    conv = model.get_layer("conv1")
    conv.set_weights([np.ones((1, 1, 1, 1), np.float32), np.zeros(1, np.float32)])
    probe = model.get_layer("conv1").output
    import keras
    sub = keras.Model(model.input, probe)
    np.testing.assert_allclose(sub(np.full((1, 2, 2, 1), 255.0, np.float32)).numpy(), 1.0, rtol=1e-6)


def test_fast_preset_is_much_smaller_than_the_paper_preset():
    fast = build_model(PRESETS["fast"].obs.shape, 6, PRESETS["fast"]).count_params()
    paper = build_model(PRESETS["paper"].obs.shape, 6, PRESETS["paper"]).count_params()
    assert fast < paper / 4


def test_each_residual_stage_is_a_conv_a_max_pool_and_its_blocks_and_the_torso_is_named():
    cfg = PRESETS["impala"]
    model = build_model(cfg.obs.shape, 6, cfg)
    names = [layer.name for layer in model.layers]
    for i in (1, 2, 3):
        at = names.index(f"conv{i}")
        assert names[at + 1] == f"pool{i}"  # the E-A3C trait: a max-pool after the conv of every stage
        assert {f"res{i}a", f"res{i}b"} <= set(names) and f"res{i}c" not in names
    assert last_conv_name(cfg) == "conv3" and cam_layer_name(cfg) == "torso"
    # 80 -> pool1 40 -> pool2 20 -> pool3 10: the default map is 10x10, a finer 20x20 one is res2b
    assert model.get_layer("torso").output.shape[1:] == (10, 10, 32)
    assert model.get_layer("res2b").output.shape[1:] == (20, 20, 32)
    assert names[names.index("torso") + 1:] == ["flatten", "hidden", "logits", "value"]


def test_a_residual_block_adds_its_input_back():
    # every conv of the torso zeroed: each block adds relu-conv-relu-conv = 0 to its input, so the torso's
    # output is relu(maxpool(conv1)) = relu(conv1's bias) = 0.5 everywhere with conv1's bias at 0.5
    cfg = ModelConfig("r", ObsConfig(), torso="residual", stages=(2,), res_blocks=2, dense=1)
    model = build_model((4, 4, 1), 2, cfg)
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D":
            kernel, bias = layer.get_weights()
            layer.set_weights([np.zeros_like(kernel), np.full_like(bias, 0.5 if layer.name == "conv1" else 0.0)])
    import keras
    torso = keras.Model(model.input, model.get_layer("torso").output)
    np.testing.assert_array_equal(torso(np.full((1, 4, 4, 1), 200.0, np.float32)).numpy(), 0.5)


@pytest.mark.parametrize("kwargs, match", [
    ({"torso": "dense"}, "unknown torso 'dense'; accepted: pooled, residual"),
    ({"convs": ()}, "a pooled torso needs at least one conv"),
    ({"torso": "residual"}, "a residual torso needs stages"),
    ({"torso": "residual", "stages": (8, 0)}, "a residual torso needs stages"),
])
def test_a_model_config_that_cannot_be_built_is_refused(kwargs, match):
    base = {"name": "x", "obs": ObsConfig(), "convs": (ConvSpec(4, 3),)}
    with pytest.raises(ValueError, match=match):
        ModelConfig(**{**base, **kwargs})
