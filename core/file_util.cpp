// POSIX implementations of read_file_bytes and write_file_atomic.
// Every system call is checked; errors carry the path and strerror(errno).
#include "core/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace nwq {

namespace {

std::string system_reason() { return std::strerror(errno); }

// Closes a file descriptor when it goes out of scope (error paths included).
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now and reports failure (close can report a delayed write error).
  bool close_now() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

std::string folder_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes all bytes, retrying short writes and interrupted calls; false with errno set on failure.
bool write_all(int fd, const uint8_t* data, size_t bytes) {
  while (bytes > 0) {
    ssize_t written = ::write(fd, data, bytes);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      if (written == 0) errno = EIO;
      return false;
    }
    data += written;
    bytes -= static_cast<size_t>(written);
  }
  return true;
}

// Writes, syncs and closes the temp file; returns an error message, empty on success.
std::string write_temp_file(const std::string& temp, const void* data, size_t bytes) {
  FileDescriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
  if (fd.get() < 0) return "cannot create temp file " + temp + ": " + system_reason();
  if (!write_all(fd.get(), static_cast<const uint8_t*>(data), bytes)) {
    return "cannot write " + temp + ": " + system_reason();
  }
  if (::fsync(fd.get()) != 0) return "cannot fsync " + temp + ": " + system_reason();
  if (!fd.close_now()) return "cannot close " + temp + ": " + system_reason();
  return "";
}

// Best effort: make the rename itself durable by syncing the folder entry.
void sync_folder(const std::string& folder) {
  FileDescriptor fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) ::fsync(fd.get());
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  NWQ_CHECK(fd.get() >= 0, "cannot open ", path, ": ", system_reason());
  struct stat info;
  NWQ_CHECK(::fstat(fd.get(), &info) == 0, "cannot stat ", path, ": ", system_reason());
  NWQ_CHECK(!S_ISDIR(info.st_mode), "cannot read ", path, ": it is a directory");
  std::vector<uint8_t> bytes;
  if (S_ISREG(info.st_mode)) bytes.reserve(static_cast<size_t>(info.st_size));
  uint8_t chunk[1 << 16];
  while (true) {  // read to end of file: also works for pipes and files that grow or shrink
    ssize_t got = ::read(fd.get(), chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR) continue;
    NWQ_CHECK(got >= 0, "cannot read ", path, ": ", system_reason());
    if (got == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  return bytes;
}

void write_file_atomic(const std::string& path, const void* data, size_t bytes) {
  NWQ_CHECK(!path.empty(), "write_file_atomic: empty path");
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::string problem = write_temp_file(temp, data, bytes);
  if (problem.empty() && ::rename(temp.c_str(), path.c_str()) != 0) {
    problem = "cannot rename " + temp + " to " + path + ": " + system_reason();
  }
  if (!problem.empty()) {
    ::unlink(temp.c_str());  // may fail when the temp file was never created; that is fine
    throw Error("cannot write " + path + ": " + problem);
  }
  sync_folder(folder_of(path));
}

}  // namespace nwq
