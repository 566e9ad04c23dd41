"""The saliency methods' names and how figures title them, known without loading TensorFlow.

Command lines check a --method against these before any model work.
"""

from __future__ import annotations

TITLES: dict[str, str] = {
    "gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "hirescam": "HiResCAM", "xgradcam": "XGrad-CAM",
    "layercam": "LayerCAM", "eigencam": "Eigen-CAM", "scorecam": "Score-CAM",
    "perturbation": "perturbation saliency", "smoothgrad": "SmoothGrad",
}
METHODS: tuple[str, ...] = tuple(TITLES)
