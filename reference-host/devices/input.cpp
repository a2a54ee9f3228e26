#include "devices/input.hpp"

#include "core/error.hpp"
#include "core/fault_injection.hpp"
#include "devices/clock.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace hbvm {

namespace {

constexpr uint16_t key_left_shift = 42, btn_left = 0x110;

// The evdev key and shift state that type `c` on a US keyboard, or {0, false}.
std::pair<uint16_t, bool> us_key(char c)
{
    static const char* const rows[] = {"1234567890-=", "qwertyuiop[]", "asdfghjkl;'`", "\\zxcvbnm,./"};
    static const uint16_t firsts[] = {2, 16, 30, 43};
    static const char* const shifted[] = {"!@#$%^&*()_+", "QWERTYUIOP{}", "ASDFGHJKL:\"~", "|ZXCVBNM<>?"};
    for (int r = 0; r < 4; ++r) {
        if (const char* at = std::strchr(rows[r], c); at && c)
            return {uint16_t(firsts[r] + (at - rows[r])), false};
        if (const char* at = std::strchr(shifted[r], c); at && c)
            return {uint16_t(firsts[r] + (at - shifted[r])), true};
    }
    switch (c) {
    case ' ': return {57, false};
    case '\n': return {28, false};
    case '\t': return {15, false};
    default: return {0, false};
    }
}

uint32_t modifier_of(uint16_t key)
{
    switch (key) {
    case 42: case 54: return abi::inp_modifiers::shift;
    case 29: case 97: return abi::inp_modifiers::control;
    case 56: case 100: return abi::inp_modifiers::alt;
    case 125: case 126: return abi::inp_modifiers::meta;
    default: return 0;
    }
}

int64_t integer(const json::object& arguments, const char* key, int64_t least, int64_t most)
{
    return integer_argument(arguments, key, least, most);
}

}  // namespace

input::input(settings s) : settings_(std::move(s)) {}

void input::reset()
{
    std::lock_guard guard(lock_);
    queue_.clear();
}

void input::queue_locked(uint16_t type, uint16_t code, int32_t value, uint32_t unicode)
{
    // The state first: it is what every event queued adds up to, lost or not.
    if (type == abi::inp_event_type::key && code < 768) {
        if (value)
            keys_[code / 8] |= uint8_t(1u << (code % 8));
        else
            keys_[code / 8] &= uint8_t(~(1u << (code % 8)));
        uint32_t mods = modifiers_ & (abi::inp_modifiers::caps_lock | abi::inp_modifiers::num_lock);
        for (uint16_t k = 0; k < 768; ++k)
            if ((keys_[k / 8] >> (k % 8)) & 1)
                mods |= modifier_of(k);
        modifiers_ = mods;
    } else if (type == abi::inp_event_type::button && code >= btn_left && code < btn_left + 32) {
        buttons_ = value ? buttons_ | (1u << (code - btn_left)) : buttons_ & ~(1u << (code - btn_left));
    } else if (type == abi::inp_event_type::absolute) {
        (code == 0 ? abs_x_ : abs_y_) = uint32_t(value);
    }
    if (queue_.size() < settings_.queue_length) {
        queue_.push_back(abi::inp_event{monotonic_now_ns(), type, code, value, unicode, modifiers_});
        return;
    }
    if (deviate_.dropped_unmarked)
        return;
    abi::inp_event& last = queue_.back();
    if (last.type == abi::inp_event_type::dropped)
        ++last.value;
    else
        last = abi::inp_event{monotonic_now_ns(), abi::inp_event_type::dropped, 0, 2, 0, modifiers_};
}

void input::set_event_handler(std::function<void()> handler)
{
    std::lock_guard guard(handler_lock_);
    on_event_ = std::move(handler);
}

void input::take_faults(const fault_injector& faults)
{
    const fault_injector::input_deviations d = faults.input_faults();
    deviate_.unclamped = d.unclamped;
    deviate_.dropped_unmarked = d.dropped_unmarked;
}

