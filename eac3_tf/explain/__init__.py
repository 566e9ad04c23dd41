"""Explanations of actor-critic Keras agents: saliency methods behind one call (`explain`).

`explain(model, frames, method="gradcam", target=None, layer=None, **options)` gives a `MethodResult`
(maps, raw maps, the policy's actions, probabilities and values) for any of `METHODS`; see `methods`.

The names above are loaded on first use (PEP 562), not when the package is imported: `methods` needs
TensorFlow, and the package also holds what must work without it (the TF-free player draws with
`overlay`; the explainer page is built from plain arrays by `page`). Importing a submodule runs this
file first, so an eager import here would load TensorFlow for every one of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eac3_tf.explain.methods import METHODS, MethodResult, explain

__all__ = ["METHODS", "MethodResult", "explain"]


def __getattr__(name: str) -> Any:
    """Load `explain`, `METHODS` and `MethodResult` from `methods` (and TensorFlow with it) when first asked for."""
    if name in __all__:
        value = getattr(importlib.import_module("eac3_tf.explain.methods"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
