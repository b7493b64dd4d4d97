/* gw-udpgen.c: paced RTP-like UDP stream generator for the lab (IPTV and VoIP), bounded in time and count.
 *
 *   gw-udpgen serve --bind ADDR:PORT --seconds T [--max-streams N]
 *   gw-udpgen client --server ADDR:PORT --seconds T [--label L]
 *                    --stream ID:DOWN_BPS:UP_BPS:SIZE:PT [--stream ...]
 *
 * A client opens one UDP socket per stream and sends a hello naming the stream's
 * downstream rate; the server then streams RTP packets back to the hello's source
 * (so streams cross the gateways' NAT the way IPTV unicast and VoIP do) while the
 * client sends its upstream RTP at UP_BPS. Rates are IP-layer bits per second
 * (SIZE is the UDP payload including the 12-byte RTP header; IP bytes = SIZE + 28).
 * RTP timestamps follow the send time (8 kHz for PT 0-23, 90 kHz otherwise) so a
 * jitter meter sees the real pacing. Each side prints one JSON line per stream at
 * the end with packets and IP bytes sent and received and sequence losses seen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDPGEN_MAX_STREAMS   4096
#define UDPGEN_MAX_SECONDS   3600
#define UDPGEN_MAX_SIZE      1472
#define UDPGEN_MIN_SIZE      12
#define UDPGEN_MAX_BURST     64      /* packets sent at once when behind schedule */
#define UDPGEN_HELLO_TRIES   20
#define UDPGEN_HELLO_GAP_NS  200000000LL
#define UDPGEN_IP_OVERHEAD   28      /* IPv4 + UDP headers */
#define UDPGEN_HELLO_MAGIC   "GWUG1"

struct udpgen_stream {
	int       fd;            /* client: own socket; server: shared socket */
	uint32_t  id;
	uint64_t  down_bps;      /* IP-layer bit/s server -> client */
	uint64_t  up_bps;        /* IP-layer bit/s client -> server */
	uint32_t  size;          /* UDP payload bytes incl. RTP header */
	uint8_t   pt;            /* RTP payload type */
	uint32_t  ssrc;
	struct sockaddr_in peer; /* server: the client's address as seen (after NAT) */
	int64_t   start_ns, end_ns, next_ns, interval_ns;
	uint16_t  seq;
	uint64_t  tx_packets, tx_bytes, rx_packets, rx_bytes, send_errors;
	int       rx_seen;
	uint16_t  rx_last_seq;
	uint64_t  rx_lost;       /* sequence gaps (packets never seen) */
	int64_t   hello_next_ns;
	int       hello_tries;
	int       active;        /* server: streaming; client: sending upstream */
};

struct udpgen {
	struct udpgen_stream *s;
	size_t n, cap;
	int64_t end_ns;
	const char *label;
};

static volatile sig_atomic_t udpgen_stop;

static void udpgen_on_signal(int sig)
{
	(void)sig;
	udpgen_stop = 1;
}

static int64_t udpgen_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int udpgen_parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int64_t udpgen_interval_ns(uint64_t bps, uint32_t size)
{
	if (bps == 0)
		return 0;
	return (int64_t)((double)(size + UDPGEN_IP_OVERHEAD) * 8.0 * 1e9 / (double)bps);
}

static struct udpgen_stream *udpgen_add(struct udpgen *g)
{
	if (g->n == g->cap)
		return NULL;
	memset(&g->s[g->n], 0, sizeof(g->s[g->n]));
	g->s[g->n].fd = -1;
	return &g->s[g->n++];
}

/* "ID:DOWN:UP:SIZE:PT" -> stream fields; 0 or -1. */
static int udpgen_parse_stream(const char *spec, struct udpgen_stream *st)
{
	unsigned long long id, down, up, size, pt;
	char tail;

	if (sscanf(spec, "%llu:%llu:%llu:%llu:%llu%c", &id, &down, &up, &size, &pt, &tail) != 5)
		return -1;
	if (id > 0xffffffffULL || down > 10000000000ULL || up > 10000000000ULL ||
	    size < UDPGEN_MIN_SIZE || size > UDPGEN_MAX_SIZE || pt > 127)
		return -1;
	st->id = (uint32_t)id;
	st->down_bps = down;
	st->up_bps = up;
	st->size = (uint32_t)size;
	st->pt = (uint8_t)pt;
	return 0;
}

