// The network stack of hyperbios_netstack.h, built freestanding into
// libhyperbios-net.a. One frame at a time through NET's send and recv; every
// wait is net::yield, so a kernel that calls it sleeps in EVT.wait.
#include <hyperbios/hyperbios.hpp>
#include <hyperbios/netstack/hyperbios_netstack.h>

namespace {

namespace hb = hyperbios;

constexpr uint16_t type_ipv4 = 0x0800, type_arp = 0x0806;
constexpr uint8_t proto_icmp = 1, proto_udp = 17;
constexpr uint16_t dhcp_client = 68, dhcp_server = 67;
constexpr uint32_t broadcast_ip = 0xFFFFFFFF;
constexpr uint8_t broadcast_mac[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
constexpr size_t eth = 14, ip_header = 20, udp_header = 8;
enum dhcp_states : uint8_t { dhcp_idle, dhcp_selecting, dhcp_requesting, dhcp_bound };

uint64_t now() { return hb::time::monotonic_ns().value_or(0); }

void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
void put32(uint8_t* p, uint32_t v) { put16(p, uint16_t(v >> 16)), put16(p + 2, uint16_t(v)); }
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }
void copy(uint8_t* to, const void* from, size_t n)
{
    const auto* f = static_cast<const uint8_t*>(from);
    for (size_t i = 0; i < n; ++i)
        to[i] = f[i];
}
void zero(uint8_t* to, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        to[i] = 0;
}
bool same(const uint8_t* a, const uint8_t* b, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (a[i] != b[i])
            return false;
    return true;
}

// The Internet checksum (RFC 1071) of `n` bytes, added to `sum`.
uint32_t sum_bytes(const uint8_t* p, size_t n, uint32_t sum = 0)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += get16(p + i);
    if (n & 1)
        sum += uint32_t(p[n - 1]) << 8;
    return sum;
}
uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return uint16_t(~sum);
}

