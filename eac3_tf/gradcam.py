"""The old import path of `eac3_tf.explain.gradcam`, kept so code written against it still runs.

Importing this module gives the very same module object, so its caches and names are shared.
"""

import sys

from eac3_tf.explain import gradcam as _gradcam

sys.modules[__name__] = _gradcam
