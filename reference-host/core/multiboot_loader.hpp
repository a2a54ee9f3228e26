// Multiboot (v1) image loading: finding the header, parsing ELF32 images or the
// header's address fields, placing the image in guest RAM and writing the
// Multiboot information structure the kernel receives in EBX.
#ifndef HBVM_CORE_MULTIBOOT_LOADER_HPP
#define HBVM_CORE_MULTIBOOT_LOADER_HPP

#include "core/guest_memory.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

// Low memory the host fills before the guest starts. Images load at or above 1 MiB.
namespace boot_layout {
inline constexpr uint64_t accelerator_scratch = 0x1000;      // up to 0x8000: accelerator boot code
inline constexpr uint64_t accelerator_scratch_end = 0x8000;
inline constexpr uint64_t multiboot_info = 0x8000;           // struct info (72 bytes)
inline constexpr uint64_t memory_map = 0x8100;               // mmap entries
inline constexpr uint64_t loader_name = 0x8800;
inline constexpr uint64_t cmdline = 0x9000;                  // up to 0xA000
inline constexpr uint64_t cmdline_capacity = 0x1000;
inline constexpr uint64_t image_lowest = 0x100000;
inline constexpr uint64_t conventional_top = 0x9FC00;        // end of RAM below 1 MiB reported to guests
}  // namespace boot_layout

struct image_segment {
    uint64_t address;      // guest-physical load address
    uint64_t file_offset;  // where its bytes start in the file
    uint64_t file_size;    // bytes copied from the file
    uint64_t memory_size;  // bytes occupied in RAM; the rest is zero-filled
};

struct multiboot_image {
    std::string format;  // how the image was loaded, for messages
    uint32_t header_flags = 0;
    uint32_t entry = 0;
    std::vector<image_segment> segments;

    uint64_t highest_address() const;  // end of the highest segment
};

// Reads a whole image file; throws hbvm::error (bad_image) naming the file and the problem.
std::vector<std::byte> read_image_file(const std::string& path);

// Parses an image; throws hbvm::error (bad_image) explaining what is wrong with it.
multiboot_image parse_multiboot_image(std::span<const std::byte> file);

// Copies the image into RAM; throws hbvm::error (bad_image) if it does not fit.
void load_multiboot_image(const multiboot_image& image, std::span<const std::byte> file, guest_memory& memory);

// Writes the Multiboot information (memory, memory map, command line, loader
// name) and returns its guest-physical address, the value of EBX at entry.
uint32_t write_multiboot_info(guest_memory& memory, const std::string& cmdline);

}  // namespace hbvm

#endif
