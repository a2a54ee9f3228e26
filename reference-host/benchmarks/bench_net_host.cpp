// bench_net_host: the host side of bench-net, and the same traffic between two
// host processes over loopback for comparison.
//   sink PORT           counts UDP datagrams on 127.0.0.1:PORT until "END" (or
//                       3 s of silence after the first); prints
//                       "received count N bytes B first-to-last-ns T"
//   echo PORT           echoes UDP datagrams on 127.0.0.1:PORT until killed
//   flood PORT N SIZE   sends N datagrams of SIZE bytes to 127.0.0.1:PORT, then
//                       "END"; prints "flood count N bytes B ns T"
//   rtt PORT N          N round trips of 64 bytes with an echo server;
//                       prints "rtt count N median-ns M p90-ns P"
//   frames DIR          a member of the socket segment DIR: counts frames until
//                       3 s of silence after the first; prints
//                       "received count N bytes B first-to-last-ns T"
// Every line of the helper's own goes to stdout; "ready" once it listens.
#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace {

uint64_t now_ns()
{
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
}

sockaddr_in loopback(int port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int bound_udp(int port)
{
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    const int buffer = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    const sockaddr_in a = loopback(port);
    if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        std::perror("bench_net_host: bind");
        std::exit(2);
    }
    return fd;
}

// Counts what arrives on fd until "END" or 3 s of silence after the first.
void count(int fd)
{
    std::printf("ready\n");
    std::fflush(stdout);
    std::vector<char> buffer(65536);
    uint64_t n = 0, bytes = 0, first = 0, last = 0;
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, n ? 3000 : 60000) <= 0)
            break;
        const ssize_t got = recv(fd, buffer.data(), buffer.size(), 0);
        if (got == 3 && std::memcmp(buffer.data(), "END", 3) == 0)
            break;
        if (got < 0)
            continue;
        last = now_ns();
        if (!n)
            first = last;
        ++n, bytes += uint64_t(got);
    }
    std::printf("received count %llu bytes %llu first-to-last-ns %llu\n", (unsigned long long)n, (unsigned long long)bytes,
                (unsigned long long)(last - first));
}

}  // namespace

int main(int argc, char** argv)
{
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "sink" && argc == 3) {
        count(bound_udp(std::atoi(argv[2])));
    } else if (mode == "echo" && argc == 3) {
        const int fd = bound_udp(std::atoi(argv[2]));
        std::printf("ready\n");
        std::fflush(stdout);
        char buffer[65536];
        for (;;) {
            sockaddr_in from{};
            socklen_t length = sizeof from;
            const ssize_t got = recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length);
            if (got >= 0)
                sendto(fd, buffer, size_t(got), 0, reinterpret_cast<const sockaddr*>(&from), length);
        }
    } else if (mode == "flood" && argc == 5) {
        const int fd = socket(AF_INET, SOCK_DGRAM, 0);
        const sockaddr_in to = loopback(std::atoi(argv[2]));
        const uint64_t n = std::strtoull(argv[3], nullptr, 10);
        const size_t size = std::strtoull(argv[4], nullptr, 10);
        std::vector<char> payload(size, 'x');
        const uint64_t start = now_ns();
        for (uint64_t i = 0; i < n; ++i)
            sendto(fd, payload.data(), size, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
        const uint64_t took = now_ns() - start;
        sendto(fd, "END", 3, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
        std::printf("flood count %llu bytes %llu ns %llu\n", (unsigned long long)n, (unsigned long long)(n * size),
                    (unsigned long long)took);
    } else if (mode == "rtt" && argc == 4) {
        const int fd = socket(AF_INET, SOCK_DGRAM, 0);
        const sockaddr_in to = loopback(std::atoi(argv[2]));
        connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
        const uint64_t n = std::strtoull(argv[3], nullptr, 10);
        std::vector<uint64_t> samples;
        char buffer[64] = {};
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t start = now_ns();
            send(fd, buffer, sizeof buffer, 0);
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 1000) <= 0 || recv(fd, buffer, sizeof buffer, 0) < 0) {
                std::printf("bench_net_host: round trip %llu got no answer\n", (unsigned long long)i);
                return 1;
            }
            samples.push_back(now_ns() - start);
        }
        std::sort(samples.begin(), samples.end());
        std::printf("rtt count %llu median-ns %llu p90-ns %llu\n", (unsigned long long)n,
                    (unsigned long long)samples[n / 2], (unsigned long long)samples[n * 9 / 10]);
    } else if (mode == "frames" && argc == 3) {
        const int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::snprintf(a.sun_path, sizeof a.sun_path, "%s/bench-sink", argv[2]);
        const int buffer = 8 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
            std::perror("bench_net_host: bind");
            return 2;
        }
        count(fd);
        unlink(a.sun_path);
    } else {
        std::fprintf(stderr, "usage: bench_net_host sink PORT | echo PORT | flood PORT N SIZE | rtt PORT N | "
                             "frames DIR\n");
        return 2;
    }
    return 0;
}
