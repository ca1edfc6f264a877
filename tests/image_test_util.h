// Helpers for the image data tests: file writers (raw bytes, PNG and JPEG through
// stb_image_write) and deterministic synthetic images; TempDir (tests/temp_dir.h) comes with them.
#pragma once
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image_transforms.h"
#include "tests/temp_dir.h"

namespace nwq::test {

// Writes bytes to path, creating parent folders.
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

inline void write_png(const std::string& path, const Image8& image) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const int w = static_cast<int>(image.width), h = static_cast<int>(image.height);
  const int c = static_cast<int>(image.channels);
  REQUIRE(stbi_write_png(path.c_str(), w, h, c, image.pixels.data(), w * c) != 0);
}

inline void write_jpg(const std::string& path, const Image8& image, int quality = 95) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const int w = static_cast<int>(image.width), h = static_cast<int>(image.height);
  REQUIRE(stbi_write_jpg(path.c_str(), w, h, static_cast<int>(image.channels), image.pixels.data(),
                         quality) != 0);
}

// Pixel (y, x, c) = (seed * 37 + y * 11 + x * 5 + c * 70) mod 256: distinct per image and channel.
inline Image8 numbered_image(int64_t height, int64_t width, int64_t channels, int seed) {
  Image8 image{height, width, channels, std::vector<uint8_t>(height * width * channels)};
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int64_t c = 0; c < channels; ++c)
        image.pixels[(y * width + x) * channels + c] =
            static_cast<uint8_t>((seed * 37 + y * 11 + x * 5 + c * 70) % 256);
  return image;
}

}  // namespace nwq::test
