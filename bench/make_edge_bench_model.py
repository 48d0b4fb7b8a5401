#!/usr/bin/python3
"""A MobileNet-like network with seeded random weights for bench/edge_bench.sh (Debian's
/usr/bin/python3 with python3-onnx and python3-numpy): a 3x3 stem with stride 2, then
depthwise-separable blocks (depthwise 3x3 + BatchNormalization + HardSwish, pointwise 1x1 +
BatchNormalization + ReLU), global average pooling and a 10-way classifier, on 1x3x96x96."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(96)
inits, nodes = [], []


def w(name, *shape):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32), name))
    return name


def bn(x, c, name):
    for suffix, values in (("s", 1 + 0.1 * rng.standard_normal(c)), ("b", 0.1 * rng.standard_normal(c)),
                           ("m", 0.1 * rng.standard_normal(c)), ("v", 0.5 + rng.random(c))):
        inits.append(numpy_helper.from_array(values.astype(np.float32), f"{name}_{suffix}"))
    nodes.append(helper.make_node("BatchNormalization", [x] + [f"{name}_{s}" for s in "sbmv"], [name]))
    return name


x = "x"
nodes.append(helper.make_node("Conv", [x, w("stem_w", 16, 3, 3, 3)], ["stem"], strides=[2, 2], pads=[1, 1, 1, 1]))
x = bn("stem", 16, "stem_bn")
nodes.append(helper.make_node("HardSwish", [x], ["stem_act"]))
x, c = "stem_act", 16
for i, (out, stride) in enumerate([(32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1)]):
    nodes.append(helper.make_node("Conv", [x, w(f"dw{i}_w", c, 1, 3, 3)], [f"dw{i}"], group=c,
                                  strides=[stride, stride], pads=[1, 1, 1, 1]))
    x = bn(f"dw{i}", c, f"dw{i}_bn")
    nodes.append(helper.make_node("HardSwish", [x], [f"dw{i}_act"]))
    nodes.append(helper.make_node("Conv", [f"dw{i}_act", w(f"pw{i}_w", out, c, 1, 1)], [f"pw{i}"]))
    x = bn(f"pw{i}", out, f"pw{i}_bn")
    nodes.append(helper.make_node("Relu", [x], [f"pw{i}_act"]))
    x, c = f"pw{i}_act", out
nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
nodes.append(helper.make_node("Gemm", ["flat", w("fc_w", c, 10), w("fc_b", 10)], ["y"]))
graph = helper.make_graph(nodes, "edge-bench",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 96, 96])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="keel-edge-bench")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
print(f"wrote {sys.argv[1]}", file=sys.stderr)
