"""eac3_tf.explain.variants: the pure mass measures always; the HackAtari adapter where hackatari is installed."""

import numpy as np
import pytest

from eac3_tf.config import EnvConfig, ObsConfig
from eac3_tf.explain import variants as va


def test_mass_by_class_is_the_share_and_its_ratio_to_the_area():
    maps = np.zeros((2, 2, 2))
    maps[:, 0, 0] = 3.0  # frame 0: 3 of 4 units on the top-left cell
    maps[:, 1, 1] = 1.0
    mask = np.zeros((2, 4, 4), bool)
    mask[0, :2, :2] = True  # the top-left cell of frame 0 at twice the maps' size; frame 1 has no object
    out = va.mass_by_class(maps, {"ball": mask, "none": np.zeros_like(mask)})
    # mass 3/4 on one cell of four: density 0.75 / 0.25 = 3; frame 1 is left out
    assert out["ball"] == {"frames": 1, "mass": 0.75, "density": 3.0}
    assert out["none"] == {"frames": 0, "mass": None, "density": None}


def test_mass_moves_is_variant_minus_unmodified():
    base = {"ball": {"mass": 0.5}, "agent": {"mass": None}}
    variant = {"ball": {"mass": 0.25}, "agent": {"mass": 0.1}}
    assert va.mass_moves(base, variant) == {"ball": -0.25, "agent": None}


def test_spread_covers_the_recording_without_repeats():
    assert va.spread(3, 5).tolist() == [0, 2, 4]
    assert va.spread(10, 4).tolist() == [0, 1, 2, 3]


def test_gym_id_of_rom_ids():
    assert va.gym_id("demon_attack") == "ALE/DemonAttack-v5"
    assert va.gym_id("pong") == "ALE/Pong-v5"


def test_opponent_follows_ball_counts_enemy_moves_while_the_ball_goes_right():
    screens = np.zeros((3, 210, 160, 3), np.uint8)
    for t in range(3):
        screens[t, 100:104, 50 + 2 * t:52 + 2 * t] = (236, 236, 236)  # ball moving right every step
        screens[t, 80:95, 16:20] = (213, 130, 74)  # enemy paddle still ...
    screens[2, 80:95, 16:20] = 0
    screens[2, 82:97, 16:20] = (213, 130, 74)  # ... then moving on the second step: 1 move in 2
    assert va.opponent_follows_ball(screens) == 0.5


hackatari = pytest.importorskip("hackatari", reason='hackatari is not installed: pip install "eac3_tf[objects]" && '
                                                    "pip install --no-deps ocatari==2.2.1 hackatari==0.0.6")


def test_unmodified_adapter_reproduces_atari_batch_env_with_sticky_actions():
    out = va.adapter_parity(EnvConfig(game="pong"), ObsConfig(grayscale=True, downsample=2), steps=60)
    assert out["identical_share"] == 1.0 and out["max_abs_diff"] == 0


def test_a_misspelt_variant_is_refused():
    with pytest.raises(va.VariantError, match="unknown pong variant"):
        va.HackAtariEnv(EnvConfig(game="pong"), variants=("lazy_enemies",))


def test_lazy_enemy_takes_effect_and_the_check_says_so():
    out = va.check_variant(EnvConfig(game="pong"), "lazy_enemy", steps=200)
    assert out["passed"] and out["steps_screen_differs"] > 0
    assert out["specific"]["variant"] < 0.5 * out["specific"]["unmodified"]
