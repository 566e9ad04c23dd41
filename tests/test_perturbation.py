"""Perturbation saliency (Greydanus et al. 2018) on hand-set networks whose answer is known."""

import numpy as np
import pytest
from conftest import pixel_net

from eac3_tf.explain import perturbation

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
