// ImageFolderDataset: decodes one image file per get() with stb_image (on whichever loader
// thread asks) and runs it through the ImagePipeline; plus the decode helper itself.
#include <stb/stb_image.h>

#include <algorithm>
#include <climits>

#include "core/error.h"
#include "core/file_util.h"
#include "data/image_check.h"
#include "data/image_folder.h"

namespace nwq {

Image8 decode_image_rgb(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);  // errors name the path
  NWQ_CHECK(!bytes.empty(), path, ": cannot decode image: the file is empty");
  NWQ_CHECK(bytes.size() <= static_cast<size_t>(INT_MAX), path, ": image file too large (",
            bytes.size(), " bytes)");
  check_image_bytes(bytes, path);  // keeps stb_image away from inputs it mishandles
  int width = 0, height = 0, file_channels = 0;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height,
                             &file_channels)) {
    const char* reason = stbi_failure_reason();
    throw Error(str(path, ": cannot decode image (stb_image: ", reason ? reason : "unknown error", ")"));
  }
  check_image_size(width, height, path);
  uint8_t* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                        &height, &file_channels, 3);  // 3: convert to RGB
  if (data == nullptr) {
    const char* reason = stbi_failure_reason();  // thread-local in stb_image
    throw Error(
        str(path, ": cannot decode image (stb_image: ", reason ? reason : "unknown error", ")"));
  }
  Image8 image{height, width, 3, {}};
  image.pixels.assign(data, data + static_cast<size_t>(height) * width * 3);
  stbi_image_free(data);
  return image;
}

ImageFolderDataset::ImageFolderDataset(ImageFolderIndex index, ImagePipeline pipeline,
                                       BadImagePolicy policy)
    : index_(std::move(index)), pipeline_(std::move(pipeline)), policy_(policy) {
  NWQ_CHECK(!index_.files.empty(), "ImageFolder ", index_.root, ": no images");
  NWQ_CHECK(pipeline_.mean.size() == 3 && pipeline_.std.size() == 3, "ImageFolder ", index_.root,
            ": the pipeline needs 3 mean and 3 std values (images are decoded as RGB)");
  if (pipeline_.fixed_output()) {
    output_size_ = pipeline_.output_size(0, 0);
    return;
  }
  // No crop: every image must have the first one's size.
  if (!index_.sizes.empty()) {
    input_size_ = index_.sizes[0];
    for (size_t i = 0; i < index_.sizes.size(); ++i) {
      NWQ_CHECK(index_.sizes[i].height == input_size_.height &&
                    index_.sizes[i].width == input_size_.width,
                index_.files[i], ": image is ", index_.sizes[i].height, "x", index_.sizes[i].width,
                " but ", index_.files[0], " is ", input_size_.height, "x", input_size_.width,
                "; without a crop in the pipeline all images need one size");
    }
  } else {
    int w = 0, h = 0;
    std::string why;
    NWQ_CHECK(read_image_header(index_.files[0], w, h, why), why);
    input_size_ = {h, w};
  }
  output_size_ = pipeline_.output_size(input_size_.height, input_size_.width);
}

std::vector<int64_t> ImageFolderDataset::sample_shape() const {
  return {3, output_size_.height, output_size_.width};
}

int64_t ImageFolderDataset::label(int64_t index) const {
  NWQ_CHECK(index >= 0 && index < size(), "ImageFolder: index ", index, " out of range (size ",
            size(), ")");
  return index_.labels[index];
}

void ImageFolderDataset::get(int64_t index, float* dst, Rng& rng) const {
  label(index);  // range check
  const std::string& path = index_.files[index];
  Image8 image;
  try {
    image = decode_image_rgb(path);
  } catch (const Error& e) {
    if (policy_ == BadImagePolicy::Stop) throw;
    std::fill(dst, dst + 3 * output_size_.height * output_size_.width, 0.0f);
    std::lock_guard<std::mutex> lock(failures_mutex_);
    failures_.push_back({path, e.what()});
    return;
  }
  if (!pipeline_.fixed_output()) {
    NWQ_CHECK(image.height == input_size_.height && image.width == input_size_.width, path,
              ": image is ", image.height, "x", image.width, " but this data set's images are ",
              input_size_.height, "x", input_size_.width);
  }
  apply_pipeline(pipeline_, std::move(image), dst, rng);
}

std::vector<BadImage> ImageFolderDataset::failed_at_load() const {
  std::lock_guard<std::mutex> lock(failures_mutex_);
  return failures_;
}

}  // namespace nwq
