import numpy as np
import pytest

from eac3_tf.config import ObsConfig
from eac3_tf.preprocess import FrameStack, model_inputs, preprocess


def screen(value=0):
    return np.full((210, 160, 3), value, dtype=np.uint8)


def test_crop_keeps_rows_34_to_193_in_rgb():
    s = screen()
    s[:, :, 0] = np.arange(210, dtype=np.uint8)[:, None]  # red channel = row index
    out = preprocess(s, ObsConfig(grayscale=False, downsample=1))
    assert out.shape == (1, 160, 160, 3)
    assert out[0, 0, 0, 0] == 34 and out[0, -1, 0, 0] == 193


def test_gray_uses_601_weights_in_8_bit_fixed_point():
    s = screen()
    s[..., 0], s[..., 1], s[..., 2] = 200, 100, 50
    out = preprocess(s, ObsConfig(grayscale=True, downsample=1))
    # (200*77 + 100*150 + 50*29) >> 8 = (15400 + 15000 + 1450) >> 8 = 31850 >> 8 = 124
    assert out.shape == (1, 160, 160, 1)
    assert np.all(out == 124)


def test_downsample_averages_each_block_rounding_down():
    s = screen()
    s[34, 0] = 255  # one bright pixel in the first 2x2 block: (255+0+0+0)//4 = 63
    s[34, 2] = s[35, 2] = s[34, 3] = s[35, 3] = 10
    out = preprocess(s, ObsConfig(grayscale=False, downsample=2))
    assert out.shape == (1, 80, 80, 3)
    assert out[0, 0, 0].tolist() == [63, 63, 63]
    assert out[0, 0, 1].tolist() == [10, 10, 10]
    assert out[0, 1, 0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("bad, what", [(np.zeros((84, 84, 3), np.uint8), "shape"),
                                       (np.zeros((210, 160), np.uint8), "shape"),
                                       (np.zeros((210, 160, 3), np.float32), "dtype")])
def test_screens_of_the_wrong_shape_or_dtype_are_refused(bad, what):
    with pytest.raises(ValueError, match=what):
        preprocess(bad, ObsConfig())


def test_frame_stack_is_oldest_first_and_restarts_on_a_new_episode():
    obs = ObsConfig(grayscale=True, stack=3)
    stack = FrameStack(2, obs)
    f = lambda a, b: np.array([a, b], np.uint8).reshape(2, 1, 1, 1) * np.ones((1, 160, 160, 1), np.uint8)  # noqa: E731
    first = stack.reset(f(1, 5))
    assert first[0, 0, 0].tolist() == [1, 1, 1]
    stack.push(f(2, 6))
    out = stack.push(f(3, 7), new_episode=np.array([False, True]))
    assert out[0, 0, 0].tolist() == [1, 2, 3]  # env 0 keeps its history
    assert out[1, 0, 0].tolist() == [7, 7, 7]  # env 1 started a new episode: no frames of the old one


@pytest.mark.parametrize("gray", [False, True])
def test_frame_stack_equals_the_last_frames_of_each_episode_concatenated(gray):
    # definition: channels = the last `stack` frames of the env's current episode, oldest first, the episode's
    # first frame repeated where it has fewer; checked over random episode ends on 3 envs
    obs = ObsConfig(grayscale=gray, downsample=16, stack=4)
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (40, 3, obs.height, obs.width, obs.channels_per_frame), dtype=np.uint8)
    ends = rng.random((40, 3)) < 0.15
    stack = FrameStack(3, obs)
    history = [[frames[0, i]] for i in range(3)]
    for t in range(40):
        out = stack.reset(frames[0]) if t == 0 else stack.push(frames[t], new_episode=ends[t])
        for i in range(3):
            if t > 0:
                history[i] = [frames[t, i]] if ends[t, i] else history[i] + [frames[t, i]]
            last = ([history[i][0]] * 4 + history[i])[-4:]
            np.testing.assert_array_equal(out[i], np.concatenate(last, axis=-1))


def test_model_inputs_of_a_screen_sequence_match_a_frame_stack_fed_step_by_step():
    rng = np.random.default_rng(0)
    screens = rng.integers(0, 256, (5, 210, 160, 3), dtype=np.uint8)
    obs = ObsConfig(grayscale=True, downsample=2, stack=4)
    stack = FrameStack(1, obs)
    expected = [stack.reset(preprocess(screens[0], obs))[0]]
    expected += [stack.push(preprocess(screens[t], obs))[0] for t in range(1, 5)]
    np.testing.assert_array_equal(model_inputs(screens, obs), np.stack(expected))


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("gray", [False, True])
def test_preprocess_equals_the_plain_definition_on_random_screens(k, gray):
    # definition: crop rows 34..193, floor of the k x k block mean per channel, then (77R + 150G + 29B) >> 8
    screens = np.random.default_rng(k).integers(0, 256, (3, 210, 160, 3), dtype=np.uint8)
    x = screens[:, 34:194].astype(np.int64)
    x = x.reshape(3, 160 // k, k, 160 // k, k, 3).sum(axis=(2, 4)) // (k * k)
    if gray:
        x = ((x * [77, 150, 29]).sum(-1) >> 8)[..., None]
    out = preprocess(screens, ObsConfig(grayscale=gray, downsample=k))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, x)
