// TempDir: a fresh, uniquely named folder under the system temp folder for one test, removed
// with everything in it when the TempDir goes out of scope. `dir / "a/b.png"` names a file in it.
#pragma once
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace nwq::test {

class TempDir {
 public:
  TempDir() {
    const std::string pattern = (std::filesystem::temp_directory_path() / "nwq_XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    REQUIRE(mkdtemp(buffer.data()) != nullptr);  // creates it, mode 0700, with a unique name
    path_ = buffer.data();
  }
  ~TempDir() {
    std::error_code ignored;  // a test may have made the folder read-only; give the rights back
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of `name` (which may hold folders: "train/cat/a.png") inside this folder.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace nwq::test
