#include "devices/display.hpp"

#include "core/diagnostics.hpp"
#include "core/error.hpp"
#include "core/fault_injection.hpp"
#include "core/stop.hpp"
#include "devices/clock.hpp"
#include "devices/input.hpp"
#include "devices/module_loader.hpp"
#include "devices/png.hpp"
#include "policy/audit.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace hbvm {

namespace {

// Copies pixels in 64-byte pieces, which the compiler turns into vector moves.
// glibc's memcpy copies blocks of more than 2 KiB with `rep movsb`, which on
// this project's machines moved a frame's rows out of guest RAM at a seventh
// of the speed (bench-display: 1.25 ms for a 1024x768 present against 0.17 ms
// this way; a plain memcpy of the same rows between two host buffers is fast).
void copy_pixels(void* to, const void* from, size_t bytes)
{
    auto* d = static_cast<std::byte*>(to);
    const auto* s = static_cast<const std::byte*>(from);
    size_t at = 0;
    for (; at + 64 <= bytes; at += 64)
        std::memcpy(d + at, s + at, 64);
    std::memcpy(d + at, s + at, bytes - at);
}

}  // namespace

display::display(settings s, device_host host) : settings_(std::move(s)), host_(std::move(host))
{
    if (access_audit* audit = access_audit::active())
        audit_index_ = audit->display_opened();
    reset();
    // A display the user asked to see fails at start when it cannot be seen, not
    // at the guest's first frame.
    if (settings_.shown_by == backend::sdl)
        open_window(true);
}

display::~display()
{
    window_.reset();  // before the members it reads through display_window_host
    {
        std::lock_guard guard(close_lock_);
        closing_display_ = true;
    }
    close_changed_.notify_all();
    if (close_watcher_.joinable())
        close_watcher_.join();
}

void display::reset()
{
    {
        std::lock_guard guard(lock_);
        width_ = settings_.width;
        height_ = settings_.height;
        generation_ = 1;
        if (access_audit* audit = access_audit::active())
            audit->display_mode(audit_index_, width_, height_);
        frame_.clear();  // black, allocated at the first present
        ++frame_serial_;
        queue_.clear();
    }
    // Black until the guest presents again. (A close request still pending
    // went with the queue: its timeout runs on.)
    if (window_)
        window_->frame_changed();
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
    r.preferred_width = preferred_width_;
    r.preferred_height = preferred_height_;
    r.formats = 1u << abi::dsp_format::xrgb8888;
    // Every display of this host takes size requests: from a person at its
    // window, or through the control socket's NAME-request-size.
    r.flags = abi::dsp_flags::resizable | (visible_ ? abi::dsp_flags::visible : 0u);
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
    uint32_t generation;
    {
        std::lock_guard guard(lock_);
        width_ = width;
        height_ = height;
        if (access_audit* audit = access_audit::active())
            audit->display_mode(audit_index_, width_, height_);
        frame_.clear();
        ++frame_serial_;
        generation = ++generation_;
    }
    show();
    return generation;
}

void display::put_rows(uint32_t x, uint32_t y, uint32_t width, std::span<const std::span<const std::byte>> rows)
{
    {
        std::lock_guard guard(lock_);
        if (access_audit* audit = access_audit::active())
            audit->display_rect(audit_index_, x, y, width, uint32_t(rows.size()), width_, height_);
        if (frame_.empty())
            frame_.assign(size_t(width_) * height_, 0);
        for (size_t i = 0; i + (deviate_.skip_last_row ? 1 : 0) < rows.size(); ++i)
            copy_pixels(frame_.data() + (size_t(y) + i) * width_ + x, rows[i].data(), size_t(width) * 4);
        ++frame_serial_;
    }
    show();
}

void display::show()
{
    if (!window_decided_) {
        window_decided_ = true;
        if (settings_.shown_by == backend::automatic)
            open_window(false);
    }
    if (window_)
        window_->frame_changed();
}

