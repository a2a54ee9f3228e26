#include "control/json.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace hbvm::json {

namespace {

constexpr int max_depth = 32;  // deeper nesting is refused, not recursed into

class parser {
public:
    explicit parser(std::string_view text) : text_(text) {}

    std::optional<value> parse_all(std::string& error)
    {
        std::optional<value> v = parse_value(0);
        skip_space();
        if (v && at_ < text_.size())
            fail("text after the value");
        if (!error_.empty()) {
            error = error_ + " at byte " + std::to_string(at_);
            return std::nullopt;
        }
        return v;
    }

private:
    void fail(const std::string& why)
    {
        if (error_.empty())
            error_ = why;
    }

    void skip_space()
    {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\r' || text_[at_] == '\n'))
            ++at_;
    }

    bool literal(std::string_view word)
    {
        if (text_.substr(at_, word.size()) != word)
            return false;
        at_ += word.size();
        return true;
    }

    std::optional<value> parse_value(int depth)
    {
        if (depth > max_depth) {
            fail("nested deeper than 32");
            return std::nullopt;
        }
        skip_space();
        if (at_ >= text_.size()) {
            fail("a value was expected");
            return std::nullopt;
        }
        const char c = text_[at_];
        if (c == '{')
            return parse_object(depth);
        if (c == '[')
            return parse_array(depth);
        if (c == '"') {
            std::optional<std::string> s = parse_string();
            return s ? std::optional<value>(value(std::move(*s))) : std::nullopt;
        }
        if (literal("true"))
            return value(true);
        if (literal("false"))
            return value(false);
        if (literal("null"))
            return value(nullptr);
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number();
        char shown[16];
        if (c > 0x20 && c < 0x7F)
            std::snprintf(shown, sizeof shown, "'%c'", c);
        else
            std::snprintf(shown, sizeof shown, "0x%02x", unsigned(static_cast<unsigned char>(c)));
        fail(std::string("unexpected character ") + shown);
        return std::nullopt;
    }

    std::optional<value> parse_number()
    {
        // JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        const size_t start = at_;
        auto digits = [&] {
            const size_t from = at_;
            while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9')
                ++at_;
            return at_ > from;
        };
        if (text_[at_] == '-')
            ++at_;
        if (at_ < text_.size() && text_[at_] == '0')
            ++at_;
        else if (!digits()) {
            fail("a number was expected");
            return std::nullopt;
        }
        if (at_ < text_.size() && text_[at_] == '.') {
            ++at_;
            if (!digits()) {
                fail("digits after the decimal point were expected");
                return std::nullopt;
            }
        }
        if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
            ++at_;
            if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-'))
                ++at_;
            if (!digits()) {
                fail("an exponent was expected");
                return std::nullopt;
            }
        }
        const std::string number(text_.substr(start, at_ - start));
        const double d = std::strtod(number.c_str(), nullptr);
        if (!std::isfinite(d)) {
            fail("a number too large");
            return std::nullopt;
        }
        return value(d);
    }

    static void put_utf8(std::string& out, uint32_t cp)
    {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }

    std::optional<uint32_t> hex4()
    {
        if (at_ + 4 > text_.size())
            return std::nullopt;
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = text_[at_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= uint32_t(c - 'A' + 10);
            else
                return std::nullopt;
        }
        return v;
    }

