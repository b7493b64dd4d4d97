/* gw-loadgen.c: simulated probes sending Hello + StatsReport envelopes to an operator (tests, make bench). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "envelope.h"
#include "gwmsg.h"
#include "log.h"

/*
 * Probe i is "<prefix><i>" (zero-padded to 5 digits); its customers are
 * "c<i*M+j>" (zero-padded to 6 digits). Each probe sends seq 1 = Hello, then
 * one StatsReport per report index k (seq k+2), ts = start_ts + k + 1,
 * interval 1 s, values from loadgen_values() (deterministic, see --log).
 * Sockets: one DEALER per probe (routing id = probe id) up to --sockets;
 * with more probes than sockets, probes share sockets round-robin (then the
 * routing id is "lg-sock-N"). Rates are reports per second per probe;
 * packet time advances 1 s per report whatever the rate.
 */
struct lg_opts {
	const char *connect, *prefix, *log_path;
	const char *server_key_file, *key_dir;
	unsigned probes, customers, sockets, drop_every;
	double rate, duration, start_ts;
	unsigned garbage, oversized, unknown;
	int linger_ms;
};

struct lg_counts {
	unsigned long long envelopes, hello, stats, skipped, garbage, oversized,
	    unknown, send_errors, customer_intervals;
};

static void
lg_usage(void)
{
	printf("usage: gw-loadgen [options]\n"
"  --connect EP        operator endpoint (default tcp://127.0.0.1:7700)\n"
"  --probes N          simulated probes (default 1)\n"
"  --customers M       customers per probe (default 1)\n"
"  --rate R            reports per second per probe, 0 = unpaced (default 1)\n"
"  --duration D        seconds of reports: R*D reports per probe (default 10;\n"
"                      with --rate 0: D reports per probe)\n"
"  --start-ts T        packet time of the first interval start (default 1700000000)\n"
"  --sockets S         most DEALER sockets (default 1000)\n"
"  --drop-every K      skip every seq divisible by K (the operator must count\n"
"                      exactly those as lost); Hello (seq 1) is never skipped\n"
"  --garbage N         also send N undecodable frames\n"
"  --oversized N       also send N frames larger than GW_ENVELOPE_MAX (own socket)\n"
"  --unknown N         also send N valid stats envelopes from probe \"unknown-probe\"\n"
"  --prefix P          probe id prefix (default p)\n"
"  --curve-server F    operator public key file (\"public Z85\"); enables CURVE\n"
"  --curve-keys DIR    probe key files DIR/<probe id>.key (\"public/secret Z85\")\n"
"  --log FILE          JSON line per customer interval (sent or skipped)\n"
"  --linger-ms MS      how long to wait at exit for unsent messages (default 20000)\n"
"Prints one JSON object with the counts sent.\n");
}

static int
lg_parse(int argc, char **argv, struct lg_opts *o)
{
	static const struct option lo[] = {
		{ "connect", 1, NULL, 'c' }, { "probes", 1, NULL, 'p' },
		{ "customers", 1, NULL, 'm' }, { "rate", 1, NULL, 'r' },
		{ "duration", 1, NULL, 'd' }, { "start-ts", 1, NULL, 't' },
		{ "sockets", 1, NULL, 's' }, { "drop-every", 1, NULL, 'k' },
		{ "garbage", 1, NULL, 'g' }, { "oversized", 1, NULL, 'o' },
		{ "unknown", 1, NULL, 'u' }, { "prefix", 1, NULL, 'P' },
		{ "log", 1, NULL, 'l' }, { "curve-server", 1, NULL, 'S' },
		{ "curve-keys", 1, NULL, 'K' }, { "linger-ms", 1, NULL, 'L' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o->connect = optarg; break;
		case 'p': o->probes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': o->customers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': o->rate = strtod(optarg, NULL); break;
		case 'd': o->duration = strtod(optarg, NULL); break;
		case 't': o->start_ts = strtod(optarg, NULL); break;
		case 's': o->sockets = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': o->drop_every = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'g': o->garbage = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': o->oversized = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'u': o->unknown = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': o->prefix = optarg; break;
		case 'l': o->log_path = optarg; break;
		case 'S': o->server_key_file = optarg; break;
		case 'K': o->key_dir = optarg; break;
		case 'L': o->linger_ms = atoi(optarg); break;
		case 'h': lg_usage(); exit(0);
		default: lg_usage(); return -1;
		}
	}
	if (o->probes < 1 || o->probes > 100000 || o->customers < 1 ||
	    o->customers > GW_CUSTOMERS_MAX || o->rate < 0 || o->duration <= 0 ||
	    o->sockets < 1 || o->drop_every == 1) {
		fprintf(stderr, "gw-loadgen: bad option values (see --help)\n");
		return -1;
	}
	return 0;
}

