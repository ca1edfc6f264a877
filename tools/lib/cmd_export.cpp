// `nwq export --weights F --format onnx|onnx-float --out F.onnx`: a quantized file as a QDQ ONNX
// model, or an FP checkpoint as a float ONNX model (deploy/onnx_export.h, docs/DEPLOY.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/tensor_io.h"
#include "core/torch_checkpoint.h"
#include "deploy/onnx_export.h"
#include "ops/shape.h"
#include "quant/export.h"
#include "tools/lib/cli_common.h"
#include "tools/lib/commands.h"

namespace nwq {

namespace {

// The head's bias gives the number of classes (both FP and quantized files keep it as F32).
int64_t classes_from_file(const TensorFile& f) {
  for (const char* name : {"linear.bias", "fc.bias", "classifier.1.bias"})
    if (f.contains(name)) return f.at(name).numel();
  throw Error(str(f.path, ": cannot tell the number of classes (no linear.bias, fc.bias or "
                          "classifier.1.bias); pass --classes N"));
}

// "C,H,W" with each value in 1..65536.
std::vector<int64_t> parse_input_shape(const std::string& text) {
  std::vector<int64_t> dims;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    const long long v = std::strtoll(part.c_str(), &end, 10);
    NWQ_CHECK(!part.empty() && *end == 0 && v >= 1 && v <= 65536, "export: --input must be C,H,W ",
              "(three positive integers, e.g. 3,32,32), got '", text, "'");
    dims.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  NWQ_CHECK(dims.size() == 3, "export: --input must be C,H,W (e.g. 3,32,32), got '", text, "'");
  return dims;
}

// model's logits for the 'images' tensor of images_path, in batches of 64, written as 'logits'.
void write_reference_logits(Module& model, const std::string& images_path, const std::string& out) {
  TensorFile file = load_weights_file(images_path);
  const Tensor images = file.at("images").to(DType::F32).contiguous();
  NWQ_CHECK(images.dim() == 4, images_path, ": 'images' must be [N, C, H, W]");
  std::vector<Tensor> parts;
  NoGradGuard no_grad;
  for (int64_t i = 0; i < images.size(0); i += 64)
    parts.push_back(model.forward(images.slice(0, i, std::min(images.size(0), i + 64)).contiguous()));
  save_safetensors(out, {{"logits", concat(parts, 0)}}, {{"images", images_path}});
}

}  // namespace

ArgParser export_flags() {
  ArgParser a("export",
              "Writes a model as ONNX: --format onnx takes a quantized file (nwq quantize --out) and "
              "writes a QDQ graph (integer weight codes with per-channel DequantizeLinear, "
              "QuantizeLinear/DequantizeLinear on activations); --format onnx-float takes an FP "
              "checkpoint. Supported: resnet20/32/44/56, resnet18/34/50(_cifar), mobilenetv2(_cifar). "
              "See docs/DEPLOY.md.");
  a.add("--weights", "FILE", "", "the quantized file (onnx) or FP checkpoint (onnx-float)");
  a.add("--format", "F", "onnx", "onnx (QDQ, from a quantized file) or onnx-float (FP checkpoint)");
  a.add("--out", "FILE", "", "the .onnx file to write (atomically)");
  a.add("--model", "NAME", "", "model name (default: the weights' metadata)");
  a.add("--input", "C,H,W", "3,32,32", "the input's channels and size (the batch stays symbolic)");
  a.add("--classes", "N", "", "number of classes (default: from the head's bias in the file)");
  a.add("--opset", "N", "21",
        "21: 2..4-bit weights stored as UINT4 (opset 21); 13: every code as UINT8 (opset 13, for "
        "older runtimes). Models without 4-bit weights use opset 13 either way");
  a.add("--images", "FILE", "",
        "also run nwq's own model on these images (the 'images' tensor [N,C,H,W] of a nwq data "
        "--out file) and write its logits to --logits: the reference an ONNX runtime must match");
  a.add("--logits", "FILE", "", "with --images: write nwq's logits [N, classes] here (safetensors)");
  return a;
}

int cmd_export(const std::vector<std::string>& args) {
  ArgParser a = export_flags();
  a.parse(args);
  if (a.help_requested()) {
    std::fputs(a.help().c_str(), stdout);
    return 0;
  }
  NWQ_CHECK(a.has("--weights"), "export: --weights FILE is required");
  NWQ_CHECK(a.has("--out"), "export: --out FILE is required");
  const std::string format = a.get_choice("--format", {"onnx", "onnx-float"});
  const std::string out = a.get("--out");
  check_output_path(out, "--out");
  const std::vector<int64_t> input = parse_input_shape(a.get("--input"));
  const int64_t opset = a.get_int("--opset", 13, 21);
  NWQ_CHECK(opset == 13 || opset == 21, "export: --opset must be 13 or 21, got ", opset);
  NWQ_CHECK(a.has("--images") == a.has("--logits"), "export: --images and --logits go together");
  if (a.has("--logits")) check_output_path(a.get("--logits"), "--logits");
  TensorFile weights = load_weights_file(a.get("--weights"));
  const bool quantized = is_quantized_file(weights);
  NWQ_CHECK(format != "onnx" || quantized, "export: --format onnx needs a quantized file (from nwq ",
            "quantize --out); ", weights.path, " is not one (for an FP checkpoint use --format onnx-float)");
  NWQ_CHECK(format != "onnx-float" || !quantized, "export: --format onnx-float needs an FP checkpoint; ",
            weights.path, " is a quantized file (use --format onnx)");
  const std::string model_name = a.has("--model") ? a.get("--model") : weights.meta("model");
  NWQ_CHECK(!model_name.empty(), weights.path, ": no 'model' in the file's metadata; pass --model");
  check_model_name(model_name);

  OnnxExportOptions o;
  o.channels = input[0];
  o.height = input[1];
  o.width = input[2];
  o.num_classes = a.has("--classes") ? a.get_int("--classes", 1, 1 << 20) : classes_from_file(weights);
  o.uint4_weights = opset == 21;
  OnnxModel model;
  std::shared_ptr<Module> nwq_model;
  if (quantized) {
    std::shared_ptr<QuantModel> qm;
    try {
      qm = load_quantized(weights, int(o.num_classes), int(o.channels), o.height, o.width, Device::cpu());
    } catch (const Error& e) {
      throw Error(str(e.what(), " (are --input ", a.get("--input"), " and --classes ", o.num_classes,
                      " the model's input and classes?)"));
    }
    model = quantized_to_onnx(*qm, model_name, o);
    nwq_model = qm;
  } else {
    ModelPtr fp = create_model(model_name, int(o.num_classes), int(o.channels), 0);
    fp->load_checkpoint(weights);
    fp->eval();
    model = float_to_onnx(*fp, model_name, o);
    nwq_model = fp;
  }
  write_onnx(model, out);
  if (a.has("--images")) write_reference_logits(*nwq_model, a.get("--images"), a.get("--logits"));
  std::fprintf(stderr, "export: %s (%s) -> %s: %zu nodes, %zu initializers, opset %lld\n",
               weights.path.c_str(), model_name.c_str(), out.c_str(), model.graph.nodes.size(),
               model.graph.initializers.size(), (long long)model.opset);
  return 0;
}

}  // namespace nwq
