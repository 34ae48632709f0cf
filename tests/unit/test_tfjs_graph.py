"""The TF.js graph runner (``vision/backends/tfjs_graph``) against plain numpy, op by op, on tiny
hand-written graphs in the model.json format; and the YOLOv5 decoding (``backends/tfjs``)."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from edge_agent.vision.backends.tfjs import decode, nms
from edge_agent.vision.backends.tfjs_graph import GraphError, load_graph, read_weights


def b64(s: str) -> dict:
    return {"s": base64.b64encode(s.encode()).decode()}


def ints(*v: int) -> dict:
    return {"list": {"i": [str(i) for i in v]}}


def graph(nodes: list[dict], consts: dict[str, np.ndarray], shape=(1, 6, 6, 2), out: str | None = None):
    """A model.json dict and its weight bytes: ``consts`` become Const nodes and manifest entries."""
    manifest, data = [], b""
    const_nodes = []
    for name, arr in consts.items():
        dtype = "int32" if arr.dtype.kind == "i" else "float32"
        arr = arr.astype(np.int32 if dtype == "int32" else np.float32)
        manifest.append({"name": name, "shape": list(arr.shape), "dtype": dtype})
        data += arr.tobytes()
        const_nodes.append({"name": name, "op": "Const", "attr": {}})
    inp = {"name": "x", "op": "Placeholder",
           "attr": {"shape": {"shape": {"dim": [{"size": str(d)} for d in shape]}}}}
    model = {"format": "graph-model", "modelTopology": {"node": [inp, *const_nodes, *nodes]},
             "weightsManifest": [{"paths": ["w.bin"], "weights": manifest}]}
    if out:
        model["signature"] = {"outputs": {"y": {"name": f"{out}:0"}}}
    return model, data


def run(model, data, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return load_graph(model, data)(torch.from_numpy(x.astype(np.float32))).numpy()


def conv_nhwc(x: np.ndarray, w: np.ndarray, stride: int, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Reference convolution: x NHWC, w HWIO, explicit (top, bottom, left, right) padding."""
    t, b, l, r = pads
    x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    kh, kw, _, co = w.shape
    n, h, wd, _ = x.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    y = np.zeros((n, oh, ow, co), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            y[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return y


@pytest.mark.parametrize("padding,stride,size", [("SAME", 1, 6), ("SAME", 2, 6), ("SAME", 2, 7), ("VALID", 2, 7)])
def test_fused_conv_matches_tensorflow_padding(padding, stride, size):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, size, size, 2))
    w = rng.normal(size=(3, 3, 2, 4))
    bias = rng.normal(size=4)
    node = {"name": "y", "op": "_FusedConv2D", "input": ["x", "w", "b"],
            "attr": {"padding": b64(padding), "strides": ints(1, stride, stride, 1), "fused_ops": {"list": {"s": []}}}}
    got = run(*graph([node], {"w": w, "b": bias}, shape=(1, size, size, 2)), x)
    if padding == "SAME":
        total = max((-(-size // stride) - 1) * stride + 3 - size, 0)  # TF: the odd pixel goes after
        pads = (total // 2, total - total // 2, total // 2, total - total // 2)
    else:
        pads = (0, 0, 0, 0)
    want = conv_nhwc(x, w, stride, pads) + bias
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_elementwise_concat_pad_pool_resize_reshape_transpose_slice():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 4, 2))
    nodes = [
        {"name": "s", "op": "Sigmoid", "input": ["x"]},
        {"name": "m", "op": "Mul", "input": ["x", "s"]},  # SiLU
        {"name": "a", "op": "AddV2", "input": ["m", "x"]},
        {"name": "q", "op": "Square", "input": ["a"]},
        {"name": "c", "op": "ConcatV2", "input": ["q", "x", "axis"]},
        {"name": "p", "op": "Pad", "input": ["c", "pads"]},
        {"name": "mp", "op": "MaxPool", "input": ["p"],
         "attr": {"ksize": ints(1, 3, 3, 1), "strides": ints(1, 1, 1, 1), "padding": b64("SAME")}},
        {"name": "up", "op": "ResizeNearestNeighbor", "input": ["mp", "size"],
         "attr": {"half_pixel_centers": {"b": True}}},
        {"name": "r", "op": "Reshape", "input": ["up", "shape"]},
        {"name": "t", "op": "Transpose", "input": ["r", "perm"]},
        {"name": "sl", "op": "StridedSlice", "input": ["t", "begin", "end", "strides"],
         "attr": {"ellipsis_mask": {"i": "1"}, "end_mask": {"i": "2"}}},
        {"name": "out", "op": "Identity", "input": ["sl"]},
    ]
    consts = {"axis": np.array(3), "pads": np.array([[0, 0], [1, 0], [0, 1], [0, 0]]), "size": np.array([10, 10]),
              "shape": np.array([1, 100, 4]), "perm": np.array([0, 2, 1]), "begin": np.array([0, 1]),
              "end": np.array([0, 0]), "strides": np.array([1, 1])}
    got = run(*graph(nodes, consts, shape=(1, 4, 4, 2), out="out"), x)

    sig = 1 / (1 + np.exp(-x))
    q = (x * sig + x) ** 2
    c = np.concatenate([q, x], axis=3)
    p = np.pad(c, ((0, 0), (1, 0), (0, 1), (0, 0)))
    pp = np.pad(p, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    mp = np.stack([np.stack([pp[:, i : i + 3, j : j + 3, :].max(axis=(1, 2)) for j in range(5)], 1)
                   for i in range(5)], 1)
    up = mp.repeat(2, axis=1).repeat(2, axis=2)  # 5 -> 10, half-pixel centres: each pixel twice
    r = up.reshape(2, 100, 4)  # the graph's batch-1 reshape takes the real batch
    want = r.transpose(0, 2, 1)[..., 1:]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_unknown_ops_short_shards_and_foreign_files_are_refused():
    model, data = graph([{"name": "y", "op": "Softmax", "input": ["x"]}], {})
    with pytest.raises(GraphError, match="does not support: Softmax"):
        load_graph(model, data)
    model, data = graph([{"name": "y", "op": "Sigmoid", "input": ["x"]}], {"w": np.ones(4)})
    with pytest.raises(GraphError, match="a shard is missing"):
        read_weights(model["weightsManifest"], data[:-4])
    with pytest.raises(GraphError, match="more than the manifest"):
        read_weights(model["weightsManifest"], data + b"\0\0\0\0")
    with pytest.raises(GraphError, match="not a TensorFlow.js graph model"):
        load_graph({"format": "layers-model"}, b"")


def test_decode_scores_boxes_and_keeps_the_asked_classes():
    rows = np.zeros((4, 85), np.float32)
    rows[0, :4] = [0.5, 0.5, 0.2, 0.4]
    rows[0, 4], rows[0, 5 + 0] = 0.9, 0.9  # a person at 0.81
    rows[1, :4] = [0.51, 0.5, 0.2, 0.4]
    rows[1, 4], rows[1, 5 + 0] = 0.8, 0.8  # the same person, weaker: suppressed
    rows[2, :4] = [0.5, 0.5, 0.1, 0.1]
    rows[2, 4], rows[2, 5 + 63] = 0.9, 0.5  # a laptop over him: another class, kept
    rows[3, :4] = [0.1, 0.1, 0.1, 0.1]
    rows[3, 4], rows[3, 5 + 2] = 0.9, 0.9  # a car: not asked for
    got = decode(rows, 0.25, [0, 63])
    assert [(c, round(s, 2)) for _, c, s in got] == [(0, 0.81), (63, 0.45)]
    (x1, y1, x2, y2), _, _ = got[0]
    assert (x1, y1, x2, y2) == pytest.approx((0.4, 0.3, 0.6, 0.7))
    assert decode(rows, 0.95, [0, 63]) == []


def test_nms_is_per_class_and_greedy():
    boxes = np.array([[0, 0, 1, 1], [0.05, 0, 1, 1], [0.6, 0, 1.6, 1], [0, 0, 1, 1]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 0, 1])
    assert nms(boxes, scores, classes) == [0, 2, 3]