/* Deterministic values of customer j of probe i in report k. */
static void
lg_values(unsigned i, unsigned j, unsigned k, struct gw_customer_stats *cs)
{
	unsigned v = (i * 7 + j * 13 + k * 31) % 97;

	cs->rx_bytes = 100000ULL * (j + 1) + 1000ULL * v;
	cs->tx_bytes = 20000ULL * (j + 1) + 300ULL * v;
	cs->rx_packets = cs->rx_bytes / 1000 + 1;
	cs->tx_packets = cs->tx_bytes / 500 + 1;
	cs->flows_active = 10 + j + v % 5;
	cs->flows_new = v % 4;
	cs->tcp.handshakes = 1 + v % 3;
	cs->tcp.rtt_wan_ms_avg = 20.0 + v % 10;
	cs->tcp.rtt_lan_ms_avg = 1.0 + (v % 4) * 0.5;
	cs->tcp.rtt_ms_p95 = 40.0 + v % 20;
	cs->tcp.segments = 1000 + v;
	cs->tcp.retransmits = v % 6;
	cs->rtp.streams = 1;
	cs->rtp.packets = 50;
	cs->rtp.packets_expected = 50;
	cs->rtp.packets_lost = v % 3;
	cs->rtp.jitter_ms_avg = 2.0 + (v % 8) * 0.25;
	cs->rtp.jitter_ms_max = 10.0;
	cs->dns.queries = 2;
	cs->dns.responses = 2;
	cs->dns.latency_ms_avg = 5.0 + v % 7;
	cs->dns.latency_ms_p95 = 15.0;
	cs->n_apps = 1;
	snprintf(cs->apps[0].app, sizeof(cs->apps[0].app), "HTTP");
	snprintf(cs->apps[0].category, sizeof(cs->apps[0].category), "Web");
	cs->apps[0].rx_bytes = cs->rx_bytes / 2;
	cs->apps[0].tx_bytes = cs->tx_bytes / 2;
}

static double
lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads "word Z85" from path into out (41 bytes). 0 or -1. */
static int
lg_read_key(const char *path, const char *word, char *out)
{
	char line[256], w[32], k[64];
	FILE *f = fopen(path, "r");
	int rc = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%31s %63s", w, k) == 2 && strcmp(w, word) == 0 &&
		    strlen(k) == 40) {
			memcpy(out, k, 41);
			rc = 0;
		}
	fclose(f);
	return rc;
}

static void *
lg_socket(void *ctx, const struct lg_opts *o, const char *rid)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int hwm = 0, linger = o->linger_ms;
	char pub[41], sec[41], srv[41], path[1024];

	if (s == NULL)
		return NULL;
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));   /* 0 = no limit: never drop */
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (rid != NULL)
		zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, strlen(rid));
	if (o->server_key_file != NULL) {
		snprintf(path, sizeof(path), "%s/%s.key", o->key_dir ? o->key_dir : ".",
		    rid ? rid : "unknown");
		if (lg_read_key(o->server_key_file, "public", srv) == -1 ||
		    lg_read_key(path, "public", pub) == -1 ||
		    lg_read_key(path, "secret", sec) == -1) {
			fprintf(stderr, "gw-loadgen: cannot read keys %s / %s\n",
			    o->server_key_file, path);
			zmq_close(s);
			return NULL;
		}
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, srv, 40);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
	}
	if (zmq_connect(s, o->connect) == -1) {
		fprintf(stderr, "gw-loadgen: connect %s: %s\n", o->connect,
		    zmq_strerror(errno));
		zmq_close(s);
		return NULL;
	}
	return s;
}

static int
lg_send_msg(void *s, const struct gw_msg *m, struct lg_counts *c)
{
	uint8_t *buf;
	size_t len;

	if (envelope_encode(m, &buf, &len) == -1) {
		c->send_errors++;
		return -1;
	}
	if (zmq_send(s, buf, len, 0) != (int)len) {
		c->send_errors++;
		free(buf);
		return -1;
	}
	free(buf);
	c->envelopes++;
	return 0;
}

