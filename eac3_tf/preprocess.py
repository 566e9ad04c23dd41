"""The one transform from ALE screens to model inputs, in numpy only.

Training, evaluation, Grad-CAM and the edge player all call these functions, so the agent sees the
same pixels everywhere. Order: crop the play area, area-average by `downsample`, convert to gray
(ITU-R 601 integer weights), then stack the last `stack` frames along channels (oldest first).
"""

from __future__ import annotations

import numpy as np

from eac3_tf.config import ObsConfig

SCREEN_SHAPE = (210, 160, 3)  # ALE RGB screen: rows, columns, channels
_GRAY_WEIGHTS = (77, 150, 29)  # sum 256: 0.299/0.587/0.114 in 8-bit fixed point


def check_screens(screens: np.ndarray) -> np.ndarray:
    """Return `screens` as a batch (N, 210, 160, 3) uint8, or raise ValueError saying what is accepted."""
    screens = np.asarray(screens)
    if screens.dtype != np.uint8:
        raise ValueError(f"screens must be uint8 RGB in [0, 255], got dtype {screens.dtype}")
    if screens.shape == SCREEN_SHAPE:
        screens = screens[None]
    if screens.ndim != 4 or screens.shape[1:] != SCREEN_SHAPE:
        raise ValueError(f"screens must have shape (210, 160, 3) or (N, 210, 160, 3), got {screens.shape}")
    return screens


def preprocess(screens: np.ndarray, obs: ObsConfig) -> np.ndarray:
    """Map RGB screens (N, 210, 160, 3) uint8 to single frames (N, H, W, 1 or 3) uint8."""
    x = check_screens(screens)[:, obs.crop_top:obs.crop_bottom]
    k = obs.downsample
    if k == 2:  # the fast preset's case, unrolled: row pairs summed straight into uint16, then column pairs
        x16 = np.add(x[:, 0::2], x[:, 1::2], dtype=np.uint16)
        x = x16[:, :, 0::2] + x16[:, :, 1::2]
        x >>= 2
    elif k > 1:  # uint16 sums of strided slices: exact, and cheaper than a reshape-sum
        acc = np.zeros((x.shape[0], x.shape[1] // k, x.shape[2] // k, 3), dtype=np.uint16)
        for i in range(k):
            for j in range(k):
                acc += x[:, i::k, j::k]
        x = acc // (k * k)
    if obs.grayscale:
        gray = x[..., 0] * np.uint16(_GRAY_WEIGHTS[0])
        gray += x[..., 1] * np.uint16(_GRAY_WEIGHTS[1])
        gray += x[..., 2] * np.uint16(_GRAY_WEIGHTS[2])
        gray >>= 8
        x = gray[..., None]
    return x.astype(np.uint8, copy=False)


class FrameStack:
    """The last `obs.stack` preprocessed frames of N envs, channels-last, oldest first.

    A new episode's first frame fills the whole stack, so the model never sees frames of two episodes.
    The frames live in a ring of whole frames and are joined once per step: shifting a channels-last
    buffer by one channel is a strided copy that cost ~8x more on the envs' hot path.
    """

    def __init__(self, num_envs: int, obs: ObsConfig) -> None:
        """Allocate the ring for `num_envs` envs."""
        self.obs = obs
        self.ring = np.zeros((obs.stack, num_envs, obs.height, obs.width, obs.channels_per_frame), dtype=np.uint8)
        self.newest = obs.stack - 1  # ring slot of the newest frame

    def _joined(self) -> np.ndarray:
        k = self.obs.stack
        return np.concatenate([self.ring[(self.newest + 1 + j) % k] for j in range(k)], axis=-1)

    def reset(self, frames: np.ndarray) -> np.ndarray:
        """Start every env afresh from `frames` (N, H, W, c) and return the stacked observation."""
        self.ring[:] = frames[None]
        return self._joined()

    def push(self, frames: np.ndarray, new_episode: np.ndarray | None = None) -> np.ndarray:
        """Append `frames`; envs flagged in `new_episode` restart their stack from the frame."""
        self.newest = (self.newest + 1) % self.obs.stack
        self.ring[self.newest] = frames
        if new_episode is not None and np.any(new_episode):
            idx = np.flatnonzero(new_episode)
            self.ring[:, idx] = frames[idx][None]
        return self._joined()


def model_inputs(screen_sequence: np.ndarray, obs: ObsConfig) -> np.ndarray:
    """Stacked model inputs (T, H, W, C) for T consecutive screens of one episode.

    The first screen fills the stack, as at an episode start; used by Grad-CAM and tests.
    """
    frames = preprocess(screen_sequence, obs)
    stack = FrameStack(1, obs)
    out = [stack.reset(frames[:1])[0]]
    out += [stack.push(frames[t:t + 1])[0] for t in range(1, len(frames))]
    return np.stack(out)