bool send_frame(hb_netstack* s, size_t length)
{
    // AGAIN: the host's queue is full; wait until it has room (up to a second).
    const uint64_t deadline = now() + 1'000'000'000;
    for (;;) {
        const auto r = hb::net::send(s->device, s->out, length);
        if (r.ok()) {
            ++s->frames_out;
            return true;
        }
        if (r.code != hb::status::again || now() >= deadline)
            return false;  // dropped, as a wire may: ARP, DHCP and DNS ask again
        // Not net::yield: the interface may be ready for a frame received, and
        // that would spin. The host's queue drains at the network's pace.
        (void)hb::evt::wait(now() + 100'000, 0);
    }
}

void ethernet_header(hb_netstack* s, const uint8_t* to, uint16_t type)
{
    copy(s->out, to, 6), copy(s->out + 6, s->mac, 6), put16(s->out + 12, type);
}

// Writes an IPv4 header for `payload` bytes at s->out + eth.
void ip_header_out(hb_netstack* s, uint32_t to, uint8_t protocol, size_t payload)
{
    uint8_t* ip = s->out + eth;
    ip[0] = 0x45, ip[1] = 0;
    put16(ip + 2, uint16_t(ip_header + payload));
    put16(ip + 4, s->ip_id++);
    put16(ip + 6, 0x4000);  // don't fragment
    ip[8] = 64, ip[9] = protocol;
    put16(ip + 10, 0);
    put32(ip + 12, s->ip), put32(ip + 16, to);
    put16(ip + 10, fold(sum_bytes(ip, ip_header)));
}

void arp_learn(hb_netstack* s, uint32_t ip, const uint8_t* mac)
{
    if (ip == 0 || (mac[0] & 1))
        return;  // no address, or a multicast source: nothing to learn
    hb_netstack_arp_entry* slot = &s->arp[0];
    for (hb_netstack_arp_entry& e : s->arp) {
        if (e.ip == ip) {
            slot = &e;
            break;
        }
        if (e.used < slot->used)
            slot = &e;  // the least recently used gives way
    }
    slot->ip = ip;
    copy(slot->mac, mac, 6);
    slot->used = ++s->arp_clock;
}

const uint8_t* arp_find(hb_netstack* s, uint32_t ip)
{
    for (hb_netstack_arp_entry& e : s->arp)
        if (e.ip == ip && ip != 0) {
            e.used = ++s->arp_clock;
            return e.mac;
        }
    return nullptr;
}

void arp_send(hb_netstack* s, uint16_t op, const uint8_t* to_mac, uint32_t to_ip)
{
    ethernet_header(s, op == 1 ? broadcast_mac : to_mac, type_arp);
    uint8_t* a = s->out + eth;
    put16(a, 1), put16(a + 2, type_ipv4), a[4] = 6, a[5] = 4, put16(a + 6, op);
    copy(a + 8, s->mac, 6), put32(a + 14, s->ip);
    if (op == 1)
        zero(a + 18, 6);
    else
        copy(a + 18, to_mac, 6);
    put32(a + 24, to_ip);
    (void)send_frame(s, eth + 28);
}

void handle_arp(hb_netstack* s, const uint8_t* a, size_t n)
{
    if (n < 28 || get16(a) != 1 || get16(a + 2) != type_ipv4 || a[4] != 6 || a[5] != 4)
        return;
    const uint16_t op = get16(a + 6);
    const uint32_t sender = get32(a + 14), target = get32(a + 24);
    if (s->ip != 0 && target == s->ip) {
        arp_learn(s, sender, a + 8);
        if (op == 1)
            arp_send(s, 2, a + 8, sender);
    } else if (arp_find(s, sender)) {
        arp_learn(s, sender, a + 8);  // keep what we know fresh
    }
}

void dhcp_send(hb_netstack* s, uint8_t type);

void handle_dhcp(hb_netstack* s, const uint8_t* d, size_t n)
{
    if (n < 240 || d[0] != 2 || get32(d + 4) != s->dhcp_xid || !same(d + 28, s->mac, 6) ||
        get32(d + 236) != 0x63825363)
        return;
    uint8_t type = 0;
    uint32_t server = 0, mask = 0, router = 0, dns = 0, lease = 0;
    for (size_t i = 240; i < n && d[i] != 255;) {
        if (d[i] == 0) {
            ++i;
            continue;
        }
        if (i + 1 >= n || i + 2 + d[i + 1] > n)
            break;
        const uint8_t code = d[i], len = d[i + 1];
        const uint8_t* v = d + i + 2;
        if (code == 53 && len >= 1) type = v[0];
        if (code == 54 && len >= 4) server = get32(v);
        if (code == 1 && len >= 4) mask = get32(v);
        if (code == 3 && len >= 4) router = get32(v);
        if (code == 6 && len >= 4) dns = get32(v);
        if (code == 51 && len >= 4) lease = get32(v);
        i += 2 + len;
    }
    if (type == 2 && s->dhcp_state == dhcp_selecting) {  // OFFER
        s->dhcp_offer = get32(d + 16), s->dhcp_server = server;
        s->dhcp_state = dhcp_requesting;
        dhcp_send(s, 3);
    } else if (type == 5 && s->dhcp_state == dhcp_requesting) {  // ACK
        s->ip = get32(d + 16), s->netmask = mask, s->gateway = router, s->dns = dns, s->lease_seconds = lease;
        s->dhcp_state = dhcp_bound;
    } else if (type == 6 && s->dhcp_state == dhcp_requesting) {  // NAK: start again
        s->dhcp_state = dhcp_selecting;
        dhcp_send(s, 1);
    }
}

void handle_udp(hb_netstack* s, uint32_t from, const uint8_t* ip, const uint8_t* u, size_t n)
{
    if (n < udp_header || get16(u + 4) < udp_header || get16(u + 4) > n)
        return;
    const size_t length = get16(u + 4);
    if (get16(u + 6) != 0) {  // a checksum was sent: it must hold
        uint32_t sum = sum_bytes(ip + 12, 8);
        sum += proto_udp + uint32_t(length);
        if (fold(sum_bytes(u, length, sum)) != 0)
            return;
    }
    const uint16_t from_port = get16(u), to_port = get16(u + 2);
    if (to_port == dhcp_client && from_port == dhcp_server && s->dhcp_state != dhcp_idle) {
        handle_dhcp(s, u + udp_header, length - udp_header);
        return;
    }
    for (const hb_netstack_udp_port& p : s->udp)
        if (p.port == to_port && p.handler) {
            s->in_handler = 1;
            p.handler(p.context, from, from_port, to_port, u + udp_header, length - udp_header);
            s->in_handler = 0;
            return;
        }
}

void handle_icmp(hb_netstack* s, uint32_t from, const uint8_t* frame, const uint8_t* c, size_t n)
{
    if (n < 8 || fold(sum_bytes(c, n)) != 0)
        return;
    if (c[0] == 8 && s->ip != 0 && n <= s->mtu - ip_header) {  // echo request: the same back
        ethernet_header(s, frame + 6, type_ipv4);
        ip_header_out(s, from, proto_icmp, n);
        uint8_t* r = s->out + eth + ip_header;
        copy(r, c, n);
        r[0] = 0, put16(r + 2, 0), put16(r + 2, fold(sum_bytes(r, n)));
        (void)send_frame(s, eth + ip_header + n);
    } else if (c[0] == 0 && get16(c + 4) == s->ping_id && get16(c + 6) == s->ping_seq) {
        s->ping_answered = 1;
    }
}

void handle_ipv4(hb_netstack* s, const uint8_t* frame, const uint8_t* ip, size_t n)
{
    if (n < ip_header || (ip[0] >> 4) != 4)
        return;
    const size_t header = size_t(ip[0] & 15) * 4, total = get16(ip + 2);
    if (header < ip_header || total < header || total > n || fold(sum_bytes(ip, header)) != 0)
        return;
    if ((get16(ip + 6) & 0x3FFF) != 0)
        return;  // a fragment: not reassembled
    const uint32_t to = get32(ip + 16), from = get32(ip + 12);
    const bool subnet_broadcast = s->netmask && s->ip && (to | s->netmask) == broadcast_ip &&
                                  (to & s->netmask) == (s->ip & s->netmask);
    const bool in_dhcp = s->dhcp_state == dhcp_selecting || s->dhcp_state == dhcp_requesting;
    if (!(to == broadcast_ip || subnet_broadcast || (s->ip != 0 && to == s->ip) || in_dhcp))
        return;  // another host's
    if (from != 0 && s->ip != 0 && ((from ^ s->ip) & s->netmask) == 0)
        arp_learn(s, from, frame + 6);  // a neighbour: its MAC is the frame's source
    if (ip[9] == proto_udp)
        handle_udp(s, from, ip, ip + header, total - header);
    else if (ip[9] == proto_icmp && to == s->ip)
        handle_icmp(s, from, frame, ip + header, total - header);
}

void handle_frame(hb_netstack* s, size_t n)
{
    const uint8_t* f = s->in;
    if (n < eth || (!same(f, s->mac, 6) && !(f[0] & 1))) {
        ++s->frames_ignored;  // another station's
        return;
    }
    ++s->frames_in;
    const uint16_t type = get16(f + 12);
    if (s->in_handler && type != type_arp) {
        ++s->frames_ignored;  // a handler's send waits for ARP: nothing else nests
        return;
    }
    if (type == type_arp)
        handle_arp(s, f + eth, n - eth);
    else if (type == type_ipv4)
        handle_ipv4(s, f, f + eth, n - eth);
    else
        ++s->frames_ignored;
}

// The MAC of the next hop to `to`, asking with ARP up to three times (1 s each).
const uint8_t* resolve(hb_netstack* s, uint32_t to)
{
    if (to == broadcast_ip)
        return broadcast_mac;
    const uint32_t hop = s->netmask && ((to ^ s->ip) & s->netmask) != 0 && s->gateway ? s->gateway : to;
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (const uint8_t* mac = arp_find(s, hop))
            return mac;
        arp_send(s, 1, broadcast_mac, hop);
        const uint64_t deadline = now() + 1'000'000'000;
        while (!arp_find(s, hop) && now() < deadline)
            (void)hb_netstack_wait(s, deadline);
    }
    return arp_find(s, hop);
}