void input::queue(uint16_t type, uint16_t code, int32_t value, uint32_t unicode)
{
    // An absolute position lies in the display's mode, whoever sent it (spec HB-INP-003).
    if (type == abi::inp_event_type::absolute && display_size && !deviate_.unclamped) {
        const auto [w, h] = display_size();
        const int64_t most = int64_t(code == 0 ? w : h) - 1;
        value = int32_t(std::clamp<int64_t>(value, 0, most));
    }
    {
        std::lock_guard guard(lock_);
        queue_locked(type, code, value, unicode);
    }
    std::lock_guard guard(handler_lock_);
    if (on_event_)
        on_event_();
}

bool input::has_events() const
{
    std::lock_guard guard(lock_);
    return !queue_.empty();
}

std::vector<abi::inp_event> input::take(size_t room)
{
    std::lock_guard guard(lock_);
    const size_t n = std::min(room, queue_.size());
    std::vector<abi::inp_event> out(queue_.begin(), queue_.begin() + long(n));
    queue_.erase(queue_.begin(), queue_.begin() + long(n));
    return out;
}

abi::inp_state input::state() const
{
    std::lock_guard guard(lock_);
    abi::inp_state s{};
    s.size = sizeof s;
    s.version = 1;
    s.modifiers = modifiers_;
    s.buttons = buttons_;
    s.abs_x = abs_x_;
    s.abs_y = abs_y_;
    std::memcpy(s.keys, keys_.data(), sizeof s.keys);
    return s;
}

std::vector<std::pair<std::string, control_command>> input::control_commands()
{
    const std::string& n = settings_.name;
    if (settings_.kind == abi::inp_kind::keyboard)
        return {
            {n + "-key", {"press (value 1), release (0) or repeat (2) evdev key {\"code\": N, \"value\": V}",
                          [this](const json::object& a) {
                              queue(abi::inp_event_type::key, uint16_t(integer(a, "code", 1, 767)),
                                    int32_t(integer(a, "value", 0, 2)));
                              return json::value(json::object{});
                          }}},
            {n + "-type", {"type {\"text\": T} on a US keymap: a press and a release per character",
                           [this](const json::object& a) {
                               const auto it = a.find("text");
                               const std::string* text = it == a.end() ? nullptr : it->second.as_string();
                               if (!text)
                                   throw control_command_error{"GenericError", "give \"text\": a string"};
                               for (char c : *text)
                                   if (us_key(c).first == 0)
                                       throw control_command_error{
                                           "GenericError", std::string("no key on the US keymap types '") + c +
                                                               "' (printable ASCII, space, tab and newline only)"};
                               for (char c : *text) {
                                   const auto [code, shift] = us_key(c);
                                   if (shift)
                                       queue(abi::inp_event_type::key, key_left_shift, 1);
                                   queue(abi::inp_event_type::key, code, 1, uint32_t(uint8_t(c)));
                                   queue(abi::inp_event_type::key, code, 0);
                                   if (shift)
                                       queue(abi::inp_event_type::key, key_left_shift, 0);
                               }
                               return json::value(json::object{{"typed", uint64_t(text->size())}});
                           }}},
        };
    return {
        {n + "-move", {"move the pointer to {\"x\": X, \"y\": Y} in its display's pixels (clamped to the mode)",
                       [this](const json::object& a) {
                           if (settings_.display < 0)
                               throw control_command_error{"GenericError", "this pointer is relative: use " +
                                                                               settings_.name + "-motion"};
                           auto [w, h] = display_size ? display_size() : std::pair<uint32_t, uint32_t>{1, 1};
                           const int32_t x = int32_t(std::min<int64_t>(integer(a, "x", 0, 65535), w - 1));
                           const int32_t y = int32_t(std::min<int64_t>(integer(a, "y", 0, 65535), h - 1));
                           const abi::inp_state before = state();
                           if (uint32_t(x) != before.abs_x)
                               queue(abi::inp_event_type::absolute, 0, x);
                           if (uint32_t(y) != before.abs_y)
                               queue(abi::inp_event_type::absolute, 1, y);
                           return json::value(json::object{{"x", x}, {"y", y}});
                       }}},
        {n + "-button", {"press (1) or release (0) {\"button\": 0 left, 1 right, 2 middle, \"value\": V}",
                         [this](const json::object& a) {
                             queue(abi::inp_event_type::button, uint16_t(btn_left + integer(a, "button", 0, 2)),
                                   int32_t(integer(a, "value", 0, 1)));
                             return json::value(json::object{});
                         }}},
        {n + "-motion", {"move a relative pointer by {\"dx\": DX, \"dy\": DY}",
                         [this](const json::object& a) {
                             if (settings_.display >= 0)
                                 throw control_command_error{"GenericError", "this pointer is absolute: use " +
                                                                                 settings_.name + "-move"};
                             const auto dx = int32_t(integer(a, "dx", -65535, 65535));
                             const auto dy = int32_t(integer(a, "dy", -65535, 65535));
                             if (dx)
                                 queue(abi::inp_event_type::relative, 0, dx);
                             if (dy)
                                 queue(abi::inp_event_type::relative, 1, dy);
                             return json::value(json::object{});
                         }}},
        {n + "-wheel", {"turn the wheel {\"value\": detents, positive up}",
                        [this](const json::object& a) {
                            queue(abi::inp_event_type::wheel, 0, int32_t(integer(a, "value", -1000, 1000)));
                            return json::value(json::object{});
                        }}},
    };
}