static void
lg_hello(void *s, const char *id, const struct lg_opts *o, struct lg_counts *c)
{
	struct gw_msg m;

	memset(&m, 0, sizeof(m));
	m.version = GW_PROTO_VERSION;
	snprintf(m.probe_id, sizeof(m.probe_id), "%s", id);
	m.seq = 1;
	m.type = GW_BODY_HELLO;
	snprintf(m.u.hello.software, sizeof(m.u.hello.software), "gw-loadgen");
	snprintf(m.u.hello.hostname, sizeof(m.u.hello.hostname), "loadgen");
	snprintf(m.u.hello.mode, sizeof(m.u.hello.mode), "offline");
	m.u.hello.start_ts = o->start_ts;
	m.u.hello.interval_ms = 1000;
	if (lg_send_msg(s, &m, c) == 0)
		c->hello++;
}

/* Sends (or skips) report k of probe i. */
static void
lg_report(void *s, unsigned i, unsigned k, const struct lg_opts *o,
    struct gw_customer_stats *cs, FILE *log, struct lg_counts *c)
{
	struct gw_msg m;
	uint64_t seq = (uint64_t)k + 2;
	bool skip = o->drop_every > 1 && seq % o->drop_every == 0;

	memset(&m, 0, sizeof(m));
	m.version = GW_PROTO_VERSION;
	snprintf(m.probe_id, sizeof(m.probe_id), "%s%05u", o->prefix, i);
	m.seq = seq;
	m.type = GW_BODY_STATS;
	m.u.stats.ts = o->start_ts + k + 1;
	m.u.stats.interval = 1.0;
	m.u.stats.n_customers = o->customers;
	m.u.stats.customers = cs;
	m.u.stats.health.cpu_pct = 1.5;
	m.u.stats.health.pcap_received = (uint64_t)k * 100;
	for (unsigned j = 0; j < o->customers; j++) {
		memset(&cs[j], 0, sizeof(cs[j]));
		snprintf(cs[j].customer, sizeof(cs[j].customer), "c%06u",
		    i * o->customers + j);
		lg_values(i, j, k, &cs[j]);
		if (log != NULL)
			fprintf(log, "{\"probe\":\"%s\",\"seq\":%llu,\"ts\":%.1f,"
			    "\"customer\":\"%s\",\"rx_bytes\":%llu,\"tx_bytes\":%llu,"
			    "\"rx_packets\":%llu,\"tx_packets\":%llu,"
			    "\"flows_active\":%u,\"flows_new\":%u,\"skipped\":%s}\n",
			    m.probe_id, (unsigned long long)seq, m.u.stats.ts,
			    cs[j].customer, (unsigned long long)cs[j].rx_bytes,
			    (unsigned long long)cs[j].tx_bytes,
			    (unsigned long long)cs[j].rx_packets,
			    (unsigned long long)cs[j].tx_packets, cs[j].flows_active,
			    cs[j].flows_new, skip ? "true" : "false");
	}
	if (skip) {
		c->skipped++;
		return;
	}
	if (lg_send_msg(s, &m, c) == 0) {
		c->stats++;
		c->customer_intervals += o->customers;
	}
}

static void
lg_extras(void *ctx, const struct lg_opts *o, struct gw_customer_stats *cs,
    struct lg_counts *c)
{
	static const char junk[] = "\x0a\xff\xff\xff\xff\x0fnot a protobuf envelope";
	struct lg_opts uo = *o;
	void *s;

	if (o->garbage > 0 && (s = lg_socket(ctx, o, NULL)) != NULL) {
		for (unsigned n = 0; n < o->garbage; n++)
			if (zmq_send(s, junk, sizeof(junk) - 1 - (n % 8), 0) >= 0)
				c->garbage++;
		zmq_close(s);
	}
	if (o->oversized > 0 && (s = lg_socket(ctx, o, NULL)) != NULL) {
		size_t len = GW_ENVELOPE_MAX + 1024;
		char *big = calloc(1, len);
		for (unsigned n = 0; big != NULL && n < o->oversized; n++)
			if (zmq_send(s, big, len, 0) >= 0)
				c->oversized++;
		free(big);
		zmq_close(s);
	}
	if (o->unknown > 0 && o->server_key_file == NULL &&
	    (s = lg_socket(ctx, o, "unknown-probe")) != NULL) {
		struct lg_counts uc = { 0 };
		uo.prefix = "unknown-probe";
		uo.drop_every = 0;
		for (unsigned n = 0; n < o->unknown; n++)
			lg_report(s, 0, n, &uo, cs, NULL, &uc);
		c->unknown += uc.stats;
		zmq_close(s);
	}
}