static void udpgen_rtp_fill(struct udpgen_stream *st, uint8_t *buf, int64_t now_ns)
{
	uint64_t clock_hz = st->pt < 24 ? 8000 : 90000;
	uint32_t ts = (uint32_t)((uint64_t)(now_ns - st->start_ns) * clock_hz / 1000000000ULL);
	uint16_t seq = htons(st->seq++);
	uint32_t ts_be = htonl(ts), ssrc_be = htonl(st->ssrc);

	buf[0] = 0x80;
	buf[1] = st->pt & 0x7f;
	memcpy(buf + 2, &seq, 2);
	memcpy(buf + 4, &ts_be, 4);
	memcpy(buf + 8, &ssrc_be, 4);
}

/* Sends what is due on one stream (bounded burst); returns the next due time. */
static int64_t udpgen_pace(struct udpgen_stream *st, int64_t now, uint8_t *buf,
    const struct sockaddr_in *to)
{
	int burst = 0;

	while (st->active && st->next_ns <= now && burst < UDPGEN_MAX_BURST) {
		if (now >= st->end_ns) {
			st->active = 0;
			break;
		}
		udpgen_rtp_fill(st, buf, now);
		if (sendto(st->fd, buf, st->size, 0, (const struct sockaddr *)to,
		    to ? sizeof(*to) : 0) < 0) {
			st->send_errors++;
		} else {
			st->tx_packets++;
			st->tx_bytes += st->size + UDPGEN_IP_OVERHEAD;
		}
		st->next_ns += st->interval_ns;
		burst++;
	}
	/* Far behind (scheduler stall): skip ahead rather than burst forever. */
	if (st->active && now - st->next_ns > 1000000000LL)
		st->next_ns = now;
	return st->active ? st->next_ns : INT64_MAX;
}

static void udpgen_count_rx(struct udpgen_stream *st, const uint8_t *buf, ssize_t len)
{
	uint16_t seq, gap;

	st->rx_packets++;
	st->rx_bytes += (uint64_t)len + UDPGEN_IP_OVERHEAD;
	if (len < 12 || (buf[0] & 0xc0) != 0x80)
		return;
	seq = (uint16_t)(buf[2] << 8 | buf[3]);
	if (st->rx_seen) {
		gap = (uint16_t)(seq - st->rx_last_seq);
		if (gap == 0 || gap > 0x8000)
			return; /* duplicate or reordered: not a new loss */
		st->rx_lost += gap - 1u;
	}
	st->rx_seen = 1;
	st->rx_last_seq = seq;
}

static void udpgen_report(const struct udpgen *g, const char *role)
{
	char peer[INET_ADDRSTRLEN];

	for (size_t i = 0; i < g->n; i++) {
		const struct udpgen_stream *st = &g->s[i];

		inet_ntop(AF_INET, &st->peer.sin_addr, peer, sizeof(peer));
		printf("{\"role\":\"%s\",\"label\":\"%s\",\"stream\":%u,\"peer\":\"%s:%u\","
		    "\"pt\":%u,\"size\":%u,\"down_bps\":%llu,\"up_bps\":%llu,"
		    "\"tx_packets\":%llu,\"tx_ip_bytes\":%llu,\"rx_packets\":%llu,"
		    "\"rx_ip_bytes\":%llu,\"rx_lost\":%llu,\"send_errors\":%llu}\n",
		    role, g->label ? g->label : "", st->id, peer, ntohs(st->peer.sin_port),
		    st->pt, st->size, (unsigned long long)st->down_bps,
		    (unsigned long long)st->up_bps, (unsigned long long)st->tx_packets,
		    (unsigned long long)st->tx_bytes, (unsigned long long)st->rx_packets,
		    (unsigned long long)st->rx_bytes, (unsigned long long)st->rx_lost,
		    (unsigned long long)st->send_errors);
	}
	fflush(stdout);
}

static void udpgen_wait(int64_t next_ns, struct pollfd *pfd, size_t npfd)
{
	int64_t now = udpgen_now_ns(), wait_ms = 0;

	if (next_ns > now)
		wait_ms = (next_ns - now) / 1000000;
	if (wait_ms > 100)
		wait_ms = 100;
	if (poll(pfd, (nfds_t)npfd, (int)wait_ms) < 0 && errno != EINTR)
		udpgen_stop = 1;
}

