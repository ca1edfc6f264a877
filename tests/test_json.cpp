// Tests for core/json: parsing, serialization round trips, escapes and surrogate pairs,
// exact 64-bit integers, the nesting limit, and every parser error naming its label and byte.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/json.h"

using nwq::Json;
using nwq::parse_json;
using nwq::to_json;

namespace {

// The message of the nwq::Error that parse_json throws for `text`, or "" when it parses.
std::string parse_error(const std::string& text) {
  try {
    parse_json(text, "test.json");
  } catch (const nwq::Error& error) {
    return error.what();
  }
  return "";
}

// Checks that `text` is rejected with a message naming the label, the byte offset and `why`.
void check_rejected(const std::string& text, size_t byte, const std::string& why) {
  std::string message = parse_error(text);
  INFO("input: ", text, "\nmessage: ", message);
  CHECK(message.find("test.json") != std::string::npos);
  CHECK(message.find("byte " + std::to_string(byte) + ":") != std::string::npos);
  CHECK(message.find(why) != std::string::npos);
}

}  // namespace

TEST_CASE("json: scalars parse to the right kinds and values") {
  CHECK(parse_json("null", "t").is_null());
  CHECK(parse_json(" true ", "t").as_bool() == true);
  CHECK(parse_json("false", "t").as_bool() == false);
  CHECK(parse_json("0", "t").as_int64() == 0);
  CHECK(parse_json("-17", "t").as_int64() == -17);
  CHECK(parse_json("2.5", "t").as_double() == 2.5);
  CHECK(parse_json("-1.25e2", "t").as_double() == -125.0);
  CHECK(parse_json("1E-2", "t").as_double() == 0.01);
  CHECK(parse_json("\"hi\"", "t").as_string() == "hi");
  CHECK(parse_json("\n\t[ ]\r\n", "t").size() == 0);
  CHECK(parse_json("{}", "t").size() == 0);
}

TEST_CASE("json: compact documents round-trip byte for byte") {
  const char* documents[] = {
      R"({"a":1,"b":[true,false,null],"c":{"d":"e","f":[]},"g":-2.5,"h":{}})",
      R"([1,-2,3.5,1e+20,1e-07,0.30000000000000004,"x"])",
      R"({"z":1,"a":2,"m":3})",  // insertion order kept, not sorted
      R"("\"\\\b\f\n\r\t\u0001\u001f")",
  };
  for (const char* text : documents) {
    INFO(text);
    CHECK(to_json(parse_json(text, "t")) == text);
  }
  Json value = parse_json(R"({"z":1,"a":2})", "t");
  CHECK(value.members()[0].first == "z");
  CHECK(value.members()[1].first == "a");
}

TEST_CASE("json: escapes decode and encode") {
  CHECK(parse_json(R"("a\"b\\c\/d\be\ff\ng\rh\ti")", "t").as_string() == "a\"b\\c/d\be\ff\ng\rh\ti");
  CHECK(to_json(Json("tab\there")) == R"("tab\there")");
  CHECK(to_json(Json(std::string("nul\0x", 5))) == R"("nul\u0000x")");
  CHECK(to_json(Json("slash/ok")) == R"("slash/ok")");
}

TEST_CASE("json: unicode escapes and surrogate pairs become UTF-8") {
  CHECK(parse_json(R"("\u0041")", "t").as_string() == "A");
  CHECK(parse_json(R"("\u00e9")", "t").as_string() == "\xC3\xA9");
  CHECK(parse_json(R"("\u20AC")", "t").as_string() == "\xE2\x82\xAC");
  CHECK(parse_json(R"("\ud83d\ude00")", "t").as_string() == "\xF0\x9F\x98\x80");  // U+1F600
  CHECK(parse_json(R"("\uDBFF\uDFFF")", "t").as_string() == "\xF4\x8F\xBF\xBF");  // U+10FFFF
  // Raw UTF-8 passes through both ways.
  std::string raw = "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"";
  CHECK(to_json(parse_json(raw, "t")) == raw);
}

