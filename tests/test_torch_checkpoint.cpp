// Tests for core/torch_checkpoint (zip and legacy torch.save files read without Python): goldens
// written by torch 1.13 compared exactly, a real model through --weights x.pth, and bad input.
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_util.h"
#include "core/pickle_reader.h"
#include "core/tensor_io.h"
#include "core/torch_checkpoint.h"
#include "data/fashion_mnist.h"
#include "data/sources.h"
#include "models/registry.h"
#include "tests/helpers.h"
#include "tests/temp_dir.h"
#include "tools/lib/commands.h"
#include "train/trainer.h"

using namespace nwq;
using namespace std::string_literals;
using nwq::test::golden_path;
using nwq::test::TempDir;

namespace {

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// Every tensor of `expected`, in order, with the same name, dtype, shape and bytes.
void check_same_tensors(const TensorFile& loaded, const TensorFile& expected) {
  REQUIRE(loaded.tensors.size() == expected.tensors.size());
  for (size_t i = 0; i < expected.tensors.size(); ++i) {
    const auto& [name, want] = expected.tensors[i];
    const auto& [got_name, got] = loaded.tensors[i];
    CAPTURE(name);
    CHECK(got_name == name);
    REQUIRE(got.dtype() == want.dtype());
    REQUIRE(got.sizes() == want.sizes());
    CHECK(std::memcmp(got.raw_data(), want.raw_data(),
                      size_t(want.numel()) * dtype_size(want.dtype())) == 0);
  }
}

std::string bytes_text(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// A legacy-format torch.save file holding {"w": FloatStorage "0" viewed by `tensor_args`}, where
// `object_pickle` may replace the state dict pickle entirely; `more_items` are more key/value
// pickles of that dict (memo 1 holds the tensor "w").
std::vector<uint8_t> legacy_file(const std::string& size_and_stride,
                                 const std::string& object_pickle = "",
                                 const std::string& more_items = "") {
  const std::string magic =
      "\x80\x02\x8a\x0a" +
      bytes_text({0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}) + ".";
  const std::string protocol = bytes_text({0x80, 0x02, 'M', 0xe9, 0x03, '.'});
  const std::string sys_info = "\x80\x02}.";
  const std::string key = "X\x01\x00\x00\x00"s;
  std::string object = "\x80\x02}("s + key +
                       "wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00"s +
                       "storagectorch\nFloatStorage\n" + key + "0X\x03\x00\x00\x00"s +
                       "cpuK\x04NtQK\x00"s + size_and_stride + "\x89)tRq\x01" + more_items + "u.";
  if (!object_pickle.empty()) object = object_pickle;
  const std::string keys = "\x80\x02]" + key + "0a.";
  std::string storage = bytes_text({4, 0, 0, 0, 0, 0, 0, 0});
  for (float f : {1.0f, 2.0f, 3.0f, 4.0f}) storage.append(reinterpret_cast<const char*>(&f), 4);
  const std::string all = magic + protocol + sys_info + object + keys + storage;
  return std::vector<uint8_t>(all.begin(), all.end());
}

}  // namespace

TEST_CASE("torch checkpoint: zip and legacy goldens match their safetensors twin exactly") {
  const TensorFile expected = load_safetensors(golden_path("pth/small_expected.safetensors"));
  for (const char* name : {"pth/small_zip.pth", "pth/small_legacy.pth", "pth/nested_zip.pth.tar",
                           "pth/nested_legacy.pth.tar"}) {
    CAPTURE(name);
    const TensorFile loaded = load_weights_file(golden_path(name));
    CHECK(loaded.path == golden_path(name));
    check_same_tensors(loaded, expected);
  }
  // F16/BF16/F64 became F32; the I64 counter stayed I64; views share nothing once loaded.
  const TensorFile zip = load_torch_checkpoint(golden_path("pth/small_zip.pth"));
  CHECK(zip.at("f16").dtype() == DType::F32);
  CHECK(zip.at("counter").dtype() == DType::I64);
  CHECK(zip.at("shared_a").data<float>()[3] == 5.0f);  // arange(10)[2:6]
  CHECK(zip.at("shared_b").data<float>()[0] == 5.0f);  // arange(10)[5:10], the same element
  CHECK(zip.at("transposed").sizes() == Shape{4, 3});
}

TEST_CASE("torch checkpoint: a ResNet-20 state dict saved by torch equals its safetensors twin") {
  const TensorFile pth = load_weights_file(golden_path("pth/fmnist_resnet20.pth"));
  check_same_tensors(pth, load_safetensors("models/weights/fmnist_resnet20.safetensors"));
}

TEST_CASE("torch checkpoint: nwq eval --weights x.pth gives the safetensors model's accuracy") {
  std::ifstream labels(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz");
  if (!labels.good()) {
    MESSAGE("skipped: Fashion-MNIST is not installed");
    return;
  }
  const std::string pth = golden_path("pth/fmnist_resnet20.pth");
  CHECK(cmd_eval({"--weights", pth, "--model", "resnet20", "--data", "fmnist", "--limit", "200",
                  "--quiet"}) == 0);
  DataSplits data = open_data("fmnist", false, false);
  EvalOptions o;
  o.limit = 200;
  o.progress = false;
  ModelPtr from_pth = create_model("resnet20", 10, 1, 1);
  from_pth->load_checkpoint(pth);
  ModelPtr from_safetensors = create_model("resnet20", 10, 1, 2);
  from_safetensors->load_checkpoint("models/weights/fmnist_resnet20.safetensors");
  const double top1 = evaluate(*from_pth, *data.test, o).top1;
  CHECK(top1 == evaluate(*from_safetensors, *data.test, o).top1);
  CHECK(top1 > 80.0);
}

TEST_CASE("torch checkpoint: a hand-made legacy file loads, and bad views are refused") {
  const std::string ok_view = bytes_text({'K', 4, 0x85, 'K', 1, 0x85});
  const TensorFile file = parse_torch_checkpoint(legacy_file(ok_view), "hand.pth");
  REQUIRE(file.tensors.size() == 1);
  CHECK(file.at("w").data<float>()[3] == 4.0f);
  const std::string too_long = bytes_text({'K', 5, 0x85, 'K', 1, 0x85});
  CHECK(error_of([&] {
          parse_torch_checkpoint(legacy_file(too_long), "hand.pth");
        }).find("hand.pth: tensor \"w\": view reaches element 4") == 0);
  const std::string big_stride = bytes_text({'K', 2, 0x85, 'J', 0, 0, 0, 0x40, 0x85});
  CHECK(error_of([&] {
          parse_torch_checkpoint(legacy_file(big_stride), "hand.pth");
        }).find("hand.pth: tensor \"w\"") == 0);
  const std::string huge = bytes_text(
      {'J', 0xff, 0xff, 0xff, 0x7f, 'J', 0xff, 0xff, 0xff, 0x7f, 0x86, 'K', 0, 'K', 0, 0x86});
  CHECK(error_of([&] {
          parse_torch_checkpoint(legacy_file(huge), "hand.pth");
        }).find("per byte of the file") != std::string::npos);
  // One stride-0 view of 200 elements is fine; twenty keys naming it (BINGET of the memoized
  // tensor) would be 4000 elements from a file of about 280 bytes: over the total budget.
  const std::string repeat = bytes_text({'K', 200, 0x85, 'K', 0, 0x85});
  CHECK(parse_torch_checkpoint(legacy_file(repeat), "hand.pth").at("w").numel() == 200);
  std::string copies;
  for (int i = 0; i < 20; ++i) copies += "X\x02\x00\x00\x00w"s + char('a' + i) + "h\x01";
  CHECK(error_of([&] { parse_torch_checkpoint(legacy_file(repeat, "", copies), "hand.pth"); })
            .find("per byte of the file in all") != std::string::npos);
}

TEST_CASE("torch checkpoint: globals other than a state dict's are refused, naming them") {
  for (const char* global :
       {"os\nsystem\n", "builtins\neval\n", "torch\nload\n", "torch.storage\n_load_from_bytes\n"}) {
    CAPTURE(global);
    const std::string pickle =
        "\x80\x02}(X\x01\x00\x00\x00wc"s + global + "X\x02\x00\x00\x00ls\x85Ru."s;
    const std::string message = error_of([&] {
      parse_torch_checkpoint(legacy_file("", std::string(pickle.begin(), pickle.end())),
                             "evil.pth");
    });
    std::string dotted = global;
    dotted = dotted.substr(0, dotted.size() - 1);
    dotted[dotted.find('\n')] = '.';
    CHECK(message.find("evil.pth (state dict): pickle byte ") == 0);
    CHECK(message.find("refused global " + dotted) != std::string::npos);
  }
  // Opcodes a state dict never needs (INST 'i', OBJ 'o', NEWOBJ 0x81) are refused by name.
  CHECK(error_of([] {
          read_pickle(reinterpret_cast<const uint8_t*>("\x80\x02(o."), 4, "x.pkl");
        }).find("x.pkl: pickle byte 3: refused pickle opcode 0x6f ('o')") == 0);
}

TEST_CASE("torch checkpoint: truncated, corrupt and foreign files give errors naming the file") {
  TempDir dir;
  const std::vector<uint8_t> zip = read_file_bytes(golden_path("pth/small_zip.pth"));
  const std::vector<uint8_t> legacy = read_file_bytes(golden_path("pth/small_legacy.pth"));
  for (size_t cut : {size_t{5}, size_t{100}, zip.size() / 2, zip.size() - 1}) {
    CAPTURE(cut);
    std::vector<uint8_t> part(zip.begin(), zip.begin() + static_cast<std::ptrdiff_t>(cut));
    CHECK(error_of([&] { parse_torch_checkpoint(part, "cut.pth"); }).find("cut.pth") == 0);
  }
  for (size_t cut : {size_t{3}, size_t{40}, legacy.size() / 2, legacy.size() - 1}) {
    CAPTURE(cut);
    std::vector<uint8_t> part(legacy.begin(), legacy.begin() + static_cast<std::ptrdiff_t>(cut));
    CHECK(error_of([&] { parse_torch_checkpoint(part, "cut.pth"); }).find("cut.pth") == 0);
  }
  std::vector<uint8_t> wrong_magic = legacy;
  wrong_magic[6] ^= 1;
  CHECK(error_of([&] {
          parse_torch_checkpoint(wrong_magic, "m.pth");
        }).find("m.pth: wrong magic number") == 0);
  CHECK(error_of([&] {
          parse_torch_checkpoint({'h', 'i'}, "t.pth");
        }).find("t.pth: not a torch") == 0);
  const std::string junk = dir / "junk.pth";
  write_file_atomic(junk, "PK\x03\x04", 5);
  CHECK(error_of([&] { load_weights_file(junk); }).find(junk + ": ") == 0);
}

TEST_CASE("torch checkpoint: nwq convert writes the tensors and the metadata the user gives") {
  TempDir dir;
  const std::string out = dir / "small.safetensors";
  const std::string in = golden_path("pth/nested_legacy.pth.tar");
  CHECK(cmd_convert({in, out, "--model", "resnet20", "--mean", "0.5,0.25,0.125", "--std",
                     "0.2,0.2,0.2"}) == 0);
  const TensorFile converted = load_safetensors(out);
  check_same_tensors(converted, load_safetensors(golden_path("pth/small_expected.safetensors")));
  CHECK(converted.meta("model") == "resnet20");
  CHECK(converted.meta("mean") == "0.5,0.25,0.125");
  CHECK(converted.meta("std") == "0.2,0.2,0.2");
  CHECK(converted.meta("converted_from") == in);
  // Without flags only the source is recorded; names stay as they are in the file.
  const std::string plain = dir / "plain.safetensors";
  CHECK(cmd_convert({"--in", golden_path("pth/small_zip.pth"), "--out", plain,
                     "--strip-prefixes"}) == 0);
  CHECK(load_safetensors(plain).metadata.size() == 1);
  CHECK(load_safetensors(plain).tensors.front().first == "f32");
  // Bad flags fail before anything is written.
  CHECK(error_of([&] { cmd_convert({in, dir / "x.safetensors", "--model", "nope"}); }) != "");
  CHECK(error_of([&] { cmd_convert({in, dir / "x.safetensors", "--std", "0"}); })
            .find("--std") != std::string::npos);
  CHECK(error_of([&] { cmd_convert({in}); }).find("convert: give IN and OUT") == 0);
  CHECK_FALSE(std::ifstream(dir / "x.safetensors").good());
}

TEST_CASE("torch checkpoint: a converted ResNet-20 evaluates with the model name from metadata") {
  std::ifstream labels(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz");
  if (!labels.good()) {
    MESSAGE("skipped: Fashion-MNIST is not installed");
    return;
  }
  TempDir dir;
  const std::string out = dir / "r20.safetensors";
  CHECK(cmd_convert({golden_path("pth/fmnist_resnet20.pth"), out, "--model", "resnet20",
                     "--mean", "0.286", "--std", "0.353"}) == 0);
  CHECK(cmd_eval({"--weights", out, "--data", "fmnist", "--limit", "100", "--quiet"}) == 0);
}

TEST_CASE("torch checkpoint: nwq info on a .pth points to nwq convert") {
  CHECK(error_of([] { cmd_info({golden_path("pth/small_zip.pth")}); })
            .find("a torch.save checkpoint; nwq info reads safetensors: run nwq convert") !=
        std::string::npos);
}

TEST_CASE("torch checkpoint: a safetensors file whose header length starts like a pickle") {
  // Header length 128 = bytes 80 00 ...: still safetensors for --weights.
  TempDir dir;
  std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  header.resize(128, ' ');
  const float one = 1.0f;
  std::string file = bytes_text({0x80, 0, 0, 0, 0, 0, 0, 0}) + header;
  file.append(reinterpret_cast<const char*>(&one), 4);
  const std::string path = dir / "w.safetensors";
  write_file_atomic(path, file.data(), file.size());
  CHECK_FALSE(looks_like_torch_checkpoint(read_file_bytes(path)));
  CHECK(load_weights_file(path).at("w").data<float>()[0] == 1.0f);
  CHECK(looks_like_torch_checkpoint(read_file_bytes(golden_path("pth/small_legacy.pth"))));
  CHECK(looks_like_torch_checkpoint(read_file_bytes(golden_path("pth/small_zip.pth"))));
}