/* Server side: a hello from an unknown peer starts a stream towards it. */
static void udpgen_serve_hello(struct udpgen *g, int fd, const char *msg,
    const struct sockaddr_in *from, int64_t now)
{
	struct udpgen_stream tmp, *st;
	char spec[128];
	long long ms;

	memset(&tmp, 0, sizeof(tmp));
	if (sscanf(msg, UDPGEN_HELLO_MAGIC " %127s %lld", spec, &ms) != 2 ||
	    udpgen_parse_stream(spec, &tmp) < 0 || ms < 1 || ms > UDPGEN_MAX_SECONDS * 1000LL)
		return;
	for (size_t i = 0; i < g->n; i++)
		if (g->s[i].peer.sin_addr.s_addr == from->sin_addr.s_addr &&
		    g->s[i].peer.sin_port == from->sin_port)
			return; /* repeated hello */
	if ((st = udpgen_add(g)) == NULL)
		return;
	*st = tmp;
	st->fd = fd;
	st->peer = *from;
	st->ssrc = 0x47570000u ^ (uint32_t)g->n;
	st->start_ns = st->next_ns = now;
	st->end_ns = now + ms * 1000000LL;
	if (st->end_ns > g->end_ns)
		st->end_ns = g->end_ns;
	st->interval_ns = udpgen_interval_ns(st->down_bps, st->size);
	st->active = st->down_bps > 0;
}

static void udpgen_serve_rx(struct udpgen *g, int fd, int64_t now)
{
	uint8_t buf[2048];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t len;

	for (int k = 0; k < 256; k++) {
		fl = sizeof(from);
		len = recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (len < 0)
			return;
		if (len >= 5 && memcmp(buf, UDPGEN_HELLO_MAGIC, 5) == 0) {
			buf[len] = '\0';
			udpgen_serve_hello(g, fd, (const char *)buf, &from, now);
			continue;
		}
		for (size_t i = 0; i < g->n; i++)
			if (g->s[i].peer.sin_addr.s_addr == from.sin_addr.s_addr &&
			    g->s[i].peer.sin_port == from.sin_port) {
				udpgen_count_rx(&g->s[i], buf, len);
				break;
			}
	}
}

static int udpgen_serve(struct udpgen *g, const struct sockaddr_in *bind_sa)
{
	uint8_t buf[UDPGEN_MAX_SIZE];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, sndbuf = 4 << 20;
	struct pollfd pfd;
	int64_t start = udpgen_now_ns();

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)bind_sa, sizeof(*bind_sa)) < 0) {
		perror("gw-udpgen: serve socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	memset(buf, 0, sizeof(buf));
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!udpgen_stop) {
		int64_t now = udpgen_now_ns(), next = now + 100000000LL, t;
		size_t active = 0;

		if (now >= g->end_ns)
			break;
		for (size_t i = 0; i < g->n; i++)
			active += g->s[i].active != 0;
		/* Done once every stream has ended (clients all say hello within 2 s). */
		if (g->n > 0 && active == 0 && now - start > 2000000000LL)
			break;
		udpgen_serve_rx(g, fd, now);
		for (size_t i = 0; i < g->n; i++) {
			t = udpgen_pace(&g->s[i], now, buf, &g->s[i].peer);
			if (t < next)
				next = t;
		}
		udpgen_wait(next, &pfd, 1);
	}
	udpgen_report(g, "server");
	close(fd);
	return 0;
}

static void udpgen_client_rx(struct udpgen_stream *st)
{
	uint8_t buf[2048];
	ssize_t len;

	for (int k = 0; k < 256; k++) {
		len = recv(st->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0)
			return;
		udpgen_count_rx(st, buf, len);
	}
}

static void udpgen_client_hello(struct udpgen_stream *st, int64_t now)
{
	char msg[160];
	int len;

	if (st->rx_packets > 0 || st->down_bps == 0 || st->hello_tries >= UDPGEN_HELLO_TRIES ||
	    now < st->hello_next_ns)
		return;
	/* The server streams until the client's own end. */
	len = snprintf(msg, sizeof(msg), UDPGEN_HELLO_MAGIC " %u:%llu:%llu:%u:%u %lld", st->id,
	    (unsigned long long)st->down_bps, (unsigned long long)st->up_bps, st->size, st->pt,
	    (long long)((st->end_ns - now) / 1000000));
	if (send(st->fd, msg, (size_t)len, 0) < 0)
		st->send_errors++;
	st->hello_tries++;
	st->hello_next_ns = now + UDPGEN_HELLO_GAP_NS;
}