TEST_CASE("json: integers stay exact beyond 2^53") {
  Json big = parse_json("9007199254740993", "t");
  CHECK(big.is_integer());
  CHECK(big.as_int64() == 9007199254740993LL);
  CHECK(to_json(big) == "9007199254740993");
  CHECK(parse_json("9223372036854775807", "t").as_int64() == std::numeric_limits<int64_t>::max());
  CHECK(parse_json("-9223372036854775808", "t").as_int64() == std::numeric_limits<int64_t>::min());
  // One past int64 falls back to a double, which as_int64 refuses (it is no longer exact).
  Json too_big = parse_json("9223372036854775808", "t");
  CHECK(too_big.is_number());
  CHECK_FALSE(too_big.is_integer());
  CHECK_THROWS_AS(too_big.as_int64(), nwq::Error);
  CHECK_THROWS_AS(parse_json("1.5", "t").as_int64(), nwq::Error);
  CHECK(parse_json("1e3", "t").as_int64() == 1000);  // integral double below 2^53 is exact
  CHECK_FALSE(parse_json("1e3", "t").is_integer());
  CHECK(to_json(Json(int64_t{1} << 62)) == "4611686018427387904");
  CHECK(to_json(Json(size_t{7})) == "7");
}

TEST_CASE("json: doubles print short and read back exactly") {
  CHECK(to_json(Json(92.4)) == "92.4");
  CHECK(to_json(Json(0.1f)) == "0.1");
  CHECK(to_json(Json(0.1)) == "0.1");
  CHECK(to_json(Json(3.0)) == "3");
  double third = 1.0 / 3.0;
  CHECK(parse_json(to_json(Json(third)), "t").as_double() == third);
  float third_f = 1.0f / 3.0f;
  CHECK(static_cast<float>(parse_json(to_json(Json(third_f)), "t").as_double()) == third_f);
  double tiny = std::numeric_limits<double>::denorm_min();
  CHECK(parse_json(to_json(Json(tiny)), "t").as_double() == tiny);
  double huge = std::numeric_limits<double>::max();
  CHECK(parse_json(to_json(Json(huge)), "t").as_double() == huge);
  CHECK_THROWS_AS(to_json(Json(std::nan(""))), nwq::Error);
  CHECK_THROWS_AS(to_json(Json(std::numeric_limits<double>::infinity())), nwq::Error);
}

TEST_CASE("json: builders, lookup and type errors") {
  Json result = Json::object({{"model", "resnet20"}, {"top1", 92.4}, {"bits", Json::array({4, 8})}});
  CHECK(to_json(result) == R"({"model":"resnet20","top1":92.4,"bits":[4,8]})");
  CHECK(result.at("model").as_string() == "resnet20");
  CHECK(result.contains("top1"));
  CHECK(result.find("missing") == nullptr);
  CHECK_THROWS_AS(result.at("missing"), nwq::Error);
  CHECK_THROWS_AS(Json::object({{"a", 1}, {"a", 2}}), nwq::Error);
  result.set("top1", 93.0);
  result.set("seed", 0);
  CHECK(to_json(result) == R"({"model":"resnet20","top1":93,"bits":[4,8],"seed":0})");
  CHECK_FALSE(result.insert("seed", 1));
  CHECK(result.at("seed").as_int64() == 0);
  Json list = Json::array();
  list.push_back(nullptr);
  list.push_back("x");
  CHECK(to_json(list) == R"([null,"x"])");
  CHECK_THROWS_AS(list[2], nwq::Error);
  CHECK_THROWS_AS(list.as_string(), nwq::Error);
  CHECK_THROWS_AS(Json(1).as_bool(), nwq::Error);
  CHECK_THROWS_AS(Json("s").as_double(), nwq::Error);
  CHECK_THROWS_AS(Json(1).push_back(Json()), nwq::Error);
  CHECK_THROWS_AS(Json(1).set("k", 1), nwq::Error);
  CHECK(parse_json(R"({"a":[1,2]})", "t") == Json::object({{"a", Json::array({1, 2})}}));
  CHECK(parse_json("1", "t") == Json(1.0));
  CHECK(parse_json("[1]", "t") != parse_json("[2]", "t"));
}