size_t udp_frame(hb_netstack* s, const uint8_t* to_mac, uint32_t to, uint16_t to_port, uint16_t from_port,
                 const void* data, size_t length)
{
    ethernet_header(s, to_mac, type_ipv4);
    ip_header_out(s, to, proto_udp, udp_header + length);
    uint8_t* u = s->out + eth + ip_header;
    put16(u, from_port), put16(u + 2, to_port), put16(u + 4, uint16_t(udp_header + length)), put16(u + 6, 0);
    copy(u + udp_header, data, length);
    uint32_t sum = sum_bytes(s->out + eth + 12, 8) + proto_udp + uint32_t(udp_header + length);
    uint16_t check = fold(sum_bytes(u, udp_header + length, sum));
    put16(u + 6, check ? check : 0xFFFF);
    return eth + ip_header + udp_header + length;
}

void dhcp_send(hb_netstack* s, uint8_t type)
{
    static uint8_t d[300];
    zero(d, sizeof d);
    d[0] = 1, d[1] = 1, d[2] = 6;
    put32(d + 4, s->dhcp_xid);
    put16(d + 10, 0x8000);  // answer by broadcast: we have no address yet
    copy(d + 28, s->mac, 6);
    put32(d + 236, 0x63825363);
    size_t i = 240;
    d[i++] = 53, d[i++] = 1, d[i++] = type;
    if (type == 3) {
        d[i++] = 50, d[i++] = 4, put32(d + i, s->dhcp_offer), i += 4;
        d[i++] = 54, d[i++] = 4, put32(d + i, s->dhcp_server), i += 4;
    }
    d[i++] = 55, d[i++] = 4, d[i++] = 1, d[i++] = 3, d[i++] = 6, d[i++] = 51;
    d[i++] = 255;
    const uint32_t saved = s->ip;
    s->ip = 0;  // from 0.0.0.0 until bound
    const size_t n = udp_frame(s, broadcast_mac, broadcast_ip, dhcp_server, dhcp_client, d, i < 300 ? 300 : i);
    s->ip = saved;
    (void)send_frame(s, n);
}