static void
lg_print(const struct lg_opts *o, const struct lg_counts *c, unsigned nsock,
    double elapsed)
{
	printf("{\"probes\":%u,\"customers_per_probe\":%u,\"sockets\":%u,"
	    "\"envelopes_sent\":%llu,\"hello_sent\":%llu,\"stats_sent\":%llu,"
	    "\"seq_skipped\":%llu,\"customer_intervals\":%llu,"
	    "\"messages_per_probe\":%llu,\"lost_per_probe\":%llu,"
	    "\"garbage_sent\":%llu,\"oversized_sent\":%llu,\"unknown_sent\":%llu,"
	    "\"send_errors\":%llu,\"elapsed_s\":%.3f,\"envelopes_per_s\":%.1f}\n",
	    o->probes, o->customers, nsock, c->envelopes, c->hello, c->stats,
	    c->skipped, c->customer_intervals,
	    (c->hello + c->stats) / o->probes, c->skipped / o->probes,
	    c->garbage, c->oversized, c->unknown, c->send_errors, elapsed,
	    elapsed > 0 ? (double)(c->hello + c->stats) / elapsed : 0.0);
}

int
main(int argc, char **argv)
{
	struct lg_opts o = { .connect = "tcp://127.0.0.1:7700", .prefix = "p",
	    .probes = 1, .customers = 1, .sockets = 1000, .rate = 1,
	    .duration = 10, .start_ts = 1700000000, .linger_ms = 20000 };
	struct lg_counts c = { 0 };
	struct gw_customer_stats *cs;
	void *ctx, **socks;
	unsigned nsock, reports;
	FILE *log = NULL;
	double t0, elapsed;
	char rid[GW_ID_MAX];

	log_init("gw-loadgen", LOG_LVL_WARN, false);
	if (lg_parse(argc, argv, &o) == -1)
		return 2;
	nsock = o.probes < o.sockets ? o.probes : o.sockets;
	reports = (unsigned)(o.rate > 0 ? o.rate * o.duration : o.duration);
	if (o.log_path != NULL && (log = fopen(o.log_path, "w")) == NULL) {
		perror(o.log_path);
		return 1;
	}
	cs = calloc(o.customers, sizeof(*cs));
	socks = calloc(nsock, sizeof(*socks));
	if (cs == NULL || socks == NULL || (ctx = zmq_ctx_new()) == NULL) {
		fprintf(stderr, "gw-loadgen: out of memory\n");
		free(cs);
		free(socks);
		if (log != NULL)
			fclose(log);
		return 1;
	}
	zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)nsock + 16);
	zmq_ctx_set(ctx, ZMQ_IO_THREADS, nsock > 100 ? 2 : 1);
	for (unsigned s = 0; s < nsock; s++) {
		if (nsock == o.probes)
			snprintf(rid, sizeof(rid), "%s%05u", o.prefix, s);
		else
			snprintf(rid, sizeof(rid), "lg-sock-%u", s);
		if ((socks[s] = lg_socket(ctx, &o, rid)) == NULL) {
			while (s-- > 0)
				zmq_close(socks[s]);
			zmq_ctx_term(ctx);
			free(cs);
			free(socks);
			if (log != NULL)
				fclose(log);
			return 1;
		}
	}
	t0 = lg_now();
	for (unsigned i = 0; i < o.probes; i++) {
		snprintf(rid, sizeof(rid), "%s%05u", o.prefix, i);
		lg_hello(socks[i % nsock], rid, &o, &c);
	}
	lg_extras(ctx, &o, cs, &c);
	for (unsigned k = 0; k < reports; k++) {
		if (o.rate > 0) {
			double wait = t0 + k / o.rate - lg_now();
			if (wait > 0)
				usleep((useconds_t)(wait * 1e6));
		}
		for (unsigned i = 0; i < o.probes; i++)
			lg_report(socks[i % nsock], i, k, &o, cs, log, &c);
	}
	elapsed = lg_now() - t0;
	for (unsigned s = 0; s < nsock; s++)
		zmq_close(socks[s]);
	zmq_ctx_term(ctx);   /* waits (up to the linger time) until all is sent */
	if (log != NULL)
		fclose(log);
	lg_print(&o, &c, nsock, elapsed);
	free(cs);
	free(socks);
	return c.send_errors > 0 ? 1 : 0;
}
