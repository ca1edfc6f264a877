// The dtype traits table: one row per DType, in enum order.
// Adding a dtype means adding a row here and an enum value in dtype.h.
#include "core/dtype.h"

namespace nwq {

static const DTypeTraits kTraits[] = {
    {DType::F32, "float32", "F32", 4, true}, {DType::F64, "float64", "F64", 8, true},
    {DType::I64, "int64", "I64", 8, false},  {DType::I32, "int32", "I32", 4, false},
    {DType::U8, "uint8", "U8", 1, false},    {DType::I8, "int8", "I8", 1, false},
};

const DTypeTraits& dtype_traits(DType dtype) { return kTraits[static_cast<int>(dtype)]; }

bool dtype_from_safetensors(const std::string& name, DType* out) {
  for (const DTypeTraits& t : kTraits) {
    if (name == t.safetensors_name) {
      *out = t.dtype;
      return true;
    }
  }
  return false;
}

}  // namespace nwq
