// The Json value type, a strict recursive-descent RFC 8259 parser (depth-limited, UTF-8 checked)
// and a compact serializer whose numbers read back to the same value.
#include "core/json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace nwq {

// ---------------------------------------------------------------------------------------------
// Value
// ---------------------------------------------------------------------------------------------

static const char* kind_name(Json::Kind kind) {
  switch (kind) {
    case Json::Kind::Null: return "null";
    case Json::Kind::Bool: return "bool";
    case Json::Kind::Number: return "number";
    case Json::Kind::String: return "string";
    case Json::Kind::Array: return "array";
    case Json::Kind::Object: return "object";
  }
  return "?";
}

Json::Json(bool value) : kind_(Kind::Bool), bool_(value) {}
Json::Json(double value) : kind_(Kind::Number), number_(value) {}
Json::Json(float value) : kind_(Kind::Number), from_float_(true), number_(value) {}
Json::Json(const char* value) : kind_(Kind::String), string_(value) {}
Json::Json(std::string value) : kind_(Kind::String), string_(std::move(value)) {}

void Json::set_integer(int64_t value) {
  kind_ = Kind::Number;
  is_integer_ = true;
  integer_ = value;
  number_ = static_cast<double>(value);
}

Json Json::array(std::vector<Json> items) {
  Json result;
  result.kind_ = Kind::Array;
  result.items_ = std::move(items);
  return result;
}

Json Json::object(std::initializer_list<Member> members) {
  Json result;
  result.kind_ = Kind::Object;
  for (const Member& member : members) {
    NWQ_CHECK(result.insert(member.first, member.second), "json: duplicate key \"", member.first,
              "\" in Json::object");
  }
  return result;
}

void Json::expect(Kind kind, const char* what) const {
  NWQ_CHECK(kind_ == kind, "json: ", what, " needs a ", kind_name(kind), " but the value is a ",
            kind_name(kind_));
}

bool Json::as_bool() const {
  expect(Kind::Bool, "as_bool");
  return bool_;
}

double Json::as_double() const {
  expect(Kind::Number, "as_double");
  return number_;
}

int64_t Json::as_int64() const {
  expect(Kind::Number, "as_int64");
  if (is_integer_) return integer_;
  // A double is accepted only when it is integral and small enough that no rounding happened.
  const double kExactLimit = 9007199254740992.0;  // 2^53
  NWQ_CHECK(std::floor(number_) == number_ && std::fabs(number_) <= kExactLimit,
            "json: as_int64 needs an exact integer but the number is ",
            std::isfinite(number_) ? to_json(*this) : str(number_));
  return static_cast<int64_t>(number_);
}

const std::string& Json::as_string() const {
  expect(Kind::String, "as_string");
  return string_;
}

const std::vector<Json>& Json::as_array() const {
  expect(Kind::Array, "as_array");
  return items_;
}

const std::vector<Json::Member>& Json::members() const {
  expect(Kind::Object, "members");
  return members_;
}

size_t Json::size() const {
  if (kind_ == Kind::Array) return items_.size();
  expect(Kind::Object, "size");
  return members_.size();
}

const Json& Json::operator[](size_t index) const {
  expect(Kind::Array, "operator[]");
  NWQ_CHECK(index < items_.size(), "json: index ", index, " out of range for an array of ",
            items_.size());
  return items_[index];
}

const Json* Json::find(const std::string& key) const {
  expect(Kind::Object, "find");
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &members_[it->second].second;
}

const Json& Json::at(const std::string& key) const {
  const Json* value = find(key);
  NWQ_CHECK(value != nullptr, "json: object has no key \"", key, "\"");
  return *value;
}

void Json::push_back(Json value) {
  expect(Kind::Array, "push_back");
  items_.push_back(std::move(value));
}

