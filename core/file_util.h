// Whole-file reading and crash-safe writing (temp file, fsync, rename) with errors naming the path.
// Writers use write_file_atomic so an interrupted save never leaves a half-written weights file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

// Reads the whole file. Throws nwq::Error naming the path when it is missing, unreadable or a directory.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Writes `bytes` bytes to "<path>.tmp.<pid>" in the same folder, fsyncs it, then renames it over
// `path`. On any failure the temp file is removed, any earlier file at `path` is left as it was,
// and nwq::Error names the path and the system's reason. Two threads of one process must not
// write the same path at the same time (they would share the temp name).
void write_file_atomic(const std::string& path, const void* data, size_t bytes);

}  // namespace nwq
