"""The settings every deletion/insertion figure of this project is measured with, in one place (TF-free)."""

DELETION_STEPS = 20  # steps from no pixels to all of them
BLUR_SIGMA = 5.0  # the baseline: the frame blurred with a Gaussian of this sigma, pixels
