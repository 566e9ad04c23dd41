import dataclasses

import numpy as np

from eac3_tf.config import PRESETS, EnvConfig
from eac3_tf.envs import AtariBatchEnv, reset_sequence
from eac3_tf.preprocess import FrameStack, preprocess


def test_training_env_inputs_equal_the_one_preprocessing_of_its_screens():
    """What the worker feeds the model is exactly preprocess + FrameStack of the raw ALE screens."""
    obs_cfg = PRESETS["fast"].obs
    env = AtariBatchEnv(EnvConfig(game="pong"), obs_cfg, num_envs=2, num_threads=1)
    try:
        stack = FrameStack(2, obs_cfg)
        obs = env.reset(seed=3)
        np.testing.assert_array_equal(obs, stack.reset(preprocess(env.last_screens, obs_cfg)))
        rng = np.random.default_rng(0)
        for _ in range(20):
            obs, rewards, dones, _ = env.step(rng.integers(0, env.num_actions, 2))
            expected = stack.push(preprocess(env.last_screens, obs_cfg), new_episode=dones)
            np.testing.assert_array_equal(obs, expected)
        assert obs.shape == (2, 80, 80, 4) and obs.dtype == np.uint8
        assert obs.max() > 0  # a real game screen, not a blank
    finally:
        env.close()


def test_raw_scores_are_reported_unclipped_and_episodes_reset_in_the_same_step():
    env = AtariBatchEnv(EnvConfig(game="pong", repeat_action_probability=0.0), PRESETS["fast"].obs, 1)
    try:
        env.reset(seed=0)
        total, steps, done = 0.0, 0, False
        while not done and steps < 5000:
            _, r, d, _ = env.step(np.zeros(1, np.int64))
            total += float(r[0])
            done = bool(d[0])
            steps += 1
        # NOOP Pong loses 21 points: raw score -21, the clipped per-step rewards are never summed away
        assert done and total == -21.0
    finally:
        env.close()


def test_envs_of_one_seed_replay_identically():
    def roll(seed):
        env = AtariBatchEnv(EnvConfig(game="qbert"), PRESETS["fast"].obs, 2, num_threads=1)
        out = [env.reset(seed=seed)]
        for a in [1, 2, 3, 4, 5] * 4:
            out.append(env.step(np.full(2, a, np.int64))[0])
        env.close()
        return np.stack(out)

    np.testing.assert_array_equal(roll(7), roll(7))


def test_the_direct_emulator_interface_matches_ale_pys_atari_vector_env():
    """AtariBatchEnv drives ale-py's C++ interface itself (AtariVectorEnv needs gymnasium, the player may not
    have it); same seed and actions must give AtariVectorEnv's screens, rewards and episode ends, across
    autoresets: a 200-frame cap ends an episode every 50 agent steps."""
    from ale_py.vector_env import AtariVectorEnv

    cfg = EnvConfig(game="pong", max_episode_frames=200)
    ours = AtariBatchEnv(cfg, PRESETS["fast"].obs, 2, num_threads=1)
    ref = AtariVectorEnv(game="pong", num_envs=2, num_threads=1, frameskip=4, repeat_action_probability=0.25,
                         noop_max=0, max_num_frames_per_episode=200, img_height=210, img_width=160, grayscale=False,
                         stack_num=1, maxpool=True, reward_clipping=False, episodic_life=False,
                         autoreset_mode="SameStep")
    ours.reset(seed=7)
    raw, _ = ref.reset(seed=7)
    np.testing.assert_array_equal(ours.last_screens, raw[:, 0])
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(120):
        actions = rng.integers(0, 6, 2)
        _, r, d, _ = ours.step(actions)
        raw, r_ref, term, trunc, _ = ref.step(actions.astype(np.int64))
        np.testing.assert_array_equal(ours.last_screens, raw[:, 0])
        np.testing.assert_array_equal(r, r_ref)
        np.testing.assert_array_equal(d, term | trunc)
        ends += int(d.sum())
    assert ends == 4  # two envs, episodes ended at steps 50 and 100
    ours.close()
    ref.close()


