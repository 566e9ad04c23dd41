"""evaluate: the report's per-phase summary and its Markdown line."""

from eac3_tf.evaluate import by_phase, phase_line


def test_games_are_summarised_per_frame_phase():
    phases = by_phase([1.0, 3.0, -2.0, 5.0], [0, 2, 0, 2])
    assert phases == {"0": {"episodes": 2, "mean": -0.5, "std": 1.5, "best": 1.0, "min": -2.0},
                      "2": {"episodes": 2, "mean": 4.0, "std": 1.0, "best": 5.0, "min": 3.0}}


def test_the_phase_line_names_each_phases_mean_std_and_games():
    line = phase_line(by_phase([1.0, 3.0, -2.0], [1, 1, 3]))
    assert line == ("By frame phase (reset NOOP frames mod the frame skip): 1: 2.00 ± 1.00 (2) · "
                    "3: -2.00 ± 0.00 (1)")


def test_the_cli_writes_each_games_phase_and_a_line_per_phase_under_no_op_starts(tmp_path):
    """An untrained fast Pong net, 8 games cut at 400 frames under no-op starts: every game's phase is kept,
    the summaries per phase add up to the games, and the Markdown names the phases it saw."""
    import dataclasses
    import json

    import keras

    from eac3_tf import checkpoint
    from eac3_tf.cli import call
    from eac3_tf.config import PRESETS, EnvConfig
    from eac3_tf.evaluate import main
    from eac3_tf.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model((80, 80, 4), 6, PRESETS["fast"])
    state = {"frames": 0, "meta": {"game": "pong", "preset": "fast", "env": dataclasses.asdict(EnvConfig(game="pong"))}}
    ckpt = checkpoint.save(tmp_path / "run", model, optimizer_vars=[], state=state, keep=1)
    out = tmp_path / "eval.json"
    assert call(main, ["--checkpoint", str(ckpt), "--episodes", "8", "--envs", "8", "--protocol", "noop",
                       "--max_frames", "400", "--output", str(out)], "evaluate.py") == 0
    report = json.loads(out.read_text())
    assert len(report["phases"]) == 8 and set(report["phases"]) <= {0, 1, 2, 3}
    assert sum(v["episodes"] for v in report["by_phase"].values()) == 8
    assert report["by_phase"] == by_phase(report["scores"], report["phases"])
    table = out.with_suffix(".md").read_text()
    assert ("By frame phase" in table) == (len(report["by_phase"]) > 1)
