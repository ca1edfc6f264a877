# Minimal safetensors reader/writer (numpy + torch only, no `safetensors` package) for the
# PyTorch reference harness; same layout as nwq's core/safetensors and tests/golden/make_goldens.py:
# u64 header length, JSON header padded with spaces to 8 bytes, tensor data back to back in order.
import json
import struct
from collections import OrderedDict

import numpy as np
import torch

# safetensors dtype name <-> (torch dtype, little-endian numpy dtype)
_BY_NAME = OrderedDict([
    ("F32", (torch.float32, "<f4")),
    ("F64", (torch.float64, "<f8")),
    ("F16", (torch.float16, "<f2")),
    ("I64", (torch.int64, "<i8")),
    ("I32", (torch.int32, "<i4")),
    ("I8", (torch.int8, "i1")),
    ("U8", (torch.uint8, "u1")),
])
_BY_TORCH = {t: (name, np_dtype) for name, (t, np_dtype) in _BY_NAME.items()}


def read(path):
    """Returns (OrderedDict name -> torch.Tensor in file order, metadata dict of str -> str)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=OrderedDict)
    metadata = dict(header.pop("__metadata__", {}) or {})
    body = memoryview(data)[8 + n:]
    # Order by data offset (the JSON order usually matches, but the format does not promise it).
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    tensors, end = OrderedDict(), 0
    for name, info in entries:
        if info["dtype"] not in _BY_NAME:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        _, np_dtype = _BY_NAME[info["dtype"]]
        dt = np.dtype(np_dtype)
        begin, stop = info["data_offsets"]
        shape = [int(s) for s in info["shape"]]
        count = int(np.prod(shape)) if shape else 1
        if begin != end or stop - begin != count * dt.itemsize or stop > len(body):
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {begin}..{stop}")
        arr = np.frombuffer(body[begin:stop], dtype=dt).astype(dt.newbyteorder("="), copy=True)
        tensors[name] = torch.from_numpy(arr.reshape(shape))
        end = stop
    if end != len(body):
        raise ValueError(f"{path}: {len(body) - end} trailing bytes after the last tensor")
    return tensors, metadata


def write(path, tensors, metadata=None):
    """tensors: mapping name -> torch.Tensor (or numpy array), written in its iteration order;
    metadata: mapping str -> value, every value stored as its str()."""
    header, blobs, offset = OrderedDict(), [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        if isinstance(t, np.ndarray):
            t = torch.from_numpy(np.ascontiguousarray(t))
        t = t.detach().cpu().contiguous()
        if t.dtype not in _BY_TORCH:
            raise ValueError(f"write {path}: tensor {name}: unsupported dtype {t.dtype}")
        dtype_name, np_dtype = _BY_TORCH[t.dtype]
        blob = t.numpy().astype(np_dtype, copy=False).tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
