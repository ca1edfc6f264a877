# Writes tests/golden/images.safetensors: torchvision's PIL resize (antialiased bilinear), center
# crop and the full ImageNet evaluation transform on small synthetic images, for test_image_data.cpp.
# Run: /usr/bin/python3 tests/golden/make_image_goldens.py   (Debian python3-torchvision, python3-pil)
import json
import os
import struct

import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
GENERATOR = "tests/golden/make_image_goldens.py"
DTYPES = {torch.float32: ("F32", "<f4"), torch.uint8: ("U8", "u1")}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def save_safetensors(name, tensors, metadata):
    """tensors: ordered dict name -> torch.Tensor; data laid out back to back in that order."""
    header, blobs, offset = {}, [], 0
    meta = {"generator": GENERATOR, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "pillow": PIL.__version__}
    meta.update(metadata)
    header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    for key, t in tensors.items():
        dtype, np_dtype = DTYPES[t.dtype]
        blob = t.contiguous().numpy().astype(np_dtype).tobytes()
        header[key] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path = os.path.join(OUT_DIR, name)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    print(f"wrote {name}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


def small_image():
    """37 x 53 RGB: smooth gradients plus noise, so resizing has something to average."""
    rng = np.random.RandomState(7)
    y, x = np.mgrid[0:37, 0:53]
    base = np.stack([x * 4.0, y * 6.0, (x + y) * 2.5], axis=-1)
    noisy = base + rng.normal(0, 40, size=base.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def pattern_image(height, width):
    """Integer formula (repeated in test_image_data.cpp, so the input need not be stored):
    gradients, a 16-pixel checkerboard (hard edges) and a product term (fine detail)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    channels = []
    for c in range(3):
        v = x * 7 + y * 3 + c * 85 + ((x * y) >> 5) + ((x // 16 + y // 16) % 2) * 100
        channels.append(v % 256)
    return np.stack(channels, axis=-1).astype(np.uint8)


def to_tensor(pil_image):
    return TF.to_tensor(pil_image)  # float CHW in [0, 1]: uint8 / 255


def make_images():
    tensors, meta = {}, {}
    small = small_image()
    pil = Image.fromarray(small, "RGB")
    tensors["small.image"] = torch.from_numpy(small)  # U8, H x W x 3
    resized20 = T.Resize(20)(pil)  # shorter side 37 -> 20: 20 x 28, downscale (antialiased)
    tensors["small.resize20"] = to_tensor(resized20)
    tensors["small.resize20.crop16"] = to_tensor(T.CenterCrop(16)(resized20))
    tensors["small.resize20.crop15"] = to_tensor(T.CenterCrop(15)(resized20))  # offsets 2.5, 6.5
    tensors["small.resize20.crop25x20"] = to_tensor(T.CenterCrop((25, 20))(resized20))  # pads rows
    tensors["small.resize50"] = to_tensor(T.Resize(50)(pil))  # 50 x 71, upscale
    tensors["small.resize9x40"] = to_tensor(T.Resize((9, 40))(pil))  # down rows, down columns less
    box = (3, 5, 30, 41)  # top, left, height, width: RandomResizedCrop's crop then resize
    tensors["small.resized_crop"] = to_tensor(TF.resized_crop(pil, *box, [24, 24]))
    meta["small.resized_crop"] = "top=3 left=5 height=30 width=41 size=24x24"

    big = Image.fromarray(pattern_image(260, 300), "RGB")  # PIL size (300, 260): W 300, H 260
    crop = T.Compose([T.Resize(256), T.CenterCrop(224)])(big)
    evaluate = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                          T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    # The float output is the 8-bit crop through ToTensor and Normalize, i.e. (u8 / 255 - mean) /
    # std in float32. Storing the 8-bit crop (1/4 of the bytes) loses nothing: check that here.
    crop_u8 = torch.from_numpy(np.asarray(crop).copy())  # 224 x 224 x 3
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    by_formula = (crop_u8.permute(2, 0, 1).float() / 255 - mean) / std
    assert torch.equal(evaluate(big), by_formula), "ToTensor + Normalize is not the float formula"
    tensors["eval.crop"] = crop_u8
    meta["eval.crop"] = "pattern_image(260, 300) -> Resize(256) CenterCrop(224), HWC uint8"
    save_safetensors("images.safetensors", tensors, meta)


if __name__ == "__main__":
    torch.set_num_threads(1)
    make_images()
