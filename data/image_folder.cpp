// ImageFolder scanning (class folders, image files, optional header check on threads), the
// train/val class comparison, and decoding a whole folder into memory on threads.
#include "data/image_folder.h"

#include <stb/stb_image.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <functional>
#include <thread>
#include <utility>

#include "core/error.h"
#include "data/image_check.h"

namespace nwq {
namespace fs = std::filesystem;
namespace {

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// Extensions stb_image decodes, and those torchvision also accepts that stb_image cannot.
bool is_image_file(const fs::path& path) {
  static const std::vector<std::string> exts = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm"};
  return std::count(exts.begin(), exts.end(), lower_extension(path)) > 0;
}
bool is_unsupported_image_file(const fs::path& path) {
  static const std::vector<std::string> exts = {".tif", ".tiff", ".webp"};
  return std::count(exts.begin(), exts.end(), lower_extension(path)) > 0;
}

// Runs body(0 .. n-1) on `threads` threads taking indices in turn. body must not throw.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& body) {
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) body(i);
  };
  const int64_t helpers = std::min<int64_t>(std::max(threads, 1), n) - 1;
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < helpers; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
}

std::string join_names(const std::vector<std::string>& names, size_t limit = 8) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += str(" and ", names.size() - limit, " more");
  return out;
}

// Sorted names of the non-hidden subfolders of root.
std::vector<std::string> list_class_folders(const std::string& root) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && !name.empty() && name[0] != '.') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Image files under dir (recursively), sorted as torchvision's sorted(os.walk(dir)) then
// sorted(file names) visits them. Files torchvision reads but stb cannot go to *unsupported.
std::vector<std::string> list_images(const fs::path& dir, std::vector<std::string>* unsupported) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name)
  const auto options = fs::directory_options::follow_directory_symlink;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir, options)) {
    if (!entry.is_regular_file()) continue;
    const fs::path& p = entry.path();
    if (is_image_file(p)) found.emplace_back(p.parent_path().string(), p.filename().string());
    if (is_unsupported_image_file(p)) unsupported->push_back(p.string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  for (const auto& [folder, name] : found) files.push_back((fs::path(folder) / name).string());
  return files;
}

// Drops the files whose `bad` entry is set (keeping index order), listing them as skipped.
void drop_bad_files(ImageFolderIndex& index, const std::vector<std::string>& bad) {
  ImageFolderIndex kept = index;
  kept.files.clear();
  kept.labels.clear();
  kept.sizes.clear();
  for (size_t i = 0; i < index.files.size(); ++i) {
    if (!bad[i].empty()) {
      kept.skipped.push_back({index.files[i], bad[i]});
      continue;
    }
    kept.files.push_back(index.files[i]);
    kept.labels.push_back(index.labels[i]);
    if (!index.sizes.empty()) kept.sizes.push_back(index.sizes[i]);
  }
  index = std::move(kept);
}

// Reads every header; records sizes; applies the policy to unreadable ones.
void check_headers(ImageFolderIndex& index, const ImageFolderOptions& options) {
  const int64_t n = static_cast<int64_t>(index.files.size());
  std::vector<std::string> bad(n);
  index.sizes.assign(n, ImageSize{});
  parallel_for(n, options.threads, [&](int64_t i) {
    int w = 0, h = 0;
    if (read_image_header(index.files[i], w, h, bad[i])) index.sizes[i] = {h, w};
  });
  for (int64_t i = 0; i < n && options.bad_images == BadImagePolicy::Stop; ++i) {
    NWQ_CHECK(bad[i].empty(), bad[i], "; use the skip policy for bad images to leave such files out");
  }
  drop_bad_files(index, bad);
}

// Every class must keep at least one image (checked again after skipping bad files).
void check_no_empty_classes(const std::string& root, const std::vector<std::string>& class_names,
                            const std::vector<int64_t>& labels, const std::string& what) {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (int64_t label : labels) ++counts[label];
  std::vector<std::string> empty;
  for (size_t c = 0; c < counts.size(); ++c)
    if (counts[c] == 0) empty.push_back(class_names[c]);
  NWQ_CHECK(empty.empty(), "ImageFolder ", root, ": ", empty.size(), " class folder(s) ", what,
            ": ", join_names(empty), " (images: .jpg .jpeg .png .bmp .ppm .pgm, any letter case)");
}

}  // namespace

ImageFolderIndex scan_image_folder(const std::string& root, const ImageFolderOptions& options) {
  std::error_code error;
  NWQ_CHECK(fs::exists(root, error), "ImageFolder: folder not found: ", root);
  NWQ_CHECK(fs::is_directory(root, error), "ImageFolder: ", root, " is not a folder");
  ImageFolderIndex index;
  index.root = root;
  std::vector<std::string> unsupported;
  try {
    index.class_names = list_class_folders(root);
    NWQ_CHECK(!index.class_names.empty(), "ImageFolder ", root, ": no class folders (expected ",
              root, "/<class>/<image files>)");
    for (size_t label = 0; label < index.class_names.size(); ++label) {
      for (std::string& file :
           list_images(fs::path(root) / index.class_names[label], &unsupported)) {
        index.files.push_back(std::move(file));
        index.labels.push_back(static_cast<int64_t>(label));
      }
    }
  } catch (const fs::filesystem_error& e) {
    throw Error(str("ImageFolder ", root, ": cannot list files: ", e.what()));
  }
  const std::string reason = "TIFF/WebP: stb_image cannot decode it (convert it to PNG or JPEG)";
  NWQ_CHECK(unsupported.empty() || options.bad_images == BadImagePolicy::Skip, unsupported[0], ": ",
            reason);
  for (const std::string& file : unsupported) index.skipped.push_back({file, reason});
  check_no_empty_classes(root, index.class_names, index.labels, "hold no images");
  if (options.check_headers) {
    check_headers(index, options);
    check_no_empty_classes(root, index.class_names, index.labels, "hold no readable images");
  }
  return index;
}