namespace {

void check_inputs(std::vector<device_settings>& all)
{
    // None given: a keyboard and a pointer on display 0, for a window to feed.
    if (all.empty())
        for (const char* kind : {"keyboard", "pointer"})
            all.push_back(device_settings{"input", std::string("the default --input ") + kind, {{"kind", kind}}});
    for (size_t i = 0; i < all.size(); ++i) {
        const std::string kind = all[i].get("kind").value_or("");
        if (kind != "keyboard" && kind != "pointer")
            throw error(exit_status::usage, all[i].origin + ": an input device is a keyboard or a pointer, not '" +
                                                kind + "'");
        if (kind == "keyboard" && all[i].get("display"))
            throw error(exit_status::usage, all[i].origin + ": display= is for a pointer");
        if (const std::optional<std::string> d = all[i].get("display"); d && *d != "relative") {
            char* end = nullptr;
            const unsigned long v = std::strtoul(d->c_str(), &end, 10);
            if (d->empty() || *end || v > 0xFFFE)
                throw error(exit_status::usage, all[i].origin + ": display=" + *d + " is not a display number");
        }
        if (!all[i].get("name")) {
            const std::string name = kind + std::to_string(i);
            all[i].values.emplace_back("name", name);
        }
        for (size_t j = 0; j < i; ++j)
            if (all[j].get("name") == all[i].get("name"))
                throw error(exit_status::usage, all[i].origin + ": the name '" + *all[i].get("name") +
                                                    "' is another input device's already; give one another name=");
    }
}

std::vector<std::unique_ptr<device>> create_inputs(const std::vector<device_settings>& all, const device_host&)
{
    std::vector<std::unique_ptr<device>> made;
    for (const device_settings& s : all) {
        input::settings d;
        d.name = *s.get("name");
        d.kind = s.get("kind") == "keyboard" ? uint16_t(abi::inp_kind::keyboard) : uint16_t(abi::inp_kind::pointer);
        if (d.kind == abi::inp_kind::pointer) {
            const std::string shown = s.get("display").value_or("0");
            d.display = shown == "relative" ? -1 : std::stoi(shown);
        }
        made.push_back(std::make_unique<input>(d));
    }
    return made;
}

}  // namespace

device_class input_device_class()
{
    return {"input",
            "  --input keyboard|pointer[,name=NAME][,display=N|relative]\n"
            "                  an input device for the INP service, repeatable up to 16\n"
            "                  times (a keyboard and a pointer when none is given), fed by\n"
            "                  the windows of the displays (--display sdl) and the control\n"
            "                  socket (NAME-type, NAME-key; NAME-move, NAME-motion,\n"
            "                  NAME-button, NAME-wheel): a pointer is absolute on display\n"
            "                  N (default 0), or reports relative motion\n",
            "kind",
            {"kind", "name", "display"},
            {},
            16,
            false,
            check_inputs,
            create_inputs};
}

}  // namespace hbvm
