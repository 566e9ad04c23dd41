"""The graphs an export converts: the policy, and Grad-CAM of the greedy action with ONNX-friendly gradients.

tf2onnx cannot convert TensorFlow's MaxPoolGrad and ReluGrad kernels, so the layers between the Grad-CAM
layer and the heads are rebuilt here with custom gradients written in ops ONNX has.
"""

from __future__ import annotations

import math

INPUT_NAME = "frames"


def model_io(model) -> tuple[tuple[int, int, int], int]:
    """(H, W, C) input shape and number of actions of an E-A3C model."""
    shape = tuple(int(d) for d in model.input_shape[1:])
    if len(shape) != 3:
        raise ValueError(f"the model must take frames (N, H, W, C), got input shape {model.input_shape}")
    return shape, int(model.outputs[0].shape[-1])


def policy_function(model):
    """A tf.function `frames -> {"logits", "value"}` with a fixed input signature, as it is exported.

    Dict outputs give the ONNX and LiteRT outputs stable names; `value` is flattened to [N].
    """
    import tensorflow as tf

    shape, _ = model_io(model)
    spec = [tf.TensorSpec([None, *shape], tf.float32, name=INPUT_NAME)]

    @tf.function(input_signature=spec)
    def policy(frames):
        logits, value = model(frames, training=False)
        return {"logits": logits, "value": tf.reshape(value, [-1])}

    return policy