void display::open_window(bool at_start)
{
    window_decided_ = true;
    const std::string& who = settings_.name;
    if (!at_start) {
        // --display auto: a window where a desktop is reachable, said once.
        const char* x = std::getenv("DISPLAY");
        const char* wayland = std::getenv("WAYLAND_DISPLAY");
        if ((!x || !*x) && (!wayland || !*wayland)) {
            diagnostics::line(who + ": no window: neither $DISPLAY nor $WAYLAND_DISPLAY is set, so the frames are "
                                    "kept for screenshots only (as --display none; say --display none to not see "
                                    "this line)");
            return;
        }
    }
    try {
        const module_entry& module = load_module("sdl", settings_.given.origin);
        if (!module.open_window)
            throw error(exit_status::host_failure, settings_.given.origin + ": the module hbvm-sdl.so opens no windows");
        window_ = module.open_window(settings_.given, *this);
        if (!at_start)
            diagnostics::line(who + ": shown in an SDL window (--display auto; --display none keeps the frames "
                                    "without one)");
    } catch (const std::exception& e) {
        if (stop::requested())
            throw stop::interrupted("while SDL started its video for " + who);
        if (at_start)
            throw;
        diagnostics::line(who + ": no window (" + e.what() + "); the frames are kept for screenshots only, as "
                                                             "--display none");
    }
}

void display::bind_inputs(const std::vector<input*>& inputs, size_t index)
{
    for (input* i : inputs) {
        const input::settings& s = i->config();
        if (s.kind == abi::inp_kind::keyboard)
            keyboards_.push_back(i);
        else if (s.display < 0)
            relative_pointers_.push_back(i);
        else if (size_t(s.display) == index)
            absolute_pointers_.push_back(i);
    }
}

void display::request_size(uint32_t width, uint32_t height)
{
    {
        std::lock_guard guard(lock_);
        preferred_width_ = width;
        preferred_height_ = height;
    }
    queue_outside_event(abi::dsp_event_type::size_requested, width, height);
}

void display::request_close()
{
    {
        std::lock_guard guard(close_lock_);
        close_pending_ = true;
        if (settings_.close_timeout_ms && !close_watcher_.joinable())
            close_watcher_ = std::thread([this] { watch_close(); });
    }
    close_changed_.notify_all();
    queue_outside_event(abi::dsp_event_type::close_requested, 0, 0);
}

// Ends the run when a close request stays untaken for the close timeout: a
// guest that never reads its events must not keep a window a person closed.
void display::watch_close()
{
    std::unique_lock guard(close_lock_);
    for (;;) {
        close_changed_.wait(guard, [this] { return close_pending_ || closing_display_; });
        if (closing_display_)
            return;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(settings_.close_timeout_ms);
        if (close_changed_.wait_until(guard, deadline, [this] { return !close_pending_ || closing_display_; }))
            continue;
        close_pending_ = false;
        guard.unlock();
        diagnostics::line(settings_.name + ": closed, and the guest did not take the close request within " +
                          std::to_string(settings_.close_timeout_ms) + " ms (close-timeout=); ending the run");
        if (host_.stop)
            host_.stop(stop::window_closed_request);
        guard.lock();
    }
}

void display::queue_outside_event(uint32_t type, uint32_t a, uint32_t b)
{
    const bool close_lost = queue_event_reporting_close_loss(type, a, b, monotonic_now_ns());
    if (close_lost)
        forget_close_request();
    std::lock_guard guard(handler_lock_);
    if (on_outside_event_)
        on_outside_event_();
}

bool display::frame_changed_since(uint64_t serial, uint32_t& width, uint32_t& height) const
{
    std::lock_guard guard(lock_);
    width = width_;
    height = height_;
    return serial != frame_serial_;
}

bool display::copy_frame(uint64_t& serial, uint32_t* to, size_t pitch, uint32_t width, uint32_t height)
{
    std::lock_guard guard(lock_);
    if (width != width_ || height != height_)
        return false;
    for (uint32_t row = 0; row < height; ++row) {
        if (frame_.empty())
            std::fill_n(to + row * pitch, width, 0u);
        else
            copy_pixels(to + row * pitch, frame_.data() + size_t(row) * width, size_t(width) * 4);
    }
    serial = frame_serial_;
    return true;
}

void display::visibility_changed(bool visible)
{
    {
        std::lock_guard guard(lock_);
        if (visible_ == visible)
            return;
        visible_ = visible;
    }
    queue_outside_event(abi::dsp_event_type::visibility, visible ? 1 : 0, 0);
}