// What a DNS answer brought, for hb_netstack_resolve's handler.
struct dns_query {
    uint16_t id;
    bool answered;
    bool found;
    uint32_t address;
};

// Skips a name (labels or a compression pointer) at d[at]; the offset after it, or n.
size_t skip_name(const uint8_t* d, size_t n, size_t at)
{
    while (at < n) {
        const uint8_t length = d[at];
        if (length == 0)
            return at + 1;
        if ((length & 0xC0) == 0xC0)
            return at + 2;
        at += 1 + size_t(length);
    }
    return n;
}

void on_dns_answer(void* context, uint32_t, uint16_t from_port, uint16_t, const void* data, size_t n)
{
    auto* q = static_cast<dns_query*>(context);
    const auto* d = static_cast<const uint8_t*>(data);
    if (from_port != 53 || n < 12 || get16(d) != q->id || !(d[2] & 0x80))
        return;
    q->answered = true;
    if ((d[3] & 0x0F) != 0)
        return;  // an error, NXDOMAIN among them: not found
    size_t at = 12;
    for (uint16_t i = 0; i < get16(d + 4) && at < n; ++i)
        at = skip_name(d, n, at) + 4;  // the question's type and class
    for (uint16_t i = 0; i < get16(d + 6) && at < n; ++i) {
        at = skip_name(d, n, at);
        if (at + 10 > n)
            return;
        const uint16_t type = get16(d + at), klass = get16(d + at + 2), length = get16(d + at + 8);
        at += 10;
        if (at + length > n)
            return;
        if (type == 1 && klass == 1 && length == 4) {
            q->found = true;
            q->address = get32(d + at);
            return;
        }
        at += length;  // a CNAME before the address, say
    }
}

}  // namespace