void Json::set(const std::string& key, Json value) {
  expect(Kind::Object, "set");
  auto it = index_.find(key);
  if (it != index_.end()) {
    members_[it->second].second = std::move(value);
  } else {
    insert(key, std::move(value));
  }
}

bool Json::insert(const std::string& key, Json value) {
  expect(Kind::Object, "insert");
  if (index_.count(key) != 0) return false;
  index_.emplace(key, members_.size());
  members_.emplace_back(key, std::move(value));
  return true;
}

bool Json::operator==(const Json& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::Null: return true;
    case Kind::Bool: return bool_ == other.bool_;
    case Kind::Number:
      if (is_integer_ && other.is_integer_) return integer_ == other.integer_;
      return number_ == other.number_;
    case Kind::String: return string_ == other.string_;
    case Kind::Array: return items_ == other.items_;
    case Kind::Object: return members_ == other.members_;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Value of one hex digit, or -1.
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Parses "-?[0-9]+" into an int64; false when it does not fit.
bool parse_int64(const std::string& literal, int64_t* out) {
  bool negative = !literal.empty() && literal[0] == '-';
  const uint64_t limit = negative ? (uint64_t{1} << 63) : (uint64_t{1} << 63) - 1;
  uint64_t magnitude = 0;
  for (size_t i = negative ? 1 : 0; i < literal.size(); ++i) {
    uint64_t digit = static_cast<uint64_t>(literal[i] - '0');
    if (magnitude > (limit - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  // Negate in unsigned arithmetic so that -2^63 does not overflow.
  *out = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

class Parser {
 public:
  Parser(const std::string& text, const std::string& label) : text_(text), label_(label) {}

  Json parse_document() {
    Json value = parse_value(0);
    skip_whitespace();
    if (!at_end()) fail("unexpected " + describe_here() + " after the JSON value");
    return value;
  }

 private:
  [[noreturn]] void fail_at(size_t pos, const std::string& what) const {
    throw Error(str(label_, ": invalid JSON at byte ", pos, ": ", what));
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  // "'x'", "byte 0x01" or "end of input", for error messages.
  std::string describe_here() const {
    if (at_end()) return "end of input";
    unsigned char c = static_cast<unsigned char>(peek());
    if (c >= 0x20 && c < 0x7F) return str("'", static_cast<char>(c), "'");
    char buffer[16];
    std::snprintf(buffer, sizeof(buffer), "byte 0x%02X", c);
    return buffer;
  }

  void skip_whitespace() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
      ++pos_;
    }
  }

  Json parse_value(int depth) {
    skip_whitespace();
    if (at_end()) fail("unexpected end of input, expected a value");
    char c = peek();
    if (c == '{') return parse_object(depth + 1);
    if (c == '[') return parse_array(depth + 1);
    if (c == '"') return Json(parse_string());
    if (c == '-' || is_digit(c)) return parse_number();
    if (c == 't') return parse_literal("true", Json(true));
    if (c == 'f') return parse_literal("false", Json(false));
    if (c == 'n') return parse_literal("null", Json());
    fail("unexpected " + describe_here() + ", expected a value");
  }

  Json parse_literal(const std::string& word, Json value) {
    if (text_.compare(pos_, word.size(), word) != 0) fail("invalid literal, expected '" + word + "'");
    pos_ += word.size();
    return value;
  }

  void check_depth(int depth) const {
    if (depth > kJsonMaxDepth) fail(str("nesting deeper than ", kJsonMaxDepth, " levels"));
  }

  Json parse_array(int depth) {
    check_depth(depth);
    ++pos_;  // '['
    Json result = Json::array();
    skip_whitespace();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return result;
    }
    while (true) {
      result.push_back(parse_value(depth));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
      } else if (!at_end() && peek() == ']') {
        ++pos_;
        return result;
      } else {
        fail("expected ',' or ']' in array, got " + describe_here());
      }
    }
  }

  Json parse_object(int depth) {
    check_depth(depth);
    ++pos_;  // '{'
    Json result = Json::object();
    skip_whitespace();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return result;
    }
    while (true) {
      skip_whitespace();
      if (at_end() || peek() != '"') fail("expected a string key in object, got " + describe_here());
      size_t key_pos = pos_;
      std::string key = parse_string();
      skip_whitespace();
      if (at_end() || peek() != ':') fail("expected ':' after object key, got " + describe_here());
      ++pos_;
      Json value = parse_value(depth);
      if (!result.insert(key, std::move(value))) fail_at(key_pos, "duplicate key " + to_json(Json(key)));
      skip_whitespace();
      if (!at_end() && peek() == ',') {
        ++pos_;
      } else if (!at_end() && peek() == '}') {
        ++pos_;
        return result;
      } else {
        fail("expected ',' or '}' in object, got " + describe_here());
      }
    }
  }

  std::string parse_string() {
    size_t start = pos_;
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (at_end()) fail_at(start, "unterminated string");
      unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return out;
      } else if (c == '\\') {
        parse_escape(&out);
      } else if (c < 0x20) {
        fail("unescaped control character " + describe_here() + " in string");
      } else if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++pos_;
      } else {
        copy_utf8_sequence(&out);
      }
    }
  }

  void parse_escape(std::string* out) {
    size_t start = pos_;
    ++pos_;  // backslash
    if (at_end()) fail_at(start, "unterminated escape sequence");
    char e = text_[pos_++];
    switch (e) {
      case '"': out->push_back('"'); return;
      case '\\': out->push_back('\\'); return;
      case '/': out->push_back('/'); return;
      case 'b': out->push_back('\b'); return;
      case 'f': out->push_back('\f'); return;
      case 'n': out->push_back('\n'); return;
      case 'r': out->push_back('\r'); return;
      case 't': out->push_back('\t'); return;
      case 'u': append_utf8(parse_unicode_escape(start), out); return;
      default: fail_at(start, "invalid escape sequence '\\" + std::string(1, e) + "'");
    }
  }

  // After "\u": four hex digits, plus a second "\uXXXX" when the first is a high surrogate.
  uint32_t parse_unicode_escape(size_t start) {
    uint32_t unit = parse_hex4();
    if (unit >= 0xDC00 && unit <= 0xDFFF) fail_at(start, "lone low surrogate in \\u escape");
    if (unit < 0xD800 || unit > 0xDBFF) return unit;
    if (text_.compare(pos_, 2, "\\u") != 0) {
      fail_at(start, "high surrogate in \\u escape is not followed by a low surrogate");
    }
    pos_ += 2;
    uint32_t low = parse_hex4();
    if (low < 0xDC00 || low > 0xDFFF) {
      fail_at(start, "high surrogate in \\u escape is not followed by a low surrogate");
    }
    return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
  }

  uint32_t parse_hex4() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      int digit = at_end() ? -1 : hex_value(peek());
      if (digit < 0) fail("expected four hex digits in \\u escape, got " + describe_here());
      value = value * 16 + static_cast<uint32_t>(digit);
      ++pos_;
    }
    return value;
  }

  // Copies one multi-byte UTF-8 sequence, rejecting overlong forms, surrogates and > U+10FFFF.
  void copy_utf8_sequence(std::string* out) {
    unsigned char lead = static_cast<unsigned char>(peek());
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) length = 3;
    else if (lead >= 0xF0 && lead <= 0xF4) length = 4;
    else fail("invalid UTF-8 " + describe_here() + " in string");
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
    for (size_t i = 1; i < length; ++i) {
      size_t at = pos_ + i;
      unsigned char c = at < text_.size() ? static_cast<unsigned char>(text_[at]) : 0;
      unsigned char min = i == 1 ? low : 0x80, max = i == 1 ? high : 0xBF;
      if (c < min || c > max) fail("invalid UTF-8 sequence in string");
    }
    out->append(text_, pos_, length);
    pos_ += length;
  }

  void skip_digits() {
    while (!at_end() && is_digit(peek())) ++pos_;
  }

  void require_digit(const char* after) {
    if (at_end() || !is_digit(peek())) fail(str("expected a digit after ", after, ", got ", describe_here()));
  }

  Json parse_number() {
    size_t start = pos_;
    if (peek() == '-') ++pos_;
    require_digit("'-'");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && is_digit(peek())) fail_at(start, "leading zeros are not allowed in numbers");
    } else {
      skip_digits();
    }
    bool integral = true;
    if (!at_end() && peek() == '.') {
      integral = false;
      ++pos_;
      require_digit("'.'");
      skip_digits();
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      require_digit("the exponent");
      skip_digits();
    }
    std::string literal = text_.substr(start, pos_ - start);
    int64_t exact = 0;
    if (integral && parse_int64(literal, &exact)) return Json(exact);
    return Json(convert_double(literal, start));
  }

  double convert_double(const std::string& literal, size_t start) const {
    // The grammar was checked above; strtod only converts. It honours the C locale's decimal
    // point, so a program that switched LC_NUMERIC gets an error here rather than a wrong value.
    char* end = nullptr;
    double value = std::strtod(literal.c_str(), &end);
    if (end != literal.c_str() + literal.size()) fail_at(start, "cannot convert number " + literal);
    if (std::isinf(value)) fail_at(start, "number " + literal + " is out of range for a double");
    return value;
  }

  const std::string& text_;
  const std::string& label_;
  size_t pos_ = 0;
};

}  // namespace