def cam_function(model, layer: str | None = None):
    """A tf.function `frames -> {"logits", "value", "action", "cam"}`: Grad-CAM of the greedy action.

    Equations (1)-(2) of `eac3_tf.explain.gradcam` inside one graph: a GradientTape takes d logit_a / dA for the
    greedy action a and the last conv layer's output A, alpha_k is the spatial mean of the gradient,
    L = ReLU(sum_k alpha_k A^k), each map is divided by its own max (an all-zero map stays zero) and
    bilinearly resized to the input's height and width, exactly as `gradcam.explain` does.

    The layers between A and the logits are applied here with custom gradients written in ops ONNX
    has: tf2onnx cannot convert TensorFlow's MaxPoolGrad and ReluGrad kernels. The max-pool gradient
    goes to the first maximum of each window in row-major order, the rule TensorFlow's kernel follows,
    so the maps match `gradcam.grad_cam` even where a window holds ties (e.g. all zeros after a ReLU).
    """
    import keras
    import tensorflow as tf

    from eac3_tf.explain.gradcam import resolve_layer

    shape, num_actions = model_io(model)
    name = resolve_layer(model, layer)
    torso = keras.Model(model.input, model.get_layer(name).output)
    head = head_function(model, name)
    spec = [tf.TensorSpec([None, *shape], tf.float32, name=INPUT_NAME)]

    @tf.function(input_signature=spec)
    def cam(frames):
        acts = tf.cast(torso(frames, training=False), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(acts)
            logits, value = head(acts)
        action = tf.argmax(logits, axis=-1)
        # d(sum_n logit[n, a_n]) / dA: the one-hot enters as the output gradient, so no reduce op is
        # differentiated (its gradient would need DynamicStitch, which ONNX lacks).
        grads = tape.gradient(logits, acts, output_gradients=tf.one_hot(action, num_actions, dtype=logits.dtype))
        alpha = tf.reduce_mean(grads, axis=(1, 2))  # equation (1)
        maps = tf.nn.relu(tf.einsum("nhwk,nk->nhw", acts, alpha))  # equation (2)
        peak = tf.reduce_max(maps, axis=(1, 2), keepdims=True)
        maps = tf.math.divide_no_nan(maps, peak)  # 0/0 -> 0: an all-zero map stays zero
        maps = tf.image.resize(maps[..., None], shape[:2], method="bilinear")[..., 0]
        return {"logits": logits, "value": tf.reshape(value, [-1]), "action": action,
                "cam": tf.clip_by_value(maps, 0.0, 1.0)}

    return cam


def head_function(model, layer: str):
    """The layers from `layer`'s output to (logits, value) as a function of A with ONNX-friendly gradients.

    Supports what `eac3_tf.model` builds after its last conv: max-pools (pool size = stride), Flatten, and
    Dense layers with relu or linear activations; the Dense layers named "logits" and "value" are the heads.
    """
    import keras
    import tensorflow as tf

    names = [lay.name for lay in model.layers]
    steps = []
    for lay in model.layers[names.index(layer) + 1:]:
        if isinstance(lay, keras.layers.MaxPooling2D):
            pool, stride = tuple(lay.pool_size), tuple(lay.strides)
            if pool != stride or pool[0] != pool[1]:
                raise ValueError(f"Grad-CAM export needs square max-pools with stride = size, {lay.name} has "
                                 f"pool {pool}, strides {stride}")
            steps.append((lay.name, "pool", (pool[0], lay.padding)))
        elif isinstance(lay, keras.layers.Flatten):
            steps.append((lay.name, "flatten", None))
        elif isinstance(lay, keras.layers.Dense):
            act = lay.get_config().get("activation")
            if act not in ("relu", "linear"):
                raise ValueError(f"Grad-CAM export supports relu or linear Dense layers, {lay.name} uses {act}")
            steps.append((lay.name, "dense", (lay, act == "relu")))
        else:
            raise ValueError(f"Grad-CAM export cannot differentiate layer {lay.name} ({type(lay).__name__})")
    if {"logits", "value"} - {n for n, kind, _ in steps if kind == "dense"}:
        raise ValueError("Grad-CAM export needs Dense heads named 'logits' and 'value' after the torso")

    def dense(x, lay, relu: bool):
        y = tf.matmul(x, tf.convert_to_tensor(lay.kernel)) + tf.convert_to_tensor(lay.bias)
        return relu_masked_gradient(y) if relu else y

    def head(acts):
        x, out = acts, {}
        for name, kind, arg in steps:
            if kind == "pool":
                x = max_pool_first_max(x, *arg)
            elif kind == "flatten":
                x = tf.reshape(x, [-1, math.prod(x.shape[1:])])
            elif name in ("logits", "value"):
                out[name] = dense(x, *arg)  # both heads read the hidden layer
            else:
                x = dense(x, *arg)
        return out["logits"], out["value"]

    return head


def relu_masked_gradient(x):
    """ReLU whose gradient is a mask (ONNX has no ReluGrad); the gradient at 0 is 0, as in TensorFlow."""
    import tensorflow as tf

    @tf.custom_gradient
    def relu(x):
        def grad(dy):
            return dy * tf.cast(x > 0, dy.dtype)

        return tf.nn.relu(x), grad

    return relu(x)


def max_pool_first_max(x, p: int, padding: str):
    """A p x p, stride p max-pool (Keras' padding) whose gradient is built from reshapes and an argmax.

    Each window's gradient goes to its FIRST maximum in row-major order, as TensorFlow's MaxPoolGrad does.
    """
    import tensorflow as tf

    _, h, w, c = (int(d) if d is not None else None for d in x.shape)
    if padding == "same":
        ho, wo = -(-h // p), -(-w // p)
        ph, pw = ho * p - h, wo * p - w
        pads = [[0, 0], [ph // 2, ph - ph // 2], [pw // 2, pw - pw // 2], [0, 0]]
    else:
        ho, wo = h // p, w // p
        pads = None

    @tf.custom_gradient
    def pool(x):
        y = tf.nn.max_pool2d(x, p, p, padding.upper())

        def grad(dy):
            if pads is not None:
                xw = tf.pad(x, pads, constant_values=x.dtype.min)  # padding never wins a window
            else:
                xw = x[:, :ho * p, :wo * p]
            win = tf.transpose(tf.reshape(xw, [-1, ho, p, wo, p, c]), [0, 1, 3, 5, 2, 4])
            first = tf.one_hot(tf.argmax(tf.reshape(win, [-1, ho, wo, c, p * p]), axis=-1), p * p, dtype=dy.dtype)
            g = tf.reshape(first * dy[..., None], [-1, ho, wo, c, p, p])
            g = tf.reshape(tf.transpose(g, [0, 1, 4, 2, 5, 3]), [-1, ho * p, wo * p, c])
            if pads is not None:
                return g[:, pads[1][0]:pads[1][0] + h, pads[2][0]:pads[2][0] + w]
            return tf.pad(g, [[0, 0], [0, h - ho * p], [0, w - wo * p], [0, 0]])

        return y, grad

    return pool(x)


def last_conv(model) -> str:
    """The layer whose Grad-CAM the export computes: the Grad-CAM default (see `eac3_tf.explain.gradcam`)."""
    from eac3_tf.explain.gradcam import resolve_layer

    return resolve_layer(model, None)
