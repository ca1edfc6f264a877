// libFuzzer target: the CIFAR-10 binary batch reader (data/cifar10.h read_cifar10_batches) on
// the fuzz bytes written to a tmpfs file, since the reader only takes paths.
#include "data/cifar10.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nwq_fuzz::ScratchFile file("cifar10");
  const std::string& path = file.write(data, size);
  nwq_fuzz::expect_error_or_success([&] {
    const nwq::ImageDataset set = nwq::read_cifar10_batches({path});
    // A batch that loads is whole records with labels 0..9.
    if (set.count * nwq::kCifar10RecordBytes != static_cast<int64_t>(size) ||
        set.pixels.size() != static_cast<size_t>(set.count) * 3072 ||
        set.labels.size() != static_cast<size_t>(set.count))
      std::abort();
    for (int64_t label : set.labels)
      if (label < 0 || label > 9) std::abort();
  });
  return 0;
}
