// libFuzzer target: the Fashion-MNIST file path of data/idx.h read_idx_file on bytes in memory:
// gunzip (data/gzip.h, stb's inflate) when the gzip magic is there, then parse_idx.
#include "data/gzip.h"
#include "data/idx.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes = nwq_fuzz::to_bytes(data, size);
  nwq_fuzz::expect_error_or_success([&] {
    // The same dispatch as read_idx_file (which also gunzips any name ending in .gz).
    const bool gzip_magic = bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
    if (gzip_magic) bytes = nwq::gunzip(bytes, "fuzz.gz");
    const nwq::IdxArray array = nwq::parse_idx(bytes, "fuzz.idx");
    // parse_idx promises dims whose product is exactly the data size.
    uint64_t count = 1;
    for (int64_t d : array.dims) count *= static_cast<uint64_t>(d);
    if (array.dims.empty() || count != array.data.size()) std::abort();
  });
  return 0;
}
