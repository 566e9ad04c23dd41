import subprocess
import sys

NUMPY_ONLY = ["eac3_tf", "eac3_tf.config", "eac3_tf.preprocess", "eac3_tf.envs", "eac3_tf.toy", "eac3_tf.cli",
              "eac3_tf.policy", "eac3_tf.explain", "eac3_tf.explain.overlay", "eac3_tf.explain.page"]


def test_importing_the_package_and_its_numpy_modules_does_not_load_tensorflow():
    code = f"import sys, {', '.join(NUMPY_ONLY)}; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
