"""Section 5 of the CS294 TensorFlow notebook, the main job, as written there with
only the import changed: a 1-20-20-1 ReLU network fit to noisy sin(x) with Adam,
checkpointed every 1000 steps, restored into a fresh graph to predict on all 10,000
points.

    python examples/python/sine.py [OUT_DIR]

Three departures from the notebook's text, each marked `# kiln:`: the notebook's two
slips (`tf.zeros[20]` is not valid Python, and it restores from a path it never saved
to), and checkpoints go to OUT_DIR (a fresh temporary directory by default) rather
than into the working directory. The plot is written when matplotlib is installed.
"""
import os
import sys
import tempfile

import numpy as np

import kiln.compat.v1 as tf  # kiln: the one line that differs (was `import tensorflow as tf`)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # kiln: plotting is optional
    plt = None

OUT = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="kiln-sine-")  # kiln
np.random.seed(0)  # kiln: a fixed seed, so runs can be compared


def tf_reset():
    try:
        sess.close()
    except:  # noqa: E722 (the notebook's)
        pass
    tf.reset_default_graph()
    return tf.Session()


inputs = np.linspace(-2 * np.pi, 2 * np.pi, 10000)[:, None]
outputs = np.sin(inputs) + 0.05 * np.random.normal(size=[len(inputs), 1])

sess = tf_reset()


def create_model():
    input_ph = tf.placeholder(dtype=tf.float32, shape=[None, 1])
    output_ph = tf.placeholder(dtype=tf.float32, shape=[None, 1])
    # ceate variables
    W0 = tf.get_variable(name="W0", shape=[1, 20], initializer=tf.contrib.layers.xavier_initializer())
    W1 = tf.get_variable(name="W1", shape=[20, 20], initializer=tf.contrib.layers.xavier_initializer())
    W2 = tf.get_variable(name="W2", shape=[20, 1], initializer=tf.contrib.layers.xavier_initializer())
    # kiln: the notebook's `tf.constant_initializer(tf.zeros[20])` is a TypeError in TF too
    b0 = tf.get_variable(name="b0", shape=[20], initializer=tf.constant_initializer(np.zeros([20])))
    b1 = tf.get_variable(name="b1", shape=[20], initializer=tf.constant_initializer(np.zeros([20])))
    b2 = tf.get_variable(name="b2", shape=[1], initializer=tf.constant_initializer(np.zeros([1])))
    weights = [W0, W1, W2]
    biases = [b0, b1, b2]
    activations = [tf.nn.relu, tf.nn.relu, None]
    # creat computation graph
    layer = input_ph
    for W, b, activation in zip(weights, biases, activations):
        layer = tf.matmul(layer, W) + b
        if activation is not None:
            layer = activation(layer)
    output_pred = layer
    return input_ph, output_ph, output_pred


input_ph, output_ph, output_pred = create_model()

# create loss
mse = tf.reduce_mean(0.5 * tf.square(output_pred - output_ph))
# create optimizer
opt = tf.train.AdamOptimizer().minimize(mse)
# initialize variables
sess.run(tf.global_variables_initializer())
# create saver to save model variables
saver = tf.train.Saver()

batch_size = 32
for training_step in range(10000):
    indices = np.random.randint(low=0, high=len(inputs), size=batch_size)
    input_batch = inputs[indices]
    output_batch = outputs[indices]
    _, mse_run = sess.run([opt, mse], feed_dict={input_ph: input_batch, output_ph: output_batch})
    if training_step % 1000 == 0:
        print("{0:04d} mse: {1:.3f}".format(training_step, mse_run))
        saver.save(sess, os.path.join(OUT, "model/ckpt"))  # kiln: under OUT

sess = tf_reset()
input_ph, output_ph, output_pred = create_model()
saver = tf.train.Saver()
try:
    saver.restore(sess, os.path.join(OUT, "model.ckpt"))  # the notebook's path: never saved to
except tf.errors.NotFoundError as e:
    print("restore from the notebook's path fails as it should:\n  {0}".format(e))
    saver.restore(sess, tf.train.latest_checkpoint(os.path.join(OUT, "model")))  # kiln
output_pred_run = sess.run(output_pred, feed_dict={input_ph: inputs})
print("final mse: {0:.4f}".format(np.mean(0.5 * np.square(output_pred_run - outputs))))  # kiln: as the Rust example

if plt is not None:
    plt.scatter(inputs[:, 0], outputs[:, 0], c="k", marker="o", s=0.1)
    plt.scatter(inputs[:, 0], output_pred_run[:, 0], c="r", marker="o", s=0.1)
    plt.savefig(os.path.join(OUT, "sine_fit.png"))
    print("wrote {0}".format(os.path.join(OUT, "sine_fit.png")))
