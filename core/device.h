// Where a tensor's memory lives: the CPU or one CUDA device.
// Transfers between devices are always explicit (Tensor::to).
#pragma once
#include <string>

namespace nwq {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return Device{DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return Device{DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string name() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

// Parses "cpu", "cuda" or "cuda:N"; throws naming `flag` otherwise.
Device parse_device(const std::string& text, const std::string& flag = "--device");

}  // namespace nwq
