// scripts/quant_matrix.sh, the runner of `make tables`: a job whose runner was killed part-way
// continues from its run state (tests/test_quant_resume.cpp shows that a resumed run ends exactly
// where an uninterrupted one does), and finished jobs are skipped.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "data/fashion_mnist.h"
#include "tests/temp_dir.h"
#include "tests/quant_run_util.h"

using namespace nwq;
using namespace nwq::test;

namespace {

// Runs the matrix runner on jobs_file into out (blocking); its exit status.
int run_matrix(const std::string& nwq, const std::string& jobs_file, const std::string& out) {
  const std::string cmd = "NWQ='" + nwq + "' CHECKPOINT_EVERY=4 bash scripts/quant_matrix.sh '" +
                          jobs_file + "' '" + out + "' 1 2> '" + out + ".stderr'";
  return std::system(cmd.c_str());
}

}  // namespace

TEST_CASE("quant_matrix.sh: resumes a killed job from its run state and skips finished jobs") {
  const std::string weights = "models/weights/fmnist_resnet20.safetensors";
  const std::string nwq = nwq_binary();
  if (!readable(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz") ||
      !readable(weights) || !readable(nwq) || std::system("bash -c true") != 0) {
    MESSAGE("skipped: needs Fashion-MNIST, " << weights << ", " << nwq << " and bash");
    return;
  }
  TempDir dir;
  const std::string jobs = dir / "jobs.txt", out = dir / "out";
  std::ofstream(jobs) << "# one small job\n"
                      << "job --weights " << weights << " --method qdrop --wbits 2 --abits 4 "
                      << "--calib 64 --iters 12 --eval-limit 200 --no-fp-eval\n";

  // The runner (and its nwq) killed with SIGKILL once the job's state is at block 3.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group, so that the kill reaches nwq too
    ::_exit(run_matrix(nwq, jobs, out) == 0 ? 0 : 1);
  }
  for (int i = 0; i < 30000 && state_unit(out + "/job.state") < 3; ++i)  // up to 5 minutes
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(-pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(state_unit(out + "/job.state") >= 3);
  CHECK_FALSE(readable(out + "/job.json"));

  // Rerun: the job continues from its state, finishes, and its state file is removed.
  REQUIRE(run_matrix(nwq, jobs, out) == 0);
  REQUIRE(readable(out + "/job.json"));
  CHECK_FALSE(readable(out + "/job.state"));
  CHECK(slurp(out + "/job.log").find("resuming") != std::string::npos);
  const Json report = parse_json(slurp(out + "/job.report.json"), "report");
  CHECK(report.at("resumed_at").at("unit").as_int64() >= 3);  // it did not start over
  const std::string summary = slurp(out + "/job.json");
  CHECK(parse_json(summary, "summary").at("quant_top1").as_double() > 0);

  // Once more: the finished job is not redone.
  REQUIRE(run_matrix(nwq, jobs, out) == 0);
  CHECK(slurp(out + ".stderr").find("done job") == std::string::npos);
  CHECK(slurp(out + "/job.json") == summary);
}
