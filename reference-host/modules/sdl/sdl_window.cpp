// The `sdl` display back end: each display in a window of its own, drawn with
// SDL2, its keyboard and mouse fed to the display's input devices
// (devices/display_window.hpp).
//
// SDL's video and events are process-wide and want one thread: one thread of
// this module (started at the first window) runs them for every window. hbvm's
// threads only set a flag and write an eventfd and never wait for this thread:
// a stalled X server stalls it alone, and a stop still ends hbvm at once.
//
// SDL installs no signal handlers (SDL_HINT_NO_SIGNAL_HANDLERS): hbvm's
// watchdog owns SIGINT and SIGTERM.
#include "core/error.hpp"
#include "devices/module.hpp"
#include "sdl_audio.hpp"
#include "sdl_keys.hpp"

#include <SDL.h>
#include <SDL_syswm.h>
#include <X11/Xlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <poll.h>
#include <set>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace std::chrono_literals;

// One display's window, shared between its display_window (hbvm's side) and
// the module's thread. The thread alone touches the SDL members.
struct window_state {
    hbvm::display_window_host* host;  // null once the display is gone (guarded by ui::lock)
    bool gone = false;                // the display_window was destroyed (ui::lock)
    std::atomic<bool> frame_changed{false};
    std::atomic<uint64_t> drawn{0};  // frames shown in the window

    SDL_Window* window = nullptr;
    SDL_Renderer* renderer = nullptr;
    SDL_Texture* texture = nullptr;
    uint32_t mode_width = 0, mode_height = 0;
    uint64_t serial = 0;
    bool failed = false;      // the window could not open: the frames are kept only
    bool user_sized = false;  // a person resized it: it keeps their size and scales
    int asked_width = 0, asked_height = 0;  // the size this module last gave the window
    bool texture_refused = false;           // the renderer cannot take this mode (said once)
    bool grabbed = false;     // the mouse is grabbed (relative pointers)
    bool hotkey_held = false; // the G of Ctrl+Alt+G let go of the grab: its release is the window's too
    std::set<uint16_t> keys_down;
    std::set<uint16_t> buttons_down;
};

// The module's thread and what it serves.
struct ui {
    std::mutex lock;
    std::condition_variable changed;
    std::vector<std::shared_ptr<window_state>> windows;  // lock
    bool started = false;                               // lock: SDL answered, start_error says how
    std::string start_error;                            // lock
    int wake_fd = -1;
    int x_fd = -1;  // the X connection, once a window exists (thread only)

    void wake() const
    {
        const uint64_t one = 1;
        (void)!write(wake_fd, &one, sizeof one);
    }
};

// Never destroyed: its thread may outlive every window (on a stalled X server)
// until the process ends.
ui* the_ui = nullptr;
std::mutex the_ui_lock;

template <typename F>
void with_host(window_state& w, F f)
{
    std::lock_guard guard(the_ui->lock);
    if (w.host)
        f(*w.host);
}

void note(window_state& w, const std::string& line)
{
    with_host(w, [&](hbvm::display_window_host& h) { h.note(line); });
}

// Xlib ends the process when the X connection breaks, unless this handler
// never returns: the window's thread then waits here for the process's end,
// and the machine runs on without a window.
int x_connection_lost(Display*)
{
    {
        std::lock_guard guard(the_ui->lock);
        for (const auto& w : the_ui->windows)
            if (w->host) {
                w->host->note("the connection to the X server broke: the window is gone, the frames are kept");
                break;
            }
    }
    for (;;)
        pause();
}

std::string title_of(window_state& w)
{
    std::string name = "display";
    with_host(w, [&](hbvm::display_window_host& h) { name = h.name(); });
    std::string title = "HyperBIOS: " + name;
    if (w.grabbed)
        title += " (the mouse is grabbed: Ctrl+Alt+G lets go)";
    return title;
}

void render(window_state& w)
{
    if (!w.renderer)
        return;
    SDL_SetRenderDrawColor(w.renderer, 0, 0, 0, 255);
    SDL_RenderClear(w.renderer);
    if (w.texture)
        SDL_RenderCopy(w.renderer, w.texture, nullptr, nullptr);
    SDL_RenderPresent(w.renderer);
    ++w.drawn;
}

