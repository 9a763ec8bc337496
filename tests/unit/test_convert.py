import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from models.convert import convert, dequantize


def test_per_tensor_dequantize():
    q = np.array([[-2, 0, 3]], np.int8)
    np.testing.assert_allclose(dequantize(q, np.array([0.5], np.float32), np.array([1], np.int8), 1, 0), [[-1.5, -0.5, 1.0]])


def test_blocked_dequantize_repeats_each_scale_over_its_block():
    q = np.arange(8, dtype=np.int8).reshape(2, 4)
    scale = np.array([[1.0, 10.0], [2.0, 20.0]], np.float32)
    zero = np.zeros((2, 2), np.int8)
    out = dequantize(q, scale, zero, axis=1, block_size=2)
    np.testing.assert_allclose(out, [[0, 1, 20, 30], [8, 10, 120, 140]])


def test_blocked_dequantize_trims_a_short_last_block():
    q = np.ones((1, 5), np.int8)
    out = dequantize(q, np.array([[1.0, 3.0]], np.float32), None, axis=1, block_size=3)
    np.testing.assert_allclose(out, [[1, 1, 1, 3, 3]])


def _quantized_matmul_model() -> onnx.ModelProto:
    weights = numpy_helper.from_array(np.array([[1, -2], [3, 4]], np.int8), "w_q")
    scale = numpy_helper.from_array(np.array([0.5], np.float32), "w_s")
    zero = numpy_helper.from_array(np.array([0], np.int8), "w_z")
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=1),
             helper.make_node("MatMul", ["x", "w"], ["y"])]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2]),
         helper.make_tensor_value_info("unused_weight", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [weights, scale, zero])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def test_folded_model_has_no_dequantize_or_dangling_inputs_and_computes_the_same():
    model = convert(_quantized_matmul_model(), ("fold_dequantize", "dynamic_batch"))
    assert not [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert [i.name for i in model.graph.input] == ["x"]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 1.0]], np.float32)  # batch of 3: dynamic now
    np.testing.assert_allclose(session.run(None, {"x": x})[0], x @ np.array([[0.5, -1.0], [1.5, 2.0]]))


def test_unknown_conversion_step_is_refused():
    with pytest.raises(ValueError, match="unknown model conversion step 'sharpen'"):
        convert(_quantized_matmul_model(), ("sharpen",))