TEST_CASE("json: nesting is limited so hostile input cannot overflow the stack") {
  std::string ok = std::string(nwq::kJsonMaxDepth, '[') + std::string(nwq::kJsonMaxDepth, ']');
  CHECK_NOTHROW(parse_json(ok, "t"));
  std::string deep = std::string(nwq::kJsonMaxDepth + 1, '[') + std::string(nwq::kJsonMaxDepth + 1, ']');
  check_rejected(deep, nwq::kJsonMaxDepth, "nesting deeper than 64");
  std::string objects;
  for (int i = 0; i <= nwq::kJsonMaxDepth; ++i) objects += "{\"a\":";
  check_rejected(objects, 5 * nwq::kJsonMaxDepth, "nesting");
  std::string huge(1000000, '[');  // a million levels: rejected quickly, no crash
  check_rejected(huge, nwq::kJsonMaxDepth, "nesting");
}

TEST_CASE("json: structural errors name the label, byte and problem") {
  check_rejected("", 0, "unexpected end of input");
  check_rejected("   ", 3, "unexpected end of input");
  check_rejected("[1] x", 4, "after the JSON value");
  check_rejected("{} {}", 3, "after the JSON value");
  check_rejected("[1,]", 3, "expected a value");
  check_rejected("[1 2]", 3, "expected ',' or ']'");
  check_rejected("[1", 2, "expected ',' or ']'");
  check_rejected("{\"a\":1,}", 7, "expected a string key");
  check_rejected("{\"a\" 1}", 5, "expected ':'");
  check_rejected("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'");
  check_rejected("{a:1}", 1, "expected a string key");
  check_rejected("{'a':1}", 1, "expected a string key");
  check_rejected("{\"a\":1,\"b\":2,\"a\":3}", 13, "duplicate key \"a\"");
  check_rejected("tru", 0, "expected 'true'");
  check_rejected("nul", 0, "expected 'null'");
  check_rejected("NaN", 0, "expected a value");
  check_rejected("\xEF\xBB\xBF{}", 0, "expected a value");  // byte order mark
}

TEST_CASE("json: number errors") {
  check_rejected("01", 0, "leading zeros");
  check_rejected("-", 1, "expected a digit after '-'");
  check_rejected("-x", 1, "expected a digit after '-'");
  check_rejected("1.", 2, "expected a digit after '.'");
  check_rejected("1.e5", 2, "expected a digit after '.'");
  check_rejected(".5", 0, "expected a value");
  check_rejected("+1", 0, "expected a value");
  check_rejected("1e", 2, "expected a digit after the exponent");
  check_rejected("1e+", 3, "expected a digit after the exponent");
  check_rejected("[1e999]", 1, "out of range");
  check_rejected("0x10", 1, "after the JSON value");
}

TEST_CASE("json: string errors") {
  check_rejected("\"abc", 0, "unterminated string");
  check_rejected("\"a\nb\"", 2, "unescaped control character byte 0x0A");
  check_rejected("\"a\\x\"", 2, "invalid escape sequence '\\x'");
  check_rejected("\"a\\", 2, "unterminated escape");
  check_rejected("\"\\u12G4\"", 5, "four hex digits");
  check_rejected("\"\\u12\"", 5, "four hex digits");
  check_rejected("\"\\ud83d\"", 1, "not followed by a low surrogate");
  check_rejected("\"\\ud83dx\"", 1, "not followed by a low surrogate");
  check_rejected("\"\\ud83d\\u0041\"", 1, "not followed by a low surrogate");
  check_rejected("\"\\ude00\"", 1, "lone low surrogate");
  check_rejected("\"\xC0\x80\"", 1, "invalid UTF-8");      // overlong NUL
  check_rejected("\"\xE0\x80\x80\"", 1, "invalid UTF-8");  // overlong 3-byte
  check_rejected("\"\xED\xA0\x80\"", 1, "invalid UTF-8");  // encoded surrogate
  check_rejected("\"\xF4\x90\x80\x80\"", 1, "invalid UTF-8");  // above U+10FFFF
  check_rejected("\"\xF5\x80\x80\x80\"", 1, "invalid UTF-8");
  check_rejected("\"\x80\"", 1, "invalid UTF-8");           // stray continuation byte
  check_rejected("\"\xC3\"", 1, "invalid UTF-8");           // truncated sequence
  check_rejected("\"\xE2\x82", 1, "invalid UTF-8");         // truncated at end of input
}
