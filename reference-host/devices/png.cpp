#include "devices/png.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace hbvm {

namespace {

void put_u32(std::vector<std::byte>& out, uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(std::byte(v >> shift));
}

// One chunk: length, type, data, CRC of type and data (PNG 5.3).
void put_chunk(std::vector<std::byte>& out, const char (&type)[5], std::span<const std::byte> data)
{
    put_u32(out, uint32_t(data.size()));
    const size_t type_at = out.size();
    for (int i = 0; i < 4; ++i)
        out.push_back(std::byte(type[i]));
    out.insert(out.end(), data.begin(), data.end());
    const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(out.data() + type_at), uInt(4 + data.size()));
    put_u32(out, uint32_t(crc));
}

}  // namespace

std::vector<std::byte> encode_png_xrgb8888(uint32_t width, uint32_t height, std::span<const std::byte> pixels,
                                           size_t stride)
{
    if (width == 0 || height == 0)
        throw std::invalid_argument("a PNG needs at least one pixel");
    if (stride < size_t(width) * 4)
        throw std::invalid_argument("the stride is shorter than a row");
    if (pixels.size() < (size_t(height) - 1) * stride + size_t(width) * 4)
        throw std::invalid_argument("the pixels end before the picture");

    // The raw image data: each row a filter byte (0: none) and RGB triples.
    const size_t row_bytes = 1 + size_t(width) * 3;
    std::vector<Bytef> raw(row_bytes * height);
    for (uint32_t y = 0; y < height; ++y) {
        const std::byte* in = pixels.data() + size_t(y) * stride;
        Bytef* out = raw.data() + size_t(y) * row_bytes;
        *out++ = 0;
        for (uint32_t x = 0; x < width; ++x, in += 4) {
            *out++ = Bytef(in[2]);  // R
            *out++ = Bytef(in[1]);  // G
            *out++ = Bytef(in[0]);  // B
        }
    }
    // Level 1: a screenshot is written at exit and on request, where speed matters
    // more than the last few percent of size.
    uLongf packed_size = compressBound(uLong(raw.size()));
    std::vector<std::byte> packed(packed_size);
    if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, raw.data(), uLong(raw.size()), 1) != Z_OK)
        throw std::runtime_error("zlib could not compress the picture");
    packed.resize(packed_size);

    std::vector<std::byte> file;
    const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    for (unsigned char c : signature)
        file.push_back(std::byte(c));
    std::vector<std::byte> header;
    put_u32(header, width);
    put_u32(header, height);
    // Bit depth 8, colour type 2 (RGB), deflate, filter method 0, no interlace.
    const unsigned char format[5] = {8, 2, 0, 0, 0};
    for (unsigned char c : format)
        header.push_back(std::byte(c));
    put_chunk(file, "IHDR", header);
    // The data in chunks of at most 1 MiB: a chunk's length is 31 bits, and
    // zlib's CRC takes 32-bit lengths.
    constexpr size_t chunk_bytes = 1 << 20;
    for (size_t at = 0; at < packed.size(); at += chunk_bytes)
        put_chunk(file, "IDAT", std::span(packed).subspan(at, std::min(chunk_bytes, packed.size() - at)));
    put_chunk(file, "IEND", {});
    return file;
}

std::string write_file_atomically(const std::string& path, std::span<const std::byte> file)
{
    // A name of its own for every write (mkstemp: created exclusively, never
    // through a planted symlink), so two writers cannot mix their bytes.
    std::string temporary = path + ".XXXXXX";
    const int fd = mkostemp(temporary.data(), O_CLOEXEC);
    if (fd < 0)
        return "cannot create a file beside " + path + ": " + std::strerror(errno);
    (void)fchmod(fd, 0644);
    size_t done = 0;
    while (done < file.size()) {
        const ssize_t n = write(fd, file.data() + done, file.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const std::string why = n < 0 ? std::strerror(errno) : "nothing written";
            close(fd);
            unlink(temporary.c_str());
            return "cannot write " + temporary + ": " + why;
        }
        done += size_t(n);
    }
    // On the disk before the rename, so that a crash leaves the old file or the
    // new one, not an empty one.
    if (fsync(fd) != 0 || close(fd) != 0) {
        const std::string why = std::strerror(errno);
        unlink(temporary.c_str());
        return "cannot write " + temporary + ": " + why;
    }
    if (rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        unlink(temporary.c_str());
        return "cannot rename " + temporary + " to " + path + ": " + why;
    }
    return "";
}

}  // namespace hbvm
