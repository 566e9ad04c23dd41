import dataclasses

import pytest

from eac3_tf.config import (
    MAX_WORKERS,
    PAPER_GAMES,
    PRESETS,
    A3CConfig,
    EnvConfig,
    ObsConfig,
    RunConfig,
    camel_game,
    canonical_game,
    learning_rate_at,
    resolve_game,
)
from eac3_tf.envs import game_id, known_games
from eac3_tf.errors import ConfigError
from eac3_tf.evaluate import EvalConfig


@pytest.mark.parametrize("name, rom", [("Pong", "pong"), ("SpaceInvaders", "space_invaders"),
                                       ("ALE/Qbert-v5", "qbert"), ("BeamRiderNoFrameskip-v4", "beam_rider"),
                                       ("demon-attack", "demon_attack")])
def test_game_names_in_any_common_spelling_map_to_the_rom_id(name, rom):
    assert canonical_game(name) == rom


def test_every_paper_game_is_an_ale_rom():
    assert set(PAPER_GAMES) <= set(known_games())
    assert [camel_game(g) for g in PAPER_GAMES] == ["DemonAttack", "SpaceInvaders", "BeamRider", "Phoenix",
                                                     "Pong", "Qbert"]


def test_any_other_ale_game_is_accepted():
    assert game_id("MsPacman") == "ms_pacman"
    assert game_id("Breakout") == "breakout"


def test_unknown_game_is_one_line_listing_close_matches():
    with pytest.raises(ValueError) as err:
        game_id("Pongg")
    message = str(err.value)
    assert "\n" not in message
    assert "'Pongg'" in message and "Pong" in message


def test_unknown_game_with_no_close_match_lists_the_paper_games():
    with pytest.raises(ValueError, match="paper games: DemonAttack"):
        resolve_game("zzzzzz", ("pong",))


def test_paper_preset_sees_the_160x160_rgb_play_area_stacked():
    obs = PRESETS["paper"].obs
    assert (obs.crop_top, obs.crop_bottom) == (34, 194)
    assert obs.shape == (160, 160, 12)


def test_fast_preset_sees_the_same_crop_at_80x80_gray():
    assert PRESETS["fast"].obs.shape == (80, 80, 4)
    assert ObsConfig(grayscale=True, downsample=4, stack=2).shape == (40, 40, 2)


def test_linear_learning_rate_falls_to_zero_at_the_frame_budget_and_resumes_on_the_same_line():
    cfg = A3CConfig(learning_rate=8e-4, lr_schedule="linear")
    assert learning_rate_at(cfg, 0, 100) == pytest.approx(8e-4)
    assert learning_rate_at(cfg, 25, 100) == pytest.approx(6e-4)
    assert learning_rate_at(cfg, 100, 100) == 0.0
    assert learning_rate_at(cfg, 140, 100) == 0.0


def test_constant_learning_rate_ignores_frames():
    cfg = A3CConfig(learning_rate=8e-4)
    assert learning_rate_at(cfg, 0, 100) == learning_rate_at(cfg, 99, 100) == 8e-4


def test_unknown_learning_rate_schedule_names_the_accepted_ones():
    with pytest.raises(ConfigError, match=r"^--lr_schedule value should be one of <constant\|linear>, got 'cosine'$"):
        A3CConfig(lr_schedule="cosine")


@pytest.mark.parametrize("build, field, problem", [
    (lambda: A3CConfig(t_max=0), "t_max", "must be a positive integer, got 0"),
    (lambda: A3CConfig(t_max=1001), "t_max", "must be 1..1000 agent steps, got 1001"),
    (lambda: A3CConfig(envs_per_worker=257), "envs_per_worker", "must be 1..256, got 257"),
    (lambda: A3CConfig(learning_rate=float("nan")), "learning_rate", "must be in (0, 1), got nan"),
    (lambda: A3CConfig(entropy_beta=1.0), "entropy_beta", "must be in [0, 1), got 1.0"),
    (lambda: RunConfig(frames=-5), "frames", "must be a positive integer, got -5"),
    (lambda: RunConfig(workers=65), "workers", "must be 1..64, got 65"),
    (lambda: RunConfig(log_every=0.0), "log_every", "must be positive seconds, got 0.0"),
    (lambda: EnvConfig(noop_max=1001), "noop_max", "must be 0..1000 emulator frames, got 1001"),
    (lambda: EnvConfig(repeat_action_probability=1.5), "repeat_action_probability", "must be in [0, 1], got 1.5"),
    (lambda: EvalConfig(episodes=100_001), "episodes", "must be at most 100000, got 100001"),
    (lambda: EvalConfig(protocol="human"), "protocol", "value should be one of <v5|noop>, got 'human'"),
])
def test_every_config_refuses_a_setting_out_of_range_naming_its_flag(build, field, problem):
    """A config checks itself, so each command line's flags share one set of ranges and messages."""
    with pytest.raises(ConfigError) as caught:
        build()
    assert (caught.value.field, caught.value.problem, str(caught.value)) == (field, problem, f"--{field} {problem}")


def test_a_replaced_config_is_checked_again():
    with pytest.raises(ConfigError, match="--t_max"):
        dataclasses.replace(A3CConfig(), t_max=0)


def test_the_default_worker_count_is_within_range_on_any_machine():
    assert 1 <= RunConfig().workers <= MAX_WORKERS
