// CIFAR-10 binary batch reader: validates every file (size, labels) before building the
// ImageDataset, so a truncated download or a CIFAR-100 file gives a clear error.
#include "data/cifar10.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/file_util.h"

namespace nwq {
namespace fs = std::filesystem;
namespace {

bool file_exists(const std::string& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

// Appends one batch file's records to `out`.
void append_batch(const std::string& path, ImageDataset& out) {
  NWQ_CHECK(file_exists(path), "CIFAR-10 batch file not found: ", path);
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  const int64_t size = static_cast<int64_t>(bytes.size());
  NWQ_CHECK(size > 0, path, ": empty file (expected CIFAR-10 records of ", kCifar10RecordBytes,
            " bytes)");
  if (size % kCifar10RecordBytes != 0) {
    const bool like_cifar100 = size % (kCifar10RecordBytes + 1) == 0;
    throw Error(str(path, ": size ", size, " bytes is not a multiple of the ", kCifar10RecordBytes,
                    "-byte CIFAR-10 record (1 label byte + 3072 pixel bytes): ",
                    like_cifar100 ? "it looks like CIFAR-100 (2 label bytes per record)"
                                  : "the file is truncated or not a CIFAR-10 batch"));
  }
  const int64_t records = size / kCifar10RecordBytes;
  const int64_t image_bytes = kCifar10RecordBytes - 1;
  out.pixels.reserve(out.pixels.size() + records * image_bytes);
  for (int64_t r = 0; r < records; ++r) {
    const uint8_t* record = bytes.data() + r * kCifar10RecordBytes;
    NWQ_CHECK(record[0] <= 9, path, ": record ", r, " has label ", int{record[0]},
              " (CIFAR-10 labels are 0..9)");
    out.labels.push_back(record[0]);
    out.pixels.insert(out.pixels.end(), record + 1, record + 1 + image_bytes);
  }
  out.count += records;
}

// The ten names of batches.meta.txt (one per line), or the built-in names.
std::vector<std::string> read_class_names(const std::string& dir) {
  std::ifstream meta(dir + "/batches.meta.txt");
  std::vector<std::string> names;
  for (std::string line; meta && std::getline(meta, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names.size() == 10 ? names : cifar10_class_names();
}

}  // namespace

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return names;
}

ImageDataset read_cifar10_batches(const std::vector<std::string>& paths) {
  NWQ_CHECK(!paths.empty(), "read_cifar10_batches: no files given");
  ImageDataset out;
  out.channels = 3;
  out.height = 32;
  out.width = 32;
  out.num_classes = 10;
  out.class_names = cifar10_class_names();
  for (const std::string& path : paths) append_batch(path, out);
  return out;
}

std::string find_cifar10_binary_dir(const std::string& dir) {
  for (const std::string& candidate : {dir, dir + "/cifar-10-batches-bin"}) {
    if (file_exists(candidate + "/data_batch_1.bin") || file_exists(candidate + "/test_batch.bin"))
      return candidate;
  }
  return "";
}

ImageDataset load_cifar10_binary(const std::string& dir, const std::string& split) {
  NWQ_CHECK(split == "train" || split == "test",
            "load_cifar10_binary: split must be \"train\" or \"test\", got \"", split, "\"");
  std::vector<std::string> paths;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) paths.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  } else {
    paths.push_back(dir + "/test_batch.bin");
  }
  for (const std::string& path : paths) {
    NWQ_CHECK(file_exists(path), "CIFAR-10 batch file not found: ", path, " (the ", split,
              " split needs ",
              split == "train" ? "data_batch_1.bin ... data_batch_5.bin" : "test_batch.bin", " in ",
              dir, ")");
  }
  ImageDataset data = read_cifar10_batches(paths);
  data.class_names = read_class_names(dir);
  return data;
}

ImageTransform cifar10_transform(bool augment) {
  ImageTransform t;
  t.mean.assign(kCifar10Mean, kCifar10Mean + 3);
  t.std.assign(kCifar10Std, kCifar10Std + 3);
  if (augment) {
    t.crop_padding = 4;
    t.random_flip = true;
  }
  return t;
}

}  // namespace nwq