static int udpgen_client(struct udpgen *g, const struct sockaddr_in *server)
{
	uint8_t buf[UDPGEN_MAX_SIZE];
	struct pollfd pfd[UDPGEN_MAX_STREAMS];
	int64_t start = udpgen_now_ns();

	memset(buf, 0, sizeof(buf));
	for (size_t i = 0; i < g->n; i++) {
		struct udpgen_stream *st = &g->s[i];

		st->fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (st->fd < 0 || connect(st->fd, (const struct sockaddr *)server, sizeof(*server)) < 0) {
			perror("gw-udpgen: client socket");
			return 1;
		}
		st->peer = *server;
		st->ssrc = 0x43000000u ^ (uint32_t)(getpid() << 8) ^ st->id;
		st->start_ns = st->next_ns = st->hello_next_ns = start;
		st->end_ns = g->end_ns;
		st->interval_ns = udpgen_interval_ns(st->up_bps, st->size);
		st->active = st->up_bps > 0;
		pfd[i].fd = st->fd;
		pfd[i].events = POLLIN;
	}
	while (!udpgen_stop) {
		int64_t now = udpgen_now_ns(), next = now + 50000000LL, t;

		if (now >= g->end_ns)
			break;
		for (size_t i = 0; i < g->n; i++) {
			udpgen_client_rx(&g->s[i]);
			udpgen_client_hello(&g->s[i], now);
			t = udpgen_pace(&g->s[i], now, buf, NULL);
			if (t < next)
				next = t;
		}
		udpgen_wait(next, pfd, g->n);
	}
	/* Let in-flight downstream packets land before counting. */
	for (int k = 0; k < 5; k++) {
		poll(pfd, (nfds_t)g->n, 20);
		for (size_t i = 0; i < g->n; i++)
			udpgen_client_rx(&g->s[i]);
	}
	udpgen_report(g, "client");
	for (size_t i = 0; i < g->n; i++)
		close(g->s[i].fd);
	return 0;
}

static void udpgen_usage(void)
{
	fprintf(stderr,
	    "usage: gw-udpgen serve --bind ADDR:PORT --seconds T [--max-streams N]\n"
	    "       gw-udpgen client --server ADDR:PORT --seconds T [--label L]\n"
	    "                 --stream ID:DOWN_BPS:UP_BPS:SIZE:PT [--stream ...]\n"
	    "Rates are IP-layer bit/s; SIZE is the UDP payload (%d..%d) with the RTP header.\n"
	    "Bounded: T <= %d s, at most %d streams.\n",
	    UDPGEN_MIN_SIZE, UDPGEN_MAX_SIZE, UDPGEN_MAX_SECONDS, UDPGEN_MAX_STREAMS);
}

int main(int argc, char **argv)
{
	static struct udpgen_stream streams[UDPGEN_MAX_STREAMS];
	struct udpgen g = { .s = streams, .cap = UDPGEN_MAX_STREAMS };
	struct sockaddr_in addr;
	const char *mode = argc > 1 ? argv[1] : "", *addr_s = NULL;
	long seconds = 0;
	struct sigaction sa;

	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			udpgen_usage();
			return 2;
		}
		if (strcmp(argv[i], "--bind") == 0 || strcmp(argv[i], "--server") == 0)
			addr_s = v;
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = strtol(v, NULL, 10);
		else if (strcmp(argv[i], "--label") == 0)
			g.label = v;
		else if (strcmp(argv[i], "--max-streams") == 0) {
			long m = strtol(v, NULL, 10);
			if (m < 1 || m > UDPGEN_MAX_STREAMS) {
				udpgen_usage();
				return 2;
			}
			g.cap = (size_t)m;
		} else if (strcmp(argv[i], "--stream") == 0) {
			struct udpgen_stream *st = udpgen_add(&g);
			if (st == NULL || udpgen_parse_stream(v, st) < 0) {
				fprintf(stderr, "gw-udpgen: bad --stream '%s' (ID:DOWN_BPS:UP_BPS:SIZE:PT)\n", v);
				return 2;
			}
		} else {
			udpgen_usage();
			return 2;
		}
		i++;
	}
	if (addr_s == NULL || udpgen_parse_addr(addr_s, &addr) < 0 ||
	    seconds < 1 || seconds > UDPGEN_MAX_SECONDS) {
		udpgen_usage();
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = udpgen_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	g.end_ns = udpgen_now_ns() + seconds * 1000000000LL;
	if (strcmp(mode, "serve") == 0 && g.n == 0)
		return udpgen_serve(&g, &addr);
	if (strcmp(mode, "client") == 0 && g.n > 0)
		return udpgen_client(&g, &addr);
	udpgen_usage();
	return 2;
}
