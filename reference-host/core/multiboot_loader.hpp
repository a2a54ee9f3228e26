// Multiboot (v1) image loading: finding the header, parsing ELF32 images or the
// header's address fields, placing the image in guest RAM and writing the
// Multiboot information structure the kernel receives in EBX.
#ifndef HBVM_CORE_MULTIBOOT_LOADER_HPP
#define HBVM_CORE_MULTIBOOT_LOADER_HPP

#include "core/guest_memory.hpp"

#include <hyperbios/abi.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

// Low memory the host fills before the guest starts. Images load at or above 1 MiB.
// Multiboot 3.1.1: the whole header lies in the first 8 KiB of the image.
inline constexpr uint64_t multiboot_header_search_limit = 8192;

namespace boot_layout {
inline constexpr uint64_t accelerator_scratch = 0x1000;      // up to 0x7000: accelerator boot code
// The host's page, reserved in the memory map: what the guest finds at entry.
inline constexpr uint64_t entry_page = 0x7000;
inline constexpr uint64_t entry_gdt = 0x7000;                // the flat GDT (24 bytes)
inline constexpr uint64_t entry_idt = 0x7040;                // 32 interrupt gates to the stubs below
inline constexpr uint64_t entry_idt_stubs = 0x7140;          // 16 bytes each: report the vector to the host
inline constexpr uint64_t entry_stack_top = 0x8000;          // ESP at entry: room for an early fault's frame
inline constexpr uint16_t entry_fault_port = 0x0B49;         // where the entry IDT's stubs report a vector
inline constexpr uint64_t accelerator_scratch_end = 0x7000;
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

// Where an image's bytes come from. The loader reads only what it needs: the
// Multiboot header, the ELF headers and the loaded segments, never a whole file.
class image_source {
public:
    virtual ~image_source() = default;
    virtual uint64_t size() const = 0;
    // Copies [offset, offset + out.size()) into `out`; false when the image ends
    // before (a file that shrank since it was opened).
    virtual bool read_at(uint64_t offset, std::span<std::byte> out) const = 0;
};

// An image in memory (tests, fuzzers).
class memory_image final : public image_source {
public:
    explicit memory_image(std::span<const std::byte> bytes) : bytes_(bytes) {}
    uint64_t size() const override { return bytes_.size(); }
    bool read_at(uint64_t offset, std::span<std::byte> out) const override;

private:
    std::span<const std::byte> bytes_;
};

// An image named on the command line. A regular file (or block device) is read
// piecewise with pread and may be of any size; a pipe, FIFO or character device
// is read once, stopping after 8 KiB when no Multiboot header is there and
// refusing more than `stream_limit` bytes. Opening a FIFO waits for a writer;
// a stop request (core/stop.hpp) ends any wait with stop::interrupted.
// Throws hbvm::error (bad_image) naming the file and the problem.
class image_file final : public image_source {
public:
    image_file(const std::string& path, uint64_t stream_limit);
    ~image_file() override;
    image_file(const image_file&) = delete;
    image_file& operator=(const image_file&) = delete;

    uint64_t size() const override { return size_; }
    bool read_at(uint64_t offset, std::span<std::byte> out) const override;

private:
    void read_stream(uint64_t limit);

    std::string path_;
    int fd_ = -1;
    uint64_t size_ = 0;
    bool streamed_ = false;
    std::vector<std::byte> stream_bytes_;  // everything a pipe or device gave
};

// Parses an image; throws hbvm::error (bad_image) explaining what is wrong with it.
multiboot_image parse_multiboot_image(const image_source& file);
multiboot_image parse_multiboot_image(std::span<const std::byte> file);

// Copies the image into RAM; throws hbvm::error (bad_image) if it does not fit.
void load_multiboot_image(const multiboot_image& image, const image_source& file, guest_memory& memory);
void load_multiboot_image(const multiboot_image& image, std::span<const std::byte> file, guest_memory& memory);

// Offset of the first Multiboot header in `prefix` (its first 8 KiB), or -1.
int64_t find_multiboot_header(std::span<const std::byte> prefix);

// Writes what GDTR and IDTR point at on entry, on every accelerator, into the
// host's entry page: a flat GDT (null, 0x08 32-bit code, 0x10 data, base 0,
// limit 4 GiB; Multiboot 3.2 asks only for such selectors, and the kernel loads
// its own GDT before reloading one), and a 32-bit IDT whose gates for vectors
// 0-31 lead to stubs that report the vector on boot_layout::entry_fault_port, so that an
// exception before the kernel loads its own IDT is reported, not a triple fault.
void write_entry_tables(guest_memory& memory);
inline constexpr uint16_t entry_gdt_limit = 3 * 8 - 1;
inline constexpr uint16_t entry_idt_limit = 32 * 8 - 1;

// Writes the Multiboot information (memory, memory map, command line, loader
// name) and returns its guest-physical address, the value of EBX at entry.
uint32_t write_multiboot_info(guest_memory& memory, const std::string& cmdline);

// The guest-physical memory map of a machine with `ram_size` bytes of RAM,
// sorted and without overlaps: what the Multiboot map says (a `hyperbios` range
// there as reserved) and what MEM.get_map returns — one truth for both. RAM lies
// as ram_layout (core/guest_memory.hpp) says: the hole below 4 GiB is in
// neither map, and RAM above it is one usable range from 4 GiB.
std::vector<hyperbios::abi::mem_region> guest_memory_map(uint64_t ram_size);

}  // namespace hbvm

#endif
