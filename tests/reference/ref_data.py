# Data for the PyTorch reference harness: Fashion-MNIST idx files, CIFAR-10 ImageFolder decoded
# with PIL into uint8 tensors (in parallel, optionally cached), and normalization with nwq's exact
# float32 operation order ((x / 255 - mean) / std, as data/transforms.cpp).
import gzip
import os
import struct
from multiprocessing import Pool

import numpy as np
import torch

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
FMNIST_MEAN, FMNIST_STD = (0.2860,), (0.3530,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype_code == 0x08, f"{path}: not an unsigned-byte idx file"
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist(split="test", directory=FMNIST_DIR):
    """(uint8 images N x 1 x 28 x 28, int64 labels N) of split 'train' or 'test'."""
    prefix = "train" if split == "train" else "t10k"

    def find(name):
        for candidate in (name + ".gz", name):
            if os.path.exists(os.path.join(directory, candidate)):
                return os.path.join(directory, candidate)
        raise FileNotFoundError(f"{directory}: no {name}(.gz)")

    images = _read_idx(find(f"{prefix}-images-idx3-ubyte"))
    labels = _read_idx(find(f"{prefix}-labels-idx1-ubyte"))
    return (torch.from_numpy(images.copy()).unsqueeze(1),
            torch.from_numpy(labels.astype(np.int64)))


def normalize(images_u8, mean, std):
    """uint8 N x C x H x W -> float32, (x / 255 - mean[c]) / std[c] with float32 steps as nwq."""
    x = images_u8.float() / 255.0
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def image_folder_files(root):
    """(files, labels, class names) of root/<class>/..., classes sorted by name -> 0..K-1 and
    files in torchvision's ImageFolder order (sorted walk, sorted names)."""
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    files, labels = [], []
    for label, name in enumerate(classes):
        for dirpath, dirnames, filenames in sorted(os.walk(os.path.join(root, name), followlinks=True)):
            dirnames.sort()
            for f in sorted(filenames):
                if f.lower().endswith(IMAGE_EXTENSIONS):
                    files.append(os.path.join(dirpath, f))
                    labels.append(label)
    return files, labels, classes


def _decode_rgb(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def decode_files(files, workers=None, size=None):
    """uint8 N x 3 x H x W: the image files decoded to RGB with PIL by a process pool (call it
    before CUDA is initialised: the pool forks). All images must share one size."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(files)))
    if workers == 1:
        arrays = [_decode_rgb(f) for f in files]
    else:
        with Pool(workers) as pool:
            arrays = pool.map(_decode_rgb, files, chunksize=max(1, len(files) // (workers * 16)))
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) != 1 or (size and shapes[0][:2] != tuple(size)):
        raise ValueError(f"images of sizes {shapes[:4]}, expected one size {size or ''}")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def decode_image_folder(root, workers=None, size=None):
    """(uint8 N x 3 x H x W, int64 labels N, class names) of every image under root/<class>/."""
    files, labels, classes = image_folder_files(root)
    if not files:
        raise FileNotFoundError(f"{root}: no images under <class>/ folders")
    return decode_files(files, workers, size), torch.tensor(labels, dtype=torch.int64), classes


def cifar10_folder(root, workers=None, cache=None):
    """{'train': (u8, labels), 'test': (u8, labels), 'classes': [...]} from root/train and
    root/test (or root/val). cache: a .pt file read if present, else written after decoding."""
    if cache and os.path.exists(cache):
        return torch.load(cache)
    test_dir = os.path.join(root, "test")
    if not os.path.isdir(test_dir):
        test_dir = os.path.join(root, "val")
    out = {}
    for split, folder in (("train", os.path.join(root, "train")), ("test", test_dir)):
        images, labels, classes = decode_image_folder(folder, workers, size=(32, 32))
        out[split] = (images, labels)
        if out.setdefault("classes", classes) != classes:
            raise ValueError(f"{root}: train and {os.path.basename(test_dir)} class folders differ")
    if cache:
        tmp = cache + ".tmp"
        torch.save(out, tmp)
        os.replace(tmp, cache)
    return out
