// The JSON of the control socket (line-delimited, in QMP's manner): a value
// type, a parser that refuses what a hostile client might send — nesting deeper
// than 32, numbers JSON does not have, invalid UTF-8 escapes — with a message,
// and a writer that gives one line.
#ifndef HBVM_CONTROL_JSON_HPP
#define HBVM_CONTROL_JSON_HPP

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hbvm::json {

struct value;
using object = std::map<std::string, value>;
using array = std::vector<value>;

struct value {
    std::variant<std::nullptr_t, bool, double, std::string, array, object> data = nullptr;

    value() = default;
    value(std::nullptr_t) {}
    value(bool b) : data(b) {}
    value(double d) : data(d) {}
    value(int i) : data(double(i)) {}
    value(uint64_t u) : data(double(u)) {}
    value(const char* s) : data(std::string(s)) {}
    value(std::string s) : data(std::move(s)) {}
    value(array a) : data(std::move(a)) {}
    value(object o) : data(std::move(o)) {}

    const object* as_object() const { return std::get_if<object>(&data); }
    const std::string* as_string() const { return std::get_if<std::string>(&data); }
};

// Parses one JSON text; on failure returns nullopt and says why in `error`.
std::optional<value> parse(std::string_view text, std::string& error);

// One line of JSON (no newline), object keys in order.
std::string write(const value& v);

}  // namespace hbvm::json

#endif
