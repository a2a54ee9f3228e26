#include "core/multiboot_loader.hpp"
#include "core/text.hpp"

#include "core/error.hpp"

#include <hyperbios/boot/multiboot_info.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hbvm {
namespace {

namespace mb = hyperbios::multiboot;

constexpr size_t header_search_limit = 8192;
constexpr uint32_t supported_required_flags = mb::header_page_align | mb::header_memory_info;


[[noreturn]] void reject(const std::string& why) { throw error(exit_status::bad_image, why); }

// Bounds-checked little-endian reads from the file.
class file_reader {
public:
    explicit file_reader(std::span<const std::byte> file) : file_(file) {}

    bool has(uint64_t offset, uint64_t length) const
    {
        return length <= file_.size() && offset <= file_.size() - length;
    }

    template <typename T>
    T get(uint64_t offset, const char* what) const
    {
        if (!has(offset, sizeof(T)))
            reject("truncated image: " + std::string(what) + " at offset " + hex(offset) + " lies past the end of the " +
                   std::to_string(file_.size()) + "-byte file");
        T value;
        std::memcpy(&value, file_.data() + offset, sizeof(T));
        return value;
    }

    size_t size() const { return file_.size(); }

private:
    std::span<const std::byte> file_;
};

struct header_fields {
    uint64_t offset;  // of the header in the file
    uint32_t flags;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

header_fields find_header(const file_reader& file)
{
    const uint64_t limit = std::min<uint64_t>(header_search_limit, file.size());
    for (uint64_t off = 0; off + 12 <= limit; off += 4) {
        if (file.get<uint32_t>(off, "header magic") != mb::header_magic)
            continue;
        uint32_t flags = file.get<uint32_t>(off + 4, "header flags");
        uint32_t checksum = file.get<uint32_t>(off + 8, "header checksum");
        if (uint32_t(mb::header_magic + flags + checksum) != 0)
            continue;
        header_fields h{off, flags, 0, 0, 0, 0, 0};
        if (flags & mb::header_address_fields) {
            h.header_addr = file.get<uint32_t>(off + 12, "header_addr");
            h.load_addr = file.get<uint32_t>(off + 16, "load_addr");
            h.load_end_addr = file.get<uint32_t>(off + 20, "load_end_addr");
            h.bss_end_addr = file.get<uint32_t>(off + 24, "bss_end_addr");
            h.entry_addr = file.get<uint32_t>(off + 28, "entry_addr");
        }
        return h;
    }
    reject("not a Multiboot image: no Multiboot header (magic 0x1BADB002 with a valid checksum) in the first " +
           std::to_string(header_search_limit) + " bytes");
}

void check_required_flags(uint32_t flags)
{
    const uint32_t required = flags & 0xFFFFu;
    if (required & (1u << 2))
        reject("the image asks for a graphics mode (Multiboot header flag 2), which the reference host does not offer; "
               "use the HyperBIOS display service instead");
    if (required & ~supported_required_flags)
        reject("the image requires Multiboot features this loader does not know (header flags " +
               hex(required & ~supported_required_flags) + ")");
}

// Multiboot header flag 16: the header says where the image goes (the "a.out kludge").
multiboot_image parse_address_fields(const file_reader& file, const header_fields& h)
{
    if (h.load_addr > h.header_addr)
        reject("invalid Multiboot address fields: load_addr " + hex(h.load_addr) + " is above header_addr " +
               hex(h.header_addr));
    const uint64_t header_distance = uint64_t(h.header_addr) - h.load_addr;
    if (header_distance > h.offset)
        reject("invalid Multiboot address fields: header_addr - load_addr (" + hex(header_distance) +
               ") is larger than the header's offset in the file (" + hex(h.offset) + ")");
    const uint64_t file_offset = h.offset - header_distance;
    uint64_t file_size;
    if (h.load_end_addr == 0) {
        file_size = file.size() - file_offset;
    } else {
        if (h.load_end_addr < h.load_addr)
            reject("invalid Multiboot address fields: load_end_addr " + hex(h.load_end_addr) + " is below load_addr " +
                   hex(h.load_addr));
        file_size = uint64_t(h.load_end_addr) - h.load_addr;
        if (!file.has(file_offset, file_size))
            reject("truncated image: the Multiboot address fields describe " + std::to_string(file_size) +
                   " bytes from file offset " + hex(file_offset) + ", but the file has only " +
                   std::to_string(file.size()) + " bytes");
    }
    uint64_t memory_size = file_size;
    if (h.bss_end_addr != 0) {
        if (h.bss_end_addr < h.load_addr + file_size)
            reject("invalid Multiboot address fields: bss_end_addr " + hex(h.bss_end_addr) +
                   " is below the end of the loaded data " + hex(h.load_addr + file_size));
        memory_size = uint64_t(h.bss_end_addr) - h.load_addr;
    }
    if (h.entry_addr < h.load_addr || h.entry_addr >= h.load_addr + memory_size)
        reject("invalid Multiboot address fields: entry_addr " + hex(h.entry_addr) + " lies outside the image [" +
               hex(h.load_addr) + ", " + hex(h.load_addr + memory_size) + ")");
    multiboot_image image;
    image.format = "Multiboot address fields";
    image.header_flags = h.flags;
    image.entry = h.entry_addr;
    image.segments.push_back({h.load_addr, file_offset, file_size, memory_size});
    return image;
}

// ELF32 (i386) images without address fields: load the PT_LOAD segments at p_paddr.
multiboot_image parse_elf32(const file_reader& file, const header_fields& h)
{
    constexpr uint8_t elf_magic[4] = {0x7F, 'E', 'L', 'F'};
    for (int i = 0; i < 4; ++i)
        if (file.get<uint8_t>(i, "ELF identification") != elf_magic[i])
            reject("the Multiboot header has no address fields (flag 16) and the file is not an ELF image");
    const uint8_t elf_class = file.get<uint8_t>(4, "ELF class");
    if (elf_class == 2)
        reject("ELF64 image without Multiboot address fields: set flag 16 and the address fields in the Multiboot "
               "header, or convert it with 'objcopy -O elf32-i386'");
    if (elf_class != 1)
        reject("malformed ELF image: unknown ELF class " + std::to_string(elf_class));
    if (file.get<uint8_t>(5, "ELF data encoding") != 1)
        reject("malformed ELF image: not little-endian");
    if (file.get<uint16_t>(16, "e_type") != 2)
        reject("ELF image is not an executable (e_type is not ET_EXEC)");
    if (file.get<uint16_t>(18, "e_machine") != 3)
        reject("ELF32 image is not for i386 (e_machine " + std::to_string(file.get<uint16_t>(18, "e_machine")) + ")");

    const uint32_t entry = file.get<uint32_t>(24, "e_entry");
    const uint32_t phoff = file.get<uint32_t>(28, "e_phoff");
    const uint16_t phentsize = file.get<uint16_t>(42, "e_phentsize");
    const uint16_t phnum = file.get<uint16_t>(44, "e_phnum");
    if (phnum == 0)
        reject("malformed ELF image: no program headers");
    if (phentsize < 32)
        reject("malformed ELF image: program header size " + std::to_string(phentsize) + " is below 32");
    if (!file.has(phoff, uint64_t(phentsize) * phnum))
        reject("truncated image: program headers at offset " + hex(phoff) + " lie past the end of the file");

    multiboot_image image;
    image.format = "ELF32";
    image.header_flags = h.flags;
    bool entry_mapped = false;
    for (uint16_t i = 0; i < phnum; ++i) {
        const uint64_t ph = phoff + uint64_t(i) * phentsize;
        if (file.get<uint32_t>(ph, "p_type") != 1)  // PT_LOAD
            continue;
        const uint32_t offset = file.get<uint32_t>(ph + 4, "p_offset");
        const uint32_t vaddr = file.get<uint32_t>(ph + 8, "p_vaddr");
        const uint32_t paddr = file.get<uint32_t>(ph + 12, "p_paddr");
        const uint32_t filesz = file.get<uint32_t>(ph + 16, "p_filesz");
        const uint32_t memsz = file.get<uint32_t>(ph + 20, "p_memsz");
        if (filesz > memsz)
            reject("malformed ELF image: segment " + std::to_string(i) + " has p_filesz > p_memsz");
        if (!file.has(offset, filesz))
            reject("truncated image: segment " + std::to_string(i) + " (" + std::to_string(filesz) +
                   " bytes at offset " + hex(offset) + ") lies past the end of the file");
        if (memsz == 0)
            continue;
        image.segments.push_back({paddr, offset, filesz, memsz});
        // The entry is a virtual address; translate it through the segment that holds it.
        if (entry >= vaddr && entry - vaddr < memsz) {
            image.entry = paddr + (entry - vaddr);
            entry_mapped = true;
        }
    }
    if (image.segments.empty())
        reject("malformed ELF image: no loadable segments");
    if (!entry_mapped)
        reject("malformed ELF image: entry point " + hex(entry) + " lies in no loadable segment");
    return image;
}

}  // namespace

uint64_t multiboot_image::highest_address() const
{
    uint64_t top = 0;
    for (const image_segment& s : segments)
        top = std::max(top, s.address + s.memory_size);
    return top;
}

std::vector<std::byte> read_image_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw error(exit_status::bad_image, "cannot open image '" + path + "': " + std::strerror(errno));
    std::vector<std::byte> bytes;
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size < 0)
        throw error(exit_status::bad_image, "cannot read image '" + path + "' (is it a directory?)");
    bytes.resize(size_t(size));
    in.seekg(0);
    if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
        throw error(exit_status::bad_image, "cannot read image '" + path + "'");
    if (bytes.empty())
        throw error(exit_status::bad_image, "image '" + path + "' is empty");
    return bytes;
}

