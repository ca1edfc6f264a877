// ImageFolder data sets as torchvision lays them out: root/<class>/<image file>, class index =
// position of the class folder in sorted order. Images (JPEG, PNG, BMP, PPM/PGM) are decoded
// with stb_image, lazily on the loader's worker threads, or all at once into memory.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_dataset.h"
#include "data/image_pipeline.h"
#include "data/image_transforms.h"

namespace nwq {

// What to do with an image file that cannot be decoded (or is a TIFF/WebP, which torchvision
// reads but stb_image does not). Stop: throw an error naming the file and stb's reason.
// Skip: leave the file out, and list it (the caller reports how many were skipped).
enum class BadImagePolicy { Stop, Skip };

struct BadImage {
  std::string path, reason;
};

struct ImageFolderOptions {
  BadImagePolicy bad_images = BadImagePolicy::Stop;
  // Read every file's header (stbi_info: size and format, not the pixels) while scanning, so that
  // non-images, broken headers and (for pipelines without a crop) size mismatches are found
  // before training starts. Costs one small read per file, spread over `threads` threads.
  bool check_headers = true;
  int threads = 2;  // header checks and in-memory decoding
};

// The files of an ImageFolder, in torchvision's order: classes sorted by folder name; within a
// class, files sorted by (sub)folder path then file name (class folders are searched
// recursively). Hidden class folders (".name") are ignored; torchvision would count them.
struct ImageFolderIndex {
  std::string root;
  std::vector<std::string> class_names;  // index = label
  std::vector<std::string> files;        // full paths
  std::vector<int64_t> labels;           // one per file
  std::vector<ImageSize> sizes;          // one per file when the headers were checked, else empty
  std::vector<BadImage> skipped;         // files left out under BadImagePolicy::Skip
};

// Lists root's classes and image files. Errors: root missing or not a folder, no class folders,
// class folders without images (all named), and under Stop the first bad file.
ImageFolderIndex scan_image_folder(const std::string& root, const ImageFolderOptions& options = {});

// Throws when the two splits' class folders differ (labels would mean different classes),
// listing the classes found in only one of them.
void check_same_classes(const ImageFolderIndex& a, const ImageFolderIndex& b);

// Decodes an image file to 8-bit RGB (grey is replicated, alpha dropped, palettes expanded, as
// PIL's convert("RGB")). Throws nwq::Error naming the file and stb_image's reason.
Image8 decode_image_rgb(const std::string& path);

// An ImageFolder decoded on every get() (on the DataLoader's worker threads) and sent through
// `pipeline`. The output size is fixed by the pipeline's crop; a pipeline without one needs all
// images to have one size (checked up front when the index has header sizes, else at get()).
// A file that passed the scan but fails to decode at get() throws under Stop; under Skip the
// sample becomes all zeros (the mean image after normalization) and the file is listed in
// failed_at_load(): the batch shape cannot change once the loader has planned it.
class ImageFolderDataset : public Dataset {
 public:
  ImageFolderDataset(ImageFolderIndex index, ImagePipeline pipeline,
                     BadImagePolicy policy = BadImagePolicy::Stop);
  int64_t size() const override { return static_cast<int64_t>(index_.files.size()); }
  std::vector<int64_t> sample_shape() const override;
  int64_t label(int64_t index) const override;
  int num_classes() const override { return static_cast<int>(index_.class_names.size()); }
  void get(int64_t index, float* dst, Rng& rng) const override;

  const ImageFolderIndex& index() const { return index_; }
  const ImagePipeline& pipeline() const { return pipeline_; }
  std::vector<BadImage> failed_at_load() const;

 private:
  ImageFolderIndex index_;
  ImagePipeline pipeline_;
  BadImagePolicy policy_;
  ImageSize input_size_;  // the one input size, for pipelines without a crop
  ImageSize output_size_;
  mutable std::mutex failures_mutex_;
  mutable std::vector<BadImage> failures_;
};

// Decodes every image of the index once, on options.threads threads, into uint8 CHW memory (for
// small images such as CIFAR-10's, where decoding every epoch would dominate). All images must
// be height x width; 0 x 0 takes the size of the first image. Undecodable files follow
// options.bad_images and are appended to *skipped when given.
ImageDataset decode_image_folder(const ImageFolderIndex& index, const ImageFolderOptions& options,
                                 int64_t height = 0, int64_t width = 0,
                                 std::vector<BadImage>* skipped = nullptr);

// scan_image_folder (without the header check: decoding checks every file) + decode_image_folder.
ImageDataset load_image_folder_to_memory(const std::string& root,
                                         const ImageFolderOptions& options = {}, int64_t height = 0,
                                         int64_t width = 0,
                                         std::vector<BadImage>* skipped = nullptr);

}  // namespace nwq