    std::optional<std::string> parse_string()
    {
        ++at_;  // the opening quote
        std::string out;
        while (at_ < text_.size()) {
            const char c = text_[at_++];
            if (c == '"')
                return out;
            if (static_cast<unsigned char>(c) < 0x20) {
                fail("a control character in a string");
                return std::nullopt;
            }
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= text_.size())
                break;
            const char e = text_[at_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                std::optional<uint32_t> cp = hex4();
                if (cp && *cp >= 0xD800 && *cp <= 0xDBFF) {  // a surrogate pair
                    std::optional<uint32_t> low;
                    if (literal("\\u"))
                        low = hex4();
                    cp = low && *low >= 0xDC00 && *low <= 0xDFFF ? std::optional<uint32_t>(0x10000 + ((*cp - 0xD800) << 10) +
                                                                                          (*low - 0xDC00))
                                                                : std::nullopt;
                } else if (cp && *cp >= 0xDC00 && *cp <= 0xDFFF) {
                    cp = std::nullopt;
                }
                if (!cp) {
                    fail("a bad \\u escape");
                    return std::nullopt;
                }
                put_utf8(out, *cp);
                break;
            }
            default: fail("a bad escape"); return std::nullopt;
            }
        }
        fail("an unterminated string");
        return std::nullopt;
    }

    std::optional<value> parse_array(int depth)
    {
        ++at_;
        array items;
        skip_space();
        if (at_ < text_.size() && text_[at_] == ']') {
            ++at_;
            return value(std::move(items));
        }
        for (;;) {
            std::optional<value> item = parse_value(depth + 1);
            if (!item)
                return std::nullopt;
            items.push_back(std::move(*item));
            skip_space();
            if (at_ < text_.size() && text_[at_] == ',') {
                ++at_;
                continue;
            }
            if (at_ < text_.size() && text_[at_] == ']') {
                ++at_;
                return value(std::move(items));
            }
            fail("',' or ']' was expected");
            return std::nullopt;
        }
    }

    std::optional<value> parse_object(int depth)
    {
        ++at_;
        object members;
        skip_space();
        if (at_ < text_.size() && text_[at_] == '}') {
            ++at_;
            return value(std::move(members));
        }
        for (;;) {
            skip_space();
            if (at_ >= text_.size() || text_[at_] != '"') {
                fail("a member name was expected");
                return std::nullopt;
            }
            std::optional<std::string> name = parse_string();
            if (!name)
                return std::nullopt;
            skip_space();
            if (at_ >= text_.size() || text_[at_] != ':') {
                fail("':' was expected");
                return std::nullopt;
            }
            ++at_;
            std::optional<value> member = parse_value(depth + 1);
            if (!member)
                return std::nullopt;
            members[*name] = std::move(*member);
            skip_space();
            if (at_ < text_.size() && text_[at_] == ',') {
                ++at_;
                continue;
            }
            if (at_ < text_.size() && text_[at_] == '}') {
                ++at_;
                return value(std::move(members));
            }
            fail("',' or '}' was expected");
            return std::nullopt;
        }
    }

    std::string_view text_;
    size_t at_ = 0;
    std::string error_;
};

// The length of the UTF-8 sequence at s[i] when it is a valid one, else 0.
size_t utf8_sequence(const std::string& s, size_t i)
{
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size())
        return 0;
    uint32_t cp = n == 1 ? c : c & (0x7Fu >> n);
    for (size_t k = 1; k < n; ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (d & 0x3Fu);
    }
    constexpr uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    return cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : n;
}

// A JSON string, always valid UTF-8: a byte that begins no valid sequence
// (from a file name, say) is written as U+FFFD.
void write_string(std::string& out, const std::string& s)
{
    out += '"';
    for (size_t i = 0; i < s.size();) {
        const char c = s[i];
        const auto u = static_cast<unsigned char>(c);
        const size_t n = utf8_sequence(s, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
        } else if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
            ++i;
        } else if (u < 0x20 || u == 0x7F) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04x", unsigned(u));
            out += escape;
            ++i;
        } else {
            out.append(s, i, n);
            i += n;
        }
    }
    out += '"';
}

void write_value(std::string& out, const value& v)
{
    if (std::holds_alternative<std::nullptr_t>(v.data)) {
        out += "null";
    } else if (const bool* b = std::get_if<bool>(&v.data)) {
        out += *b ? "true" : "false";
    } else if (const double* d = std::get_if<double>(&v.data)) {
        char text[32];
        if (*d == std::floor(*d) && std::fabs(*d) < 9.007199254740992e15)
            std::snprintf(text, sizeof text, "%.0f", *d);
        else
            std::snprintf(text, sizeof text, "%.17g", *d);
        out += text;
    } else if (const std::string* s = std::get_if<std::string>(&v.data)) {
        write_string(out, *s);
    } else if (const array* a = std::get_if<array>(&v.data)) {
        out += '[';
        for (size_t i = 0; i < a->size(); ++i) {
            if (i)
                out += ", ";
            write_value(out, (*a)[i]);
        }
        out += ']';
    } else if (const object* o = std::get_if<object>(&v.data)) {
        out += '{';
        bool first = true;
        for (const auto& [name, member] : *o) {
            if (!first)
                out += ", ";
            first = false;
            write_string(out, name);
            out += ": ";
            write_value(out, member);
        }
        out += '}';
    }
}

}  // namespace

std::optional<value> parse(std::string_view text, std::string& error) { return parser(text).parse_all(error); }

std::string write(const value& v)
{
    std::string out;
    write_value(out, v);
    return out;
}

}  // namespace hbvm::json
