// Screenshots as PNG files (the display's `--screenshot PATH`, the control
// socket's screenshot command, the conformance driver's {screenshot} place):
// 8-bit RGB, no interlace, through zlib — no libpng, so taking a screenshot
// needs no library a console-only host would not load anyway (zlib is on every
// Debian system).
#ifndef HBVM_DEVICES_PNG_HPP
#define HBVM_DEVICES_PNG_HPP

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

// The PNG file of a width x height picture whose rows start `stride` bytes apart
// in `pixels`, each pixel an XRGB8888 word in little-endian byte order (bytes B,
// G, R, X: the display's xrgb8888 format); the X byte is dropped. Throws
// std::invalid_argument for an empty picture, a stride shorter than a row or
// pixels shorter than the picture.
std::vector<std::byte> encode_png_xrgb8888(uint32_t width, uint32_t height, std::span<const std::byte> pixels,
                                           size_t stride);

// Writes `file` to `path` whole or not at all: into a temporary file of its own
// beside it (PATH.XXXXXX), synced, then renamed over it, so that a reader never
// sees half a screenshot and two writers never mix. Returns "" or what failed
// ("cannot create a file beside /x/y.png: Permission denied").
std::string write_file_atomically(const std::string& path, std::span<const std::byte> file);

}  // namespace hbvm

#endif
