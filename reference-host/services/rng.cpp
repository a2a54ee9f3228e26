// RNG: random bytes from the host's secure generator, getrandom(2) without
// GRND_RANDOM: it waits only until the kernel's generator is seeded at boot,
// never afterwards (spec 11.2).
#include "services/services.hpp"

#include "core/stop.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/random.h>

namespace hbvm {

namespace {

// Fills `out` completely; false when getrandom fails for a reason other than a
// signal (a short read only happens for large requests or on a signal: loop).
// In chunks of at most 1 MiB, so that a stop (--timeout, Ctrl-C) is seen
// between them even when the guest asks for most of its RAM (core/stop.hpp).
bool fill_random(std::span<std::byte> out)
{
    size_t done = 0;
    while (done < out.size()) {
        if (stop::requested())
            return false;
        const ssize_t n = getrandom(out.data() + done, std::min<size_t>(out.size() - done, 1 << 20), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        done += size_t(n);
    }
    return true;
}

class rng_module final : public service_module {
public:
    explicit rng_module(const service_context&) {}

    void add_handlers(dispatcher& d) override
    {
        d.add(abi::function::rng_fill, [](const call& c) {
            std::span<std::byte> out = c.out_buffer(0);
            return fill_random(out) ? succeed(out.size()) : fail(abi::status::io_error);
        });
    }

    // Nothing to reset: the generator is the host's.
    void reset(boot_cause) override {}
};

}  // namespace

std::unique_ptr<service_module> make_rng_module(const service_context& context)
{
    return std::make_unique<rng_module>(context);
}

}  // namespace hbvm
