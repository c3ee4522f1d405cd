"""``tf.train``: the optimizers, ``Saver`` and ``latest_checkpoint``."""
from ... import _kiln
from ._graph import Variable as _Variable
from ._graph import get_default_graph as _get_default_graph


class Optimizer:
    """TF1's optimizer interface: ``minimize``, ``compute_gradients``, ``apply_gradients``."""

    def __init__(self, kind, learning_rate, args, name):
        from ._graph import Tensor

        lr = learning_rate._t if isinstance(learning_rate, Tensor) else float(learning_rate)
        self._o = _kiln.Optimizer(kind, lr, [float(a) for a in args])
        self._name = name

    def _wrap(self, t):
        return _get_default_graph()._wrap(t)

    def _step(self, train_op, global_step):
        if global_step is None:
            return train_op
        from ._ops import group

        return group(train_op, global_step.assign(global_step + 1))

    def minimize(self, loss, global_step=None, var_list=None, **kwargs):
        vl = None if var_list is None else [v._t for v in var_list]
        return self._step(self._wrap(self._o.minimize(loss._t, vl)), global_step)

    def compute_gradients(self, loss, var_list=None, **kwargs):
        vl = None if var_list is None else [v._t for v in var_list]
        g = _get_default_graph()
        return [(None if d is None else g._wrap(d), g._wrap(v)) for d, v in self._o.compute_gradients(loss._t, vl)]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        pairs = [(None if d is None else d._t, v._t) for d, v in grads_and_vars]
        return self._step(self._wrap(self._o.apply_gradients(pairs)), global_step)

    def get_name(self):
        return self._name


class GradientDescentOptimizer(Optimizer):
    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__("sgd", learning_rate, [], name)


class MomentumOptimizer(Optimizer):
    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__("momentum", learning_rate, [momentum, 1.0 if use_nesterov else 0.0], name)


class AdamOptimizer(Optimizer):
    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, use_locking=False, name="Adam"):
        super().__init__("adam", learning_rate, [beta1, beta2, epsilon], name)


class RMSPropOptimizer(Optimizer):
    def __init__(
        self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, centered=False, name="RMSProp"
    ):
        if centered:
            raise NotImplementedError("kiln's RMSProp is not centered")
        super().__init__("rmsprop", learning_rate, [decay, momentum, epsilon], name)


class Saver:
    """Saves and restores variables as checkpoints (atomic writes, checksummed)."""

    def __init__(self, var_list=None, max_to_keep=5, **kwargs):
        g = _get_default_graph()
        if isinstance(var_list, dict):
            var_list = list(var_list.values())
        vl = None if var_list is None else [v._t for v in var_list]
        self._s = _kiln.Saver(g._g, vl, 5 if max_to_keep is None else int(max_to_keep))

    def save(self, sess, save_path, global_step=None, **kwargs):
        step = None if global_step is None else int(sess.run(global_step) if isinstance(global_step, _Variable) else global_step)
        return self._s.save(sess._s, str(save_path), step)

    def restore(self, sess, save_path):
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        self._s.restore(sess._s, str(save_path))


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    return _kiln.latest_checkpoint(str(checkpoint_dir))


def get_global_step(graph=None):
    g = graph or _get_default_graph()
    t = _kiln.global_step(g._g, False)
    return None if t is None else g._wrap(t)


def get_or_create_global_step(graph=None):
    g = graph or _get_default_graph()
    return g._wrap(_kiln.global_step(g._g, True))


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """``learning_rate * decay_rate ^ (global_step / decay_steps)`` (the exponent
    floored with ``staircase``)."""
    s = global_step
    return s._graph._wrap(
        _kiln.decay(False, float(learning_rate), s._t, float(decay_steps), float(decay_rate), float(bool(staircase)))
    )


def polynomial_decay(
    learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False, name=None
):
    """``(lr - end) * (1 - min(step, decay_steps) / decay_steps) ^ power + end``."""
    if cycle:
        raise NotImplementedError("kiln's polynomial_decay does not cycle")
    s = global_step
    return s._graph._wrap(
        _kiln.decay(True, float(learning_rate), s._t, float(decay_steps), float(end_learning_rate), float(power))
    )


def piecewise_constant(x, boundaries, values, name=None):
    """``values[0]`` while ``x <= boundaries[0]``, ..., ``values[-1]`` after."""
    return x._graph._wrap(_kiln.piecewise_constant(x._t, [float(b) for b in boundaries], [float(v) for v in values]))
