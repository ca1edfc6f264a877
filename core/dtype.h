// Element types of tensors and their traits table (size, name, safetensors name).
// F32 carries all math; F64 exists for CPU gradient checks; integers hold labels, counters and codes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nwq {

enum class DType : uint8_t { F32, F64, I64, I32, U8, I8 };

struct DTypeTraits {
  DType dtype;
  const char* name;              // "float32"
  const char* safetensors_name;  // "F32"
  size_t size;                   // bytes per element
  bool is_float;
};

const DTypeTraits& dtype_traits(DType dtype);
inline size_t dtype_size(DType dtype) { return dtype_traits(dtype).size; }
inline const char* dtype_name(DType dtype) { return dtype_traits(dtype).name; }
inline bool is_float(DType dtype) { return dtype_traits(dtype).is_float; }
// Parses a safetensors dtype name ("F32", "I64", ...); returns false when unknown.
bool dtype_from_safetensors(const std::string& name, DType* out);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<int8_t>() { return DType::I8; }

}  // namespace nwq
