import json
import os

import numpy as np
import pytest

from eac3_tf import io


def test_written_files_hold_what_was_given_and_no_temp_file_is_left(tmp_path):
    io.write_text(tmp_path / "a.md", "x\n")
    io.write_json(tmp_path / "b.json", {"b": 1, "a": [2]})
    io.write_bytes(tmp_path / "c.bin", b"\x00\x01")
    assert (tmp_path / "a.md").read_text() == "x\n"
    assert (tmp_path / "b.json").read_text() == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'  # sorted keys, newline
    assert (tmp_path / "c.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.json", "c.bin"]


def test_a_writer_that_fails_leaves_the_old_file_and_no_temp_file(tmp_path):
    (tmp_path / "fig.png").write_text("old")

    def half_then_fail(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        io.write_with(tmp_path / "fig.png", half_then_fail)
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"] and (tmp_path / "fig.png").read_text() == "old"


def test_the_temp_file_keeps_the_suffix_so_writers_can_pick_a_format_by_it(tmp_path):
    seen = []
    io.write_with(tmp_path / "clip.gif", lambda tmp: (seen.append(tmp), open(tmp, "w").close()))
    assert seen[0].endswith(".gif") and os.path.dirname(seen[0]) == str(tmp_path)


def test_copy_folder_replaces_the_old_copy_whole(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.json").write_text(json.dumps({"new": True}))
    dest.mkdir()
    (dest / "stale.txt").write_text("old")
    io.copy_folder(src, dest)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["sub", "sub/f.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "src"]  # nothing partial or old left


def test_a_report_is_its_json_with_the_seconds_last_and_its_markdown_side_by_side(tmp_path):
    import time

    from eac3_tf.io import write_report

    line = write_report(tmp_path / "out" / "board", {"command": "c", "rows": [1, 2]}, "# board", time.time() - 2.2)
    record = json.loads((tmp_path / "out" / "board.json").read_text())
    assert list(record) == ["command", "rows", "seconds"] and record["rows"] == [1, 2]
    assert 2.2 <= record["seconds"] < 2.5  # started 2.2 s before the call
    assert (tmp_path / "out" / "board.md").read_text() == "# board\n"
    assert line == f"wrote {tmp_path / 'out' / 'board.json'} and {tmp_path / 'out' / 'board.md'} in 2 s"


def test_finite_makes_every_nan_and_infinity_none_so_the_json_is_strict():
    data = {"a": [float("nan"), 1.0, (float("inf"), 2)], "b": {"c": np.float64("nan"), "d": np.float64(0.5)}, "e": "x"}
    strict = json.dumps(io.finite(data), allow_nan=False)  # raises on any NaN left
    assert json.loads(strict) == {"a": [None, 1.0, [None, 2]], "b": {"c": None, "d": 0.5}, "e": "x"}


def test_a_staged_folder_replaces_the_old_one_when_the_block_ends(tmp_path):
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "old.txt").write_text("old")
    with io.staged_folder(tmp_path / "dest") as tmp:
        (tmp / "new.txt").write_text("new")
        assert (tmp_path / "dest" / "old.txt").is_file()  # the old folder stays until the new one is complete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["new.txt"]


def test_a_staged_folder_whose_block_raises_leaves_the_old_one_and_no_temp(tmp_path):
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="conversion failed"):
        with io.staged_folder(tmp_path / "dest") as tmp:
            (tmp / "new.txt").write_text("half")
            raise RuntimeError("conversion failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["old.txt"]
