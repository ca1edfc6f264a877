// The kernel slot registry against the parity table and the CUDA kernel list: every slot has CPU
// kernels, a CPU/CUDA parity case and (in a CUDA build) a CUDA kernel. No GPU needed.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ops/backend.h"
#include "ops/dispatch.h"
#include "tests/cuda_parity.h"

using namespace nwq;

namespace {

std::set<std::string> registered_slot_names() {
  std::set<std::string> names;
  for (const KernelSlotInfo& slot : all_kernel_slots()) names.insert(slot.name);
  return names;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

TEST_SUITE("kernels") {

TEST_CASE("kernels: every op's slots registered themselves, once, with both CPU kernels") {
  const std::vector<KernelSlotInfo> slots = all_kernel_slots();
  // The ops of every layer are linked into this binary, so the registry holds all of them: 61
  // slots today (raise this when adding a kernel; a drop means slots went missing).
  CHECK(slots.size() == 61);
  std::set<std::string> seen;
  for (const KernelSlotInfo& slot : slots) {
    INFO(slot.name);
    CHECK(seen.insert(slot.name).second);  // no name twice
    CHECK(slot.has_cpu_f32);
    CHECK(slot.has_cpu_f64);
  }
  CHECK(seen.count("relu_forward") == 1);
  CHECK(seen.count("adam_step") == 1);  // optim/ slots register too
}

TEST_CASE("kernels: every slot has a CPU/CUDA parity case, and every case names real slots") {
  const std::set<std::string> slots = registered_slot_names();
  std::map<std::string, std::vector<std::string>> cases_of;  // slot -> parity cases naming it
  std::vector<std::string> unknown;
  for (const test::ParityRow& row : test::parity_table()) {
    CHECK_MESSAGE(!row.slots.empty(), row.test_case, " names no kernel slot");
    for (const std::string& slot : row.slots) {
      if (slots.count(slot)) cases_of[slot].push_back(row.test_case);
      else unknown.push_back(slot + " (in \"" + row.test_case + "\")");
    }
  }
  std::vector<std::string> missing;
  for (const std::string& slot : slots) {
    if (!cases_of.count(slot)) missing.push_back(slot);
  }
  CHECK_MESSAGE(missing.empty(), "kernel slots without a parity case: ", join(missing));
  CHECK_MESSAGE(unknown.empty(), "parity cases name slots that do not exist: ", join(unknown));
  CHECK(test::parity_table().size() >= 20);
}

TEST_CASE("kernels: the CUDA kernel list covers exactly the registered slots") {
  const std::vector<std::string> list = cuda_kernel_names();
  if (!built_with_cuda()) {  // a CPU-only build carries no CUDA kernel at all
    CHECK(list.empty());
    return;
  }
  const std::set<std::string> slots = registered_slot_names();
  const std::set<std::string> listed(list.begin(), list.end());
  CHECK(listed.size() == list.size());  // no kernel listed twice
  std::vector<std::string> missing, unknown;
  for (const std::string& slot : slots) {
    if (!listed.count(slot)) missing.push_back(slot);
  }
  for (const std::string& name : listed) {
    if (!slots.count(name)) unknown.push_back(name);
  }
  CHECK_MESSAGE(missing.empty(), "kernel slots without a CUDA kernel in cuda/kernel_list.h: ",
                join(missing));
  CHECK_MESSAGE(unknown.empty(), "cuda/kernel_list.h names no slot called: ", join(unknown));
}

}  // TEST_SUITE("kernels")
