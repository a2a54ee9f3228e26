// KVM call benchmark: the round trip of a null HyperBIOS call through hbvm
// against the rawest possible exit, an OUT served by a minimal KVM_RUN loop with
// no decoding, measured interleaved in one run. Also reports ioctls per call.
//
// usage: bench_kvm_calls HBVM NULL_CALLS_IMAGE RAW_OUT_IMAGE [CALLS] [ROUNDS]
//
// Under nested emulation the guest's paging mode changes the cost of an exit
// (every re-entry walks the guest's page tables again), so the baseline that
// counts is the same 64-bit paged guest, booted by the same stub, exiting with a
// bare OUT into hbvm's KVM loop with a do-nothing handler. The real-mode loop is
// printed for reference.
// Needs /dev/kvm; on a machine without it, run it in the nested lane:
//   scripts/nested-kvm -- build/reference-host/benchmarks/bench_kvm_calls ...
#include "accel/kvm.hpp"
#include "core/cpu_model.hpp"
#include "core/guest_memory.hpp"
#include "core/multiboot_loader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what)
{
    std::fprintf(stderr, "bench_kvm_calls: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

enum class sync { none, read, read_write };

// Nanoseconds per exit of a real-mode guest looping on `out dx, al`, served by a
// loop that does nothing but KVM_RUN again; with `sync`, KVM also copies the
// registers out at each exit (read) and back in (read_write), as hbvm needs.
double raw_out_exit_ns(long exits, sync mode)
{
    const int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("open /dev/kvm (this benchmark needs KVM; on a machine without it use scripts/nested-kvm)");
    const int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    constexpr size_t size = 0x10000;
    void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // 0x1000: mov dx, 0x500; 0x1003: out dx, al; jmp 0x1003
    const unsigned char code[] = {0xBA, 0x00, 0x05, 0xEE, 0xEB, 0xFD};
    std::memcpy(static_cast<char*>(mem) + 0x1000, code, sizeof code);
    kvm_userspace_memory_region region{0, 0, 0, size, reinterpret_cast<uint64_t>(mem)};
    if (vm < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("creating the raw VM");
    const int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    const long run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    auto* run = static_cast<kvm_run*>(mmap(nullptr, size_t(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0));
    kvm_sregs sregs{};
    ioctl(vcpu, KVM_GET_SREGS, &sregs);
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    ioctl(vcpu, KVM_SET_SREGS, &sregs);
    kvm_regs regs{};
    regs.rip = 0x1000;
    regs.rflags = 2;
    ioctl(vcpu, KVM_SET_REGS, &regs);
    run->kvm_valid_regs = mode == sync::none ? 0 : KVM_SYNC_X86_REGS;
    for (int i = 0; i < 100; ++i)  // warm up
        ioctl(vcpu, KVM_RUN, 0);
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < exits; ++i) {
        if (mode == sync::read_write)
            run->kvm_dirty_regs = KVM_SYNC_X86_REGS;
        if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_IO)
            die("raw VM: unexpected exit");
    }
    const auto end = std::chrono::steady_clock::now();
    munmap(run, size_t(run_size));
    munmap(mem, size);
    close(vcpu);
    close(vm);
    close(kvm);
    return std::chrono::duration<double, std::nano>(end - start).count() / double(exits);
}

// Nanoseconds per exit of the raw_out guest on hbvm's KVM back end, whose exit
// handler does nothing but count — or, with `reply`, also writes RAX and RDX back
// as every call that returns results in registers must.
double same_guest_out_exit_ns(const std::string& image_path, long exits, bool reply)
{
    struct counter final : hbvm::exit_handler {
        long seen = 0, warmup = 100, target = 0;
        hbvm::accelerator* accel = nullptr;
        std::chrono::steady_clock::time_point start, end;
        hbvm::io_reply on_io(const hbvm::io_access&) override
        {
            if (accel) {
                hbvm::vcpu_registers r = accel->registers();
                r.rax = 0;
                r.rdx = 1;
                accel->set_registers(r);
            }
            if (++seen == warmup)
                start = std::chrono::steady_clock::now();
            if (seen == warmup + target) {
                end = std::chrono::steady_clock::now();
                return {0, true};
            }
            return {};
        }
    } handler;
    handler.target = exits;
    const hbvm::image_file file(image_path, 64ull << 20);
    const auto image = hbvm::parse_multiboot_image(file);
    hbvm::guest_memory memory(64ull << 20);
    hbvm::load_multiboot_image(image, file, memory);
    const uint32_t info = hbvm::write_multiboot_info(memory, image_path);
    hbvm::kvm_accelerator accel(memory);
    if (reply)
        handler.accel = &accel;
    const std::vector<hbvm::cpuid_entry> supported = accel.supported_cpuid();
    accel.set_cpuid(hbvm::guest_cpu_model(&supported));  // the boot stub needs CPUID to find long mode
    accel.prepare_multiboot_entry(image.entry, info);
    const hbvm::vm_exit exit = accel.run(handler);
    if (exit.what != hbvm::vm_exit::kind::stopped || handler.seen != handler.warmup + exits)
        die("raw_out guest: unexpected end (" + exit.detail + ")");
    return std::chrono::duration<double, std::nano>(handler.end - handler.start).count() / double(exits);
}

struct hyperbios_round {
    double ns_per_call;          // register-only loop around the gate
    double ns_per_wrapper_call;  // through base::spec_version()
    double ioctls_per_call;
};

// Runs the null-calls image on hbvm --accel kvm --stats and reads its figures.
hyperbios_round hyperbios_null_call_ns(const std::string& hbvm, const std::string& image, long calls)
{
    const std::string command = "'" + hbvm + "' run '" + image + "' --accel kvm --stats -- " +
                                std::to_string(calls) + " 2>&1";
    FILE* p = popen(command.c_str(), "r");
    if (!p)
        die("starting hbvm");
    char line[512];
    unsigned long long n = 0, total = 0, failures = 1, wn = 0, wtotal = 0, wfailures = 1, hypercalls = 0, ioctls = 0;
    unsigned long long raw_exits = 0;  // the image's OUTs to an unclaimed port: one KVM_RUN each, and no call
    bool got_calls = false, got_wrapper = false, got_stats = false;
    while (std::fgets(line, sizeof line, p)) {
        if (std::sscanf(line, "null-calls-gate %llu total-ns %llu failures %llu", &n, &total, &failures) == 3)
            got_calls = true;
        if (std::sscanf(line, "null-calls-wrapper %llu total-ns %llu failures %llu", &wn, &wtotal, &wfailures) == 3)
            got_wrapper = true;
        unsigned long long rn = 0, rtotal = 0, rfailures = 0;
        if (std::sscanf(line, "raw-out-unclaimed %llu total-ns %llu failures %llu", &rn, &rtotal, &rfailures) == 3)
            raw_exits = rn;
        unsigned long long exits = 0;
        if (std::sscanf(line, "hbvm: stats: %llu HyperBIOS calls, %llu exits, %llu ioctls", &hypercalls, &exits,
                        &ioctls) == 3)
            got_stats = true;
    }
    const int status = pclose(p);
    if (!got_calls || !got_wrapper || !got_stats || failures != 0 || wfailures != 0 || status != 0) {
        std::fprintf(stderr, "bench_kvm_calls: hbvm did not report its figures (exit %d): %s\n", status, command.c_str());
        std::exit(1);
    }
    return {double(total) / double(n), double(wtotal) / double(wn), double(ioctls - raw_exits) / double(hypercalls)};
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 4 || argc > 6) {
        std::fprintf(stderr, "usage: bench_kvm_calls HBVM NULL_CALLS_IMAGE RAW_OUT_IMAGE [CALLS] [ROUNDS]\n"
                             "Compares a null HyperBIOS call on KVM with a raw OUT exit. Needs /dev/kvm.\n");
        return 64;
    }
    const long calls = argc > 4 ? std::atol(argv[4]) : 10000;
    const int rounds = argc > 5 ? std::atoi(argv[5]) : 9;
    std::vector<double> raw, raw_read, raw_rw, same, same_reply, hb, hb_wrapper, ioctls;
    for (int r = 0; r < rounds; ++r) {  // interleaved, so drift hits all alike
        raw.push_back(raw_out_exit_ns(calls, sync::none));
        raw_read.push_back(raw_out_exit_ns(calls, sync::read));
        raw_rw.push_back(raw_out_exit_ns(calls, sync::read_write));
        same.push_back(same_guest_out_exit_ns(argv[3], calls, false));
        same_reply.push_back(same_guest_out_exit_ns(argv[3], calls, true));
        const hyperbios_round h = hyperbios_null_call_ns(argv[1], argv[2], calls);
        hb.push_back(h.ns_per_call);
        hb_wrapper.push_back(h.ns_per_wrapper_call);
        ioctls.push_back(h.ioctls_per_call);
    }
    const double raw_ns = median(raw), hb_ns = median(hb);
    std::printf("null call round trip on KVM, median of %d interleaved rounds of %ld calls:\n", rounds, calls);
    const double read_ns = median(raw_read), rw_ns = median(raw_rw), same_ns = median(same);
    // Per-round ratios: each round measures both sides back to back, so their spread
    // shows how much of a difference is noise.
    std::vector<double> ratios;
    for (size_t i = 0; i < hb.size(); ++i)
        ratios.push_back(hb[i] / same[i]);
    std::sort(ratios.begin(), ratios.end());
    std::printf("  real-mode guest, OUT, bare KVM_RUN loop             %9.0f ns\n", raw_ns);
    std::printf("    ... with KVM copying the registers out              %9.0f ns\n", read_ns);
    std::printf("    ... and back in                                     %9.0f ns\n", rw_ns);
    std::printf("  64-bit paged guest, OUT, hbvm's KVM loop (baseline)  %9.0f ns\n", same_ns);
    std::printf("    ... replying in RAX and RDX (register write-back)   %9.0f ns\n", median(same_reply));
    std::printf("  64-bit paged guest, HyperBIOS BASE.get_spec_version  %9.0f ns\n", hb_ns);
    std::printf("    ... through the C++ wrapper (touches stack, data)   %9.0f ns\n", median(hb_wrapper));
    std::printf("  ratio HyperBIOS call / raw OUT exit, same guest      %9.3f   (target: at most 1.10)\n",
                median(ratios));
    std::printf("    ... per round: from %.3f to %.3f over %zu rounds\n", ratios.front(), ratios.back(),
                ratios.size());
    std::printf("  ratio HyperBIOS call / raw exit with register reply  %9.3f   (hbvm's own share)\n",
                hb_ns / median(same_reply));
    std::printf("  ratio against the real-mode bare loop                %9.3f\n", hb_ns / raw_ns);
    std::printf("  ioctls per HyperBIOS call                            %9.3f   (target: 1, KVM_RUN)\n",
                median(ioctls));
    return 0;
}
