#!/usr/bin/python3
"""Makes the small CNN graphs the edge runtime's operator tests run, with seeded random weights
and inputs (Debian's /usr/bin/python3 with python3-onnx and python3-numpy). Their expected
outputs come from ONNX Runtime, not from this script: run make_cnn_oracle.mjs after it.

    /usr/bin/python3 tests/edge/data/make_cnn_oracle.py && node tests/edge/data/make_cnn_oracle.mjs

Writes cnn_<name>.onnx and cnn_<name>.input.json (shape + values) beside this file.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261207)


def weight(name, *shape, scale=0.5):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def bn(prefix, c):
    return [numpy_helper.from_array((1 + 0.2 * rng.standard_normal(c)).astype(np.float32), prefix + "_s"),
            numpy_helper.from_array((0.1 * rng.standard_normal(c)).astype(np.float32), prefix + "_b"),
            numpy_helper.from_array((0.1 * rng.standard_normal(c)).astype(np.float32), prefix + "_m"),
            numpy_helper.from_array((0.5 + rng.random(c)).astype(np.float32), prefix + "_v")]


def save(name, nodes, inits, in_shape, out_shape):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                              producer_name="keel-cnn-oracle")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, f"cnn_{name}.onnx"))
    x = rng.standard_normal(in_shape).astype(np.float32)
    with open(os.path.join(HERE, f"cnn_{name}.input.json"), "w") as f:
        json.dump({"shape": list(in_shape), "values": [float(v) for v in x.ravel()]}, f)


# A mobile-style network: conv + BN + ReLU, max pool, depthwise conv (stride 2, SAME_UPPER) + BN
# + HardSwish, pointwise conv + Clip(0, 6), average pool with padding, a second branch concatenated,
# global average pool, flatten, Gemm (the logits). Odd image sizes exercise the padding rules.
c1, c2 = 6, 10
inits = [weight("w1", c1, 3, 3, 3), weight("b1", c1), *bn("bn1", c1),
         weight("w2", c1, 1, 3, 3), *bn("bn2", c1),
         weight("w3", c2, c1, 1, 1), weight("b3", c2),
         weight("w4", 4, c1, 1, 1),
         numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
         numpy_helper.from_array(np.array(6.0, dtype=np.float32), "six"),
         weight("wf", c2 + 4, 5), weight("bf", 5)]
nodes = [
    helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
    helper.make_node("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["n1"], epsilon=1e-3),
    helper.make_node("Relu", ["n1"], ["r1"]),
    helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("Conv", ["p1", "w2"], ["c2"], group=c1, strides=[2, 2], auto_pad="SAME_UPPER"),
    helper.make_node("BatchNormalization", ["c2", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], ["n2"]),
    helper.make_node("HardSwish", ["n2"], ["h2"]),
    helper.make_node("Conv", ["h2", "w3", "b3"], ["c3"]),
    helper.make_node("Clip", ["c3", "zero", "six"], ["k3"]),
    helper.make_node("AveragePool", ["k3"], ["a3"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("Conv", ["h2", "w4"], ["c4"]),
    helper.make_node("LeakyRelu", ["c4"], ["l4"], alpha=0.1),
    helper.make_node("Concat", ["a3", "l4"], ["cat"], axis=1),
    helper.make_node("GlobalAveragePool", ["cat"], ["g"]),
    helper.make_node("Flatten", ["g"], ["f"]),
    helper.make_node("Gemm", ["f", "wf", "bf"], ["y"]),
]
save("mobile", nodes, inits, [2, 3, 17, 15], [2, 5])

# Window corner cases: dilation, asymmetric pads, stride 3, ceil_mode, count_include_pad,
# a grouped (not depthwise) conv, global max pool. Output: the flattened concatenation.
inits = [weight("wg", 6, 2, 3, 3), weight("wd", 4, 6, 2, 3)]
nodes = [
    helper.make_node("Conv", ["x", "wg"], ["g"], group=2, pads=[2, 1, 0, 2], dilations=[2, 1]),
    helper.make_node("Conv", ["g", "wd"], ["d"], strides=[3, 2], pads=[1, 0, 1, 1]),
    helper.make_node("MaxPool", ["g"], ["mp"], kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1),
    helper.make_node("AveragePool", ["d"], ["ap"], kernel_shape=[2, 2], pads=[1, 1, 0, 0],
                     count_include_pad=1),
    helper.make_node("GlobalMaxPool", ["mp"], ["gm"]),
    helper.make_node("Flatten", ["ap"], ["fa"]),
    helper.make_node("Flatten", ["gm"], ["fm"]),
    helper.make_node("HardSigmoid", ["fm"], ["hm"], alpha=0.3, beta=0.4),
    helper.make_node("Concat", ["fa", "hm"], ["y"], axis=1),
]
save("windows", nodes, inits, [1, 4, 13, 11], [1, "n"])
print("wrote", sorted(f for f in os.listdir(HERE) if f.startswith("cnn_")))
