// Asks an X window to close as a window manager's close button does: a
// WM_DELETE_WINDOW client message (ICCCM 4.2.8.1). xdotool 3.2016's
// windowclose destroys the window instead, which no person can do. For the
// window tests (test_window.py), which run Xvfb without a window manager.
//
// Usage: x_close_window WINDOW-ID   (uses $DISPLAY)
#include <X11/Xlib.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: x_close_window WINDOW-ID (decimal or 0x hex); uses $DISPLAY\n");
        return 2;
    }
    Display* display = XOpenDisplay(nullptr);
    if (!display) {
        fprintf(stderr, "x_close_window: cannot open the X display '%s'\n", getenv("DISPLAY") ? getenv("DISPLAY") : "");
        return 1;
    }
    XEvent event;
    memset(&event, 0, sizeof event);
    event.xclient.type = ClientMessage;
    event.xclient.window = static_cast<Window>(strtoul(argv[1], nullptr, 0));
    event.xclient.message_type = XInternAtom(display, "WM_PROTOCOLS", False);
    event.xclient.format = 32;
    event.xclient.data.l[0] = static_cast<long>(XInternAtom(display, "WM_DELETE_WINDOW", False));
    event.xclient.data.l[1] = CurrentTime;
    if (!XSendEvent(display, event.xclient.window, False, NoEventMask, &event)) {
        fprintf(stderr, "x_close_window: XSendEvent failed\n");
        return 1;
    }
    XSync(display, False);
    XCloseDisplay(display);
    return 0;
}