// A window size for a mode: the mode itself, made smaller (keeping its shape)
// when the desktop is smaller.
std::pair<int, int> fitted(uint32_t width, uint32_t height)
{
    SDL_Rect usable{};
    double scale = 1.0;
    if (SDL_GetDisplayUsableBounds(0, &usable) == 0 && usable.w > 0 && usable.h > 0)
        scale = std::min({1.0, double(usable.w) / width, double(usable.h) / height});
    return {std::max(1, int(width * scale)), std::max(1, int(height * scale))};
}

void open_sdl_window(window_state& w)
{
    const auto [width, height] = fitted(w.mode_width, w.mode_height);
    w.asked_width = width;
    w.asked_height = height;
    w.window = SDL_CreateWindow(title_of(w).c_str(), SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, width, height,
                                SDL_WINDOW_RESIZABLE);
    if (w.window)
        w.renderer = SDL_CreateRenderer(w.window, -1, 0);
    if (w.window && !w.renderer)
        w.renderer = SDL_CreateRenderer(w.window, -1, SDL_RENDERER_SOFTWARE);
    if (!w.window || !w.renderer) {
        note(w, std::string("cannot open a window (") + SDL_GetError() + "); the frames are kept, not shown");
        if (w.window)
            SDL_DestroyWindow(w.window);
        w.window = nullptr;
        w.failed = true;
        return;
    }
    SDL_SysWMinfo info;
    SDL_VERSION(&info.version);
    if (the_ui->x_fd < 0 && SDL_GetWindowWMInfo(w.window, &info) && info.subsystem == SDL_SYSWM_X11)
        the_ui->x_fd = ConnectionNumber(info.info.x11.display);
}

// Takes the display's frame when it changed, and shows it.
void update(window_state& w)
{
    uint32_t width = 0, height = 0;
    bool changed = false;
    with_host(w, [&](hbvm::display_window_host& h) { changed = h.frame_changed_since(w.serial, width, height); });
    if (!changed || w.failed)
        return;
    const bool new_mode = width != w.mode_width || height != w.mode_height;
    w.mode_width = width;
    w.mode_height = height;
    if (!w.window) {
        open_sdl_window(w);
        if (!w.window)
            return;
    } else if (new_mode && !w.user_sized) {
        // The window follows the guest's mode until a person sizes it.
        const auto [fit_width, fit_height] = fitted(width, height);
        w.asked_width = fit_width;
        w.asked_height = fit_height;
        SDL_SetWindowSize(w.window, fit_width, fit_height);
    }
    if (new_mode)
        w.texture_refused = false;
    if (w.texture_refused)
        return;
    if (new_mode || !w.texture) {
        if (w.texture)
            SDL_DestroyTexture(w.texture);
        // SDL_PIXELFORMAT_RGB888 is 32-bit XRGB: DSP's xrgb8888 (spec 14.2).
        w.texture = SDL_CreateTexture(w.renderer, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING, int(width),
                                      int(height));
        if (!w.texture) {
            w.texture_refused = true;
            note(w, "cannot show a " + std::to_string(width) + "x" + std::to_string(height) + " mode (" + SDL_GetError() +
                        "); the window stays black until the mode changes");
            render(w);
            return;
        }
        // Scaled to the window, its shape kept (black bars), its pixels not smoothed.
        SDL_RenderSetLogicalSize(w.renderer, int(width), int(height));
    }
    // The frame goes straight into the texture: one copy, under the display's lock.
    void* pixels = nullptr;
    int pitch = 0;
    bool copied = false;
    if (w.texture && SDL_LockTexture(w.texture, nullptr, &pixels, &pitch) == 0) {
        with_host(w, [&](hbvm::display_window_host& h) {
            copied = h.copy_frame(w.serial, static_cast<uint32_t*>(pixels), size_t(pitch) / 4, width, height);
        });
        SDL_UnlockTexture(w.texture);
    }
    if (!copied) {
        w.frame_changed = true;  // the mode changed meanwhile: the next pass takes it
        return;
    }
    render(w);
}

void destroy(window_state& w)
{
    if (w.texture)
        SDL_DestroyTexture(w.texture);
    if (w.renderer)
        SDL_DestroyRenderer(w.renderer);
    if (w.window)
        SDL_DestroyWindow(w.window);
    w.texture = nullptr;
    w.renderer = nullptr;
    w.window = nullptr;
}

