// libFuzzer target: parse_torch_checkpoint (core/torch_checkpoint.h) on arbitrary bytes, which
// runs the zip reader, the pickle reader and the strided tensor copy of both torch.save formats.
#include "core/torch_checkpoint.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nwq::TensorFile file;
  const bool parsed = nwq_fuzz::expect_error_or_success(
      [&] { file = nwq::parse_torch_checkpoint(nwq_fuzz::to_bytes(data, size), "fuzz.pth"); });
  if (!parsed) return 0;
  // An accepted file has at least one tensor, each defined, named, and F32/I64/I32/U8/I8.
  if (file.tensors.empty()) std::abort();
  for (const auto& [name, t] : file.tensors) {
    if (!t.defined() || t.dtype() == nwq::DType::F64) std::abort();
    if (!file.contains(name)) std::abort();
  }
  return 0;
}
