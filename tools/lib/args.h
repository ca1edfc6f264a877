// Command-line flags for the nwq subcommands: declared with help text and defaults, parsed
// from "--flag value" or "--flag=value", read back with range checks that name the flag.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);
  // A flag taking a value; an empty default means "not set" (has() is false until given).
  void add(const std::string& name, const std::string& value_name, const std::string& fallback,
           const std::string& help);
  void add_switch(const std::string& name, const std::string& help);  // a flag without value

  // Parses args (no program or subcommand name). Unknown flags, missing values, repeated flags
  // and stray positional words throw nwq::Error naming them. "--help" sets help_requested().
  void parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_requested_; }
  std::string help() const;
  // The line help() prints for one declared flag: name, value name, help text and default.
  std::string help_line(const std::string& name) const;

  bool has(const std::string& name) const;  // given, or has a non-empty default
  bool on(const std::string& name) const;   // switch given
  std::string get(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t lo, int64_t hi) const;
  double get_double(const std::string& name, double lo, double hi) const;
  // One of the allowed words, else an error listing them.
  std::string get_choice(const std::string& name, const std::vector<std::string>& allowed) const;

 private:
  struct Flag {
    std::string name, value_name, fallback, help, value;
    bool is_switch = false, given = false;
  };
  const Flag& find(const std::string& name) const;
  Flag* lookup(const std::string& name);

  std::string command_, summary_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace nwq