def test_a_lost_life_is_flagged_once_and_game_over_is_not_a_lost_life():
    """SpaceInvaders has 3 lives: every finished game shows exactly 2 lost lives, then its done step."""
    env = AtariBatchEnv(EnvConfig(game="space_invaders"), PRESETS["fast"].obs, num_envs=2, num_threads=1)
    try:
        env.reset(seed=0)
        assert not env.lives_lost.any()
        rng = np.random.default_rng(0)
        lost, per_game = np.zeros(2, dtype=int), []
        while len(per_game) < 3:
            _, _, dones, truncated = env.step(rng.integers(0, env.num_actions, 2))
            assert not (env.lives_lost & dones).any()
            lost += env.lives_lost
            for i in np.flatnonzero(dones & ~truncated):
                per_game.append(int(lost[i]))
                lost[i] = 0
        assert per_game[:3] == [2, 2, 2]
    finally:
        env.close()


def test_the_reset_words_name_the_no_op_frames_the_fire_and_which_frames_an_agent_sees():
    pooled = reset_sequence(EnvConfig(game="pong", noop_max=30))
    assert pooled.startswith("reset_game(), NOOP for max(u - 1, 0) emulator frames, u uniform in 0..29, then FIRE "
                              "for one frame;")
    assert pooled.endswith("frameskip with a max over the last two frames of each skip)")
    last = reset_sequence(EnvConfig(game="pong", noop_max=30, maxpool=False), noop_max=0)
    assert last.startswith("reset_game(), FIRE for one frame;") and last.endswith("the last frame of each skip alone)")
    jittered = reset_sequence(EnvConfig(game="pong", phase_jitter=0.2))
    assert jittered.endswith("each skip); a step lasts 3 or 5 frames with probability 0.1 each")


