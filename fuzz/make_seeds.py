#!/usr/bin/env python3
# Writes the committed seed corpora fuzz/corpus/<target>/: a few valid and near-valid inputs per
# fuzz target, each under 10 KB. Standard library only; run by fuzz/make_seeds.sh.
import gzip
import io
import json
import os
import struct
import sys
import tarfile
import zipfile
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
FMNIST = "/usr/share/datasets/fashion-mnist"
CIFAR_JPEG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                          "cifar10-jpeg.tar.gz")


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 10 * 1024, (target, name, len(data))
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


# ---- safetensors -------------------------------------------------------------------------------
def safetensors(tensors, metadata=None, pad=True, raw_header=None):
    """tensors: list of (name, dtype, shape, bytes). Returns the file bytes."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":"))
    text = text.encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def seeds_safetensors():
    t = "safetensors"
    put(t, "valid_mixed", safetensors([
        ("w", "F32", [2, 2], f32(1, -2, 3.5, 0)),
        ("step", "I64", [], struct.pack("<q", 7)),
        ("codes", "U8", [3], b"\x01\x02\x03"),
        ("z", "I32", [2], struct.pack("<2i", -1, 4)),
        ("d", "F64", [1], struct.pack("<d", 0.25)),
        ("s", "I8", [2], b"\xff\x01"),
    ], {"format": "pt", "model": "resnet20"}))
    put(t, "valid_empty_tensors", safetensors([("e", "F32", [0, 4], b""), ("x", "F32", [1], f32(1)),
                                               ("e2", "U8", [3, 0], b"")]))
    put(t, "valid_no_tensors", safetensors([], {"k": "v"}))
    put(t, "valid_unpadded", safetensors([("a", "F32", [1, 1, 1], f32(2))], pad=False))
    put(t, "nan_weight", safetensors([("w", "F32", [2], f32(float("nan"), 1))]))
    put(t, "bad_offsets_mismatch", safetensors([], raw_header=json.dumps(
        {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})) + f32(1, 2))
    put(t, "bad_overlap", safetensors([], raw_header=json.dumps(
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})) + f32(1, 2, 3))
    put(t, "bad_truncated", safetensors([("w", "F32", [4], f32(1, 2, 3, 4))])[:-5])
    put(t, "bad_header_length", struct.pack("<Q", 1 << 40) + b"{}")
    put(t, "bad_dtype", safetensors([], raw_header='{"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}') + b"\0\0")


# ---- JSON --------------------------------------------------------------------------------------
def seeds_json():
    t = "json"
    put(t, "valid_all_kinds", '{"a":[1,-2,3.5e-3,1E+300,-0.0,12345678901234567890,0],"b":{"c":null,"d":true,'
        '"e":false},"s":"tab\\t nl\\n quote\\" uni\\u00e9\\ud83d\\ude00 raw \xc3\xa9 \xf0\x9f\x98\x80","":[]}')
    put(t, "valid_safetensors_header", '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],'
        '"data_offsets":[0,16]}}')
    put(t, "valid_quant_config", '{"method":"rtn","wbits":4,"abits":4,"scope":"none","rounding":"nearest",'
        '"mixing":"none","learn_act_steps":false,"lr_round":0.001,"lr_act":4e-05,"seed":0}')
    put(t, "valid_numbers", "[0.1,1e-320,9007199254740993,-9223372036854775808,9223372036854775807,"
        "9223372036854775808,4.9e-324,1.7976931348623157e308]")
    put(t, "valid_nested", "[" * 64 + "]" * 64)
    put(t, "bad_too_deep", "[" * 65 + "]" * 65)
    put(t, "bad_trailing_comma", '{"a":[1,2,],}')
    put(t, "bad_lone_surrogate", '["\\udc00", "\\ud800x"]')
    put(t, "bad_utf8", b'["\xc0\xaf", "\xed\xa0\x80"]')
    put(t, "bad_number", "[01, 1., -, 1e, 1e999]")
    put(t, "bad_duplicate_key", '{"a":1,"a":2}')


# ---- IDX / gzip --------------------------------------------------------------------------------
def idx(dims, data, type_code=8):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def gzip_member(payload, name=None, comment=None, extra=None, hcrc=False):
    flags = (0x02 if hcrc else 0) | (0x04 if extra is not None else 0) | \
            (0x08 if name is not None else 0) | (0x10 if comment is not None else 0)
    head = b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0" + b"\0\x03"
    if extra is not None:
        head += struct.pack("<H", len(extra)) + extra
    if name is not None:
        head += name + b"\0"
    if comment is not None:
        head += comment + b"\0"
    if hcrc:
        head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = comp.compress(payload) + comp.flush()
    return head + body + struct.pack("<II", zlib.crc32(payload), len(payload) & 0xFFFFFFFF)


def seeds_idx():
    t = "idx"
    with gzip.open(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")) as f:
        head = f.read(16)
        pixels = f.read(2 * 784)
    with gzip.open(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = f.read(8 + 100)[8:]
    images = idx([2, 28, 28], pixels)
    assert head[:4] == b"\0\0\x08\x03"
    put(t, "fmnist_images_2", images)
    put(t, "fmnist_labels_100", idx([100], labels))
    put(t, "fmnist_images_2.gz", gzip.compress(images, mtime=0))
    put(t, "fmnist_labels_100.gz", gzip.compress(idx([100], labels), mtime=0))
    with open(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        real = f.read()
    if len(real) < 10 * 1024:  # the real 10,000-label file (5 KB), as Debian ships it
        put(t, "fmnist_t10k_labels_real.gz", real)
    put(t, "gzip_all_header_fields", gzip_member(idx([3, 2], b"abcdef"), name=b"x.idx",
                                                 comment=b"seed", extra=b"ab\x02\x00hi", hcrc=True))
    stored = idx([2], b"\x07\x09")  # one final stored (uncompressed) deflate block
    put(t, "gzip_stored_block", b"\x1f\x8b\x08\0\0\0\0\0\0\x03" + b"\x01" +
        struct.pack("<HH", len(stored), len(stored) ^ 0xFFFF) + stored +
        struct.pack("<II", zlib.crc32(stored), len(stored)))
    put(t, "bad_type_float", idx([1], b"\0\0\0\0", type_code=0x0D))
    put(t, "bad_truncated_data", idx([3, 28, 28], pixels[:700]))
    put(t, "bad_trailing_bytes", idx([2], b"\1\2\3"))
    put(t, "bad_gzip_truncated", gzip.compress(images, mtime=0)[:-20])
    put(t, "bad_gzip_crc", gzip.compress(idx([2], b"\1\2"), mtime=0)[:-8] + b"\0\0\0\0\x06\0\0\0")


# ---- images (stb_image) ------------------------------------------------------------------------
def png(width, height, color_type, rows, bit_depth=8, palette=None, interlace=0):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    raw = b"".join(b"\0" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def bmp24(width, height):
    row = bytes((x * 40) % 256 for x in range(width * 3))
    row += b"\0" * ((4 - len(row) % 4) % 4)
    pixels = row * height
    header = b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def tga(width, height, rle=False):
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, 10 if rle else 2, 0, 0, 0, 0, 0, width, height, 24, 0)
    if rle:
        body = bytes([0x80 | (width * height - 1), 10, 20, 30])
    else:
        body = bytes(range(width * height * 3))
    return header + body


def seeds_image():
    t = "image"
    put(t, "png_rgb_4x3", png(4, 3, 2, [bytes(range(y * 12, y * 12 + 12)) for y in range(3)]))
    put(t, "png_grey_alpha_2x2", png(2, 2, 4, [b"\x10\xff\x20\x80", b"\x30\x00\x40\x7f"]))
    put(t, "png_palette_4x2", png(4, 2, 3, [b"\x00\x01\x02\x00", b"\x02\x01\x00\x01"],
                                  palette=b"\xff\0\0\0\xff\0\0\0\xff"))
    put(t, "png_grey16_interlaced_5x5", png(5, 5, 0, [bytes(range(10))] * 5, bit_depth=16, interlace=1))
    put(t, "bmp24_3x2", bmp24(3, 2))
    put(t, "ppm_p6_2x2", b"P6\n2 2\n255\n" + bytes(range(12)))
    put(t, "pgm_p5_3x1", b"P5 3 1 255 " + b"\x00\x80\xff")
    put(t, "tga_3x2", tga(3, 2))
    put(t, "tga_rle_2x2", tga(2, 2, rle=True))
    put(t, "gif_1x1", bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b"))
    put(t, "hdr_rle_off_1x2", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 2\n" + bytes([128, 64, 32, 129] * 2))
    put(t, "bad_png_crc", png(2, 2, 2, [bytes(6)] * 2)[:-5] + b"\0\0\0\0\0")
    put(t, "bad_png_huge_dims", png(1, 1, 2, [bytes(3)]).replace(struct.pack(">II", 1, 1), struct.pack(">II", 1 << 24, 1 << 24), 1))
    if os.path.exists(CIFAR_JPEG):
        with tarfile.open(CIFAR_JPEG, "r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name.lower().endswith((".jpg", ".jpeg")):
                    jpeg = tar.extractfile(member).read()
                    if len(jpeg) < 4096:
                        put(t, "jpeg_cifar10_32x32", jpeg)
                        put(t, "bad_jpeg_truncated", jpeg[: len(jpeg) // 2])
                        break


# ---- CIFAR-10 binary batches -------------------------------------------------------------------
def seeds_cifar10():
    t = "cifar10"
    record = lambda label: bytes([label]) + bytes((i * 7) % 256 for i in range(3072))
    put(t, "one_record", record(3))
    put(t, "two_records", record(0) + record(9))
    put(t, "bad_label_10", record(10))
    put(t, "bad_cifar100_record", b"\x01" + record(2))
    put(t, "bad_truncated", record(1)[:-1])


# ---- CLI arguments (NUL-separated) -------------------------------------------------------------
def seeds_args():
    t = "args"
    args = lambda *words: "\0".join(words)
    put(t, "quantize_flags", args("--weights", "w.safetensors", "--method", "rtn", "--wbits", "4",
                                  "--batch=64", "--json", "--drop-p", "0.5", "--seed", "-1"))
    put(t, "equals_forms", args("--lr-round=1e-4", "--limit=-1", "--learn-act-steps=yes", "--no-8bit-first"))
    put(t, "help", args("--help"))
    put(t, "bad_missing_value", args("--wbits"))
    put(t, "bad_switch_value", args("--json=1"))
    put(t, "bad_repeated", args("--batch", "1", "--batch", "2"))
    put(t, "bad_numbers", args("--wbits", "4x", "--drop-p", "nan", "--seed", "99999999999999999999"))
    put(t, "bad_positional", args("file.safetensors", "--unknown"))


# ---- quantized models (mode byte + safetensors) --------------------------------------------------
RESNET20_BITS = {"layers": dict([("conv1", 8)] + [("layer%d.%d.conv%d" % (s, b, c), 4) for s in (1, 2, 3)
                                                  for b in range(3) for c in (1, 2)] + [("linear", 8)]),
                 "activations": dict([("stem:out", 4)] + sum([[("layer%d.%d.relu1#0" % (s, b), 4),
                                                               ("layer%d.%d:out" % (s, b), 4)]
                                                              for s in (1, 2, 3) for b in range(3)], []))}
RTN_CONFIG = {"method": "rtn", "wbits": 4, "abits": 4, "scope": "none", "rounding": "nearest",
              "mixing": "none", "learn_act_steps": False, "act_steps_afterwards": False,
              "first_layer_8bit": True, "last_layer_8bit": True, "last_act_8bit": True, "calib": 1024,
              "init_images": 256, "iters": 20000, "batch": 32, "lr_round": 0.001, "lr_act": 4e-05,
              "lp": 2.4, "lambda": 0.01, "beta_start": 20, "beta_end": 2, "warmup": 0.2, "cand_lo": 0,
              "cand_hi": 1, "tau_start": 1, "tau_end": 0.01, "drop_p": 0.5, "mix_start": 0.5,
              "mix_end": 0, "seed": 0}


def quant_meta(model="resnet20", config=None, bits=None):
    return {"format": "nwq-quantized-v1", "model": model,
            "config": json.dumps(config or RTN_CONFIG, separators=(",", ":")),
            "bits": json.dumps(bits or RESNET20_BITS, separators=(",", ":"))}


def seeds_quantized():
    t = "quantized"
    merge, alone, unpack = b"\x01", b"\x00", b"\x02"
    put(t, "merge_nothing_valid", merge + safetensors([]))
    put(t, "merge_full_metadata", merge + safetensors([], quant_meta()))
    put(t, "alone_metadata_only", alone + safetensors([], quant_meta()))
    put(t, "merge_conv1_codes_short", merge + safetensors([("conv1.codes", "U8", [100], bytes(100))]))
    put(t, "merge_conv1_codes_i64", merge + safetensors([("conv1.codes", "I64", [18], bytes(144))]))
    put(t, "merge_scale_nan", merge + safetensors([("conv1.scale", "F32", [16], f32(*[float("nan")] * 16))]))
    put(t, "merge_scale_count", merge + safetensors([("conv1.scale", "F32", [8], f32(*[0.1] * 8))]))
    put(t, "merge_bias_f64", merge + safetensors([("conv1.bias", "F64", [16], bytes(128))]))
    put(t, "merge_act_scale_negative", merge + safetensors([("act.stem:out.scale", "F32", [1], f32(-1))]))
    put(t, "merge_act_zero_point_2", merge + safetensors([("act.stem:out.zero_point", "I32", [2], bytes(8))]))
    bits9 = json.loads(json.dumps(RESNET20_BITS))
    bits9["layers"]["conv1"] = 9
    put(t, "merge_layer_bits_9", merge + safetensors([], quant_meta(bits=bits9)))
    bits2 = json.loads(json.dumps(RESNET20_BITS))
    bits2["activations"]["stem:out"] = 2
    bits2["layers"]["layer1.0.conv1"] = 2
    put(t, "merge_bits_2", merge + safetensors([], quant_meta(bits=bits2)))
    bad_config = dict(RTN_CONFIG, wbits=1)
    put(t, "merge_config_wbits_1", merge + safetensors([], quant_meta(config=bad_config)))
    put(t, "merge_model_resnet32", merge + safetensors([], quant_meta(model="resnet32")))
    put(t, "merge_model_unknown", merge + safetensors([], quant_meta(model="resnet21")))
    put(t, "merge_format_wrong", merge + safetensors([], {"format": "pt"}))
    put(t, "unpack_16x4", unpack + struct.pack("<qb", 16, 4) + bytes(range(8)))
    put(t, "unpack_5x3", unpack + struct.pack("<qb", 5, 3) + b"\xff\x7f")
    put(t, "unpack_bad_length", unpack + struct.pack("<qb", 9, 2) + b"\x00")


# ---- torch_checkpoint --------------------------------------------------------------------------

PTH_GOLDENS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                           "pth")
LEGACY_MAGIC = (b"\x80\x02\x8a\x0a" +
                bytes([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]) + b".")


def state_dict_pickle(storage_type=b"FloatStorage", size=b"K\x04\x85", stride=b"K\x01\x85",
                      view=True):
    """Protocol-2 pickle of {"w": _rebuild_tensor_v2(storage "0", 0, size, stride, False, ())}."""
    pid = (b"(X\x07\x00\x00\x00storagectorch\n" + storage_type + b"\nX\x01\x00\x00\x000"
           b"X\x03\x00\x00\x00cpuK\x04" + (b"N" if view else b"") + b"tQ")
    return (b"\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n(" + pid +
            b"K\x00" + size + stride + b"\x89)tRu.")


def legacy_pth(object_pickle, storage=struct.pack("<q4f", 4, 1, 2, 3, 4)):
    return (LEGACY_MAGIC + b"\x80\x02M\xe9\x03." + b"\x80\x02}X\x0d\x00\x00\x00little_endian\x88s."
            + object_pickle + b"\x80\x02]X\x01\x00\x00\x000a." + storage)


def zip_pth(object_pickle, method=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as z:
        z.writestr("archive/data.pkl", object_pickle)
        z.writestr("archive/data/0", struct.pack("<4f", 1, 2, 3, 4))
        z.writestr("archive/version", "3\n")
    return buffer.getvalue()


def seeds_torch_checkpoint():
    t = "torch_checkpoint"
    for name in ("small_zip.pth", "small_legacy.pth", "nested_zip.pth.tar",
                 "nested_legacy.pth.tar"):
        with open(os.path.join(PTH_GOLDENS, name), "rb") as f:
            put(t, "torch_" + name.replace(".", "_"), f.read())
    put(t, "legacy_one_tensor", legacy_pth(state_dict_pickle()))
    put(t, "legacy_transposed", legacy_pth(state_dict_pickle(size=b"K\x02K\x02\x86",
                                                             stride=b"K\x01K\x02\x86")))
    put(t, "legacy_half", legacy_pth(state_dict_pickle(b"HalfStorage", size=b"K\x08\x85"),
                                     struct.pack("<q8e", 8, 1, 2, 3, 4, 5, 6, 7, 8)))
    put(t, "legacy_past_storage", legacy_pth(state_dict_pickle(size=b"K\x05\x85")))
    put(t, "legacy_refused_global", legacy_pth(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R."))
    put(t, "zip_one_tensor", zip_pth(state_dict_pickle(view=False)))
    put(t, "zip_deflated", zip_pth(state_dict_pickle(view=False), zipfile.ZIP_DEFLATED))


def main():
    for seeds in (seeds_safetensors, seeds_json, seeds_idx, seeds_image, seeds_cifar10, seeds_args,
                  seeds_quantized, seeds_torch_checkpoint):
        seeds()
    for target in sorted(os.listdir(ROOT)):
        files = os.listdir(os.path.join(ROOT, target))
        print("%-12s %2d seeds, largest %d bytes" % (target, len(files), max(
            os.path.getsize(os.path.join(ROOT, target, f)) for f in files)))


if __name__ == "__main__":
    sys.exit(main())
