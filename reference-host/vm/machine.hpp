// A virtual machine: guest RAM, one vCPU on an accelerator, the dispatcher with
// its services, and the devices behind them. This is the composition that knows
// the whole house, so it lives above core/, accel/, devices/ and services/; it
// names no device and no service: both come from their registries. run() boots the image and returns the
// process exit status. The machine runs on the thread that called
// stop::prepare_process() (the one the watchdog kicks).
#ifndef HBVM_VM_MACHINE_HPP
#define HBVM_VM_MACHINE_HPP

#include "accel/accelerator.hpp"
#include "accel/select.hpp"
#include "core/dispatcher.hpp"
#include "core/event_hub.hpp"
#include "core/fault_injection.hpp"
#include "core/guest_memory.hpp"
#include "core/multiboot_loader.hpp"
#include "core/run_end.hpp"
#include "core/watchdog.hpp"
#include "devices/clock.hpp"
#include "devices/device_set.hpp"
#include "policy/profile.hpp"
#include "services/services.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hbvm {

struct machine_config {
    std::string image_path;
    uint64_t memory_size = 128ull << 20;
    accelerator_kind accel = accelerator_kind::automatic;
    double timeout_seconds = 0;  // 0: no limit
    std::string cmdline;         // Multiboot command line (the image path, then any arguments)
    bool trace = false;
    bool stats = false;  // print call, exit and ioctl counts at the end
    fault injected_fault = fault::none;  // a deliberate deviation, for testing the conformance suite
    std::shared_ptr<const profile> policy = find_profile("full");
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();  // for --trace times
    watchdog* dog = nullptr;     // stops the run on --timeout and signals (none in tests)
    unsigned reopened_fds = 0;   // bit n: fd n was closed when hbvm started (stop::prepare_process)
    // The service modules to run, in reset order: the registry, or another list in tests.
    std::span<const service_module_entry> services = service_registry();
    // The devices' settings (--disk, a config file), checked by
    // check_device_settings; created through `device_classes`, in its order.
    std::vector<device_settings> devices;
    std::span<const device_class> device_classes = device_registry();
    // Told on the vCPU thread when the machine has paused (true) or goes on
    // (false) after pause() and resume() (the control socket's events).
    std::function<void(bool paused)> on_pause;
};

// Ports of the reference host.
namespace ports {
inline constexpr uint16_t hyperbios_gate = 0x0B48;  // advertised through CPUID
inline constexpr uint16_t debug_exit = 0xF4;        // as QEMU's isa-debug-exit
}  // namespace ports

class machine final : private exit_handler {
public:
    explicit machine(machine_config config);
    ~machine();

    // Boots the image, runs it to the end and says how it ended: the process
    // exit status and the kind of end (spec 8.5). Diagnostics go to stderr,
    // prefixed "hbvm:".
    run_end run();

    // From any thread (the control socket's): the vCPU stops at the next point
    // the engine reports — at once while it waits in HLT or EVT.wait, or within a
    // translation block or an exit — and stays stopped until resume(). Guest
    // time goes on meanwhile (TIME follows the host's clocks; EVT's timers count
    // the expirations, which the guest finds when it runs again).
    void pause();
    void resume();
    bool paused() const { return paused_.load(); }

    // The control-socket commands of the machine's devices (device::control_commands).
    std::vector<std::pair<std::string, control_command>> device_commands() const { return devices_.control_commands(); }

private:
    struct outcome {
        int exit_status;
        bool reboot;
        std::string message;  // the closing "hbvm:" line
        end_kind kind = end_kind::shutdown;
    };

    io_reply on_io(const io_access& access) override;
    event_reply on_event_point(event_point where, bool can_interrupt) override;
    event_reply halt(bool can_interrupt);
    void look_at_events(bool can_interrupt);
    io_reply hypercall(const call_registers& regs);
    io_reply entry_fault(uint32_t vector);
    void boot();
    run_end report_exit(const vm_exit& exit);
    run_end finish(run_end end);  // the closing lines
    void note(const std::string& line);
    void trace(const std::string& line);  // only with --trace, stamped with the time since start

    machine_config config_;
    image_file image_file_;
    multiboot_image image_;
    guest_memory memory_;
    clock_source clock_;
    event_hub events_;  // before the modules, which attach their sources to it
    device_set devices_;  // created (disks opened and locked) before anything boots
    dispatcher dispatcher_;
    service_set services_;
    accelerator_selection selection_;
    fault_injector faults_;
    std::unique_ptr<accelerator> accel_;  // the watchdog reaches it through its stop action only
    std::optional<outcome> outcome_;  // set when the guest ends the run itself
    void wait_while_paused();
    std::atomic<bool> pause_wanted_{false}, paused_{false};
    std::mutex pause_mutex_;          // with pause_cv_: resume() wakes the paused vCPU thread
    std::condition_variable pause_cv_;
    std::mutex accel_mutex_;          // guards accel_ against pause() from another thread while boot() swaps it
    bool memory_fresh_ = true;        // RAM is still as mmap zeroed it
    bool powered_on_ = false;         // the first boot has happened: the next is after a reset
    uint64_t calls_ = 0;
};

}  // namespace hbvm

#endif
