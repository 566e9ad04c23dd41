"""The kill -9 tally: what counts as resumed, monotonic and ok, and how a round and the page read."""

from eac3_tf.reliability_report import markdown, round_line, summarize

CKPT = "/runs/kill9/checkpoints/ckpt-000000000200"


def a_round(kill, mode="random", frames=200, before=0, new=(), leftovers=(), problems=(), expected=None):
    """A round record as the kill loop keeps it, with only what the tally reads."""
    return {"kill": kill, "mode": mode, "seconds_after_ready": 1.234, "saves_before_kill": 1, "resumed": True,
            "expected_resume": expected, "newest": f"ckpt-{frames:012d}", "frames": frames, "frames_before": before,
            "new": list(new), "listed": ["ckpt-000000000100", f"ckpt-{frames:012d}"], "leftovers": list(leftovers),
            "corrupt": [], "problems": list(problems)}


FINAL = {"resumed": True, "resume_line": None, "exit_code": 0, "frames": 500, "leftovers": [], "corrupt": [],
         "problems": []}
SETTINGS = {"task": "Catch", "workers": 1, "envs_per_worker": 4, "checkpoint_every_frames": 100, "keep": 3,
            "window_s": 1.0, "seed": 1}


def test_every_kill_resumed_when_later_rounds_and_the_final_resume_did_the_first_round_starts_fresh():
    rounds = [a_round(1, new=["ckpt-000000000100", "ckpt-000000000200"]),
              a_round(2, "mid-save", frames=300, before=200, new=["ckpt-000000000300"],
                      leftovers=[".ckpt-000000000400.ab.tmp"], expected=CKPT)]
    tally = summarize(rounds, FINAL, kills=2, checkpoints_seen=3, settings=SETTINGS, seconds=1.5)
    assert (tally["ok"], tally["resumed"], tally["corrupt"], tally["frames_monotonic"]) == (True, 2, 0, True)
    assert (tally["first_frames"], tally["last_frames"], tally["mid_save_kills"]) == (200, 500, 1)
    assert (tally["temp_folders_left_by_kills"], tally["kills_after_new_checkpoints"]) == (1, 2)
    assert tally["line"] == ("2/2 resumed, 0 corrupt, frames monotonic (200 -> 500), 1 kills mid-save, 1 temp folders "
                             "left by kills, none taken for a checkpoint")


def test_a_problem_in_any_round_fails_the_tally_and_is_named_by_its_kill():
    rounds = [a_round(1), a_round(2, frames=100, before=200, problems=["frames went backwards: 200 -> 100"])]
    tally = summarize(rounds, FINAL, kills=2, checkpoints_seen=2, settings=SETTINGS, seconds=1.5)
    assert not tally["ok"] and not tally["frames_monotonic"]
    assert tally["problems"] == ["kill 2: frames went backwards: 200 -> 100"]
    assert "frames NOT monotonic (200 -> 500)" in tally["line"]


def test_a_child_that_never_started_ends_the_loop_short_of_the_kills_asked():
    rounds = [{"kill": 1, "problems": ["the child did not start: ImportError"], "resumed": False}]
    final = {**FINAL, "resumed": False, "frames": 0, "problems": ["exit code 1: []"]}
    tally = summarize(rounds, final, kills=3, checkpoints_seen=0, settings=SETTINGS, seconds=1.5)
    assert (tally["ok"], tally["kills"], tally["kills_asked"], tally["resumed"]) == (False, 1, 3, 0)
    assert tally["problems"] == ["kill 1: the child did not start: ImportError", "final resume: exit code 1: []"]


def test_a_temporary_folder_taken_for_a_checkpoint_is_counted_in_the_line():
    listed = "a temporary folder is listed as a checkpoint: ['.ckpt-000000000200.ab.tmp']"
    tally = summarize([a_round(1, problems=[listed])], FINAL, kills=1, checkpoints_seen=1, settings=SETTINGS,
                      seconds=1.5)
    assert tally["temp_folders_listed_as_checkpoints"] == 1
    assert tally["line"].endswith(", 1 taken for a checkpoint")


def test_a_round_line_says_when_the_kill_came_where_the_child_resumed_and_what_is_on_disk():
    rec = a_round(2, "mid-save", frames=300, before=200, new=["ckpt-000000000300"], expected=CKPT)
    assert round_line(rec, kills=20, seen=3) == (
        "kill  2/20: SIGKILL  1.23 s after start, 1 saves (mid-save); resumed from ckpt-000000000200: ok; "
        "newest ckpt-000000000300 verifies and loads; frames 200 -> 300; 1 new, 2 on disk, 3 seen, all intact: yes; "
        "leftover temp folders 0 (not listed)")
    assert round_line({**rec, "problems": ["x"]}, kills=20, seen=3).endswith("; PROBLEMS: ['x']")


def test_the_page_shows_the_command_the_tally_line_a_row_per_kill_and_the_final_resume():
    rounds = [a_round(1, new=["ckpt-000000000100"]), a_round(2, frames=300, before=200, expected=CKPT,
                                                              problems=["resumed from the wrong place"])]
    tally = summarize(rounds, FINAL, kills=2, checkpoints_seen=3, settings=SETTINGS, seconds=12.4)
    lines = markdown(tally, "python tools/kill9.py --kills 2").splitlines()
    assert lines[0] == "# kill -9 crash consistency"
    assert lines[2].startswith("`python tools/kill9.py --kills 2`: Catch, 1 workers x 4 envs, a checkpoint every 100 "
                               "frames, newest 3 kept;")
    assert lines[2].endswith(" 12 s in all.")
    assert lines[4] == f"**{tally['line']}**"
    assert lines[8] == "| 1 | random | 1.23 | scratch | ckpt-000000000200 | 200 | 1 | 2 | 0 | ok |"
    assert lines[9] == ("| 2 | random | 1.23 | ckpt-000000000200 | ckpt-000000000300 | 300 | 0 | 2 | 0 | "
                        "resumed from the wrong place |")
    assert lines[-1] == "Final resume: exit code 0, ran to 500 frames, temp folders left 0."