void set_grab(window_state& w, bool grabbed)
{
    w.grabbed = grabbed;
    SDL_SetRelativeMouseMode(grabbed ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowKeyboardGrab(w.window, grabbed ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowTitle(w.window, title_of(w).c_str());
}

// Lets go of what is held when the window loses the keyboard: a guest must
// not see a key stay down that a person released elsewhere.
void release_all(window_state& w)
{
    with_host(w, [&](hbvm::display_window_host& h) {
        for (uint16_t code : w.keys_down)
            h.key(code, 0, 0);
        for (uint16_t code : w.buttons_down)
            h.button(code, false);
    });
    w.keys_down.clear();
    w.buttons_down.clear();
}

class event_loop {
public:
    void run();

private:
    window_state* window_of(uint32_t id);
    void handle(const SDL_Event& e);
    void window_event(window_state& w, const SDL_WindowEvent& e);
    void flush_key(uint32_t unicode = 0);

    std::vector<std::shared_ptr<window_state>> windows_;
    // A key press waits for the text it typed (SDL sends it as the next event)
    // so that one INP event carries both.
    struct held_key {
        window_state* window = nullptr;
        uint16_t code = 0;
        int32_t value = 0;
    } held_;
};

window_state* event_loop::window_of(uint32_t id)
{
    for (const auto& w : windows_)
        if (w->window && SDL_GetWindowID(w->window) == id)
            return w.get();
    return nullptr;
}

void event_loop::flush_key(uint32_t unicode)
{
    if (!held_.window)
        return;
    with_host(*held_.window, [&](hbvm::display_window_host& h) { h.key(held_.code, held_.value, unicode); });
    held_ = {};
}

void event_loop::window_event(window_state& w, const SDL_WindowEvent& e)
{
    switch (e.event) {
    case SDL_WINDOWEVENT_SIZE_CHANGED:
        // The size this module gave (a mode too large for the desktop, fitted)
        // is not a person's request.
        if (e.data1 == w.asked_width && e.data2 == w.asked_height) {
            render(w);
            break;
        }
        w.asked_width = w.asked_height = 0;
        if (uint32_t(e.data1) != w.mode_width || uint32_t(e.data2) != w.mode_height) {
            w.user_sized = true;
            with_host(w, [&](hbvm::display_window_host& h) { h.size_changed(uint32_t(e.data1), uint32_t(e.data2)); });
        } else {
            w.user_sized = false;
        }
        render(w);
        break;
    case SDL_WINDOWEVENT_EXPOSED:
        render(w);
        break;
    case SDL_WINDOWEVENT_FOCUS_LOST:
        release_all(w);
        if (w.grabbed)
            set_grab(w, false);
        break;
    case SDL_WINDOWEVENT_CLOSE:
        with_host(w, [](hbvm::display_window_host& h) { h.close_requested(); });
        break;
    default:
        break;
    }
}

void event_loop::handle(const SDL_Event& e)
{
    if (e.type != SDL_TEXTINPUT)
        flush_key();
    switch (e.type) {
    case SDL_WINDOWEVENT:
        if (window_state* w = window_of(e.window.windowID))
            window_event(*w, e.window);
        break;
    case SDL_KEYDOWN:
    case SDL_KEYUP: {
        window_state* w = window_of(e.key.windowID);
        if (!w)
            break;
        const bool down = e.type == SDL_KEYDOWN;
        // Ctrl+Alt+G lets go of a grabbed mouse; the G, pressed and released, is
        // not the guest's.
        if (down && w->grabbed && e.key.keysym.scancode == SDL_SCANCODE_G && (e.key.keysym.mod & KMOD_CTRL) &&
            (e.key.keysym.mod & KMOD_ALT)) {
            set_grab(*w, false);
            w->hotkey_held = true;
            break;
        }
        if (w->hotkey_held && e.key.keysym.scancode == SDL_SCANCODE_G) {
            w->hotkey_held = down;
            break;
        }
        const uint16_t code = hbvm::sdl::evdev_key(e.key.keysym.scancode);
        if (code == 0)
            break;
        if (down) {
            w->keys_down.insert(code);
            held_ = {w, code, e.key.repeat ? 2 : 1};
        } else {
            w->keys_down.erase(code);
            with_host(*w, [&](hbvm::display_window_host& h) { h.key(code, 0, 0); });
        }
        break;
    }
    case SDL_TEXTINPUT:
        flush_key(hbvm::sdl::first_code_point(e.text.text));
        break;
    case SDL_MOUSEMOTION:
        if (window_state* w = window_of(e.motion.windowID)) {
            with_host(*w, [&](hbvm::display_window_host& h) {
                if (w->grabbed)
                    h.pointer_motion(e.motion.xrel, e.motion.yrel);
                else
                    h.pointer_position(e.motion.x, e.motion.y);
            });
        }
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
        if (window_state* w = window_of(e.button.windowID)) {
            bool relative = false;
            with_host(*w, [&](hbvm::display_window_host& h) { relative = h.wants_relative_motion(); });
            // The click that grabs the mouse for a relative pointer is the window's.
            if (e.type == SDL_MOUSEBUTTONDOWN && relative && !w->grabbed) {
                set_grab(*w, true);
                break;
            }
            const uint16_t code = hbvm::sdl::evdev_button(e.button.button);
            if (code == 0)
                break;
            const bool down = e.type == SDL_MOUSEBUTTONDOWN;
            if (down)
                w->buttons_down.insert(code);
            else if (!w->buttons_down.erase(code))
                break;  // its press was the grabbing click
            with_host(*w, [&](hbvm::display_window_host& h) {
                if (!w->grabbed)
                    h.pointer_position(e.button.x, e.button.y);
                h.button(code, down);
            });
        }
        break;
    case SDL_MOUSEWHEEL:
        if (window_state* w = window_of(e.wheel.windowID)) {
            const int sign = e.wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -1 : 1;
            with_host(*w, [&](hbvm::display_window_host& h) { h.wheel(sign * e.wheel.y, sign * e.wheel.x); });
        }
        break;
    default:
        break;  // SDL_QUIT among them: a closed window says so itself
    }
}

void event_loop::run()
{
    for (;;) {
        // Wait for hbvm (the eventfd) or the X server. Right after SDL read
        // every event the connection had, the X descriptor is exact; without
        // one (Wayland) the loop looks every 10 ms while a window is open.
        pollfd fds[2] = {{the_ui->wake_fd, POLLIN, 0}, {the_ui->x_fd, POLLIN, 0}};
        const int count = the_ui->x_fd >= 0 ? 2 : 1;
        const int timeout = the_ui->x_fd >= 0 ? 500 : windows_.empty() ? -1 : 10;
        poll(fds, nfds_t(count), timeout);
        uint64_t wakes;
        (void)!read(the_ui->wake_fd, &wakes, sizeof wakes);

        {
            std::lock_guard guard(the_ui->lock);
            windows_ = the_ui->windows;
        }
        for (const auto& w : windows_) {
            bool gone;
            {
                std::lock_guard guard(the_ui->lock);
                gone = w->gone;
            }
            if (gone) {
                if (held_.window == w.get())
                    held_ = {};
                destroy(*w);
                std::lock_guard guard(the_ui->lock);
                std::erase(the_ui->windows, w);
            } else if (w->frame_changed.exchange(false)) {
                update(*w);
            }
        }
        {
            std::lock_guard guard(the_ui->lock);
            windows_ = the_ui->windows;
        }
        SDL_Event e;
        while (SDL_PollEvent(&e))
            handle(e);
        flush_key();
        // Visibility as the window's flags say once SDL's events are read:
        // creating a renderer shows, hides and shows a window in one breath.
        for (const auto& w : windows_) {
            if (!w->window)
                continue;
            const uint32_t flags = SDL_GetWindowFlags(w->window);
            const bool visible = (flags & SDL_WINDOW_SHOWN) && !(flags & (SDL_WINDOW_HIDDEN | SDL_WINDOW_MINIMIZED));
            with_host(*w, [&](hbvm::display_window_host& h) { h.visibility_changed(visible); });
        }
    }
}

void thread_main()
{
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "nearest");
    SDL_SetHint(SDL_HINT_MOUSE_FOCUS_CLICKTHROUGH, "1");
    SDL_SetHint(SDL_HINT_VIDEO_ALLOW_SCREENSAVER, "1");
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    // A desktop's driver only, the one the environment names: left to itself,
    // SDL falls back to drivers that open no window a person sees. A user's
    // SDL_VIDEODRIVER (kmsdrm on a console, say) still chooses.
    const char* chosen = std::getenv("SDL_VIDEODRIVER");
    if (!chosen || !*chosen) {
        const char* wayland = std::getenv("WAYLAND_DISPLAY");
        const char* x = std::getenv("DISPLAY");
        std::string drivers = x && *x ? "x11" : "";
        if (wayland && *wayland)
            drivers += drivers.empty() ? "wayland" : ",wayland";
        SDL_SetHint(SDL_HINT_VIDEODRIVER, drivers.empty() ? "x11" : drivers.c_str());
    }
    const bool ok = SDL_InitSubSystem(SDL_INIT_VIDEO) == 0;
    if (ok && std::string(SDL_GetCurrentVideoDriver()) == "x11")
        XSetIOErrorHandler(x_connection_lost);
    {
        std::lock_guard guard(the_ui->lock);
        the_ui->started = true;
        if (!ok) {
            std::string where;
            for (const char* name : {"DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"})
                if (const char* value = std::getenv(name); value && *value)
                    where += std::string(where.empty() ? " with $" : ", $") + name + "=" + value;
            the_ui->start_error = "SDL cannot start its video" + (where.empty() ? " (no $DISPLAY)" : where) +
                                  " (SDL says: " + SDL_GetError() + ")";
        }
    }
    the_ui->changed.notify_all();
    if (ok)
        event_loop{}.run();
}

// Starts the module's thread at the first window and waits for SDL to answer:
// at most 10 s (a stalled X server), and never past a stop of the run.
void start_ui(hbvm::display_window_host& host)
{
    std::lock_guard start_guard(the_ui_lock);
    if (!the_ui) {
        auto* created = new ui;
        created->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (created->wake_fd < 0) {
            delete created;
            throw hbvm::error(hbvm::exit_status::host_failure, "the SDL window's thread needs an eventfd: none left");
        }
        the_ui = created;
        std::thread(thread_main).detach();
    }
    std::unique_lock guard(the_ui->lock);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!the_ui->started) {
        if (host.stopping())
            throw hbvm::error(hbvm::exit_status::host_failure, "the run was stopped while SDL started");
        if (std::chrono::steady_clock::now() > deadline)
            throw hbvm::error(hbvm::exit_status::host_failure,
                              "SDL did not start its video within 10 s: is the X server ($DISPLAY) stalled?");
        the_ui->changed.wait_for(guard, 10ms);
    }
    if (!the_ui->start_error.empty())
        throw hbvm::error(hbvm::exit_status::host_failure,
                          the_ui->start_error + ": is that a desktop this user may use? (--display none runs "
                                                "without a window)");
}

