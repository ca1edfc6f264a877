// The nwq command-line tool: `nwq <command> [flags]`. Every failure prints one clear
// "nwq: error: ..." line and exits non-zero; nothing is left half-written.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "core/error.h"
#include "ops/backend.h"
#include "tools/lib/commands.h"

static const char* kUsage =
    "usage: nwq <command> [flags]\n"
    "\n"
    "commands:\n"
    "  train   train a model (e.g. nwq train --model resnet20 --data fmnist --epochs 15)\n"
    "  eval    evaluate weights on a data set's test split\n"
    "  info    list the tensors, shapes and metadata of a safetensors file\n"
    "  quantize  post-training quantization (nwq quantize --weights W --method nwq --wbits 2)\n"
    "  plot    PNG charts from quantization reports (nwq plot --reports A.json,B.json --out DIR)\n"
    "  data    write a split's images as nwq feeds them to a model (nwq data --split calib --out F)\n"
    "  convert rewrite a torch.save .pth checkpoint as safetensors (nwq convert IN.pth OUT)\n"
    "  export  write a quantized model as QDQ ONNX (nwq export --weights Q --format onnx --out Q.onnx)\n"
    "\n"
    "`nwq <command> --help` explains each command's flags.\n";

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    nwq::init_backends();
    if (command == "train") return nwq::cmd_train(args);
    if (command == "eval") return nwq::cmd_eval(args);
    if (command == "info") return nwq::cmd_info(args);
    if (command == "quantize") return nwq::cmd_quantize(args);
    if (command == "plot") return nwq::cmd_plot(args);
    if (command == "data") return nwq::cmd_data(args);
    if (command == "convert") return nwq::cmd_convert(args);
    if (command == "export") return nwq::cmd_export(args);
    std::fprintf(stderr, "nwq: error: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const nwq::Error& e) {
    std::fprintf(stderr, "nwq: error: %s\n", e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "nwq: error: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nwq: error: %s\n", e.what());
  }
  return 1;
}
