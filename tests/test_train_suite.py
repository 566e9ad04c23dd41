"""tools/train_suite.py's own command line, run as a user runs it; what it computes is tested in tests/test_suite.py."""

import subprocess
import sys

from conftest import ROOT


def test_a_tag_that_is_not_a_plain_folder_name_is_refused_in_one_line():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "train_suite.py"), "--tag", "../elsewhere", "--stages",
                          "table"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1
    assert "train_suite.py: error: --tag '../elsewhere': letters, digits and '_' only" in out.stderr
