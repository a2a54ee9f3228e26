#include "core/guest_memory.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>

namespace hbvm {

namespace {

// Under vm.overcommit_memory = 2 Linux ignores MAP_NORESERVE and counts every
// byte of the mapping against its commit limit.
bool strict_overcommit()
{
    std::FILE* f = std::fopen("/proc/sys/vm/overcommit_memory", "re");
    if (!f)
        return false;
    const int mode = std::fgetc(f);
    std::fclose(f);
    return mode == '2';
}

}  // namespace

guest_memory::guest_memory(uint64_t size) : size_(size)
{
    if (size == 0 || size % 4096 != 0 || size > ram_layout::max_size)
        throw error(exit_status::usage, "guest memory size must be a non-zero multiple of 4 KiB, at most " +
                                            std::to_string(ram_layout::max_size >> 30) + " GiB");
    // MAP_NORESERVE: a large guest only costs the pages it touches.
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        const int why = errno;
        rlimit limit{};
        std::string advice;
        if (why == ENOMEM && getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
            advice = "; the address-space limit (ulimit -v) is " + std::to_string(limit.rlim_cur >> 20) +
                     " MiB: raise it, or give the guest less RAM with --mem";
        else if (why == ENOMEM && strict_overcommit())
            advice = "; this host commits memory strictly (vm.overcommit_memory = 2), so the whole of guest RAM "
                     "must fit in its commit limit even though hbvm asks for none of it up front: give the guest "
                     "less RAM with --mem";
        throw error(exit_status::host_failure, "cannot reserve " + std::to_string(size >> 20) +
                                                   " MiB of guest memory: " + std::strerror(why) + advice);
    }
    base_ = static_cast<std::byte*>(p);
    // One host mapping for both ranges: low RAM at its start, RAM above the hole after it.
    ranges_[count_++] = {0, ram_layout::low_size(size), base_};
    if (ram_layout::high_size(size))
        ranges_[count_++] = {ram_layout::high_start, ram_layout::high_size(size), base_ + ram_layout::low_size(size)};
}

guest_memory::~guest_memory()
{
    if (base_)
        munmap(base_, size_);
}

std::optional<std::span<const std::byte>> guest_memory::read(guest_address address, uint64_t length) const noexcept
{
    std::byte* at = find(address, length);
    if (!at)
        return std::nullopt;
    return std::span<const std::byte>(at, length);
}

std::optional<std::span<std::byte>> guest_memory::write(guest_address address, uint64_t length) noexcept
{
    std::byte* at = find(address, length);
    if (!at)
        return std::nullopt;
    return std::span<std::byte>(at, length);
}

bool guest_memory::copy_in(guest_address address, std::span<const std::byte> bytes) noexcept
{
    auto target = write(address, bytes.size());
    if (!target)
        return false;
    if (!bytes.empty())
        std::memcpy(target->data(), bytes.data(), bytes.size());
    return true;
}

std::string guest_memory::describe() const
{
    std::string text = std::to_string(size_ >> 20) + " MiB";
    if (count_ == 2)
        text += ": below " + hex(ranges_[0].length) + " and from " + hex(ranges_[1].base) + " to " +
                hex(ranges_[1].base + ranges_[1].length);
    return text;
}

void guest_memory::clear() noexcept
{
    // Dropping the pages of a private anonymous mapping makes them read back as zero.
    if (madvise(base_, size_, MADV_DONTNEED) != 0)
        std::memset(base_, 0, size_);
}

}  // namespace hbvm
