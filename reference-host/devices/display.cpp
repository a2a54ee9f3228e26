#include "devices/display.hpp"

#include "core/error.hpp"
#include "devices/png.hpp"

#include <algorithm>
#include <cstring>

namespace hbvm {

display::display(settings s) : settings_(std::move(s))
{
    reset();
}

void display::reset()
{
    std::lock_guard guard(lock_);
    width_ = settings_.width;
    height_ = settings_.height;
    generation_ = 1;
    frame_.assign(size_t(width_) * height_, 0);
    queue_.clear();
}

abi::dsp_info display::info() const
{
    std::lock_guard guard(lock_);
    abi::dsp_info r{};
    r.size = sizeof r;
    r.version = 1;
    r.generation = generation_;
    r.width = width_;
    r.height = height_;
    r.max_width = settings_.max_width;
    r.max_height = settings_.max_height;
    r.refresh_mhz = settings_.refresh_mhz;
    r.formats = 1u << abi::dsp_format::xrgb8888;
    std::memcpy(r.name, settings_.name.data(), std::min(settings_.name.size(), sizeof r.name));
    return r;
}

uint32_t display::generation() const
{
    std::lock_guard guard(lock_);
    return generation_;
}

uint32_t display::width() const
{
    std::lock_guard guard(lock_);
    return width_;
}

uint32_t display::height() const
{
    std::lock_guard guard(lock_);
    return height_;
}

uint32_t display::set_mode(uint32_t width, uint32_t height)
{
    std::lock_guard guard(lock_);
    width_ = width;
    height_ = height;
    frame_.assign(size_t(width_) * height_, 0);
    return ++generation_;
}

void display::put_rows(uint32_t x, uint32_t y, uint32_t width, std::span<const std::span<const std::byte>> rows)
{
    std::lock_guard guard(lock_);
    for (size_t i = 0; i < rows.size(); ++i)
        std::memcpy(frame_.data() + (size_t(y) + i) * width_ + x, rows[i].data(), size_t(width) * 4);
}

void display::queue_event(uint32_t type, uint32_t a, uint32_t b, uint64_t time_ns)
{
    std::lock_guard guard(lock_);
    if (queue_.size() < settings_.queue_bound) {
        queue_.push_back(abi::dsp_event{type, generation_, a, b, time_ns});
        return;
    }
    // Full: the last event becomes (or stays) an overflow counting the lost ones,
    // the one it replaces among them (spec 14.7).
    abi::dsp_event& last = queue_.back();
    if (last.type == abi::dsp_event_type::overflow) {
        ++last.a;
    } else {
        last = abi::dsp_event{abi::dsp_event_type::overflow, generation_, 2, 0, time_ns};
    }
}

bool display::has_events() const
{
    std::lock_guard guard(lock_);
    return !queue_.empty();
}

bool display::take_event(abi::dsp_event& out)
{
    std::lock_guard guard(lock_);
    if (queue_.empty())
        return false;
    out = queue_.front();
    queue_.pop_front();
    return true;
}

std::vector<std::byte> display::png() const
{
    std::lock_guard guard(lock_);
    return encode_png_xrgb8888(width_, height_, std::as_bytes(std::span(frame_)), size_t(width_) * 4);
}

std::string display::write_screenshot(const std::string& path) const
{
    return write_file_atomically(path, png());
}

void display::flush_output()
{
    // The screenshot of the last frame: written whenever a run of the machine
    // ends (each boot's end, so the last one written is the last frame).
    if (!settings_.screenshot.empty())
        write_screenshot(settings_.screenshot);
}

std::vector<std::pair<std::string, control_command>> display::control_commands()
{
    // A command per display, its name in front (names are unique in a machine).
    return {{settings_.name + "-screendump",
             {"write the display's frame as a PNG: {\"file\": PATH}",
              [this](const json::object& arguments) {
                  const auto it = arguments.find("file");
                  const std::string* file = it == arguments.end() ? nullptr : it->second.as_string();
                  if (!file || file->empty())
                      throw control_command_error{"GenericError", "give the PNG's path: {\"file\": PATH}"};
                  const std::string why = write_screenshot(*file);
                  if (!why.empty())
                      throw control_command_error{"GenericError", why};
                  return json::value(json::object{{"file", *file}});
              }}}};
}

namespace {

uint32_t number_of(const device_settings& s, const char* key, uint32_t fallback, uint32_t least, uint32_t most)
{
    const std::optional<std::string> text = s.get(key);
    if (!text)
        return fallback;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text->c_str(), &end, 10);
    if (text->empty() || *end || v < least || v > most)
        throw error(exit_status::usage, s.origin + ": " + key + "=" + *text + " is not a number from " +
                                            std::to_string(least) + " to " + std::to_string(most));
    return uint32_t(v);
}

display::settings settings_of(const device_settings& s)
{
    display::settings d;
    d.name = s.get("name").value_or("");
    // At most 8192 x 8192: the frame a guest may ask for (256 MiB) is host memory.
    d.max_width = number_of(s, "max-width", 4096, 320, 8192);
    d.max_height = number_of(s, "max-height", 4096, 200, 8192);
    d.width = number_of(s, "width", std::min(1024u, d.max_width), 320, d.max_width);
    d.height = number_of(s, "height", std::min(768u, d.max_height), 200, d.max_height);
    d.refresh_mhz = number_of(s, "refresh", 0, 0, 1000) * 1000;
    d.screenshot = s.get("screenshot").value_or("");
    return d;
}

void check_displays(std::vector<device_settings>& all)
{
    for (size_t i = 0; i < all.size(); ++i) {
        const std::string backend = all[i].get("backend").value_or("");
        if (backend != "none")
            throw error(exit_status::usage, all[i].origin + ": the display back end '" + backend +
                                                "' is not known; this hbvm has none (a display that keeps the "
                                                "frames for screenshots)");
        display::settings d = settings_of(all[i]);
        if (d.name.empty()) {
            d.name = "display" + std::to_string(i);
            all[i].values.emplace_back("name", d.name);
        }
        if (d.name.size() > 32)
            throw error(exit_status::usage, all[i].origin + ": a display's name is 1 to 32 bytes");
        for (size_t j = 0; j < i; ++j)
            if (all[j].get("name") == d.name)
                throw error(exit_status::usage, all[i].origin + ": the name '" + d.name +
                                                    "' is another display's already; give one another name=");
    }
}

std::vector<std::unique_ptr<device>> create_displays(const std::vector<device_settings>& all, const device_host&)
{
    std::vector<std::unique_ptr<device>> made;
    for (const device_settings& s : all)
        made.push_back(std::make_unique<display>(settings_of(s)));
    return made;
}

}  // namespace

device_class display_device_class()
{
    return {"display",
            "  --display none[,name=N][,width=W][,height=H][,screenshot=FILE]\n"
            "                  a display for the DSP service, repeatable up to 16 times:\n"
            "                  none keeps the frames the guest presents without showing\n"
            "                  them; its boot mode is W x H (default 1024x768), its largest\n"
            "                  max-width= x max-height= (default 4096x4096); refresh=HZ\n"
            "                  paces the presented events (default: unknown, paced at\n"
            "                  60 Hz); screenshot= writes the last frame as a PNG when the\n"
            "                  run ends\n",
            "backend",
            {"backend", "name", "width", "height", "max-width", "max-height", "refresh", "screenshot"},
            {},
            16,
            false,
            check_displays,
            create_displays};
}

}  // namespace hbvm
