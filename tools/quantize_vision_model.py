#!/usr/bin/python3
"""Quantizes the mobile-vision model to int8 QDQ (docs/mobile-vision.md).

Reads ``models/vision/keel-vision.onnx`` and writes ``models/vision/keel-vision-int8.onnx``: the
same graph with
* every Conv and Gemm weight stored as int8, symmetric, one scale per output channel, behind a
  DequantizeLinear (axis 0);
* every Conv and Gemm input activation passed through QuantizeLinear / DequantizeLinear, uint8,
  asymmetric, one scale per tensor, calibrated as the min/max over calibration frames;
* biases kept in float32.

Calibration frames are renderings of the *training* digits (tools/train_vision_model.py's split
and renderer, a different seed), never the held-out ones. The activation ranges come from a
small numpy interpreter of the float graph (the operators this model uses).

Run from the repository root with Debian's python3 (python3-torch, python3-sklearn,
python3-onnx), after tools/train_vision_model.py::

    /usr/bin/python3 tools/quantize_vision_model.py
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
import train_vision_model as tvm  # noqa: E402
from make_vision_video import read_kimg  # noqa: E402


def conv(x, w, b, attrs):
    group = attrs.get("group", 1)
    strides = attrs.get("strides", [1, 1])
    pads = attrs.get("pads", [0, 0, 0, 0])
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    oc, icg, kh, kw = w.shape
    oh = (h - kh) // strides[0] + 1
    ow = (wd - kw) // strides[1] + 1
    out = np.zeros((n, oc, oh, ow), dtype=np.float32)
    ocg = oc // group
    for g in range(group):
        xs = x[:, g * icg:(g + 1) * icg]
        cols = np.stack([xs[:, :, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
                         for i in range(kh) for j in range(kw)], axis=2)  # n, icg, kh*kw, oh, ow
        ws = w[g * ocg:(g + 1) * ocg].reshape(ocg, icg, kh * kw)
        out[:, g * ocg:(g + 1) * ocg] = np.einsum("nckhw,ock->nohw", cols, ws)
    if b is not None:
        out += b[None, :, None, None]
    return out


def run_graph(model, x, record):
    """Runs the graph (float, or QDQ as the operators define it) on x; record(name, value) sees
    every value."""
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    vals = {model.graph.input[0].name: x}
    record(model.graph.input[0].name, x)
    for n in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        i = [vals.get(k, init.get(k)) if k else None for k in n.input]
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            scale, zp = i[1].astype(np.float32), i[2].astype(np.float32)
            if scale.ndim == 1:  # per axis
                shape = [1] * i[0].ndim
                shape[a.get("axis", 1)] = -1
                scale, zp = scale.reshape(shape), zp.reshape(shape)
            if n.op_type == "QuantizeLinear":
                lo, hi = (0, 255) if i[2].dtype == np.uint8 else (-128, 127)
                y = np.clip(np.rint(i[0] / scale) + zp, lo, hi)  # rint: half to even
            else:
                y = (i[0].astype(np.float32) - zp) * scale
        elif n.op_type == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif n.op_type == "Relu":
            y = np.maximum(i[0], 0)
        elif n.op_type == "HardSwish":
            y = i[0] * np.clip(i[0] / 6 + 0.5, 0, 1)
        elif n.op_type == "Add":
            y = i[0] + i[1]
        elif n.op_type == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif n.op_type == "MaxPool":
            k = a["kernel_shape"][0]
            s = i[0].shape
            y = i[0].reshape(s[0], s[1], s[2] // k, k, s[3] // k, k).max(axis=(3, 5))
        elif n.op_type == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif n.op_type == "Gemm":
            w = i[1].T if a.get("transB", 0) else i[1]
            y = i[0] @ w + (i[2] if len(i) > 2 else 0)
        elif n.op_type == "Softmax":
            e = np.exp(i[0] - i[0].max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        else:
            raise SystemExit(f"calibration: operator {n.op_type} is not interpreted here")
        vals[n.output[0]] = y.astype(np.float32)
        record(n.output[0], vals[n.output[0]])
    return vals[model.graph.output[0].name]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/vision/keel-vision.onnx")
    ap.add_argument("--out", default="models/vision/keel-vision-int8.onnx")
    ap.add_argument("--heldout", default="examples/mobile-vision/heldout.kimg")
    ap.add_argument("--seed", type=int, default=20261208)
    ap.add_argument("--calibration-frames", type=int, default=512)
    args = ap.parse_args()

    # The training digits, split exactly as tools/train_vision_model.py splits them.
    rng = np.random.default_rng(args.seed)
    digits = tvm.load_digits()
    target = digits.target
    held = np.zeros(len(target), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(target == c)
        held[rng.choice(idx, size=round(0.2 * len(idx)), replace=False)] = True
    train = digits.images[~held]
    pick = np.random.default_rng(args.seed + 2).choice(len(train), args.calibration_frames, replace=False)
    frames = tvm.render(train[pick], np.random.default_rng(args.seed + 3), 1)
    x = tvm.to_tensor(frames).numpy()

    model = onnx.load(args.model)
    consumers = {}
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm"):
            consumers[n.input[0]] = True
    ranges = {}

    def record(name, v):
        if name in consumers:
            lo, hi = ranges.get(name, (0.0, 0.0))
            ranges[name] = (min(lo, float(v.min())), max(hi, float(v.max())))

    run_graph(model, x, record)

    init = {t.name: t for t in model.graph.initializer}
    new_nodes, new_inits = [], []
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm"):
            act = n.input[0]
            lo, hi = ranges[act]
            scale = max(hi - lo, 1e-8) / 255.0
            zp = int(np.clip(round(-lo / scale), 0, 255))
            q, dq = f"{act}/q", f"{act}/dq"
            s_name, z_name = f"{act}/scale", f"{act}/zero_point"
            new_inits += [numpy_helper.from_array(np.array(scale, dtype=np.float32), s_name),
                          numpy_helper.from_array(np.array(zp, dtype=np.uint8), z_name)]
            new_nodes += [helper.make_node("QuantizeLinear", [act, s_name, z_name], [q], name=f"{n.name}/quantize_input"),
                          helper.make_node("DequantizeLinear", [q, s_name, z_name], [dq], name=f"{n.name}/dequantize_input")]
            w = numpy_helper.to_array(init[n.input[1]])
            per_channel = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
            w_scale = np.maximum(per_channel, 1e-8) / 127.0
            shape = (-1,) + (1,) * (w.ndim - 1)
            w_q = np.clip(np.round(w / w_scale.reshape(shape)), -127, 127).astype(np.int8)
            wq, ws, wz, wdq = (f"{n.input[1]}/int8", f"{n.input[1]}/scale", f"{n.input[1]}/zero_point",
                               f"{n.input[1]}/dequantized")
            new_inits += [numpy_helper.from_array(w_q, wq),
                          numpy_helper.from_array(w_scale.astype(np.float32), ws),
                          numpy_helper.from_array(np.zeros(w.shape[0], dtype=np.int8), wz)]
            new_nodes.append(helper.make_node("DequantizeLinear", [wq, ws, wz], [wdq], axis=0,
                                              name=f"{n.name}/dequantize_weight"))
            inputs = [dq, wdq] + list(n.input[2:])
            if n.op_type == "Gemm" and not any(a.name == "transB" and a.i == 1 for a in n.attribute):
                raise SystemExit("expected Gemm with transB=1 (per-channel axis 0 of the weight)")
            new_nodes.append(helper.make_node(n.op_type, inputs, list(n.output), name=n.name,
                                              **{a.name: helper.get_attribute_value(a) for a in n.attribute}))
        else:
            new_nodes.append(n)
    used = {i for n in new_nodes for i in n.input}
    keep = [t for t in model.graph.initializer if t.name in used]
    graph = helper.make_graph(new_nodes, model.graph.name + "-int8", list(model.graph.input),
                              list(model.graph.output), keep + new_inits)
    out = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="keel tools/quantize_vision_model.py")
    out.ir_version = model.ir_version
    for p in model.metadata_props:
        if p.key not in ("keel.heldout_accuracy",):
            out.metadata_props.add(key=p.key, value=p.value)

    # Held-out accuracy of the quantized graph, with the same QDQ arithmetic in numpy.
    header, images = read_kimg(args.heldout)
    probs = run_graph(out, tvm.to_tensor(images).numpy(), lambda *_: None)
    acc = float((probs.argmax(1) == np.array(header["targets"])).mean())
    out.metadata_props.add(key="keel.heldout_accuracy", value=f"{acc:.4f}")
    out.metadata_props.add(key="keel.quantization", value=json.dumps({
        "weights": "int8 symmetric per output channel", "activations": "uint8 per tensor, min/max",
        "calibration_frames": args.calibration_frames}))
    onnx.checker.check_model(out)
    onnx.save(out, args.out)
    print(f"wrote {args.out}: {len(ranges)} activations calibrated on {args.calibration_frames} training "
          f"frames; held-out accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
