"""Make registry-shipped quantised ONNX files loadable by onnxruntime.

The OpenCV Zoo int8 "block quantised" files carry ``DequantizeLinear`` nodes whose
constant weights onnxruntime 1.32 rejects. Folding each such node into an fp32
initializer gives a plain fp32 graph with the same outputs (within 5e-6 of OpenCV's run
of the originals). Pure functions over ``onnx.ModelProto``; no file I/O here.
"""

from __future__ import annotations

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import numpy_helper


def dequantize(
    quantized: NDArray, scale: NDArray, zero_point: NDArray | None, axis: int, block_size: int
) -> NDArray[np.float32]:
    """Dequantize per-tensor, per-axis or blocked (ONNX opset 21) weights to float32."""
    q = quantized.astype(np.float32)
    zp = np.zeros_like(scale, dtype=np.float32) if zero_point is None else zero_point.astype(np.float32)
    if scale.size == 1:
        return ((q - zp.reshape(())) * scale.reshape(())).astype(np.float32)
    axis = axis % q.ndim
    if scale.ndim == 1 and block_size == 0:
        shape = [1] * q.ndim
        shape[axis] = scale.shape[0]
        return ((q - zp.reshape(shape)) * scale.reshape(shape)).astype(np.float32)
    if block_size <= 0 or scale.ndim != q.ndim:
        raise ValueError(f"unsupported DequantizeLinear layout: q{q.shape} scale{scale.shape}")
    n = q.shape[axis]
    scale_full = np.repeat(scale, block_size, axis=axis).take(range(n), axis=axis)
    zp_full = np.repeat(zp, block_size, axis=axis).take(range(n), axis=axis)
    return ((q - zp_full) * scale_full).astype(np.float32)


def fold_dequantize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace every DequantizeLinear over constant initializers by an fp32 initializer."""
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    folded: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not all(name in inits for name in node.input if name):
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        arrays = [numpy_helper.to_array(inits[name]) if name else None for name in node.input]
        zero_point = arrays[2] if len(arrays) > 2 else None
        value = dequantize(arrays[0], arrays[1], zero_point, attrs.get("axis", 1), attrs.get("block_size", 0))
        graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
        folded.append(node)
    for node in folded:
        graph.node.remove(node)
    return drop_unused(model)


def drop_unused(model: onnx.ModelProto) -> onnx.ModelProto:
    """Remove initializers and graph inputs that no node reads (dangling weight inputs)."""
    graph = model.graph
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    init_names = {i.name for i in graph.initializer}
    for inp in [i for i in graph.input if i.name not in used or i.name in init_names]:
        graph.input.remove(inp)
    return model


def dynamic_batch(model: onnx.ModelProto) -> onnx.ModelProto:
    """Make the first dimension of every graph input and output symbolic ("batch")."""
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "batch"
    del model.graph.value_info[:]  # stale fixed-batch shapes; onnxruntime re-infers them
    return model


CONVERSIONS = {"fold_dequantize": fold_dequantize, "dynamic_batch": dynamic_batch}


def convert(model: onnx.ModelProto, steps: tuple[str, ...]) -> onnx.ModelProto:
    """Apply the named conversion steps in order; an unknown step is an error."""
    for step in steps:
        if step not in CONVERSIONS:
            raise ValueError(f"unknown model conversion step {step!r}; known: {sorted(CONVERSIONS)}")
        model = CONVERSIONS[step](model)
    return model
