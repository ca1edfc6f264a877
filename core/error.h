// Error handling for nwq: one exception type and the check macro used everywhere.
// Messages always name the op, file or flag that failed and what was wrong.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace nwq {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Builds a message from any streamable pieces: str("conv2d: got ", 3, " dims").
template <class... Parts>
std::string str(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

}  // namespace nwq

// NWQ_CHECK(cond, pieces...) throws nwq::Error with the pieces joined when cond is false.
#define NWQ_CHECK(cond, ...)                                   \
  do {                                                         \
    if (!(cond)) throw ::nwq::Error(::nwq::str(__VA_ARGS__));  \
  } while (0)
