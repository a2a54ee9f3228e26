// NET service (spec chapter 16): count and info, then frames exchanged with the
// driver, which is a member of the Ethernet segment the {net0} place gives the
// host (conformance/README.md, "The segment format"): an ARP exchange; frames
// sent plain and vectored, each checked by the driver for order and content,
// with the guest's buffer rewritten after each send; a burst while the driver
// stops reading, which may answer AGAIN (and then room must make the interface
// ready); frames the driver sends — to the guest's address, broadcast and
// multicast — read back whole and in order, a buffer too short for one, peek,
// and a receive queue fed past its length; the link pulled and plugged again.
#include "image.hpp"

HYPERBIOS_CONFORM_NEEDS(net0, "HB-NET-003,HB-NET-004,HB-NET-005,HB-NET-006,HB-NET-007,HB-NET-008,HB-NET-009,"
                              "HB-NET-010,HB-NET-011,HB-NET-012");

namespace conformance {

namespace {

namespace net = hb::net;
using fn = hb::abi::function;

const char* const every_requirement[] = {"HB-NET-001", "HB-NET-002", "HB-NET-003", "HB-NET-004",
                                         "HB-NET-005", "HB-NET-006", "HB-NET-007", "HB-NET-008",
                                         "HB-NET-009", "HB-NET-010", "HB-NET-011", "HB-NET-012"};
const char* const peered[] = {"HB-NET-003", "HB-NET-004", "HB-NET-005", "HB-NET-006", "HB-NET-007",
                              "HB-NET-008", "HB-NET-009", "HB-NET-010", "HB-NET-011", "HB-NET-012"};

constexpr uint64_t source = hb::evt::bit(hb::abi::evt_source::net_ready);
uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

// The driver's station on the segment (conformance/README.md).
constexpr uint8_t driver_mac[6] = {0x02, 0x48, 0x42, 0x00, 0x00, 0x01};
constexpr uint8_t broadcast[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
constexpr uint8_t multicast[6] = {0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB};
constexpr uint8_t driver_ip[4] = {192, 0, 2, 1}, guest_ip[4] = {192, 0, 2, 2};
constexpr uint16_t test_type = 0x88B5;  // IEEE 802 local experimental EtherType
constexpr uint32_t magic = 0x544E4248;  // "HBNT"
enum : uint16_t { kind_data_to_driver = 3, kind_data_to_guest = 4 };

uint8_t own_mac[6];
uint16_t device;
uint32_t max_frame;

uint8_t frame_buffer[16384], receive_buffer[16384];

void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
void put32le(uint8_t* p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = uint8_t(v >> (8 * i));
}
uint32_t get32le(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
bool same(const uint8_t* a, const uint8_t* b, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i])
            return false;
    return true;
}
void copy(uint8_t* to, const uint8_t* from, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        to[i] = from[i];
}

// A test frame: header, then magic, kind, reserved, sequence number, length,
// and pattern bytes (byte i of the frame: (seq * 7 + i) & 0xFF) up to `length`.
size_t test_frame(uint8_t* f, const uint8_t* to, uint16_t kind, uint32_t seq, size_t length)
{
    copy(f, to, 6), copy(f + 6, own_mac, 6), put16(f + 12, test_type);
    put32le(f + 14, magic), f[18] = uint8_t(kind), f[19] = uint8_t(kind >> 8), f[20] = f[21] = 0;
    put32le(f + 22, seq), put32le(f + 26, uint32_t(length));
    for (size_t i = 30; i < length; ++i)
        f[i] = uint8_t(seq * 7 + i);
    return length;
}

// Whether `f` (of `n` bytes) is the driver's test frame `seq` of `kind`, whole.
bool is_test_frame(const uint8_t* f, size_t n, uint16_t kind, uint32_t seq)
{
    if (n < 30 || get16(f + 12) != test_type || get32le(f + 14) != magic || f[18] != kind || get32le(f + 22) != seq ||
        get32le(f + 26) != n)
        return false;
    for (size_t i = 30; i < n; ++i)
        if (f[i] != uint8_t(seq * 7 + i))
            return false;
    return true;
}

void peer(const char* what) { emit(line().put("NET-PEER ").put(what)); }

// Asks the driver to send `count` test frames from `first` on, each `length`
// bytes, to `to` (a MAC).
void peer_send(const uint8_t* to, uint32_t first, uint32_t count, uint32_t length)
{
    line l;
    l.put("NET-PEER SEND ");
    for (int i = 0; i < 6; ++i)
        l.put("0123456789abcdef"[to[i] >> 4]).put("0123456789abcdef"[to[i] & 15]);
    l.put(' ').dec(first).put(' ').dec(count).put(' ').dec(length);
    emit(l);
}

// Waits until the interface is ready (or 5 s passed); true when it is.
bool wait_ready(uint64_t seconds = 5)
{
    return (net::yield(now() + seconds * 1'000'000'000).value_or(0) >> device) & 1;
}

// Receives one frame into receive_buffer, waiting up to 5 s; its length or 0.
size_t receive_one()
{
    const uint64_t deadline = now() + 5'000'000'000;
    for (;;) {
        const auto got = net::recv(device, receive_buffer, sizeof receive_buffer);
        if (!got.ok() || got.value)
            return got.value_or(0);
        if (now() >= deadline)
            return 0;
        (void)hb::evt::wait(deadline, source);
    }
}

// Sends `length` bytes of frame_buffer, retrying on AGAIN after the interface
// is ready again; counts the AGAINs.
hb::status send_retrying(size_t length, unsigned& agains, bool& room_made_ready)
{
    for (;;) {
        const auto r = net::send(device, frame_buffer, length);
        if (r.code != hb::status::again)
            return r.code;
        ++agains;
        const bool ready = wait_ready();
        room_made_ready = room_made_ready && ready;
        if (!ready)
            return hb::status::again;
    }
}

void check_info(uint16_t d, net::info_record& r)
{
    const auto got = net::info(d, r);
    const bool unicast = (r.mac[0] & 1) == 0;
    bool nonzero = false;
    for (uint8_t b : r.mac)
        nonzero = nonzero || b;
    const auto link = net::link(d);
    check("HB-NET-002",
          got.ok() && got.value == sizeof r && r.size == sizeof r && r.version >= 1 && r.reserved0 == 0 &&
              r.reserved1 == 0 && unicast && nonzero && r.mtu >= 576 && r.max_frame == r.mtu + 14 &&
              r.rx_queue_length >= 32 && r.tx_queue_length >= 1 && r.max_segments >= 16 && r.name[0] != 0 &&
              link.ok() && r.link == link.value,
          "info returns a record within its rules: a unicast MAC, max_frame = mtu + 14, the queues' floors, link "
          "as link answers");
    uint8_t head[8] = {};
    const raw_result partial = raw_call(uint64_t(fn::net_info), d, uint64_t(head), 6);
    check("HB-NET-002", partial.status == 0 && partial.value == sizeof r && head[6] == 0 && head[7] == 0,
          "info into 6 bytes writes 6 and returns the full size");
}

}  // namespace

void run_checks()
{
    if (!advertises(hb::abi::service::net)) {
        for (const char* req : every_requirement)
            skip(req, "NET", "not advertised: the host's discovery does not list NET");
        return;
    }
    const auto count = net::count();
    check("HB-NET-001", count.ok() && net::count().value == count.value, "count returns SUCCESS, the same twice");
    net::info_record r{};
    for (uint16_t d = 0; count.ok() && d < count.value && d < 8; ++d)
        check_info(d, r);
    if (!count.ok() || count.value == 0) {
        for (const char* req : peered)
            not_tested(req, "NET's checks need an interface on the driver's segment",
                       "give the host one, e.g. hbvm --net socket:{net0}");
        return;
    }
    device = 0;
    (void)net::info(device, r);
    copy(own_mac, r.mac, 6);
    max_frame = r.max_frame;
    const uint32_t rx_length = r.rx_queue_length;
    const uint64_t dropped_before = r.rx_dropped;
    check("HB-NET-003", net::link(device).value_or(0) == hb::abi::net_link::up && !(net::ready(0).value_or(1) & 1),
          "the link of an interface on the driver's segment is up, and unchanged it makes nothing ready");
    check("HB-NET-010", net::peek(device).ok() && net::peek(device).value == 0, "peek with nothing queued is 0");
    const raw_result empty = raw_call(uint64_t(fn::net_recv), device, uint64_t(receive_buffer), sizeof receive_buffer);
    check("HB-NET-009", empty.status == 0 && empty.value == 0, "recv with nothing queued is SUCCESS with 0, at once");

    // ARP: who has the driver's address? A broadcast out, a reply to our MAC in.
    uint8_t* f = frame_buffer;
    copy(f, broadcast, 6), copy(f + 6, own_mac, 6), put16(f + 12, 0x0806);
    put16(f + 14, 1), put16(f + 16, 0x0800), f[18] = 6, f[19] = 4, put16(f + 20, 1);
    copy(f + 22, own_mac, 6), copy(f + 28, guest_ip, 4);
    for (int i = 32; i < 38; ++i)
        f[i] = 0;
    copy(f + 38, driver_ip, 4);
    const auto arp = net::send(device, f, 42);
    const size_t got = receive_one();
    const uint8_t* a = receive_buffer;
    check("HB-NET-005", arp.ok() && arp.value == 42, "send of a 42-byte ARP request returns SUCCESS with 42");
    check("HB-NET-011",
          got == 42 && same(a, own_mac, 6) && get16(a + 12) == 0x0806 && get16(a + 20) == 2 &&
              same(a + 22, driver_mac, 6) && same(a + 28, driver_ip, 4) && same(a + 32, own_mac, 6),
          "the driver's ARP reply to the interface's MAC is received whole");

    // Frames to the driver, every one checked there: lengths from the least to
    // the most, the buffer rewritten after each send; bad lengths send nothing.
    const uint32_t lengths[] = {30, 60, 100, 1000, max_frame - 1, max_frame};
    uint32_t seq = 0;
    bool all_sent = true;
    for (uint32_t length : lengths) {
        const size_t n = test_frame(frame_buffer, driver_mac, kind_data_to_driver, seq++, length);
        const auto s = net::send(device, frame_buffer, n);
        for (size_t i = 0; i < n; ++i)
            frame_buffer[i] = 0xEE;  // the host copied: this must not reach the driver
        all_sent = all_sent && s.ok() && s.value == n;
    }
    check("HB-NET-005", all_sent, "six frames of 30 to max_frame bytes are taken");
    const auto short_frame = net::send(device, frame_buffer, 13);
    const auto long_frame = net::send(device, frame_buffer, max_frame + 1);
    check_status("HB-NET-005", short_frame, hb::status::invalid_param, "send of 13 bytes is INVALID_PARAM");
    check_status("HB-NET-005", long_frame, hb::status::invalid_param, "send of max_frame + 1 bytes is INVALID_PARAM");

    // Vectored: the header apart from the payload, in three segments.
    static uint8_t header[14], payload[2000];
    {
        const size_t n = test_frame(frame_buffer, driver_mac, kind_data_to_driver, seq++, 700);
        copy(header, frame_buffer, 14), copy(payload, frame_buffer + 14, n - 14);
        net::segment parts[3] = {{uint64_t(header), 14}, {uint64_t(payload), 300}, {uint64_t(payload) + 300, n - 314}};
        const auto v = net::send_vectored(device, parts, 3);
        check("HB-NET-008", v.ok() && v.value == n, "send_vectored of a header and two payload segments is taken");
        for (uint8_t& b : payload)
            b = 0xEE;
        net::segment none[1] = {};
        check_status("HB-NET-008", net::send_vectored(device, none, 0), hb::status::invalid_param,
                     "an empty segment list is INVALID_PARAM");
        // One entry too many, each of one byte: a host that took the list would
        // send a frame of max_segments + 1 bytes, within the frame's limits.
        static net::segment many[256];
        if (r.max_segments + 1 <= 256 && r.max_segments + 1 <= max_frame) {
            for (auto& s : many)
                s = {uint64_t(header), 1};
            check_status("HB-NET-008", net::send_vectored(device, many, r.max_segments + 1), hb::status::invalid_param,
                         "a list of max_segments + 1 entries is INVALID_PARAM");
        }
        const uint64_t past_ram = ram_end ? ram_end : 0xFFFFFFFFFFFF0000ull;
        net::segment outside[2] = {{uint64_t(header), 14}, {past_ram, 100}};
        check_status("HB-NET-008", net::send_vectored(device, outside, 2), hb::status::invalid_address,
                     "a segment past RAM is INVALID_ADDRESS, and nothing is sent");
        net::segment tiny[2] = {{uint64_t(header), 6}, {uint64_t(header), 7}};
        check_status("HB-NET-008", net::send_vectored(device, tiny, 2), hb::status::invalid_param,
                     "segments of 13 bytes in all are INVALID_PARAM");
    }
    // A burst while the driver does not read: AGAIN may come, never a loss.
    peer("STALL 300");
    unsigned agains = 0;
    bool room_made_ready = true, burst_ok = true;
    const uint32_t burst_first = seq;
    for (uint32_t i = 0; i < 600 && burst_ok; ++i) {
        const size_t n = test_frame(frame_buffer, driver_mac, kind_data_to_driver, seq++, 64 + (i % 7) * 100);
        burst_ok = send_retrying(n, agains, room_made_ready) == hb::status::success;
    }
    line burst;
    burst.put("600 frames sent while the driver did not read for 300 ms (").dec(agains).put(" AGAIN answers)");
    check("HB-NET-006", burst_ok, burst.c_str());
    if (agains)
        check("HB-NET-004", room_made_ready, "after AGAIN the interface became ready once its send queue had room");
    else
        note("no send answered AGAIN during the burst: readiness by room (16.5, rule 3) was not exercised");
    line expect;
    expect.put("EXPECT-PLACE HB-NET-005 net0 received 0 ").dec(burst_first - 1);
    emit(expect);
    line expect_vectored;
    expect_vectored.put("EXPECT-PLACE HB-NET-008 net0 received ").dec(burst_first - 1).put(" 1");
    emit(expect_vectored);
    emit(line().put("EXPECT-PLACE HB-NET-005 net0 clean"));
    line expect_burst;
    expect_burst.put("EXPECT-PLACE HB-NET-006 net0 received ").dec(burst_first).put(' ').dec(600);
    emit(expect_burst);

    // Frames from the driver: to our MAC, broadcast and multicast, in order.
    peer_send(own_mac, 0, 3, 60);
    peer_send(broadcast, 3, 1, 200);
    peer_send(multicast, 4, 1, max_frame);
    const uint64_t deadline = now() + 5'000'000'000;
    while (now() < deadline && !(hb::evt::poll().value_or(0) & source))
        (void)hb::evt::wait(deadline, source);
    check("HB-NET-004", (hb::evt::poll().value_or(0) & source) && (net::ready(0).value_or(0) & 1),
          "source 35 is pending and ready names the interface once a frame arrived");
    bool in_order = true;
    for (uint32_t i = 0; i < 5; ++i) {
        const size_t n = receive_one();
        in_order = in_order && is_test_frame(receive_buffer, n, kind_data_to_guest, i);
        if (i == 3) {
            // The next frame is max_frame bytes: peek says so, a shorter buffer is refused.
            const uint64_t until = now() + 5'000'000'000;
            while (net::peek(device).value_or(0) == 0 && now() < until)
                (void)hb::evt::wait(until, source);
            const auto p = net::peek(device);
            check("HB-NET-010", p.ok() && p.value == max_frame, "peek gives the waiting frame's length");
            const raw_result refused = raw_call(uint64_t(fn::net_recv), device, uint64_t(receive_buffer), max_frame - 1);
            check("HB-NET-009", refused.status == int64_t(hb::status::invalid_param) && refused.value == 0 &&
                                    net::peek(device).value_or(0) == max_frame,
                  "recv into a buffer one byte short is INVALID_PARAM, and the frame stays queued");
        }
    }
    check("HB-NET-011", in_order, "frames to the MAC, to broadcast and to a multicast group arrive whole, in order");
    check("HB-NET-009", in_order, "recv writes each frame whole and takes it once");
    check("HB-NET-004", !(hb::evt::poll().value_or(0) & source) && !(net::ready(0).value_or(1) & 1),
          "source 35 and ready clear once every frame is taken");

    // Past the receive queue's length, nothing read meanwhile.
    const uint32_t fed = rx_length + 20;
    peer_send(own_mac, 100, fed, 60);
    const uint64_t until = now() + 10'000'000'000;
    bool synced = false;
    while (!synced && now() < until) {
        (void)hb::evt::wait(now() + 10'000'000, 0);
        net::info_record now_info{};
        (void)net::info(device, now_info);
        synced = now_info.rx_dropped - dropped_before >= 20;
    }
    uint32_t taken = 0, expected = 100;
    bool queue_ok = true;
    for (size_t n; (n = net::recv(device, receive_buffer, sizeof receive_buffer).value_or(0)) != 0; ++taken)
        queue_ok = queue_ok && is_test_frame(receive_buffer, n, kind_data_to_guest, expected++);
    net::info_record after{};
    (void)net::info(device, after);
    line why;
    why.dec(taken).put(" frames queued of ").dec(fed).put(", rx_dropped grew by ").dec(after.rx_dropped - dropped_before);
    check("HB-NET-012", taken == rx_length && queue_ok, "the receive queue holds rx_queue_length frames, the oldest",
          why.c_str());
    check("HB-NET-011", after.rx_dropped - dropped_before == fed - rx_length,
          "every frame that found the queue full is counted in rx_dropped", why.c_str());

    // The link pulled and plugged again.
    peer("LINK down");
    bool changed = wait_ready() && net::ready(0).value_or(0) & 1;
    const auto down = net::link(device);
    check("HB-NET-003", changed && down.ok() && down.value == hb::abi::net_link::down,
          "pulling the segment's link makes the interface ready and link answers down");
    check("HB-NET-003", !(net::ready(0).value_or(1) & 1), "link acknowledges the change: the interface is not ready");
    const size_t n = test_frame(frame_buffer, driver_mac, kind_data_to_driver, 0xFFFFFF, 60);
    check_status("HB-NET-007", net::send(device, frame_buffer, n), hb::status::io_error,
                 "send while the link is down is IO_ERROR");
    net::segment whole[1] = {{uint64_t(frame_buffer), n}};
    check_status("HB-NET-007", net::send_vectored(device, whole, 1), hb::status::io_error,
                 "send_vectored while the link is down is IO_ERROR");
    emit(line().put("EXPECT-PLACE HB-NET-007 net0 absent 16777215"));
    peer("LINK up");
    changed = wait_ready();
    const auto up = net::link(device);
    check("HB-NET-003", changed && up.ok() && up.value == hb::abi::net_link::up,
          "plugging it again makes the interface ready and link answers up");
    net::info_record last{};
    (void)net::info(device, last);
    check("HB-NET-002", last.link == hb::abi::net_link::up && same(last.mac, own_mac, 6),
          "info follows the link and keeps the MAC");
}

}  // namespace conformance
