// Resumable quantization: a `nwq quantize` process killed with SIGKILL part-way through continues
// with --resume to exactly the file an uninterrupted run writes (same codes, steps and top-1).
#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "data/fashion_mnist.h"
#include "tests/quant_run_util.h"
#include "tests/temp_dir.h"
#include "tools/lib/commands.h"

using namespace nwq;
using namespace nwq::test;

TEST_CASE("quantize: a run killed with SIGKILL resumes to the same quantized model") {
  const std::string weights = "models/weights/fmnist_resnet20.safetensors";
  const std::string nwq = nwq_binary();
  if (!readable(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz") ||
      !readable(weights) || !readable(nwq)) {
    MESSAGE("skipped: needs Fashion-MNIST, " << weights << " and " << nwq);
    return;
  }
  const std::vector<std::string> common = {
      "--weights", weights, "--method", "qdrop", "--wbits", "2", "--abits", "4", "--calib", "64",
      "--iters", "12", "--eval-limit", "200", "--no-fp-eval", "--quiet"};
  TempDir dir;
  const std::string full = dir / "full.safetensors", resumed = dir / "resumed.safetensors",
                    killed = dir / "killed.safetensors", state = dir / "state.safetensors";
  std::vector<std::string> args = common;
  args.insert(args.end(), {"--out", full});
  REQUIRE(cmd_quantize(args) == 0);

  // The same run in a child process, with checkpoints every 4 iterations, killed at block 3.
  std::vector<std::string> child_args = {nwq, "quantize"};
  child_args.insert(child_args.end(), common.begin(), common.end());
  child_args.insert(child_args.end(),
                    {"--state", state, "--checkpoint-every", "4", "--out", killed});
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : child_args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(nwq.c_str(), argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 30000 && state_unit(state) < 3; ++i)  // up to 5 minutes (sanitizer builds)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK_FALSE(readable(killed));  // it died before writing its result
  REQUIRE(state_unit(state) >= 3);

  args = common;
  args.insert(args.end(), {"--state", state, "--resume", "--out", resumed});
  REQUIRE(cmd_quantize(args) == 0);
  CHECK(slurp(resumed) == slurp(full));  // codes, scales, steps and the top-1 in the metadata

  // Another configuration cannot resume this state.
  args = common;
  args[5] = "3";  // --wbits 3
  args.insert(args.end(), {"--state", state, "--resume", "--out", resumed});
  CHECK_THROWS_WITH_AS(cmd_quantize(args), doctest::Contains("another configuration"), Error);
}
