"""eac3_tf: Extended A3C agents for Atari, explained with Grad-CAM.

Importing the package must stay cheap and free of TensorFlow: the edge player imports it.
"""

__version__ = "0.1.0"