multiboot_image parse_multiboot_image(std::span<const std::byte> bytes)
{
    const file_reader file(bytes);
    const header_fields h = find_header(file);
    check_required_flags(h.flags);
    if (h.flags & mb::header_address_fields)
        return parse_address_fields(file, h);
    return parse_elf32(file, h);
}

void load_multiboot_image(const multiboot_image& image, std::span<const std::byte> file, guest_memory& memory)
{
    for (const image_segment& s : image.segments) {
        if (s.address < boot_layout::image_lowest)
            reject("the image loads at " + hex(s.address) +
                   ", below 1 MiB; the reference host keeps low memory for boot data, link the kernel at 0x100000 or "
                   "above");
        if (!memory.contains(guest_address{s.address}, s.memory_size))
            reject("the image needs memory up to " + hex(s.address + s.memory_size) + " but the guest has " +
                   std::to_string(memory.size() >> 20) + " MiB; give it more with --mem");
        memory.copy_in(guest_address{s.address}, file.subspan(s.file_offset, s.file_size));
        auto rest = memory.write(guest_address{s.address + s.file_size}, s.memory_size - s.file_size);
        std::memset(rest->data(), 0, rest->size());
    }
}

uint32_t write_multiboot_info(guest_memory& memory, const std::string& cmdline)
{
    namespace layout = boot_layout;
    if (cmdline.size() >= layout::cmdline_capacity)
        throw error(exit_status::usage, "the Multiboot command line is " + std::to_string(cmdline.size()) +
                                            " bytes; the limit is " + std::to_string(layout::cmdline_capacity - 1));
    const uint64_t ram = memory.size();
    const mb::mmap_entry map[] = {
        {20, 0, layout::conventional_top, 1},
        {20, layout::conventional_top, layout::image_lowest - layout::conventional_top, 2},
        {20, layout::image_lowest, ram - layout::image_lowest, 1},
    };
    const char name[] = "HyperBIOS reference host";

    mb::info info{};
    info.flags = mb::info_memory | mb::info_cmdline | mb::info_memory_map | mb::info_loader_name;
    info.mem_lower = uint32_t(layout::conventional_top / 1024);
    info.mem_upper = uint32_t(std::min<uint64_t>((ram - layout::image_lowest) / 1024, 0xFFFFFFFFu));
    info.cmdline = uint32_t(layout::cmdline);
    info.mmap_addr = uint32_t(layout::memory_map);
    info.mmap_length = sizeof(map);
    info.boot_loader_name = uint32_t(layout::loader_name);

    memory.copy_in(guest_address{layout::multiboot_info}, std::as_bytes(std::span(&info, 1)));
    memory.copy_in(guest_address{layout::memory_map}, std::as_bytes(std::span(map)));
    memory.copy_in(guest_address{layout::loader_name}, std::as_bytes(std::span(name)));
    memory.copy_in(guest_address{layout::cmdline}, std::as_bytes(std::span(cmdline.c_str(), cmdline.size() + 1)));
    return uint32_t(layout::multiboot_info);
}

}  // namespace hbvm
