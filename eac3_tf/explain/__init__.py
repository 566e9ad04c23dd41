"""Explanations of actor-critic Keras agents: saliency methods behind one call (`explain`).

`explain(model, frames, method="gradcam", target=None, layer=None, **options)` gives a `MethodResult`
(maps, raw maps, the policy's actions, probabilities and values) for any of `METHODS`; see `methods`.
Importing this package loads TensorFlow (the top-level `eac3_tf` package does not).
"""

from eac3_tf.explain.methods import METHODS, MethodResult, explain

__all__ = ["METHODS", "MethodResult", "explain"]