class sdl_window final : public hbvm::display_window {
public:
    explicit sdl_window(hbvm::display_window_host& host) : state_(std::make_shared<window_state>())
    {
        start_ui(host);
        state_->host = &host;
        std::lock_guard guard(the_ui->lock);
        the_ui->windows.push_back(state_);
    }

    // Never waits for the thread, which X may stall: the window closes on the
    // thread's next pass, or with the process.
    ~sdl_window() override
    {
        std::lock_guard guard(the_ui->lock);
        state_->host = nullptr;
        state_->gone = true;
        the_ui->wake();
    }

    uint64_t frames_drawn() const override { return state_->drawn; }

    void frame_changed() override
    {
        state_->frame_changed = true;
        the_ui->wake();
    }

private:
    std::shared_ptr<window_state> state_;
};

std::unique_ptr<hbvm::display_window> open_window(const hbvm::device_settings&, hbvm::display_window_host& host)
{
    return std::make_unique<sdl_window>(host);
}

std::vector<std::unique_ptr<hbvm::device>> create(const std::string& device_class,
                                                  const std::vector<hbvm::device_settings>&, const hbvm::device_host&)
{
    throw std::logic_error("the sdl module makes no '" + device_class +
                           "' devices: it opens displays' windows and sound outputs");
}

}  // namespace

HBVM_MODULE_ENTRY
{
    static const hbvm::module_entry entry{hbvm::module_interface_version, HBVM_VERSION_STRING, "sdl", &create,
                                          &open_window, nullptr, &open_sdl_audio};
    return &entry;
}
