import numpy as np

from eac3_tf.config import PRESETS, ConvSpec, ModelConfig, ObsConfig
from eac3_tf.model import build_model, last_conv_name


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