void display::key(uint16_t code, int32_t value, uint32_t unicode)
{
    for (input* i : keyboards_)
        i->queue(abi::inp_event_type::key, code, value, unicode);
}

void display::pointer_position(int32_t x, int32_t y)
{
    for (input* i : absolute_pointers_) {
        const abi::inp_state before = i->state();
        const auto [w, h] = std::pair{width(), height()};
        x = std::clamp<int32_t>(x, 0, int32_t(w) - 1);
        y = std::clamp<int32_t>(y, 0, int32_t(h) - 1);
        if (uint32_t(x) != before.abs_x)
            i->queue(abi::inp_event_type::absolute, 0, x);
        if (uint32_t(y) != before.abs_y)
            i->queue(abi::inp_event_type::absolute, 1, y);
    }
}

void display::pointer_motion(int32_t dx, int32_t dy)
{
    for (input* i : relative_pointers_) {
        if (dx)
            i->queue(abi::inp_event_type::relative, 0, dx);
        if (dy)
            i->queue(abi::inp_event_type::relative, 1, dy);
    }
}

void display::button(uint16_t code, bool pressed)
{
    for (input* i : absolute_pointers_)
        i->queue(abi::inp_event_type::button, code, pressed ? 1 : 0);
    for (input* i : relative_pointers_)
        i->queue(abi::inp_event_type::button, code, pressed ? 1 : 0);
}

void display::wheel(int32_t vertical, int32_t horizontal)
{
    for (const auto* list : {&absolute_pointers_, &relative_pointers_})
        for (input* i : *list) {
            if (vertical)
                i->queue(abi::inp_event_type::wheel, 0, vertical);
            if (horizontal)
                i->queue(abi::inp_event_type::wheel, 1, horizontal);
        }
}

void display::note(const std::string& line)
{
    // Straight to stderr: machine::note would flush the devices' output from
    // this thread, which is the vCPU's to do.
    diagnostics::line(settings_.name + ": " + line);
}

void display::set_outside_event_handler(std::function<void()> handler)
{
    std::lock_guard guard(handler_lock_);
    on_outside_event_ = std::move(handler);
}

bool display::stopping() const
{
    return stop::requested();
}

void display::queue_event(uint32_t type, uint32_t a, uint32_t b, uint64_t time_ns)
{
    if (queue_event_reporting_close_loss(type, a, b, time_ns))
        forget_close_request();
}

bool display::queue_event_reporting_close_loss(uint32_t type, uint32_t a, uint32_t b, uint64_t time_ns)
{
    std::lock_guard guard(lock_);
    if (queue_.size() < settings_.queue_bound) {
        queue_.push_back(abi::dsp_event{type, generation_, a, b, time_ns});
        return false;
    }
    const bool close_lost = type == abi::dsp_event_type::close_requested ||
                            queue_.back().type == abi::dsp_event_type::close_requested;
    if (deviate_.overflow_unmarked)
        return close_lost;
    // Full: the last event becomes (or stays) an overflow counting the lost ones,
    // the one it replaces among them (spec 14.7).
    abi::dsp_event& last = queue_.back();
    if (last.type == abi::dsp_event_type::overflow) {
        ++last.a;
    } else {
        last = abi::dsp_event{abi::dsp_event_type::overflow, generation_, 2, 0, time_ns};
    }
    return close_lost;
}

// A close request the guest can no longer read (lost to a full queue) does not
// end the run: the guest cannot be blamed for not answering it.
void display::forget_close_request()
{
    std::lock_guard guard(close_lock_);
    close_pending_ = false;
    close_changed_.notify_all();
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
    if (out.type == abi::dsp_event_type::close_requested) {
        std::lock_guard close_guard(close_lock_);  // the guest answered: no timeout
        close_pending_ = false;
        close_changed_.notify_all();
    }
    return true;
}

std::vector<std::byte> display::png() const
{
    // Encoded outside the lock, so that a window's thread and the guest go on meanwhile.
    uint32_t width, height;
    std::vector<uint32_t> copy;
    {
        std::lock_guard guard(lock_);
        width = width_;
        height = height_;
        copy.resize(size_t(width) * height);
        if (!frame_.empty())
            copy_pixels(copy.data(), frame_.data(), frame_.size() * 4);
    }
    return encode_png_xrgb8888(width, height, std::as_bytes(std::span(copy)), size_t(width) * 4);
}

