"""eac3_tf.explain.faithfulness_markdown: the report's tables, and what stands where a measure is missing."""

from eac3_tf.explain import faithfulness_markdown as fm


def test_a_game_without_a_colour_table_gets_one_line_instead_of_the_object_table():
    assert fm.objects_markdown({"game": "breakout"}) == [
        "No object checks: this tool locates objects by their colours, and `eac3_tf.explain.colours.OBJECT_COLOURS` "
        "has no colour table for Breakout.", ""]


def test_a_measure_reads_mean_plus_minus_std_and_counts_the_frames_it_is_undefined_on():
    assert fm.pm({"mean": 0.5, "std": 0.25, "n": 3, "undefined": 0}) == "0.500 ± 0.250"
    assert fm.pm({"mean": 0.5, "std": 0.3, "n": 3, "undefined": 2}, digits=1) == "0.5 ± 0.3 (2 undefined)"
    assert fm.pm({"mean": None, "std": None, "n": 0, "undefined": 4}) == "n/a"
