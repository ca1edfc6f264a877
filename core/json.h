// A tiny JSON value type with a strict RFC 8259 parser and a compact serializer.
// Used for safetensors headers, configs and result files; objects keep their keys in insertion order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nwq {

class Json {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  using Member = std::pair<std::string, Json>;

  // Scalars. Integers stay exact as int64; floats remember they came from a float so they print short.
  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool value);
  Json(double value);
  Json(float value);
  Json(const char* value);
  Json(std::string value);
  template <class T, std::enable_if_t<std::is_integral<T>::value && !std::is_same<T, bool>::value, int> = 0>
  Json(T value) {
    if (std::is_signed<T>::value || static_cast<uint64_t>(value) <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      set_integer(static_cast<int64_t>(value));
    } else {
      *this = Json(static_cast<double>(value));
    }
  }

  // Containers: Json::array({1, 2, 3}) and Json::object({{"model", "resnet20"}, {"top1", 92.4}}).
  // object() throws nwq::Error on a duplicate key.
  static Json array(std::vector<Json> items = {});
  static Json object(std::initializer_list<Member> members = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_number() const { return kind_ == Kind::Number; }
  bool is_integer() const { return kind_ == Kind::Number && is_integer_; }  // exact int64
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }

  // Typed access; each throws nwq::Error when the value has another kind.
  bool as_bool() const;
  double as_double() const;
  int64_t as_int64() const;  // also throws when the number is not an exact integer
  const std::string& as_string() const;
  const std::vector<Json>& as_array() const;
  const std::vector<Member>& members() const;  // object members in insertion order

  size_t size() const;                      // elements of an array or members of an object
  const Json& operator[](size_t index) const;  // array element; throws when out of range
  const Json* find(const std::string& key) const;  // object member or nullptr
  const Json& at(const std::string& key) const;    // object member; throws when missing
  bool contains(const std::string& key) const { return find(key) != nullptr; }

  // Building. push_back needs an array; set needs an object and replaces an existing key;
  // insert needs an object and returns false (changing nothing) when the key already exists.
  void push_back(Json value);
  void set(const std::string& key, Json value);
  bool insert(const std::string& key, Json value);

  // Deep equality; object members compare in order, integers and doubles compare by value.
  bool operator==(const Json& other) const;
  bool operator!=(const Json& other) const { return !(*this == other); }

  // Printing hint: true when the number was built from a float (prints with float precision).
  bool from_float() const { return from_float_; }

 private:
  void set_integer(int64_t value);
  void expect(Kind kind, const char* what) const;

  Kind kind_ = Kind::Null;
  bool bool_ = false;
  bool is_integer_ = false;
  bool from_float_ = false;
  int64_t integer_ = 0;
  double number_ = 0.0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<Member> members_;
  std::unordered_map<std::string, size_t> index_;  // key -> position in members_
};

// Maximum nesting of arrays and objects accepted by parse_json.
constexpr int kJsonMaxDepth = 64;

// Parses one JSON document. Errors are nwq::Error: "<label>: invalid JSON at byte N: <what>".
Json parse_json(const std::string& text, const std::string& label);

// Compact serialization (no spaces). Throws nwq::Error for NaN or infinity, which JSON cannot hold.
std::string to_json(const Json& value);

}  // namespace nwq
