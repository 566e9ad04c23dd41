"""Converting the export graphs: ONNX through tf2onnx, LiteRT through a SavedModel, converters kept quiet."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

OPSET = 17  # ONNX opset: onnxruntime >= 1.14 runs it


def write_onnx(fn, path: Path) -> None:
    """Convert a tf.function with an input signature to ONNX at `path` (weights frozen into the graph)."""
    import tf2onnx

    with quiet_stderr():
        tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=OPSET, output_path=str(path))


def write_tflite(model, fn, path: Path) -> None:
    """Convert to LiteRT through a SavedModel whose serving signature is `fn` (outputs keep their names).

    Keras' `model.export(format="litert")` names the outputs output_0/output_1, and a converter fed a
    concrete function directly loses the Keras 3 weights; a SavedModel keeps both names and weights.
    """
    import keras
    import tensorflow as tf

    with tempfile.TemporaryDirectory(dir=path.parent) as saved:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", fn, input_signature=fn.input_signature)
        with quiet_stderr():
            archive.write_out(saved, verbose=False)
            data = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
    path.write_bytes(data)


class quiet_stderr:
    """Keep the converters' C++ log lines off stderr, so a failure stays one line (Python errors still raise)."""

    def __enter__(self) -> None:
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 2)

    def __exit__(self, *exc) -> None:
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        os.close(self.null)
