// Start-up benchmark: wall time from starting a host process to the guest's first
// hypercall (the process exits there), on the reference host and on QEMU for the
// same image, interleaved in one run. Prints both and their ratio.
//
// usage: bench_startup HBVM IMAGE [RUNS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <vector>

extern char** environ;

namespace {

// Runs argv with output discarded; returns seconds, or -1 when it could not run or exited
// with a status other than `expected`.
double time_command(const std::vector<std::string>& argv, int expected)
{
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", 0, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", 1, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", 1, 0);
    const auto start = std::chrono::steady_clock::now();
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        return -1;
    int status = 0;
    waitpid(pid, &status, 0);
    const auto end = std::chrono::steady_clock::now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != expected)
        return -1;
    return std::chrono::duration<double>(end - start).count();
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: bench_startup HBVM IMAGE [RUNS]\n"
                             "Times host start to the guest's first hypercall on hbvm and on QEMU (TCG).\n");
        return 64;
    }
    const std::string hbvm = argv[1], image = argv[2];
    const int runs = argc == 4 ? std::atoi(argv[3]) : 15;
    const std::vector<std::string> reference = {hbvm, "run", image, "--accel", "soft"};
    const std::vector<std::string> qemu = {"qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-m", "128",
                                           "-display", "none", "-serial", "none", "-monitor", "none",
                                           "-no-reboot", "-kernel", image, "-device",
                                           "isa-debug-exit,iobase=0xf4,iosize=0x04"};
    std::vector<double> t_ref, t_qemu;
    for (int i = 0; i < runs; ++i) {  // interleaved, so drift affects both alike
        const double r = time_command(reference, 0);
        const double q = time_command(qemu, 1);  // isa-debug-exit: (0 << 1) | 1
        if (r < 0 || q < 0) {
            std::fprintf(stderr, "bench_startup: a run failed (%s)\n", r < 0 ? "hbvm" : "qemu-system-x86_64");
            return 1;
        }
        t_ref.push_back(r);
        t_qemu.push_back(q);
    }
    const double mr = median(t_ref), mq = median(t_qemu);
    std::printf("start to first hypercall, median of %d interleaved runs (same image):\n", runs);
    std::printf("  hbvm --accel soft     %8.2f ms\n", mr * 1e3);
    std::printf("  qemu-system-x86_64    %8.2f ms  (TCG, -kernel)\n", mq * 1e3);
    std::printf("  ratio qemu / hbvm     %8.1fx  (target: at least 20x)\n", mq / mr);
    return 0;
}
