"""rollout: the one loop every stage plays through; games counted per env, steps, and what each hook sees."""

import numpy as np
import pytest

from eac3_tf.rollout import play_episodes, rollout


class CountdownEnv:
    """Env i's games last lengths[i] steps and pay 1 per step; no screens."""

    def __init__(self, lengths):
        self.lengths = np.array(lengths)
        self.num_envs = len(lengths)

    def reset(self, seed):
        self.t = np.zeros(self.num_envs, dtype=np.int64)
        return self.t.copy()

    def step(self, actions):
        self.t += 1
        dones = self.t == self.lengths
        self.t[dones] = 0
        return self.t.copy(), np.ones(self.num_envs), dones, np.zeros(self.num_envs, bool)


def test_games_are_shared_between_envs_so_short_games_do_not_crowd_out_long_ones():
    # 5 games on 2 envs: env 0 counts 3 (its games last 2 steps), env 1 counts 2 (5 steps each)
    results = play_episodes(lambda obs: obs * 0, CountdownEnv([2, 5]), 5, seed=0)
    assert sorted(results) == [(2.0, 2), (2.0, 2), (2.0, 2), (5.0, 5), (5.0, 5)]


def test_a_step_budget_plays_that_many_steps_and_marks_where_episodes_start():
    seen = []
    results = rollout(lambda obs: obs * 0, CountdownEnv([3]), 0, steps=7,
                      on_step=lambda obs, screens, actions, starts: seen.append((int(obs[0]), bool(starts[0]),
                                                                                   screens)))
    assert [(o, s) for o, s, _ in seen] == [(0, True), (1, False), (2, False), (0, True), (1, False), (2, False),
                                            (0, True)]
    assert all(screens is None for _, _, screens in seen)  # an env without screens
    assert results == [(3.0, 3), (3.0, 3)]


def test_on_episode_counts_the_games_it_reports():
    calls = []
    rollout(lambda obs: obs * 0, CountdownEnv([1]), 0, episodes=2, on_episode=lambda *a: calls.append(a))
    assert calls == [(1, 1.0, 1, 0), (2, 1.0, 1, 0)]


def test_on_episode_names_the_env_whose_game_ended():
    calls = []
    rollout(lambda obs: obs * 0, CountdownEnv([2, 1]), 0, episodes=3, on_episode=lambda *a: calls.append(a))
    assert calls == [(1, 1.0, 1, 1), (2, 2.0, 2, 0), (3, 2.0, 2, 0)]  # env 1's quota is one game


def test_exactly_one_of_episodes_and_steps():
    with pytest.raises(ValueError, match="episodes or steps"):
        rollout(lambda obs: obs, CountdownEnv([1]), 0)
    with pytest.raises(ValueError, match="episodes or steps"):
        rollout(lambda obs: obs, CountdownEnv([1]), 0, episodes=1, steps=1)
