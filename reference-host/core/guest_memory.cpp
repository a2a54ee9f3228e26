#include "core/guest_memory.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <sys/resource.h>

namespace hbvm {

guest_memory::guest_memory(uint64_t size) : size_(size)
{
    if (size == 0 || size % 4096 != 0)
        throw error(exit_status::usage, "guest memory size must be a non-zero multiple of 4 KiB");
    // MAP_NORESERVE: a large guest only costs the pages it touches.
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        const int why = errno;
        rlimit limit{};
        std::string advice;
        if (why == ENOMEM && getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
            advice = "; the address-space limit (ulimit -v) is " + std::to_string(limit.rlim_cur >> 20) +
                     " MiB: raise it, or give the guest less RAM with --mem";
        throw error(exit_status::host_failure, "cannot reserve " + std::to_string(size >> 20) +
                                                   " MiB of guest memory: " + std::strerror(why) + advice);
    }
    base_ = static_cast<std::byte*>(p);
}

guest_memory::~guest_memory()
{
    if (base_)
        munmap(base_, size_);
}

std::optional<std::span<const std::byte>> guest_memory::read(guest_address address, uint64_t length) const noexcept
{
    if (!contains(address, length))
        return std::nullopt;
    return std::span<const std::byte>(base_ + address.value, length);
}

std::optional<std::span<std::byte>> guest_memory::write(guest_address address, uint64_t length) noexcept
{
    if (!contains(address, length))
        return std::nullopt;
    return std::span<std::byte>(base_ + address.value, length);
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

void guest_memory::clear() noexcept
{
    // Dropping the pages of a private anonymous mapping makes them read back as zero.
    if (madvise(base_, size_, MADV_DONTNEED) != 0)
        std::memset(base_, 0, size_);
}

}  // namespace hbvm
