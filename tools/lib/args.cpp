// ArgParser: flag declaration, parsing and checked conversion.
// Numbers must parse completely ("12x" is an error) and lie inside the stated range.
#include "tools/lib/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace nwq {

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void ArgParser::add(const std::string& name, const std::string& value_name,
                    const std::string& fallback, const std::string& help) {
  Flag f;
  f.name = name;
  f.value_name = value_name;
  f.fallback = fallback;
  f.help = help;
  flags_.push_back(f);
}

void ArgParser::add_switch(const std::string& name, const std::string& help) {
  Flag f;
  f.name = name;
  f.help = help;
  f.is_switch = true;
  flags_.push_back(f);
}

ArgParser::Flag* ArgParser::lookup(const std::string& name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const ArgParser::Flag& ArgParser::find(const std::string& name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return f;
  }
  throw Error(str(command_, ": internal error: flag ", name, " was never declared"));
}

void ArgParser::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    NWQ_CHECK(arg.size() > 2 && arg.compare(0, 2, "--") == 0, command_, ": unexpected argument '",
              arg, "' (flags start with --; see nwq ", command_, " --help)");
    size_t eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    Flag* f = lookup(name);
    NWQ_CHECK(f != nullptr, command_, ": unknown flag ", name, " (see nwq ", command_, " --help)");
    NWQ_CHECK(!f->given, command_, ": flag ", name, " given twice");
    f->given = true;
    if (f->is_switch) {
      NWQ_CHECK(eq == std::string::npos, command_, ": flag ", name, " takes no value");
      continue;
    }
    if (eq != std::string::npos) {
      f->value = arg.substr(eq + 1);
    } else {
      NWQ_CHECK(i + 1 < args.size(), command_, ": flag ", name, " needs a value (", f->value_name,
                ")");
      f->value = args[++i];
    }
    NWQ_CHECK(!f->value.empty(), command_, ": flag ", name, " has an empty value");
  }
}

std::string ArgParser::help() const {
  std::string out = str("usage: nwq ", command_, " [flags]\n", summary_, "\n\nflags:\n");
  for (const Flag& f : flags_) out += help_line(f.name);
  return out + "  --help                    show this help\n";
}

std::string ArgParser::help_line(const std::string& name) const {
  const Flag& f = find(name);
  const std::string left = f.is_switch ? f.name : f.name + " " + f.value_name;
  const std::string gap(left.size() < 26 ? 26 - left.size() : 1, ' ');  // help in column 29
  std::string line = "  " + left + gap + f.help;
  if (!f.fallback.empty()) line += " (default: " + f.fallback + ")";
  return line + "\n";
}

bool ArgParser::has(const std::string& name) const {
  const Flag& f = find(name);
  return f.given || !f.fallback.empty();
}

bool ArgParser::on(const std::string& name) const { return find(name).given; }

std::string ArgParser::get(const std::string& name) const {
  const Flag& f = find(name);
  if (f.given) return f.value;
  NWQ_CHECK(!f.fallback.empty(), command_, ": flag ", name, " is required");
  return f.fallback;
}

int64_t ArgParser::get_int(const std::string& name, int64_t lo, int64_t hi) const {
  std::string text = get(name);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  NWQ_CHECK(end && *end == '\0' && errno == 0, command_, ": flag ", name,
            " expects an integer, got '", text, "'");
  NWQ_CHECK(v >= lo && v <= hi, command_, ": flag ", name, " must be in [", lo, ", ", hi,
            "], got ", v);
  return v;
}

double ArgParser::get_double(const std::string& name, double lo, double hi) const {
  std::string text = get(name);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  NWQ_CHECK(end && *end == '\0' && std::isfinite(v), command_, ": flag ", name,
            " expects a number, got '", text, "'");
  NWQ_CHECK(v >= lo && v <= hi, command_, ": flag ", name, " must be in [", lo, ", ", hi,
            "], got ", v);
  return v;
}

std::string ArgParser::get_choice(const std::string& name,
                                  const std::vector<std::string>& allowed) const {
  std::string v = get(name);
  std::string list;
  for (const std::string& a : allowed) {
    if (a == v) return v;
    list += (list.empty() ? "" : ", ") + a;
  }
  throw Error(str(command_, ": flag ", name, " must be one of ", list, "; got '", v, "'"));
}

}  // namespace nwq