void check_same_classes(const ImageFolderIndex& a, const ImageFolderIndex& b) {
  if (a.class_names == b.class_names) return;
  std::vector<std::string> only_a, only_b;
  std::set_difference(a.class_names.begin(), a.class_names.end(), b.class_names.begin(),
                      b.class_names.end(), std::back_inserter(only_a));
  std::set_difference(b.class_names.begin(), b.class_names.end(), a.class_names.begin(),
                      a.class_names.end(), std::back_inserter(only_b));
  throw Error(str("ImageFolder: the class folders of ", a.root, " (", a.class_names.size(),
                  ") and ", b.root, " (", b.class_names.size(),
                  ") differ, so their labels would not mean the same classes; only in ", a.root,
                  ": ", only_a.empty() ? "none" : join_names(only_a), "; only in ", b.root, ": ",
                  only_b.empty() ? "none" : join_names(only_b)));
}

namespace {

// The size of the first image whose header stb_image can read (0 x 0 when none can).
ImageSize first_image_size(const ImageFolderIndex& index) {
  for (const std::string& file : index.files) {
    int w = 0, h = 0;
    std::string why;
    if (read_image_header(file, w, h, why)) return {h, w};
  }
  return {};
}

// Decodes file i into dst (3 x size CHW); returns an error message, or "" on success.
// `fatal` is set for a size mismatch, which no policy skips.
std::string decode_into(const std::string& file, ImageSize size, uint8_t* dst, bool* fatal) {
  Image8 image;
  try {
    image = decode_image_rgb(file);
  } catch (const Error& e) {
    return e.what();
  }
  if (image.height != size.height || image.width != size.width) {
    *fatal = true;
    return str(file, ": image is ", image.height, "x", image.width,
               " but this data set's images are ", size.height, "x", size.width);
  }
  const int64_t plane = size.height * size.width;
  for (int64_t p = 0; p < plane; ++p)  // HWC -> CHW
    for (int64_t c = 0; c < 3; ++c) dst[c * plane + p] = image.pixels[p * 3 + c];
  return "";
}

}  // namespace

ImageDataset decode_image_folder(const ImageFolderIndex& index, const ImageFolderOptions& options,
                                 int64_t height, int64_t width, std::vector<BadImage>* skipped) {
  const int64_t n = static_cast<int64_t>(index.files.size());
  const ImageSize size =
      height == 0 && width == 0 ? first_image_size(index) : ImageSize{height, width};
  NWQ_CHECK(n > 0 && size.height > 0 && size.width > 0, "ImageFolder ", index.root,
            ": no decodable images");
  const int64_t image_bytes = 3 * size.height * size.width;
  ImageDataset out;
  out.pixels.resize(n * image_bytes);
  std::vector<std::string> errors(n);
  std::vector<char> fatal(n, 0);
  std::atomic<bool> stop{false};
  parallel_for(n, options.threads, [&](int64_t i) {
    if (stop) return;
    bool is_fatal = false;
    errors[i] = decode_into(index.files[i], size, out.pixels.data() + i * image_bytes, &is_fatal);
    fatal[i] = is_fatal;
    if (is_fatal || (!errors[i].empty() && options.bad_images == BadImagePolicy::Stop)) stop = true;
  });
  for (int64_t i = 0; i < n; ++i)  // the first problem in file order, whichever thread saw it
    NWQ_CHECK(errors[i].empty() || (!fatal[i] && options.bad_images == BadImagePolicy::Skip),
              errors[i]);
  int64_t kept = 0;  // compact the decoded images over the skipped ones
  for (int64_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      if (skipped) skipped->push_back({index.files[i], errors[i]});
      continue;
    }
    if (kept != i)
      std::copy_n(out.pixels.begin() + i * image_bytes, image_bytes,
                  out.pixels.begin() + kept * image_bytes);
    ++kept;
    out.labels.push_back(index.labels[i]);
  }
  out.pixels.resize(kept * image_bytes);
  out.count = kept;
  out.channels = 3;
  out.height = size.height;
  out.width = size.width;
  out.num_classes = static_cast<int>(index.class_names.size());
  out.class_names = index.class_names;
  check_no_empty_classes(index.root, index.class_names, out.labels, "hold no decodable images");
  return out;
}

ImageDataset load_image_folder_to_memory(const std::string& root, const ImageFolderOptions& options,
                                         int64_t height, int64_t width,
                                         std::vector<BadImage>* skipped) {
  ImageFolderOptions scan_options = options;
  scan_options.check_headers = false;  // decoding reads every file anyway
  ImageFolderIndex index = scan_image_folder(root, scan_options);
  if (skipped) skipped->insert(skipped->end(), index.skipped.begin(), index.skipped.end());
  return decode_image_folder(index, options, height, width, skipped);
}

}  // namespace nwq