std::string display::write_screenshot(const std::string& path) const
{
    return write_file_atomically(path, png());
}

void display::take_faults(const fault_injector& faults)
{
    const fault_injector::display_deviations d = faults.display_faults();
    deviate_.skip_last_row = d.skip_last_row;
    deviate_.unpaced = d.unpaced;
    deviate_.overflow_unmarked = d.overflow_unmarked;
}

void display::run_ended()
{
    if (host_.stats && window_)
        diagnostics::line(settings_.name + ": stats: its window drew " + std::to_string(window_->frames_drawn()) +
                          " frames");
    // The screenshot of the last frame: written whenever a run of the machine
    // ends (each boot's end, so the last one written is the last frame).
    if (settings_.screenshot.empty())
        return;
    std::string problem;
    try {
        problem = write_screenshot(settings_.screenshot);
    } catch (const std::exception& e) {
        problem = e.what();
    }
    if (!problem.empty())
        diagnostics::line(settings_.name + ": the screenshot " + settings_.screenshot + " was not written: " + problem);
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
              }}},
            {settings_.name + "-request-size",
             {"ask the guest for another size, as a person resizing the window: {\"width\": W, \"height\": H}",
              [this](const json::object& arguments) {
                  const auto width = uint32_t(integer_argument(arguments, "width", 1, 65535));
                  const auto height = uint32_t(integer_argument(arguments, "height", 1, 65535));
                  request_size(width, height);
                  return json::value(json::object{{"width", uint64_t(width)}, {"height", uint64_t(height)}});
              }}},
            {settings_.name + "-request-close",
             {"ask the guest to close the display, as a person closing the window (the run ends if the guest "
              "does not take the request within the close timeout)",
              [this](const json::object&) {
                  request_close();
                  return json::value(json::object{{"close-timeout-ms", uint64_t(settings_.close_timeout_ms)}});
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
    const std::string backend = s.get("backend").value_or("auto");
    if (backend == "none")
        d.shown_by = display::backend::none;
    else if (backend == "sdl")
        d.shown_by = display::backend::sdl;
    else if (backend == "auto")
        d.shown_by = display::backend::automatic;
    else
        throw error(exit_status::usage, s.origin + ": the display back end '" + backend +
                                            "' is not known; say sdl (a window), none (frames kept for "
                                            "screenshots only) or auto (sdl where a desktop is reachable)");
    d.given = s;
    d.close_timeout_ms = number_of(s, "close-timeout", 5, 0, 3600) * 1000;
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

std::vector<std::unique_ptr<device>> create_displays(const std::vector<device_settings>& all, const device_host& host)
{
    std::vector<std::unique_ptr<device>> made;
    for (const device_settings& s : all)
        made.push_back(std::make_unique<display>(settings_of(s), host));
    return made;
}

}  // namespace

device_class display_device_class()
{
    return {"display",
            "  --display auto|sdl|none[,name=N][,width=W][,height=H][,screenshot=FILE]\n"
            "                  a display for the DSP service, repeatable up to 16 times\n"
            "                  (one auto display when none is given): sdl shows it in a\n"
            "                  window (the module hbvm-sdl.so), opened at the guest's\n"
            "                  first mode set or present; none keeps the frames without\n"
            "                  showing them; auto is sdl where $DISPLAY or\n"
            "                  $WAYLAND_DISPLAY is set and none elsewhere, saying which.\n"
            "                  Its boot mode is W x H (default 1024x768), its largest\n"
            "                  max-width= x max-height= (default 4096x4096); refresh=HZ\n"
            "                  paces the presented events (default: unknown, paced at\n"
            "                  60 Hz); screenshot= writes the last frame as a PNG when the\n"
            "                  run ends; close-timeout=S ends the run S seconds after a\n"
            "                  person closed the window if the guest has not taken the\n"
            "                  close request (default 5, 0 never). In the window, a click\n"
            "                  grabs the mouse for a relative pointer; Ctrl+Alt+G lets go\n",
            "backend",
            {"backend", "name", "width", "height", "max-width", "max-height", "refresh", "screenshot", "close-timeout"},
            {},
            16,
            true,
            check_displays,
            create_displays};
}

}  // namespace hbvm
