"""The CS294 TensorFlow notebook (fall 2018, lecture 3), cell by cell, on kiln.

    python examples/python/notebook.py

Only the import differs from the notebook's code, except where the notebook's own
code fails under TF too; each such line is marked `# kiln:` and says why. Section 5
(the training run) is `sine.py` beside this file, run here in its place.
"""
import os
import runpy

import numpy as np

import kiln.compat.v1 as tf  # kiln: the one line that differs (was `import tensorflow as tf`)


def tf_reset():
    try:
        sess.close()
    except:  # noqa: E722 (the notebook's)
        pass
    tf.reset_default_graph()
    return tf.Session()


# ## How to input data
sess = tf_reset()
a = tf.constant(1.0)
b = tf.constant(2.0)
c = a + b
c_run = sess.run(c)
print("c = {0}".format(c_run))

sess = tf_reset()
a = tf.placeholder(dtype=tf.float32, shape=[1], name="a_placeholder")
b = tf.placeholder(dtype=tf.float32, shape=[1], name="b_placeholder")
c = a + b
c0_run = sess.run(c, feed_dict={a: [1.0], b: [2.0]})
c1_run = sess.run(c, feed_dict={a: [2.0], b: [4.0]})
print("c0 = {0}".format(c0_run))
print("c1 = {0}".format(c1_run))

sess = tf_reset()
a = tf.placeholder(dtype=tf.float32, shape=[None], name="a_placeholder")
b = tf.placeholder(dtype=tf.float32, shape=[None], name="b_placeholder")
c = a + b
c0_run = sess.run(c, feed_dict={a: [1.0], b: [2.0]})
c1_run = sess.run(c, feed_dict={a: [1.0, 2.0], b: [2.0, 4.0]})
print(a)
print("a shape: {0}".format(a.get_shape()))
print(b)
print("b shape: {0}".format(b.get_shape()))
print("c0 = {0}".format(c0_run))
print("c1 = {0}".format(c1_run))

# ## How to perform computations
sess = tf_reset()
a = tf.constant([[-1.0], [-2.0], [-3.0]], dtype=tf.float32)
b = tf.constant([[1.0, 2.0, 3.0]], dtype=tf.float32)
a_run, b_run = sess.run([a, b])
print("a:\n{0}".format(a_run))
print("b:\n{0}".format(b_run))

c = b + b
c_run = sess.run(c)
print("b:\n{0}".format(b_run))
print("c:\n{0}".format(c_run))

c = a + b  # kiln warns on stderr: an outer broadcast of a column and a row
c_run = sess.run(c)
print("a:\n{0}".format(a_run))
print("b:\n{0}".format(b_run))
print("c:\n{0}".format(c_run))

c_elementwise = a * b
c_matmul = tf.matmul(b, a)
c_elementwise_run, c_matmul_run = sess.run([c_elementwise, c_matmul])
print("a:\n{0}".format(a_run))
print("b:\n{0}".format(b_run))
print("c_elementwise:\n{0}".format(c_elementwise_run))
print("c_matmul:\n{0}".format(c_matmul_run))

c0 = b + b
c1 = c0 + 1
c0_run, c1_run = sess.run([c0, c1])
print("b:\n{0}".format(b_run))
print("c0:\n{0}".format(c0_run))
print("c1:\n{0}".format(c1_run))

c = tf.reduce_mean(b)
c_run = sess.run(c)
print("b:\n{0}".format(b_run))
print("c:\n{0}".format(c_run))

# ## How to create variables
sess = tf_reset()
b = tf.constant([[1.0, 2.0, 3.0]], dtype=tf.float32)
b_run = sess.run(b)
print("b:\n{0}".format(b_run))

var_init_value = [[2.0, 4.0, 6.0]]
try:
    var = tf.get_variable(
        name="myvar", shape=[1, 2], dtype=tf.float32, initializer=tf.constant_initializer(var_init_value)
    )
except ValueError as e:  # kiln: the notebook declares shape [1,2] for a [1,3] value
    print("kiln rejects the notebook's slip:\n  {0}".format(e))
    var = tf.get_variable(
        name="myvar", shape=[1, 3], dtype=tf.float32, initializer=tf.constant_initializer(var_init_value)
    )
print(var)

print(tf.global_variables())

c = b + var
print(b)
print(var)
print(c)

init_op = tf.global_variables_initializer()
sess.run(init_op)

c_run = sess.run(c)
print("b:\n{0}".format(b_run))
print("var:\n{0}".format(var_init_value))
print("c:\n{0}".format(c_run))

# ## How to train a neural network for a simple regression problem: sine.py
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sine.py"), run_name="__main__")

# ## Tips and tricks
a = tf.constant(np.random.random((4, 1)))  # kiln: the notebook's `random(4,1)` is a TypeError
b = tf.constant(np.random.random((1, 4)))  # kiln: likewise
c = a * b
assert c.get_shape() == (4, 4)

sess = tf_reset()
a = tf.get_variable("var1", shape=[4, 6])
b = tf.get_variable("var2", shape=[2, 7])
for var in tf.global_variables():
    print(var.name)

print(tf.reduce_mean.__doc__)  # kiln: the notebook calls help(tf.reduce_mean), which pages

sess = tf_reset()
with tf.variable_scope("layer_0"):
    W0 = tf.get_variable(name="W0", shape=[1, 20], initializer=tf.contrib.layers.xavier_initializer())
    b0 = tf.get_variable(name="b0", shape=[20], initializer=tf.constant_initializer(np.zeros([20])))  # kiln: tf.zeros[20]
with tf.variable_scope("layer_1"):
    W1 = tf.get_variable(name="W1", shape=[20, 20], initializer=tf.contrib.layers.xavier_initializer())
    b1 = tf.get_variable(name="b1", shape=[20], initializer=tf.constant_initializer(np.zeros([20])))  # kiln: likewise
with tf.variable_scope("layer_2"):
    W2 = tf.get_variable(name="W2", shape=[20, 1], initializer=tf.contrib.layers.xavier_initializer())
    b2 = tf.get_variable(name="b2", shape=[1], initializer=tf.constant_initializer(np.zeros([1])))  # kiln: likewise

var_names = sorted([v.name for v in tf.global_variables()])
print("\n".join(var_names))

gpu_device = 0
gpu_frac = 0.5

os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_device)
gpu_options = tf.GPUOptions(per_process_gpu_memory_fraction=gpu_frac)
config = tf.ConfigProto(gpu_options=gpu_options)
tf_sess = tf.Session(graph=tf.Graph(), config=config)