Json parse_json(const std::string& text, const std::string& label) {
  return Parser(text, label).parse_document();
}

// ---------------------------------------------------------------------------------------------
// Serializer
// ---------------------------------------------------------------------------------------------

namespace {

void write_string(const std::string& text, std::string* out) {
  out->push_back('"');
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          out->append(buffer);
        } else {
          out->push_back(ch);  // UTF-8 passes through unchanged
        }
    }
  }
  out->push_back('"');
}

// Shortest "%.<p>g" text (p from 6 up) that reads back to exactly the same float or double.
void write_double(double value, bool from_float, std::string* out) {
  NWQ_CHECK(std::isfinite(value), "to_json: cannot write ", value, " (JSON has no NaN or infinity)");
  char buffer[40];
  int max_precision = from_float ? 9 : 17;
  for (int precision = 6; precision <= max_precision; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    bool same = from_float ? std::strtof(buffer, nullptr) == static_cast<float>(value)
                           : std::strtod(buffer, nullptr) == value;
    if (same) break;
  }
  out->append(buffer);
}

void write_value(const Json& value, std::string* out) {
  switch (value.kind()) {
    case Json::Kind::Null: out->append("null"); return;
    case Json::Kind::Bool: out->append(value.as_bool() ? "true" : "false"); return;
    case Json::Kind::String: write_string(value.as_string(), out); return;
    case Json::Kind::Number:
      if (value.is_integer()) {
        out->append(std::to_string(value.as_int64()));
      } else {
        write_double(value.as_double(), value.from_float(), out);
      }
      return;
    case Json::Kind::Array:
      out->push_back('[');
      for (size_t i = 0; i < value.size(); ++i) {
        if (i > 0) out->push_back(',');
        write_value(value[i], out);
      }
      out->push_back(']');
      return;
    case Json::Kind::Object:
      out->push_back('{');
      for (size_t i = 0; i < value.members().size(); ++i) {
        if (i > 0) out->push_back(',');
        write_string(value.members()[i].first, out);
        out->push_back(':');
        write_value(value.members()[i].second, out);
      }
      out->push_back('}');
      return;
  }
}

}  // namespace

std::string to_json(const Json& value) {
  std::string out;
  write_value(value, &out);
  return out;
}

}  // namespace nwq