def test_pong_moves_the_players_paddle_on_even_frames_only_so_a_max_of_two_frames_sees_the_phase():
    """Why `EnvConfig.maxpool` exists: with frames (2k, 2k+1) pooled the paddle is drawn once, with
    (2k+1, 2k+2) it is drawn at two heights while it moves; the last frame alone looks the same on both."""
    from ale_py import ALEInterface, LoggerMode, roms

    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.setFloat("repeat_action_probability", 0.0)
    ale.loadROM(str(roms.get_rom_path("pong")))
    ale.reset_game()
    actions = ale.getMinimalActionSet()  # NOOP FIRE RIGHT LEFT RIGHTFIRE LEFTFIRE; RIGHT moves the paddle up
    moved_on = {0: 0, 1: 0}
    y = ale.getRAM()[51]  # the player's paddle row
    for frame in range(600):
        ale.act(actions[2 + (frame // 40) % 2])  # up for 40 frames, down for 40, ...
        if ale.getRAM()[51] != y:
            moved_on[ale.getEpisodeFrameNumber() % 2] += 1
            y = ale.getRAM()[51]
    assert moved_on[1] == 0 and moved_on[0] > 100


def test_a_games_phase_is_its_reset_no_op_frames_mod_the_skip_and_a_done_step_starts_the_next_games():
    """Pong presses FIRE once after its no-ops, so a game whose first observation came 7 frames after
    reset_game() is on phase (7 - 1) % 4 = 2; without no-ops every game is on phase 0."""
    obs_cfg = PRESETS["fast"].obs
    plain = AtariBatchEnv(EnvConfig(game="pong", noop_max=0), obs_cfg, 3, num_threads=1)
    try:
        plain.reset(seed=0)
        assert plain.start_frames.tolist() == [1, 1, 1] and plain.phases().tolist() == [0, 0, 0]
    finally:
        plain.close()
    env = AtariBatchEnv(EnvConfig(game="pong", noop_max=30, max_episode_frames=40), obs_cfg, 8, num_threads=1)
    try:
        env.reset(seed=0)
        first = env.start_frames.copy()
        assert np.array_equal(env.phases(), (first - 1) % 4) and len(set(first.tolist())) > 1
        dones = np.zeros(8, dtype=bool)
        while not dones.any():  # the 40-frame cap ends every game within a few steps
            _, _, dones, _ = env.step(np.zeros(8, dtype=np.int64))
        assert env.start_frames.tolist() != first.tolist()  # the next games drew their own no-ops
    finally:
        env.close()


class _NeverJitter:
    """A jitter draw that never fires, so the frame-by-frame path must replay ALE's own frame skip."""

    def random(self):
        return 1.0


def test_the_frame_by_frame_skip_replays_ales_own_skip_and_max_pool_when_no_step_is_jittered():
    """Sticky actions on, a game cut short so it resets mid-run: screens, rewards, dones and lives agree."""
    obs_cfg = PRESETS["fast"].obs
    cfg = EnvConfig(game="pong", noop_max=30, max_episode_frames=200)
    native = AtariBatchEnv(cfg, obs_cfg, 2, num_threads=1)
    ours = AtariBatchEnv(dataclasses.replace(cfg, phase_jitter=0.5), obs_cfg, 2, num_threads=1)
    try:
        a, b = native.reset(seed=4), ours.reset(seed=4)
        ours._jitter_rng = _NeverJitter()
        np.testing.assert_array_equal(a, b)
        rng = np.random.default_rng(1)
        ended = 0
        for _ in range(80):
            acts = rng.integers(0, native.num_actions, 2)
            (oa, ra, da, ta), (ob, rb, db, tb) = native.step(acts), ours.step(acts)
            np.testing.assert_array_equal(oa, ob)
            np.testing.assert_array_equal(native.last_screens, ours.last_screens)
            assert ra.tolist() == rb.tolist() and da.tolist() == db.tolist() and ta.tolist() == tb.tolist()
            assert native.start_frames.tolist() == ours.start_frames.tolist()
            ended += int(da.sum())
        assert ended >= 2  # the 200-frame cap reset both games at least once
    finally:
        native.close()
        ours.close()


def test_a_jittered_step_lasts_one_frame_more_or_less_than_the_skip():
    cfg = EnvConfig(game="pong", noop_max=0, repeat_action_probability=0.0, phase_jitter=1.0)
    env = AtariBatchEnv(cfg, PRESETS["fast"].obs, 1, num_threads=1)
    try:
        env.reset(seed=0)
        lengths = []
        for _ in range(40):
            env._ale.send(np.zeros(1, dtype=np.int64), env._paddle)  # one frame of its own, to read the counter
            before = int(env._ale.recv()[-1]["episode_frame_number"][0])
            env.step(np.zeros(1, dtype=np.int64))
            env._ale.send(np.zeros(1, dtype=np.int64), env._paddle)
            lengths.append(int(env._ale.recv()[-1]["episode_frame_number"][0]) - before - 1)
        assert set(lengths) == {3, 5}  # p = 1: every step is jittered, both ways
    finally:
        env.close()


def test_reset_no_ops_are_uniform_frames_and_a_fire_game_counts_its_fire_among_them():
    """noop_max 30: Freeway (no FIRE) starts 0..29 frames after reset_game(); Pong presses FIRE as one of
    those frames, so it starts 1..29 frames in, and 1 as often as u = 0 and u = 1 together."""
    obs_cfg = PRESETS["fast"].obs
    starts = {}
    for game in ("freeway", "pong"):
        env = AtariBatchEnv(EnvConfig(game=game, noop_max=30), obs_cfg, 256, num_threads=1)
        try:
            env.reset(seed=0)
            starts[game] = env.start_frames.copy()
        finally:
            env.close()
    assert starts["freeway"].min() == 0 and starts["freeway"].max() == 29
    np.testing.assert_array_equal(starts["pong"], np.maximum(starts["freeway"], 1))  # the same draws u
