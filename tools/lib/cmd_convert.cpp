// `nwq convert IN OUT.safetensors`: a torch.save checkpoint (or a safetensors file) rewritten as
// safetensors, with the model name and normalization the user supplies as metadata.
#include <cstdio>

#include "core/error.h"
#include "core/torch_checkpoint.h"
#include "data/normalization.h"
#include "models/checkpoint_names.h"
#include "tools/lib/cli_common.h"
#include "tools/lib/commands.h"

namespace nwq {

ArgParser convert_flags() {
  ArgParser a("convert",
              "Rewrites a torch.save checkpoint (.pth, .pth.tar) as safetensors: nwq convert IN "
              "OUT.safetensors. Tensor names stay as in the file unless --strip-prefixes.");
  a.add("--in", "FILE", "", "the checkpoint to read (or give it as the first word)");
  a.add("--out", "FILE", "", "the safetensors file to write (or give it as the second word)");
  a.add("--model", "NAME", "", "store this model name (resnet20, mobilenetv2, ...) as metadata");
  a.add("--mean", "R,G,B", "", "store the normalization mean the weights were trained with");
  a.add("--std", "R,G,B", "", "store the normalization std the weights were trained with");
  a.add_switch("--strip-prefixes",
               "remove wrapper prefixes (module., model., _orig_mod.) and add missing BN counters");
  return a;
}

int cmd_convert(const std::vector<std::string>& all_args) {
  ArgParser a = convert_flags();
  std::vector<std::string> rest = all_args;
  const char* positional[] = {"--in=", "--out="};
  for (size_t i = 0; i < rest.size() && i < 2 && rest[i].rfind("--", 0) != 0; ++i) {
    rest[i] = positional[i] + rest[i];
  }
  a.parse(rest);
  if (a.help_requested()) {
    std::fputs(a.help().c_str(), stdout);
    return 0;
  }
  NWQ_CHECK(a.has("--in") && a.has("--out"), "convert: give IN and OUT: nwq convert IN OUT");
  const std::string out = a.get("--out");
  check_output_path(out, "--out");
  SafetensorsMetadata metadata;
  if (a.has("--model")) {
    check_model_name(a.get("--model"));
    metadata.emplace_back("model", a.get("--model"));
  }
  for (const char* flag : {"--mean", "--std"}) {
    if (!a.has(flag)) continue;
    const std::vector<float> values = parse_channel_values(a.get(flag), flag, flag[2] == 's');
    metadata.emplace_back(flag + 2, format_channel_values(values));
  }
  TensorFile in = load_weights_file(a.get("--in"));
  NamedTensors tensors = in.tensors;
  if (a.on("--strip-prefixes")) tensors = add_missing_bn_counters(strip_wrapper_prefixes(tensors));
  metadata.emplace_back("converted_from", in.path);
  save_safetensors(out, tensors, metadata);
  std::fprintf(stderr, "convert: %zu tensors from %s -> %s\n", tensors.size(), in.path.c_str(),
               out.c_str());
  return 0;
}

}  // namespace nwq