extern "C" {

int hb_netstack_init(hb_netstack* s, uint16_t device)
{
    auto* bytes = reinterpret_cast<uint8_t*>(s);
    zero(bytes, sizeof *s);
    if (!hb::detect().present)
        return HB_NETSTACK_NO_INTERFACE;
    hb::net::info_record info{};
    if (!hb::net::info(device, info).ok())
        return HB_NETSTACK_NO_INTERFACE;
    if (info.max_frame > HB_NETSTACK_MAX_FRAME)
        return HB_NETSTACK_TOO_BIG;
    s->device = device;
    copy(s->mac, info.mac, 6);
    s->mtu = info.mtu;
    s->ip_id = uint16_t(now() >> 10);
    s->ping_id = uint16_t(0x4842 ^ s->mac[5]);
    return 0;
}

void hb_netstack_set_address(hb_netstack* s, uint32_t ip, uint32_t netmask, uint32_t gateway)
{
    s->ip = ip, s->netmask = netmask, s->gateway = gateway;
}

int hb_netstack_poll(hb_netstack* s)
{
    int handled = 0;
    for (;;) {
        const auto r = hb::net::recv(s->device, s->in, sizeof s->in);
        if (!r.ok())
            return handled ? handled : HB_NETSTACK_HOST;
        if (r.value == 0)
            return handled;
        handle_frame(s, r.value);
        ++handled;
    }
}

int hb_netstack_wait(hb_netstack* s, uint64_t deadline_ns)
{
    const int handled = hb_netstack_poll(s);
    if (handled != 0)
        return handled;
    (void)hb::net::yield(deadline_ns, uint16_t(s->device & ~63u));
    (void)hb::net::link(s->device);  // acknowledge a link change: it would keep the interface ready
    return hb_netstack_poll(s);
}

int hb_netstack_dhcp(hb_netstack* s, uint64_t timeout_ns)
{
    const uint64_t deadline = now() + timeout_ns;
    uint64_t sample = now();
    (void)hb::rng::fill(&sample, sizeof sample);
    s->dhcp_xid = uint32_t(sample ^ (sample >> 32));
    while (now() < deadline) {
        s->dhcp_state = dhcp_selecting;
        dhcp_send(s, 1);
        const uint64_t retry = now() + 2'000'000'000 < deadline ? now() + 2'000'000'000 : deadline;
        while (s->dhcp_state != dhcp_bound && now() < retry)
            (void)hb_netstack_wait(s, retry);
        if (s->dhcp_state == dhcp_bound)
            return 0;
    }
    s->dhcp_state = dhcp_idle;
    return HB_NETSTACK_TIMEOUT;
}

int hb_netstack_udp_bind(hb_netstack* s, uint16_t port, hb_netstack_udp_handler handler, void* context)
{
    for (hb_netstack_udp_port& p : s->udp)
        if (p.port == 0 || p.port == port) {
            p.port = port, p.handler = handler, p.context = context;
            return 0;
        }
    return HB_NETSTACK_NO_ROOM;
}

void hb_netstack_udp_unbind(hb_netstack* s, uint16_t port)
{
    for (hb_netstack_udp_port& p : s->udp)
        if (p.port == port)
            p.port = 0, p.handler = nullptr, p.context = nullptr;
}

int hb_netstack_udp_send(hb_netstack* s, uint32_t to_ip, uint16_t to_port, uint16_t from_port, const void* data,
                         size_t length)
{
    if (s->ip == 0)
        return HB_NETSTACK_NO_ADDRESS;
    if (length > s->mtu - ip_header - udp_header)
        return HB_NETSTACK_TOO_BIG;
    const uint8_t* mac = resolve(s, to_ip);
    if (!mac)
        return HB_NETSTACK_UNREACHABLE;
    uint8_t next_hop[6];
    copy(next_hop, mac, 6);  // udp_frame writes s->out, and the cache may change meanwhile
    return send_frame(s, udp_frame(s, next_hop, to_ip, to_port, from_port, data, length)) ? int(length)
                                                                                             : HB_NETSTACK_HOST;
}

int hb_netstack_ping(hb_netstack* s, uint32_t to_ip, uint16_t sequence, uint64_t timeout_ns, uint64_t* rtt_ns)
{
    if (s->ip == 0)
        return HB_NETSTACK_NO_ADDRESS;
    const uint64_t deadline = now() + timeout_ns;
    const uint8_t* mac = resolve(s, to_ip);
    if (!mac)
        return HB_NETSTACK_UNREACHABLE;
    uint8_t next_hop[6];
    copy(next_hop, mac, 6);
    ethernet_header(s, next_hop, type_ipv4);
    constexpr size_t length = 8 + 32;
    ip_header_out(s, to_ip, proto_icmp, length);
    uint8_t* c = s->out + eth + ip_header;
    c[0] = 8, c[1] = 0, put16(c + 2, 0), put16(c + 4, s->ping_id), put16(c + 6, sequence);
    for (size_t i = 8; i < length; ++i)
        c[i] = uint8_t(i);
    put16(c + 2, fold(sum_bytes(c, length)));
    s->ping_seq = sequence, s->ping_answered = 0;
    const uint64_t sent = now();
    if (!send_frame(s, eth + ip_header + length))
        return HB_NETSTACK_HOST;
    while (!s->ping_answered && now() < deadline)
        (void)hb_netstack_wait(s, deadline);
    if (!s->ping_answered)
        return HB_NETSTACK_TIMEOUT;
    if (rtt_ns)
        *rtt_ns = now() - sent;
    return 0;
}

int hb_netstack_resolve(hb_netstack* s, const char* name, uint32_t* ip, uint64_t timeout_ns)
{
    if (s->ip == 0 || s->dns == 0)
        return HB_NETSTACK_NO_ADDRESS;
    static uint8_t query[300];
    size_t n = 12;
    uint64_t sample = now();
    (void)hb::rng::fill(&sample, sizeof sample);
    dns_query q{uint16_t(sample), false, false, 0};
    put16(query, q.id), put16(query + 2, 0x0100), put16(query + 4, 1);  // recursion desired, one question
    put16(query + 6, 0), put16(query + 8, 0), put16(query + 10, 0);
    // "a.bc" -> 1 'a' 2 'b' 'c' 0: each label after its length.
    size_t length_at = n++;
    size_t label = 0;
    for (const char* c = name;; ++c) {
        if (n + 6 >= sizeof query)
            return HB_NETSTACK_TOO_BIG;
        if (*c == '.' || *c == 0) {
            if (label == 0 || label > 63)
                return HB_NETSTACK_NOT_FOUND;  // an empty or overlong label: no such name
            query[length_at] = uint8_t(label);
            if (*c == 0)
                break;
            length_at = n++;
            label = 0;
            continue;
        }
        query[n++] = uint8_t(*c);
        ++label;
    }
    query[n++] = 0;
    put16(query + n, 1), put16(query + n + 2, 1);  // type A, class IN
    n += 4;
    constexpr uint16_t own_port = 40053;
    if (hb_netstack_udp_bind(s, own_port, on_dns_answer, &q) != 0)
        return HB_NETSTACK_NO_ROOM;
    const uint64_t deadline = now() + timeout_ns;
    for (int attempt = 0; attempt < 3 && !q.answered && now() < deadline; ++attempt) {
        const uint64_t retry = now() + timeout_ns / 3 < deadline ? now() + timeout_ns / 3 : deadline;
        if (hb_netstack_udp_send(s, s->dns, 53, own_port, query, n) < 0)
            break;
        while (!q.answered && now() < retry)
            (void)hb_netstack_wait(s, retry);
    }
    hb_netstack_udp_unbind(s, own_port);
    if (!q.answered)
        return HB_NETSTACK_TIMEOUT;
    if (!q.found)
        return HB_NETSTACK_NOT_FOUND;
    *ip = q.address;
    return 0;
}

char* hb_netstack_format_ip(uint32_t ip, char* text)
{
    char* p = text;
    for (int i = 3; i >= 0; --i) {
        const unsigned part = (ip >> (8 * i)) & 0xFF;
        if (part >= 100)
            *p++ = char('0' + part / 100);
        if (part >= 10)
            *p++ = char('0' + part / 10 % 10);
        *p++ = char('0' + part % 10);
        if (i)
            *p++ = '.';
    }
    *p = 0;
    return text;
}

}  // extern "C"
