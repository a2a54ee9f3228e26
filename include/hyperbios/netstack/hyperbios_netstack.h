/* HyperBIOS network stack: Ethernet, ARP, IPv4, ICMP echo, UDP and a DHCP
 * client over the NET service (spec chapter 16), for freestanding kernels in C
 * and C++. Prebuilt as libhyperbios-net.a (pkg-config --variable=netlib
 * hyperbios; hyperbios_add_kernel(... LIBRARIES hyperbios::net) in CMake).
 *
 * All its state is one struct hb_netstack the kernel provides (static storage:
 * about 19 KiB); it allocates nothing and takes no interrupt. Nothing runs
 * behind the kernel's back: frames are handled when the kernel calls
 * hb_netstack_poll or hb_netstack_wait, or one of the calls that wait for an
 * answer (DHCP, ARP inside a send, ping), which answer ARP and ping and deliver
 * UDP to the bound handlers meanwhile.
 *
 * A DNS client asks the server DHCP named (or the one the kernel sets in `dns`)
 * for a name's IPv4 address.
 *
 * Out of its scope: TCP, IPv6, IP fragments (dropped), IP options (ignored),
 * more than one interface per struct (use one struct per interface), multicast
 * groups. Addresses are IPv4 in host byte order: 10.0.2.15 is 0x0A00020F. */
#ifndef HYPERBIOS_NETSTACK_H
#define HYPERBIOS_NETSTACK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_NETSTACK_MAX_FRAME 9014   /* the largest interface this stack serves: MTU 9000 */
#define HB_NETSTACK_UDP_PORTS 8      /* UDP ports bound at once */
#define HB_NETSTACK_ARP_ENTRIES 16

/* What the calls return: 0 or more on success, one of these on failure. */
enum hb_netstack_error {
    HB_NETSTACK_NO_INTERFACE = -1, /* no HyperBIOS host, no NET service, or no such interface */
    HB_NETSTACK_TIMEOUT = -2,      /* no answer before the deadline */
    HB_NETSTACK_UNREACHABLE = -3,  /* no ARP answer for the address (or its gateway) */
    HB_NETSTACK_TOO_BIG = -4,      /* a datagram larger than the interface's MTU allows */
    HB_NETSTACK_HOST = -5,         /* a NET call failed: the link is down, or the host refused */
    HB_NETSTACK_NO_ROOM = -6,      /* every UDP port slot is taken */
    HB_NETSTACK_NO_ADDRESS = -7,   /* the interface has no IPv4 address yet (DHCP or set_address) */
    HB_NETSTACK_NOT_FOUND = -8     /* the DNS server knows no IPv4 address for the name */
};

/* Called for each UDP datagram to a bound port, from inside poll, wait and the
 * calls that wait. `data` lies in the stack's receive buffer: it holds until the
 * handler returns. While a handler runs, frames that arrive meanwhile (a send
 * that waits for ARP) are taken for ARP only: UDP and ICMP are dropped, so
 * handlers never nest. */
typedef void (*hb_netstack_udp_handler)(void* context, uint32_t from_ip, uint16_t from_port, uint16_t to_port,
                                        const void* data, size_t length);

struct hb_netstack_arp_entry {
    uint32_t ip;
    uint32_t used;
    uint8_t mac[6];
};

struct hb_netstack_udp_port {
    uint16_t port; /* 0: free */
    hb_netstack_udp_handler handler;
    void* context;
};

struct hb_netstack {
    /* What the kernel may read. */
    uint16_t device;
    uint8_t mac[6];
    uint32_t mtu;
    uint32_t ip, netmask, gateway, dns; /* 0 until DHCP or hb_netstack_set_address */
    uint32_t lease_seconds;             /* DHCP's lease, 0 without DHCP */
    uint64_t frames_in, frames_out, frames_ignored;
    /* The stack's own. */
    struct hb_netstack_arp_entry arp[HB_NETSTACK_ARP_ENTRIES];
    struct hb_netstack_udp_port udp[HB_NETSTACK_UDP_PORTS];
    uint32_t dhcp_xid, dhcp_offer, dhcp_server, dhcp_mask, dhcp_router, dhcp_dns, dhcp_lease;
    uint8_t dhcp_state;
    uint8_t in_handler; /* a UDP handler runs: only ARP is taken meanwhile (no re-entry) */
    uint16_t ip_id, ping_id, ping_seq;
    uint16_t ping_answered;
    uint32_t arp_clock;
    uint8_t in[HB_NETSTACK_MAX_FRAME];
    uint8_t out[HB_NETSTACK_MAX_FRAME];
};

/* Takes NET interface `device`: its MAC and MTU. No address yet. */
int hb_netstack_init(struct hb_netstack* s, uint16_t device);

/* A static address; netmask and gateway may be 0 (no router: only the subnet). */
void hb_netstack_set_address(struct hb_netstack* s, uint32_t ip, uint32_t netmask, uint32_t gateway);

/* Takes a DHCP lease (DISCOVER, OFFER, REQUEST, ACK), retrying until the
 * monotonic clock passes now + timeout_ns; sets ip, netmask, gateway, dns. */
int hb_netstack_dhcp(struct hb_netstack* s, uint64_t timeout_ns);

/* Handles every frame waiting; returns how many. Never waits. */
int hb_netstack_poll(struct hb_netstack* s);

/* Waits until a frame arrives or the monotonic clock reaches deadline_ns
 * (TIME.monotonic_ns), then handles what waits; returns how many frames. */
int hb_netstack_wait(struct hb_netstack* s, uint64_t deadline_ns);

/* Delivers UDP datagrams to `port` to handler(context, ...). */
int hb_netstack_udp_bind(struct hb_netstack* s, uint16_t port, hb_netstack_udp_handler handler, void* context);
void hb_netstack_udp_unbind(struct hb_netstack* s, uint16_t port);

/* Sends one UDP datagram (resolving the next hop with ARP, waiting up to 3 s);
 * to 0xFFFFFFFF: a broadcast on the link. Returns the payload's length. */
int hb_netstack_udp_send(struct hb_netstack* s, uint32_t to_ip, uint16_t to_port, uint16_t from_port,
                         const void* data, size_t length);

/* Sends an ICMP echo request and waits for its reply until now + timeout_ns;
 * *rtt_ns (when not NULL) gets the round trip. */
int hb_netstack_ping(struct hb_netstack* s, uint32_t to_ip, uint16_t sequence, uint64_t timeout_ns,
                     uint64_t* rtt_ns);

/* Asks the DNS server s->dns for the IPv4 address of `name` (an A record),
 * three tries until now + timeout_ns; the answer goes to *ip. */
int hb_netstack_resolve(struct hb_netstack* s, const char* name, uint32_t* ip, uint64_t timeout_ns);

/* "10.0.2.15" into text (16 bytes at least); returns text. */
char* hb_netstack_format_ip(uint32_t ip, char* text);

/* 10.0.2.15 from its four parts. */
static inline uint32_t hb_netstack_ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

#ifdef __cplusplus
}
#endif

#endif
