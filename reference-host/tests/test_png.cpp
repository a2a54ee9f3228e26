// Screenshots as PNG (devices/png.hpp): the file is a well-formed PNG — signature,
// chunks with correct CRCs, IHDR as stated — whose pixels inflate back to the
// picture's RGB, row by row from a strided XRGB8888 framebuffer; bad pictures are
// refused; files are written whole or not at all.
#include "devices/png.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <unistd.h>
#include <zlib.h>

namespace hbvm {
namespace {

uint32_t be32(const std::vector<std::byte>& f, size_t at)
{
    return uint32_t(f[at]) << 24 | uint32_t(f[at + 1]) << 16 | uint32_t(f[at + 2]) << 8 | uint32_t(f[at + 3]);
}

struct chunk {
    std::string type;
    std::vector<std::byte> data;
};

// Splits a PNG file into its chunks, checking the signature and every CRC.
std::vector<chunk> chunks_of(const std::vector<std::byte>& f)
{
    const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    EXPECT_EQ(std::memcmp(f.data(), signature, 8), 0);
    std::vector<chunk> all;
    for (size_t at = 8; at < f.size();) {
        const uint32_t length = be32(f, at);
        const std::string type(reinterpret_cast<const char*>(f.data() + at + 4), 4);
        const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(f.data() + at + 4), length + 4);
        EXPECT_EQ(be32(f, at + 8 + length), uint32_t(crc)) << type;
        all.push_back({type, std::vector<std::byte>(f.begin() + long(at + 8), f.begin() + long(at + 8 + length))});
        at += 12 + length;
    }
    return all;
}

TEST(Png, APictureFromAStridedFramebufferComesBackAsItsRgbRows)
{
    constexpr uint32_t width = 3, height = 2;
    constexpr size_t stride = 5 * 4;  // two pixels of padding at the end of each row
    std::vector<std::byte> fb(stride * height, std::byte(0xEE));
    auto put = [&](uint32_t x, uint32_t y, uint32_t xrgb) {
        for (int i = 0; i < 4; ++i)
            fb[y * stride + x * 4 + size_t(i)] = std::byte(xrgb >> (8 * i));  // little-endian: B, G, R, X
    };
    const uint32_t colours[height][width] = {{0x00FF0000, 0x0000FF00, 0x000000FF}, {0xFF123456, 0x00000000, 0x00FFFFFF}};
    for (uint32_t y = 0; y < height; ++y)
        for (uint32_t x = 0; x < width; ++x)
            put(x, y, colours[y][x]);

    const std::vector<std::byte> file = encode_png_xrgb8888(width, height, fb, stride);
    const std::vector<chunk> chunks = chunks_of(file);
    ASSERT_EQ(chunks.size(), 3u);
    EXPECT_EQ(chunks[0].type, "IHDR");
    EXPECT_EQ(chunks[1].type, "IDAT");
    EXPECT_EQ(chunks[2].type, "IEND");
    ASSERT_EQ(chunks[0].data.size(), 13u);
    EXPECT_EQ(be32(chunks[0].data, 0), width);
    EXPECT_EQ(be32(chunks[0].data, 4), height);
    const unsigned char rest[5] = {8, 2, 0, 0, 0};
    EXPECT_EQ(std::memcmp(chunks[0].data.data() + 8, rest, 5), 0);

    std::vector<Bytef> raw(height * (1 + width * 3) + 16);
    uLongf raw_size = raw.size();
    ASSERT_EQ(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(chunks[1].data.data()),
                         uLong(chunks[1].data.size())),
              Z_OK);
    ASSERT_EQ(raw_size, height * (1 + width * 3));
    for (uint32_t y = 0; y < height; ++y) {
        const Bytef* row = raw.data() + y * (1 + width * 3);
        EXPECT_EQ(row[0], 0) << "filter type of row " << y;
        for (uint32_t x = 0; x < width; ++x) {
            const uint32_t c = colours[y][x];
            EXPECT_EQ(row[1 + 3 * x], Bytef(c >> 16)) << x << "," << y;
            EXPECT_EQ(row[2 + 3 * x], Bytef(c >> 8)) << x << "," << y;
            EXPECT_EQ(row[3 + 3 * x], Bytef(c)) << x << "," << y;
        }
    }
}

TEST(Png, ALargePictureIsSplitIntoChunksOfAtMostOneMebibyte)
{
    // Noise, which does not compress: about 3 MiB of image data.
    constexpr uint32_t side = 1024;
    std::vector<std::byte> fb(size_t(side) * side * 4);
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (std::byte& b : fb) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        b = std::byte(state);
    }
    const std::vector<chunk> chunks = chunks_of(encode_png_xrgb8888(side, side, fb, size_t(side) * 4));
    std::vector<std::byte> packed;
    size_t idat = 0;
    for (const chunk& c : chunks)
        if (c.type == "IDAT") {
            ++idat;
            EXPECT_LE(c.data.size(), size_t(1) << 20);
            packed.insert(packed.end(), c.data.begin(), c.data.end());
        }
    EXPECT_GE(idat, 3u);
    std::vector<Bytef> raw(size_t(side) * (1 + side * 3));
    uLongf raw_size = raw.size();
    ASSERT_EQ(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(packed.data()), uLong(packed.size())),
              Z_OK);
    EXPECT_EQ(raw_size, raw.size());
    // The last pixel of the last row: R, G, B of its XRGB word.
    const std::byte* last = fb.data() + fb.size() - 4;
    EXPECT_EQ(raw[raw.size() - 3], Bytef(last[2]));
    EXPECT_EQ(raw[raw.size() - 1], Bytef(last[0]));
}

TEST(Png, PicturesThatDoNotFitAreRefused)
{
    std::vector<std::byte> fb(16 * 4);
    EXPECT_THROW(encode_png_xrgb8888(0, 1, fb, 16), std::invalid_argument);
    EXPECT_THROW(encode_png_xrgb8888(1, 0, fb, 16), std::invalid_argument);
    EXPECT_THROW(encode_png_xrgb8888(4, 1, fb, 12), std::invalid_argument);  // stride < a row
    EXPECT_THROW(encode_png_xrgb8888(4, 5, fb, 16), std::invalid_argument);  // 5 rows of 16 bytes > 64
    EXPECT_NO_THROW(encode_png_xrgb8888(4, 4, fb, 16));
    // The last row needs only its pixels, not a whole stride.
    EXPECT_NO_THROW(encode_png_xrgb8888(2, 2, std::span(fb).first(16 + 8), 16));
}

TEST(Png, FilesAreWrittenWholeOrNotAtAll)
{
    const std::filesystem::path folder =
        std::filesystem::temp_directory_path() / ("hbvm-png-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(folder);
    const std::vector<std::byte> bytes(1000, std::byte(7));
    const std::string path = (folder / "shot.png").string();
    EXPECT_EQ(write_file_atomically(path, bytes), "");
    std::ifstream in(path, std::ios::binary);
    EXPECT_EQ(std::vector<char>(std::istreambuf_iterator<char>(in), {}).size(), 1000u);
    // Nothing but the file is left in the folder: no temporary file.
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(folder))
        ++entries;
    EXPECT_EQ(entries, 1u);

    const std::string missing = (folder / "no" / "such" / "shot.png").string();
    const std::string why = write_file_atomically(missing, bytes);
    EXPECT_NE(why.find("cannot create a file beside " + missing + ": No such file or directory"), std::string::npos)
        << why;
    std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace hbvm
