#include "accel/calibration.hpp"

#include "accel/kvm.hpp"
#include "core/error.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>

namespace hbvm {

namespace {

using clock = std::chrono::steady_clock;

constexpr uint64_t calibration_ram = 2ull << 20;
constexpr uint32_t code_address = 0x100000;
constexpr uint16_t mark_port = 0x81;  // an OUT to it marks the start and the end of the loop

// 32-bit protected mode (the Multiboot entry state both engines prepare):
//   out 0x81, al; mov ecx, N; 1: dec ecx; jnz 1b; out 0x81, al; hlt
std::vector<std::byte> loop_code(uint32_t iterations)
{
    const unsigned char code[] = {0xE6, mark_port, 0xB9, uint8_t(iterations), uint8_t(iterations >> 8),
                                  uint8_t(iterations >> 16), uint8_t(iterations >> 24), 0x49, 0x75, 0xFD,
                                  0xE6, mark_port, 0xF4};
    std::vector<std::byte> bytes(sizeof code);
    std::memcpy(bytes.data(), code, sizeof code);
    return bytes;
}

// Times the loop between the two marks; stops the run at the second.
class loop_timer final : public exit_handler {
public:
    io_reply on_io(const io_access& access) override
    {
        if (access.port != mark_port || !access.is_write)
            return {0xFFFFFFFFu, true};  // the loop makes no other access: stop
        (marks_++ == 0 ? start_ : end_) = clock::now();
        return {0, marks_ == 2};
    }
    bool complete() const { return marks_ == 2; }
    double nanoseconds() const { return std::chrono::duration<double, std::nano>(end_ - start_).count(); }

private:
    int marks_ = 0;
    clock::time_point start_, end_;
};

}  // namespace

std::optional<engine_speed> time_calibration_loop(accelerator_kind kind, uint32_t iterations)
{
    try {
        guest_memory memory(calibration_ram);
        const std::vector<std::byte> code = loop_code(iterations);
        memory.copy_in(guest_address{code_address}, code);
        std::unique_ptr<accelerator> accel = create_accelerator(kind, memory);
        accel->prepare_multiboot_entry(code_address, 0);
        loop_timer timer;
        accel->run(timer);
        if (!timer.complete())
            return std::nullopt;
        return engine_speed{timer.nanoseconds() / iterations, iterations};
    } catch (const std::exception&) {
        return std::nullopt;  // this engine cannot run here; the caller says why
    }
}

calibration calibrate_accelerators()
{
    const auto started = clock::now();
    calibration c;
    // 1,000 rounds take ~0.6 ms where KVM emulates each instruction and a
    // microsecond or two where it executes them; only then is a long run worth it
    // (a short one is mostly the cost of the exit between the two marks). The
    // software engine runs a round in ~4 ns here: 20,000 are ~80 us.
    c.kvm = time_calibration_loop(accelerator_kind::kvm, 1000);
    if (c.kvm && c.kvm->ns_per_iteration < 50)
        c.kvm = time_calibration_loop(accelerator_kind::kvm, 200000);
    c.soft = time_calibration_loop(accelerator_kind::soft, 20000);
    c.milliseconds = std::chrono::duration<double, std::milli>(clock::now() - started).count();
    return c;
}

accelerator_selection choose_by_speed(const calibration& c)
{
    char figures[160];
    if (!c.kvm)
        return {accelerator_kind::soft, "software engine (Unicorn), because /dev/kvm could not run the calibration "
                                        "loop"};
    if (!c.soft) {
        std::snprintf(figures, sizeof figures, " (calibration %.1f ms; the software engine could not run it)",
                      c.milliseconds);
        return {accelerator_kind::kvm, std::string("KVM (/dev/kvm is usable)") + figures};
    }
    const double ratio = c.kvm->ns_per_iteration / c.soft->ns_per_iteration;
    if (ratio <= 1.0) {
        std::snprintf(figures, sizeof figures, " (calibration %.1f ms: %.1fx faster than the software engine)",
                      c.milliseconds, 1.0 / ratio);
        return {accelerator_kind::kvm, std::string("KVM, because it executes guest code here") + figures};
    }
    std::snprintf(figures, sizeof figures, " (calibration %.1f ms: %.0fx slower)", c.milliseconds, ratio);
    return {accelerator_kind::soft,
            std::string("software engine (Unicorn), because /dev/kvm ") +
                (ratio >= 20 ? "emulates guest code here" : "runs guest code slower than it here") + figures +
                "; --accel kvm forces KVM"};
}

}  // namespace hbvm
