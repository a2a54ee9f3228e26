#include "core/multiboot_loader.hpp"

#include <stdexcept>
#include "core/text.hpp"

#include "core/diagnostics.hpp"
#include "core/error.hpp"
#include "core/stop.hpp"

#include <hyperbios/boot/multiboot_info.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hbvm {
namespace {

namespace mb = hyperbios::multiboot;

constexpr uint64_t header_search_limit = multiboot_header_search_limit;
constexpr uint64_t header_size_with_address_fields = 32;
constexpr uint32_t supported_required_flags = mb::header_page_align | mb::header_memory_info;


[[noreturn]] void reject(const std::string& why) { throw error(exit_status::bad_image, why); }

// Bounds-checked little-endian reads from the image.
class file_reader {
public:
    explicit file_reader(const image_source& file) : file_(file) {}

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
        if (!file_.read_at(offset, std::as_writable_bytes(std::span(&value, 1))))
            reject("the image file shrank while hbvm read it");
        return value;
    }

    uint64_t size() const { return file_.size(); }
    const image_source& source() const { return file_; }

private:
    const image_source& file_;
};

struct header_fields {
    uint64_t offset;  // of the header in the file
    uint32_t flags;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

header_fields find_header(const file_reader& file)
{
    // One read of the first 8 KiB, searched in memory.
    std::vector<std::byte> prefix(std::min<uint64_t>(header_search_limit, file.size()));
    if (!file.source().read_at(0, prefix))
        reject("the image file shrank while hbvm read it");
    const int64_t found = find_multiboot_header(prefix);
    if (found < 0)
        reject("not a Multiboot image: no Multiboot header (magic 0x1BADB002 with a valid checksum) in the first " +
               std::to_string(header_search_limit) + " bytes");
    const uint64_t off = uint64_t(found);
    const uint32_t flags = file.get<uint32_t>(off + 4, "header flags");
    header_fields h{off, flags, 0, 0, 0, 0, 0};
    if (flags & mb::header_address_fields) {
        // The address fields are part of the header, which must lie in the first 8 KiB.
        if (off + header_size_with_address_fields > header_search_limit)
            reject("the Multiboot header at offset " + hex(off) + " has address fields (flag 16) that end at " +
                   hex(off + header_size_with_address_fields) + ", past the first 8 KiB where the whole header "
                   "must lie; move the header nearer the start of the image");
        h.header_addr = file.get<uint32_t>(off + 12, "header_addr");
        h.load_addr = file.get<uint32_t>(off + 16, "load_addr");
        h.load_end_addr = file.get<uint32_t>(off + 20, "load_end_addr");
        h.bss_end_addr = file.get<uint32_t>(off + 24, "bss_end_addr");
        h.entry_addr = file.get<uint32_t>(off + 28, "entry_addr");
    }
    return h;
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
    // Overlapping segments would overwrite each other (the later zero-fill wiping
    // the earlier bytes), so the result would depend on the order of the headers.
    for (size_t i = 0; i < image.segments.size(); ++i)
        for (size_t j = i + 1; j < image.segments.size(); ++j) {
            const image_segment& a = image.segments[i];
            const image_segment& b = image.segments[j];
            if (a.address < b.address + b.memory_size && b.address < a.address + a.memory_size)
                reject("malformed ELF image: loadable segments overlap in memory: [" + hex(a.address) + ", " +
                       hex(a.address + a.memory_size) + ") and [" + hex(b.address) + ", " +
                       hex(b.address + b.memory_size) + ")");
        }
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

int64_t find_multiboot_header(std::span<const std::byte> prefix)
{
    const uint64_t limit = std::min<uint64_t>(header_search_limit, prefix.size());
    for (uint64_t off = 0; off + 12 <= limit; off += 4) {
        uint32_t word[3];
        std::memcpy(word, prefix.data() + off, sizeof word);
        if (word[0] == mb::header_magic && uint32_t(word[0] + word[1] + word[2]) == 0)
            return int64_t(off);
    }
    return -1;
}

bool memory_image::read_at(uint64_t offset, std::span<std::byte> out) const
{
    if (out.size() > bytes_.size() || offset > bytes_.size() - out.size())
        return false;
    if (out.empty())
        return true;  // memcpy must not see the null pointer of an empty span
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return true;
}

image_file::image_file(const std::string& path, uint64_t stream_limit) : path_(path)
{
    struct stat st {};
    const bool is_fifo = stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
    if (is_fifo)
        diagnostics::line("'" + path + "' is a FIFO or pipe: reading the image from it, once there is a writer");
    // Blocks on a FIFO until a writer opens it; a stop request interrupts that (EINTR).
    while ((fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 && errno == EINTR)
        if (stop::requested())
            throw stop::interrupted("while waiting for a writer on the FIFO '" + path + "'");
    if (fd_ < 0)
        throw error(exit_status::bad_image, "cannot open image '" + path + "': " + std::strerror(errno));
    if (fstat(fd_, &st) != 0)
        throw error(exit_status::bad_image, "cannot read image '" + path + "': " + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        throw error(exit_status::bad_image, "'" + path + "' is a directory, not a kernel image");
    if (S_ISREG(st.st_mode)) {
        size_ = uint64_t(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
        const off_t end = lseek(fd_, 0, SEEK_END);
        if (end < 0)
            throw error(exit_status::bad_image, "cannot read image '" + path + "': " + std::strerror(errno));
        size_ = uint64_t(end);
    } else {
        read_stream(stream_limit);
    }
    if (size_ == 0)
        throw error(exit_status::bad_image, "image '" + path + "' is empty");
}

image_file::~image_file()
{
    if (fd_ >= 0)
        close(fd_);
}

void image_file::read_stream(uint64_t limit)
{
    // A pipe, FIFO or character device: read it once, in order. Stop after the
    // first 8 KiB when they hold no Multiboot header (/dev/zero never ends).
    streamed_ = true;
    bool header_checked = false;
    for (;;) {
        if (stream_bytes_.size() >= limit + 1)
            throw error(exit_status::bad_image,
                        "image '" + path_ + "' is a pipe or device that gives more than " + std::to_string(limit >> 20) +
                            " MiB (the guest's RAM, --mem); hbvm reads no more from a stream: save the image to a "
                            "file, or give the guest more RAM");
        const size_t old = stream_bytes_.size();
        stream_bytes_.resize(std::min<uint64_t>(old + 65536, limit + 1));
        const ssize_t n = ::read(fd_, stream_bytes_.data() + old, stream_bytes_.size() - old);
        if (n < 0 && errno == EINTR) {
            stream_bytes_.resize(old);
            if (stop::requested())
                throw stop::interrupted("while reading the image from '" + path_ + "'");
            continue;
        }
        if (n < 0)
            throw error(exit_status::bad_image, "cannot read image '" + path_ + "': " + std::strerror(errno));
        stream_bytes_.resize(old + size_t(n));
        if (!header_checked && (n == 0 || stream_bytes_.size() >= header_search_limit)) {
            header_checked = true;
            if (!stream_bytes_.empty() && find_multiboot_header(stream_bytes_) < 0)
                throw error(exit_status::bad_image,
                            "not a Multiboot image: no Multiboot header (magic 0x1BADB002 with a valid checksum) in the "
                            "first " + std::to_string(header_search_limit) + " bytes of '" + path_ + "'");
        }
        if (n == 0)
            break;
    }
    size_ = stream_bytes_.size();
}

bool image_file::read_at(uint64_t offset, std::span<std::byte> out) const
{
    if (out.size() > size_ || offset > size_ - out.size())
        return false;
    if (out.empty())
        return true;
    if (streamed_) {
        std::memcpy(out.data(), stream_bytes_.data() + offset, out.size());
        return true;
    }
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = pread(fd_, out.data() + done, out.size() - done, off_t(offset + done));
        if (n < 0 && errno == EINTR) {
            if (stop::requested())
                throw stop::interrupted("while reading the image '" + path_ + "'");
            continue;
        }
        if (n <= 0)
            return false;  // an error, or the file shrank
        done += size_t(n);
    }
    return true;
}

multiboot_image parse_multiboot_image(const image_source& source)
{
    const file_reader file(source);
    const header_fields h = find_header(file);
    check_required_flags(h.flags);
    if (h.flags & mb::header_address_fields)
        return parse_address_fields(file, h);
    return parse_elf32(file, h);
}

multiboot_image parse_multiboot_image(std::span<const std::byte> bytes)
{
    return parse_multiboot_image(memory_image(bytes));
}

void load_multiboot_image(const multiboot_image& image, const image_source& file, guest_memory& memory)
{
    for (const image_segment& s : image.segments) {
        if (s.address < boot_layout::image_lowest)
            reject("the image loads at " + hex(s.address) +
                   ", below 1 MiB; the reference host keeps low memory for boot data, link the kernel at 0x100000 or "
                   "above");
        if (!memory.contains(guest_address{s.address}, s.memory_size)) {
            if (memory.size() > ram_layout::hole_start)  // an image lies below 4 GiB: it met the hole
                reject("the image needs memory up to " + hex(s.address + s.memory_size) +
                       " but RAM below 4 GiB ends at " + hex(ram_layout::hole_start) +
                       " (the rest of the guest's RAM lies above 4 GiB); link the kernel lower");
            reject("the image needs memory up to " + hex(s.address + s.memory_size) + " but the guest has " +
                   std::to_string(memory.size() >> 20) + " MiB; give it more with --mem");
        }
        if (!file.read_at(s.file_offset, *memory.write(guest_address{s.address}, s.file_size)))
            reject("the image file shrank while hbvm ran: the segment at " + hex(s.address) +
                   " can no longer be read from it");
        auto rest = memory.write(guest_address{s.address + s.file_size}, s.memory_size - s.file_size);
        std::memset(rest->data(), 0, rest->size());
    }
}

void load_multiboot_image(const multiboot_image& image, std::span<const std::byte> file, guest_memory& memory)
{
    load_multiboot_image(image, memory_image(file), memory);
}

void write_entry_tables(guest_memory& memory)
{
    namespace layout = boot_layout;
    constexpr uint16_t port = layout::entry_fault_port;
    const uint64_t gdt[3] = {0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull};
    static_assert(sizeof gdt == entry_gdt_limit + 1);
    memory.copy_in(guest_address{layout::entry_gdt}, std::as_bytes(std::span(gdt)));
    uint64_t idt[32];
    static_assert(sizeof idt == entry_idt_limit + 1);
    for (uint32_t v = 0; v < 32; ++v) {
        const uint32_t stub = uint32_t(layout::entry_idt_stubs + v * 16);
        // A 32-bit interrupt gate, selector 0x08, present, DPL 0.
        idt[v] = (stub & 0xFFFF) | (uint64_t(0x08) << 16) | (uint64_t(0x8E00) << 32) |
                 (uint64_t(stub >> 16) << 48);
        // mov $v, %eax; mov $port, %dx; out %eax, %dx; 1: cli; hlt; jmp 1b
        const unsigned char code[16] = {0xB8, uint8_t(v), 0, 0, 0, 0x66, 0xBA, uint8_t(port),
                                        uint8_t(port >> 8), 0xEF, 0xFA, 0xF4, 0xEB, 0xFC, 0x90, 0x90};
        memory.copy_in(guest_address{stub}, std::as_bytes(std::span(code)));
    }
    memory.copy_in(guest_address{layout::entry_idt}, std::as_bytes(std::span(idt)));
}

std::vector<hyperbios::abi::mem_region> guest_memory_map(uint64_t ram_size)
{
    namespace layout = boot_layout;
    namespace type = hyperbios::abi::mem_type;
    const hyperbios::abi::mem_region layout_of_a_large_machine[] = {
        {0, layout::entry_page, type::usable, 0},
        {layout::entry_page, 0x1000, type::hyperbios, 0},  // the host's entry page (write_entry_tables)
        {layout::entry_page + 0x1000, layout::conventional_top - layout::entry_page - 0x1000, type::usable, 0},
        {layout::conventional_top, layout::image_lowest - layout::conventional_top, type::reserved, 0},
        {layout::image_lowest, ~uint64_t(0) - layout::image_lowest, type::usable, 0},
    };
    // hbvm's RAM is at least 2 MiB; unit tests use less: the map ends with RAM.
    // Then nothing (the hole, ram_layout) up to 4 GiB, and the rest of RAM from there.
    const uint64_t low = ram_layout::low_size(ram_size), high = ram_layout::high_size(ram_size);
    std::vector<hyperbios::abi::mem_region> map;
    for (hyperbios::abi::mem_region r : layout_of_a_large_machine) {
        if (r.base >= low)
            break;
        r.length = std::min(r.length, low - r.base);
        map.push_back(r);
    }
    if (high)
        map.push_back({ram_layout::high_start, high, type::usable, 0});
    return map;
}

uint32_t write_multiboot_info(guest_memory& memory, const std::string& cmdline)
{
    namespace layout = boot_layout;
    if (cmdline.size() >= layout::cmdline_capacity)
        throw error(exit_status::usage, "the Multiboot command line is " + std::to_string(cmdline.size()) +
                                            " bytes; the limit is " + std::to_string(layout::cmdline_capacity - 1));
    const uint64_t ram = memory.size();
    std::vector<mb::mmap_entry> map;
    for (const hyperbios::abi::mem_region& r : guest_memory_map(ram))
        map.push_back({20, r.base, r.length, r.type == hyperbios::abi::mem_type::usable ? 1u : 2u});
    const char name[] = "HyperBIOS reference host";

    mb::info info{};
    info.flags = mb::info_memory | mb::info_cmdline | mb::info_memory_map | mb::info_loader_name;
    info.mem_lower = uint32_t(layout::conventional_top / 1024);
    // KiB of RAM from 1 MiB up to the first hole: up to the hole below 4 GiB at the most.
    const uint64_t low = ram_layout::low_size(ram);
    info.mem_upper = uint32_t(low > layout::image_lowest ? (low - layout::image_lowest) / 1024 : 0);
    info.cmdline = uint32_t(layout::cmdline);
    info.mmap_addr = uint32_t(layout::memory_map);
    info.mmap_length = uint32_t(map.size() * sizeof(mb::mmap_entry));
    info.boot_loader_name = uint32_t(layout::loader_name);

    memory.copy_in(guest_address{layout::multiboot_info}, std::as_bytes(std::span(&info, 1)));
    if (info.mmap_length > layout::loader_name - layout::memory_map)
        throw std::logic_error("write_multiboot_info: the memory map does not fit below the loader name");
    memory.copy_in(guest_address{layout::memory_map}, std::as_bytes(std::span(map)));
    memory.copy_in(guest_address{layout::loader_name}, std::as_bytes(std::span(name)));
    memory.copy_in(guest_address{layout::cmdline}, std::as_bytes(std::span(cmdline.c_str(), cmdline.size() + 1)));
    return uint32_t(layout::multiboot_info);
}

}  // namespace hbvm
