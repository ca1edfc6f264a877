# Writes the torch.save golden files nwq's PyTorch checkpoint reader is tested against, in both
# formats, plus a safetensors twin holding the expected values. Run: /usr/bin/python3 THIS_FILE
import collections
import json
import os
import struct

import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pth")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = "tests/golden/make_pth_goldens.py"


def save_safetensors(path, tensors, metadata):
    """tensors: name -> F32 or I64 torch.Tensor, written back to back in order."""
    kinds = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for key, t in tensors.items():
        blob = t.detach().contiguous().numpy().tobytes()
        header[key] = {"dtype": kinds[t.dtype], "shape": list(t.shape),
                       "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    """name -> F32/I64 torch.Tensor (enough for the model weights this script converts)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = collections.OrderedDict()
    for key, info in header.items():
        if key == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": torch.float32, "I64": torch.int64}[info["dtype"]]
        blob = bytearray(data[8 + n + begin:8 + n + end])
        out[key] = torch.frombuffer(blob, dtype=dtype).reshape(info["shape"]).clone()
    return out


def small_state_dict():
    torch.manual_seed(14)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4)
    sd["f16"] = torch.randn(5).half()
    sd["bf16"] = torch.randn(2, 3).bfloat16()
    sd["f64"] = torch.randn(2, 2).double()
    base = torch.arange(10, dtype=torch.float32)
    sd["shared_a"] = base[2:6]            # two views of one storage with different offsets
    sd["shared_b"] = base[5:10].view(5, 1)
    sd["transposed"] = torch.randn(3, 4).t()  # strides (1, 4): not contiguous
    sd["counter"] = torch.tensor(7)           # I64 scalar, like num_batches_tracked
    return sd


def expected(sd):
    out = collections.OrderedDict()
    for key, t in sd.items():
        out[key] = t if t.dtype == torch.int64 else t.float()
    return out


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    sd = small_state_dict()
    meta = {"generator": GENERATOR, "torch": torch.__version__}
    save_safetensors(os.path.join(OUT_DIR, "small_expected.safetensors"), expected(sd), meta)
    torch.save(sd, os.path.join(OUT_DIR, "small_zip.pth"))
    torch.save(sd, os.path.join(OUT_DIR, "small_legacy.pth"), _use_new_zipfile_serialization=False)
    nested = {"epoch": 3, "best_acc1": 91.5, "arch": "resnet20", "state_dict": sd,
              "optimizer": {"lr": 0.1, "momentum": [0.9, None, True]}}
    torch.save(nested, os.path.join(OUT_DIR, "nested_zip.pth.tar"))
    torch.save(nested, os.path.join(OUT_DIR, "nested_legacy.pth.tar"),
               _use_new_zipfile_serialization=False)
    # A real model: nwq's Fashion-MNIST ResNet-20 as a torch.save file, for --weights x.pth.
    weights = read_safetensors(os.path.join(ROOT, "models/weights/fmnist_resnet20.safetensors"))
    torch.save({"state_dict": weights, "epoch": 30}, os.path.join(OUT_DIR, "fmnist_resnet20.pth"))
    for name in sorted(os.listdir(OUT_DIR)):
        print(f"wrote {name}: {os.path.getsize(os.path.join(OUT_DIR, name))} bytes")


if __name__ == "__main__":
    main()
