/* main.c: gatewatch-probe: options, privileges, capture loop, sinks, clean shutdown. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "control.h"
#include "customer.h"
#include "engine.h"
#include "enforce.h"
#include "envelope.h"
#include "health.h"
#include "jsonl.h"
#include "log.h"
#include "publish.h"
#include "shard.h"

#define PROBE_VERSION "0.1.0"
#define PROBE_MAX_LIST 64

struct opts {
	const char *iface, *file, *filter;
	char probe_id[GW_ID_MAX];
	const char *customer_map, *customer;
	const char *lan_prefix[PROBE_MAX_LIST];
	size_t n_lan_prefix;
	const char *allow[PROBE_MAX_LIST];
	size_t n_allow;
	double interval_s;
	const char *jsonl;
	bool flows;
	const char *operator_ep, *server_key, *client_key;
	int queue;
	unsigned long long queue_bytes;
	unsigned long long max_flows, idle_ms, active_ms;
	int snaplen, buffer_mb;
	bool promisc;
	bool immediate;
	unsigned dpi_packets;
	unsigned long long dpi_states;
	unsigned long long shed_pps;
	int shed_auto;                 /* --shed-pps auto: 1, a number: 0, unset: -1 */
	unsigned shed_target_pct;      /* auto:PERCENT; 0 = the shed module's 80 */
	enum enforce_mode enforce;
	const char *thresholds;
	const char *threshold_kv[PROBE_MAX_LIST];   /* --threshold KEY=VALUE */
	size_t n_threshold_kv;
	enum log_level log_level;
	bool use_syslog;
	const char *user;
	const char *enforcer;
	double heartbeat_s;
};

/* State shared by the sinks and the loops (one instance, in main's frame). */
struct probe {
	struct opts *o;
	struct capture *cap;
	struct engine *eng;
	struct jsonl *jsonl;
	struct publish *pub;
	struct shard shard;           /* --operator list in rank order for our id */
	struct shard_watch *watch;    /* reachability thread; NULL with one endpoint */
	unsigned long watch_rounds;   /* its rounds already acted on */
	struct health *health;
	struct enforce *enf;
	struct customer_map *map;
	bool jsonl_failed;
};

static volatile sig_atomic_t probe_stop;

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: gatewatch-probe (-i IFACE | -r FILE) [options]\n"
"Watches the traffic of a gateway, per customer, and reports to the operator\n"
"(ZeroMQ) and/or a JSON Lines file. Time comes from packet timestamps.\n"
"\n"
"Input:\n"
"  -i, --interface IFACE    live capture on IFACE (needs CAP_NET_RAW)\n"
"  -r, --read FILE          read a pcap/pcapng file at full speed, then exit\n"
"  -f, --filter BPF         BPF capture filter (tcpdump syntax)\n"
"      --snaplen N          live: bytes captured per packet (default 65535;\n"
"                           byte counts come from IP headers, so 128 is enough\n"
"                           for usage but limits DPI)\n"
"      --buffer-mb N        live: kernel capture buffer in MiB (default 8;\n"
"                           libpcap's 2 with --immediate)\n"
"      --no-promisc         live: do not put the interface in promiscuous mode\n"
"      --immediate          live: hand over every packet at once (a wakeup per\n"
"                           packet); default: batches of up to 10 ms (the\n"
"                           kernel's block timeout), much less CPU under load\n"
"Customers:\n"
"      --customer-map FILE  map file: lines \"ID vlan N\", \"ID vlan OUTER.INNER\",\n"
"                           \"ID prefix CIDR\"\n"
"      --customer ID        this probe serves one customer: ID gets all traffic\n"
"      --lan-prefix CIDR    with --customer: the customer's prefixes (repeatable)\n"
"                           Without a map or --customer, all traffic goes to one\n"
"                           customer named \"all\".\n"
"Reporting:\n"
"      --probe-id ID        probe name (default: host name)\n"
"      --interval SECONDS   report interval, aligned to the epoch (default 1)\n"
"      --jsonl PATH         write JSON Lines (stats, events) to PATH, - = stdout\n"
"      --flows              also emit flow records (JSON Lines and operator)\n"
"      --operator ENDPOINT  send envelopes to the operator, e.g. tcp://127.0.0.1:7700\n"
"                           A comma-separated list of operator shards: the probe\n"
"                           reports to one, chosen by a rendezvous hash of its\n"
"                           probe id; it moves to the next one in its order\n"
"                           while that one is down (checked once a second, off\n"
"                           the capture loop) and back when it has answered for\n"
"                           2 s; seq accounting stays exact across the moves\n"
"      --curve-server-key FILE  operator's public key (\"public KEY\"): enables CURVE\n"
"      --curve-key FILE     this probe's key pair (\"public KEY\" and \"secret KEY\")\n"
"      --queue N            envelopes queued for the operator before dropping\n"
"                           (default 10000); the capture never waits for the network\n"
"      --queue-bytes N      memory budget of that queue while the operator is away\n"
"                           or slow (default 16777216); beyond it new envelopes are\n"
"                           dropped and counted, the oldest are kept and sent in\n"
"                           order when the operator is back\n"
"      --heartbeat SECONDS  live: heartbeat period (default 5)\n"
"Flows and DPI:\n"
"      --max-flows N        hard cap on tracked flows (default 262144); the least\n"
"                           recently seen flow is evicted when full\n"
"      --idle-timeout DUR   end flows idle this long (default 60s; \"30s\", \"2m\")\n"
"      --active-timeout DUR flow record every DUR for long flows (default 300s)\n"
"      --dpi-packets N      packets per flow given to nDPI (default %d)\n"
"      --dpi-states N       concurrent nDPI flow states (default %d)\n"
"      --shed-pps N|auto[:PCT] load shedding: at most N packets per second (packet\n"
"                           time) get DPI and QoS; new flows beyond it get none\n"
"                           for their life, counted as shed_packets; byte and\n"
"                           packet counters stay exact; 0 = never shed. auto:\n"
"                           N set every 100 ms of packet time from the capture\n"
"                           thread's CPU time, so that it stays under PCT %% of\n"
"                           one core (default 80; with -r: as if the file arrived\n"
"                           at its recorded speed, so the budget depends on the\n"
"                           machine). Default: auto live, 0 with -r\n"
"Detection and enforcement:\n"
"      --thresholds FILE    detector thresholds, \"key value\" lines\n"
"      --threshold KEY=VAL  one threshold, after the file (repeatable). Keys:\n"
"                           syn_flood|udp_flood|icmp_flood.rx|tx.pps|bps,\n"
"                           port_scan.ports (100: per source, target, protocol\n"
"                           in 5-10 s), host_sweep.hosts (64: per source and\n"
"                           protocol), slow_scan.failures (15 distinct failed\n"
"                           attempts in 150-300 s), covert.score (10),\n"
"                           dns_tunnel.queries (20 tunnel-like queries to one\n"
"                           domain in 60 s), inter_customer.pps, unusual_port.pps,\n"
"                           unusual_port.enabled, spike.factor|min_bps|warmup_s,\n"
"                           hysteresis.clear_fraction|clear_s|holddown_s;\n"
"                           0 turns slow_scan, covert and dns_tunnel off\n"
"      --enforce MODE       off | dry-run | on (default dry-run): bans from the\n"
"                           operator go to nftables table inet gatewatch (on) or\n"
"                           are only logged (dry-run). With on, the probe starts\n"
"                           the helper gatewatch-enforcer, which alone holds\n"
"                           CAP_NET_ADMIN (passed on as an ambient capability,\n"
"                           or by running as root) and changes nftables\n"
"      --enforcer PATH      the helper for --enforce on (default: gatewatch-enforcer\n"
"                           next to this program, else from $PATH)\n"
"      --allow CIDR         never ban CIDR (repeatable: operator, gateway, ...)\n"
"Process:\n"
"      --user USER          after opening the capture (and starting the helper),\n"
"                           switch to USER with no capabilities at all, also\n"
"                           with --enforce on (the helper, started as root,\n"
"                           switches to USER too and keeps only CAP_NET_ADMIN).\n"
"                           Without --user a non-root probe drops every\n"
"                           capability at the same point\n"
"      --log-level LEVEL    debug | info | warn | error (default info)\n"
"      --syslog             log to syslog instead of stderr\n"
"  -h, --help               this help\n"
"  -V, --version            print the version\n"
"SIGINT/SIGTERM: flush flows, close and send the last interval, remove the\n"
"nftables table, exit. Offline runs end with a one-line summary on stderr.\n",
	    DPI_DEFAULT_MAX_PKTS, DPI_DEFAULT_MAX_STATES);
}

enum {
	OPT_PROBE_ID = 256, OPT_MAP, OPT_CUSTOMER, OPT_LAN_PREFIX, OPT_INTERVAL,
	OPT_JSONL, OPT_FLOWS, OPT_OPERATOR, OPT_SERVER_KEY, OPT_CLIENT_KEY,
	OPT_QUEUE, OPT_MAX_FLOWS, OPT_IDLE, OPT_ACTIVE, OPT_SNAPLEN, OPT_BUFFER,
	OPT_NO_PROMISC, OPT_IMMEDIATE, OPT_DPI_PACKETS, OPT_DPI_STATES, OPT_ENFORCE, OPT_ALLOW,
	OPT_THRESHOLDS, OPT_LOG_LEVEL, OPT_SYSLOG, OPT_USER, OPT_HEARTBEAT,
	OPT_ENFORCER, OPT_THRESHOLD, OPT_QUEUE_BYTES, OPT_SHED_PPS,
};

static const struct option long_opts[] = {
	{ "interface", required_argument, NULL, 'i' },
	{ "read", required_argument, NULL, 'r' },
	{ "filter", required_argument, NULL, 'f' },
	{ "probe-id", required_argument, NULL, OPT_PROBE_ID },
	{ "customer-map", required_argument, NULL, OPT_MAP },
	{ "customer", required_argument, NULL, OPT_CUSTOMER },
	{ "lan-prefix", required_argument, NULL, OPT_LAN_PREFIX },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "jsonl", required_argument, NULL, OPT_JSONL },
	{ "flows", no_argument, NULL, OPT_FLOWS },
	{ "operator", required_argument, NULL, OPT_OPERATOR },
	{ "curve-server-key", required_argument, NULL, OPT_SERVER_KEY },
	{ "curve-key", required_argument, NULL, OPT_CLIENT_KEY },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "queue-bytes", required_argument, NULL, OPT_QUEUE_BYTES },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "active-timeout", required_argument, NULL, OPT_ACTIVE },
	{ "snaplen", required_argument, NULL, OPT_SNAPLEN },
	{ "buffer-mb", required_argument, NULL, OPT_BUFFER },
	{ "no-promisc", no_argument, NULL, OPT_NO_PROMISC },
	{ "immediate", no_argument, NULL, OPT_IMMEDIATE },
	{ "dpi-packets", required_argument, NULL, OPT_DPI_PACKETS },
	{ "dpi-states", required_argument, NULL, OPT_DPI_STATES },
	{ "shed-pps", required_argument, NULL, OPT_SHED_PPS },
	{ "enforce", required_argument, NULL, OPT_ENFORCE },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "thresholds", required_argument, NULL, OPT_THRESHOLDS },
	{ "threshold", required_argument, NULL, OPT_THRESHOLD },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "user", required_argument, NULL, OPT_USER },
	{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
	{ "enforcer", required_argument, NULL, OPT_ENFORCER },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static unsigned long long
opt_u64(const char *name, const char *v, unsigned long long min,
    unsigned long long max)
{
	unsigned long long x;

	if (config_parse_u64(v, min, max, &x) != 0)
		fatalx("--%s: \"%s\" is not a number in %llu..%llu", name, v, min, max);
	return x;
}

static unsigned long long
opt_duration_ms(const char *name, const char *v)
{
	unsigned long long ms;

	if (config_parse_duration_ms(v, &ms) != 0 || ms == 0)
		fatalx("--%s: \"%s\" is not a duration (e.g. 30s, 5m)", name, v);
	return ms;
}

static void
opt_add(const char **list, size_t *n, const char *v, const char *name)
{
	if (*n >= PROBE_MAX_LIST)
		fatalx("--%s: at most %d values", name, PROBE_MAX_LIST);
	list[(*n)++] = v;
}

/* Host name made into a valid probe id. */
static void
default_probe_id(char *id, size_t len)
{
	size_t i;

	if (gethostname(id, len) != 0 || id[0] == '\0')
		snprintf(id, len, "probe");
	id[len - 1] = '\0';
	for (i = 0; id[i] != '\0'; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_.:-", id[i]))
			id[i] = '-';
}

static void
opt_parse_one(struct opts *o, int c, const char *arg)
{
	switch (c) {
	case 'i': o->iface = arg; break;
	case 'r': o->file = arg; break;
	case 'f': o->filter = arg; break;
	case OPT_PROBE_ID:
		if (!gw_id_valid(arg))
			fatalx("--probe-id: \"%s\" is not a valid id ([A-Za-z0-9_.:-], "
			    "at most %d chars)", arg, GW_ID_MAX - 1);
		snprintf(o->probe_id, sizeof(o->probe_id), "%s", arg);
		break;
	case OPT_MAP: o->customer_map = arg; break;
	case OPT_CUSTOMER: o->customer = arg; break;
	case OPT_LAN_PREFIX: opt_add(o->lan_prefix, &o->n_lan_prefix, arg, "lan-prefix"); break;
	case OPT_INTERVAL:
		if (config_parse_double(arg, 0.001, 86400, &o->interval_s) != 0)
			fatalx("--interval: \"%s\" is not a number of seconds in "
			    "0.001..86400", arg);
		break;
	case OPT_JSONL: o->jsonl = arg; break;
	case OPT_FLOWS: o->flows = true; break;
	case OPT_OPERATOR: o->operator_ep = arg; break;
	case OPT_SERVER_KEY: o->server_key = arg; break;
	case OPT_CLIENT_KEY: o->client_key = arg; break;
	case OPT_QUEUE: o->queue = (int)opt_u64("queue", arg, 1, 10000000); break;
	case OPT_QUEUE_BYTES:
		o->queue_bytes = opt_u64("queue-bytes", arg, 4096, 1ULL << 34);
		break;
	case OPT_MAX_FLOWS: o->max_flows = opt_u64("max-flows", arg, 16, 1ULL << 26); break;
	case OPT_IDLE: o->idle_ms = opt_duration_ms("idle-timeout", arg); break;
	case OPT_ACTIVE: o->active_ms = opt_duration_ms("active-timeout", arg); break;
	case OPT_SNAPLEN: o->snaplen = (int)opt_u64("snaplen", arg, 64, 262144); break;
	case OPT_BUFFER: o->buffer_mb = (int)opt_u64("buffer-mb", arg, 1, 4096); break;
	case OPT_NO_PROMISC: o->promisc = false; break;
	case OPT_IMMEDIATE: o->immediate = true; break;
	case OPT_DPI_PACKETS: o->dpi_packets = (unsigned)opt_u64("dpi-packets", arg, 1, 250); break;
	case OPT_DPI_STATES: o->dpi_states = opt_u64("dpi-states", arg, 1, 1ULL << 24); break;
	case OPT_SHED_PPS:
		o->shed_auto = strncmp(arg, "auto", 4) == 0;
		if (!o->shed_auto)
			o->shed_pps = opt_u64("shed-pps", arg, 0, 100000000);
		else if (arg[4] == ':')
			o->shed_target_pct = (unsigned)opt_u64("shed-pps auto:", arg + 5, 1, 100);
		else if (arg[4] != '\0')
			fatalx("--shed-pps: \"%s\": expected a number, auto or auto:PERCENT", arg);
		break;
	case OPT_ENFORCE:
		if (strcmp(arg, "off") == 0) o->enforce = ENFORCE_OFF;
		else if (strcmp(arg, "dry-run") == 0) o->enforce = ENFORCE_DRY_RUN;
		else if (strcmp(arg, "on") == 0) o->enforce = ENFORCE_ON;
		else fatalx("--enforce: \"%s\": expected off, dry-run or on", arg);
		break;
	case OPT_ALLOW: opt_add(o->allow, &o->n_allow, arg, "allow"); break;
	case OPT_THRESHOLDS: o->thresholds = arg; break;
	case OPT_THRESHOLD: opt_add(o->threshold_kv, &o->n_threshold_kv, arg, "threshold"); break;
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &o->log_level) != 0)
			fatalx("--log-level: \"%s\": expected debug, info, warn or error", arg);
		break;
	case OPT_SYSLOG: o->use_syslog = true; break;
	case OPT_USER: o->user = arg; break;
	case OPT_ENFORCER: o->enforcer = arg; break;
	case OPT_HEARTBEAT:
		if (config_parse_double(arg, 0.1, 3600, &o->heartbeat_s) != 0)
			fatalx("--heartbeat: \"%s\": expected seconds in 0.1..3600", arg);
		break;
	case 'h': usage(stdout); exit(0);
	case 'V': printf("gatewatch-probe %s\n", PROBE_VERSION); exit(0);
	default: usage(stderr); exit(2);
	}
}

static void
opts_parse(struct opts *o, int argc, char **argv)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->interval_s = 1;
	o->promisc = true;
	o->shed_auto = -1;
	o->enforce = ENFORCE_DRY_RUN;
	o->log_level = LOG_LVL_INFO;
	o->heartbeat_s = 5;
	default_probe_id(o->probe_id, sizeof(o->probe_id));
	while ((c = getopt_long(argc, argv, "i:r:f:hV", long_opts, NULL)) != -1)
		opt_parse_one(o, c, optarg);
	if (optind < argc)
		fatalx("unexpected argument \"%s\" (see --help)", argv[optind]);
	if ((o->iface == NULL) == (o->file == NULL))
		fatalx("give exactly one of -i IFACE and -r FILE (see --help)");
	if (o->customer_map != NULL && o->customer != NULL)
		fatalx("--customer-map and --customer exclude each other");
	if (o->n_lan_prefix > 0 && o->customer == NULL)
		fatalx("--lan-prefix needs --customer");
	if ((o->server_key == NULL) != (o->client_key == NULL))
		fatalx("CURVE needs both --curve-server-key and --curve-key");
	if (o->server_key != NULL && o->operator_ep == NULL)
		fatalx("--curve-server-key/--curve-key need --operator");
}

static struct customer_map *
setup_map(const struct opts *o)
{
	struct customer_map *m = customer_map_new();
	char err[GW_TEXT_MAX];
	size_t i;

	if (m == NULL)
		fatalx("out of memory");
	if (o->customer_map != NULL) {
		if (customer_map_load(m, o->customer_map) != 0)
			fatalx("%s: cannot load the customer map", o->customer_map);
		return m;
	}
	for (i = 0; i < o->n_lan_prefix; i++)
		if (customer_map_add(m, o->customer, "prefix", o->lan_prefix[i], err,
		    sizeof(err)) != 0)
			fatalx("--lan-prefix %s: %s", o->lan_prefix[i], err);
	if (customer_map_set_catchall(m, o->customer != NULL ? o->customer : "all") != 0)
		fatalx("--customer: \"%s\" is not a valid customer id", o->customer);
	return m;
}

static struct enforce *
setup_enforce(const struct opts *o)
{
	struct enforce_config ec = {
		.mode = o->enforce, .enforcer_path = o->enforcer,
		.enforcer_user = getuid() == 0 ? o->user : NULL,
		.enforcer_syslog = o->use_syslog,
	};
	struct enforce *e;
	struct gw_addr a;
	char buf[GW_ADDR_MAX], *slash;
	unsigned long long len;
	size_t i;

	if (o->enforce == ENFORCE_OFF)
		return NULL;
	e = enforce_new(&ec);
	if (e == NULL)
		fatalx("enforcement: cannot set up (see above)");
	for (i = 0; i < o->n_allow; i++) {
		snprintf(buf, sizeof(buf), "%s", o->allow[i]);
		slash = strchr(buf, '/');
		if (slash != NULL)
			*slash++ = '\0';
		if (gw_addr_parse(buf, &a) != 0)
			fatalx("--allow: \"%s\" is not an address or CIDR", o->allow[i]);
		len = a.family == 4 ? 32 : 128;
		if (slash != NULL && config_parse_u64(slash, 0, len, &len) != 0)
			fatalx("--allow: \"%s\": bad prefix length", o->allow[i]);
		if (enforce_allow(e, &a, (unsigned)len) != 0)
			fatalx("--allow: cannot add \"%s\"", o->allow[i]);
	}
	return e;
}

/*
 * Switches to user with no capabilities. Enforcement needs none here: the
 * helper gatewatch-enforcer, already running, holds CAP_NET_ADMIN.
 */
static void
drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		fatalx("--user: no such user \"%s\"", user);
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		fatal("cannot switch to user %s", user);
	if (setuid(0) == 0 && pw->pw_uid != 0)
		fatalx("could regain root after dropping privileges");
	log_info("running as %s without capabilities", user);
}

/*
 * A non-root probe started with capabilities (systemd AmbientCapabilities, a
 * file capability) gives them all up once the capture is open and the helper
 * runs. Failure (e.g. a seccomp filter refusing capset) is only logged.
 */
static void
drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) != 0 ||
	    (data[0].permitted == 0 && data[1].permitted == 0 &&
	    data[0].inheritable == 0 && data[1].inheritable == 0))
		return;
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) != 0)
		log_warn("cannot drop capabilities: %s", strerror(errno));
	else
		log_info("capabilities dropped");
}

static uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- sinks ---- */

static void
sink_stats(struct gw_stats_report *r, void *ctx)
{
	struct probe *pr = ctx;
	struct capture_stats cs;
	struct publish_stats ps;
	struct gw_msg m;

	if (pr->jsonl != NULL && jsonl_stats(pr->jsonl, pr->o->probe_id, r) != 0)
		pr->jsonl_failed = true;
	if (pr->pub == NULL)
		return;
	health_sample(pr->health, &r->health);
	if (capture_stats(pr->cap, &cs) == 0) {
		r->health.pcap_received = cs.received;
		r->health.pcap_dropped = cs.dropped;
		r->health.pcap_if_dropped = cs.if_dropped;
	}
	publish_get_stats(pr->pub, &ps);
	r->health.queue_dropped = ps.dropped;
	memset(&m, 0, sizeof(m));
	m.type = GW_BODY_STATS;
	m.u.stats = *r;     /* customers stay borrowed */
	publish_send(pr->pub, &m);
}

static void
sink_event(const struct gw_event *ev, void *ctx)
{
	struct probe *pr = ctx;
	struct gw_msg m;

	if (pr->jsonl != NULL && jsonl_event(pr->jsonl, pr->o->probe_id, ev) != 0)
		pr->jsonl_failed = true;
	if (pr->pub == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.type = GW_BODY_EVENT;
	m.u.event = *ev;
	publish_send(pr->pub, &m);
}

static void
sink_flow(const struct gw_flow_record *fr, void *ctx)
{
	struct probe *pr = ctx;
	struct gw_msg m;

	if (pr->jsonl != NULL && jsonl_flow(pr->jsonl, pr->o->probe_id, fr) != 0)
		pr->jsonl_failed = true;
	if (pr->pub == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.type = GW_BODY_FLOW;
	m.u.flow = *fr;
	publish_send(pr->pub, &m);
}

/* ---- operator channel ---- */

static void
send_hello(struct probe *pr)
{
	struct gw_msg m;
	struct gw_hello *h = &m.u.hello;
	size_t i, n = customer_count(pr->map);

	memset(&m, 0, sizeof(m));
	m.type = GW_BODY_HELLO;
	snprintf(h->software, sizeof(h->software), "gatewatch-probe %s", PROBE_VERSION);
	if (gethostname(h->hostname, sizeof(h->hostname)) != 0)
		h->hostname[0] = '\0';
	h->hostname[sizeof(h->hostname) - 1] = '\0';
	h->start_ts = (double)wall_us() / 1e6;
	h->interval_ms = (uint32_t)llround(pr->o->interval_s * 1000);
	snprintf(h->mode, sizeof(h->mode), "%s", pr->o->file ? "offline" : "live");
	h->n_customers = n > 1 ? n - 1 : 0;
	for (i = 1; i < n && i - 1 < GW_LIST_MAX; i++)
		snprintf(h->customers[i - 1], GW_ID_MAX, "%s", customer_id(pr->map, (int)i));
	if (h->n_customers > GW_LIST_MAX)
		h->n_customers = GW_LIST_MAX;
	/* After a move: which seqs went to other shards (not lost there). */
	h->n_away = publish_away(pr->pub, shard_current(&pr->shard), h->away,
	    GW_AWAY_MAX);
	publish_send(pr->pub, &m);
}

/*
 * Runs the operator's commands waiting on the socket, at most 16 per call.
 * True when the socket is drained (what run_live needs before it sleeps on
 * the socket's edge-style descriptor), false when more may wait.
 */
static bool
handle_commands(struct probe *pr)
{
	struct gw_msg in, out;
	struct control_deps deps;
	int i, rc;

	if (pr->pub == NULL)
		return true;
	for (i = 0; i < 16; i++) {
		rc = publish_recv(pr->pub, &in);
		if (rc == 0)
			return true;
		if (rc < 0)
			continue;
		if (in.type == GW_BODY_COMMAND) {
			deps.enforce = pr->enf;
			deps.detect = engine_detect(pr->eng);
			deps.flows = engine_flows(pr->eng);
			deps.dpi = engine_dpi(pr->eng);
			memset(&out, 0, sizeof(out));
			out.type = GW_BODY_RESULT;
			control_handle(&deps, &in.u.command, &out.u.result);
			log_info("command %" PRIu64 " %s: %s", in.u.command.id,
			    in.u.command.kind, out.u.result.message);
			publish_send(pr->pub, &out);
		}
		gw_msg_clear(&in);
	}
	return false;
}

/* ---- loops ---- */

static void
on_packet(const struct capture_pkt *cp, void *ctx)
{
	struct probe *pr = ctx;
	struct engine_frame fr = { cp->ts_us, cp->caplen, cp->wirelen, cp->data };

	engine_packet(pr->eng, &fr);
}

static void
on_signal(int sig)
{
	(void)sig;
	probe_stop = 1;
}

static void check_shard(struct probe *pr);

static void
run_offline(struct probe *pr)
{
	int rc;

	while (!probe_stop) {
		rc = capture_dispatch(pr->cap, 4096, on_packet, pr);
		if (rc < 0)
			break;
		(void)handle_commands(pr);
		check_shard(pr);
	}
}

/*
 * With several --operator endpoints: when the watcher thread finished a
 * round of reachability checks, decides; on a change moves the socket and
 * says Hello (with the seqs that went elsewhere; the new shard re-sends the
 * bans in force). Leaving a shard that is up, it first sends it a
 * "leaving" heartbeat and lets ZeroMQ's queue drain to it. Never blocks.
 */
static void
check_shard(struct probe *pr)
{
	bool up[SHARD_MAX] = { false };
	size_t old = pr->shard.cur;
	struct gw_msg m;

	if (pr->pub == NULL || pr->watch == NULL ||
	    !shard_watch_read(pr->watch, &pr->watch_rounds, up))
		return;
	if (shard_decide(&pr->shard, up, mono_s()) == old)
		return;
	log_info("shard: %s %s, moving to %s", pr->shard.ep[old],
	    up[old] ? "is no longer the best one up" : "is down",
	    shard_current(&pr->shard));
	if (up[old]) {
		memset(&m, 0, sizeof(m));
		m.type = GW_BODY_HEARTBEAT;
		m.u.heartbeat.ts = (double)wall_us() / 1e6;
		m.u.heartbeat.leaving = true;
		if (publish_leave(pr->pub, &m) != 0)
			log_info("shard: backlog waiting: no leaving mark to %s",
			    pr->shard.ep[old]);
	}
	if (publish_reconnect(pr->pub, pr->shard.ep[old],
	    shard_current(&pr->shard), up[old] ? 1000 : 0) == 0)
		send_hello(pr);
}

/*
 * Sleeps on the capture and on the operator socket at once, so that a packet
 * batch (every CAPTURE_TIMEOUT_MS at most) and a command (a ban) are handled
 * the moment they arrive. ZeroMQ's descriptor is edge-style: the commands
 * are drained last in every pass, after everything this pass sent, and the
 * loop does not sleep while more may wait.
 */
static void
run_live(struct probe *pr)
{
	struct pollfd pfd[2] = {
		{ .fd = capture_fd(pr->cap), .events = POLLIN },
		{ .fd = -1, .events = POLLIN },
	};
	double next_hb = mono_s() + pr->o->heartbeat_s, next_sec = 0, now;
	bool drained = true;
	struct gw_msg hb;

	if (pfd[0].fd < 0)
		log_warn("capture: no selectable descriptor; polling every 10 ms");
	while (!probe_stop) {
		/* A shard move replaces the socket (check_shard): ask each pass. */
		pfd[1].fd = pr->pub != NULL ? publish_fd(pr->pub) : -1;
		/* poll() ignores a negative fd; without the capture's, wake every 10 ms. */
		poll(pfd, 2, !drained ? 0 : pfd[0].fd < 0 ? CAPTURE_TIMEOUT_MS : 100);
		if (probe_stop)
			break;
		if (capture_dispatch(pr->cap, -1, on_packet, pr) == -1)
			break;
		engine_tick(pr->eng, wall_us());
		now = mono_s();
		if (now >= next_sec) {
			if (pr->enf != NULL)
				enforce_tick(pr->enf, wall_us());
			check_shard(pr);
			next_sec = now + 1;
		}
		if (pr->pub != NULL && now >= next_hb) {
			memset(&hb, 0, sizeof(hb));
			hb.type = GW_BODY_HEARTBEAT;
			hb.u.heartbeat.ts = (double)wall_us() / 1e6;
			publish_send(pr->pub, &hb);
			next_hb = now + pr->o->heartbeat_s;
		}
		drained = handle_commands(pr);
	}
}

/* CPU time (user + system) of this process in seconds. */
static double
cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
print_summary(struct probe *pr, double elapsed, double cpu)
{
	struct engine_counters c;
	struct dpi_stats ds;
	char errs[512] = "";
	size_t off = 0;
	int r;

	engine_get_counters(pr->eng, &c);
	for (r = DECODE_NON_IP + 1; r < DECODE_RESULT_MAX; r++)
		if (c.by_result[r] > 0 && off < sizeof(errs))
			off += (size_t)snprintf(errs + off, sizeof(errs) - off, " %s=%" PRIu64,
			    decode_result_name((enum decode_result)r), c.by_result[r]);
	fprintf(stderr, "gatewatch-probe: packets %" PRIu64 " ip %" PRIu64
	    " ip_bytes %" PRIu64 " non_ip %" PRIu64 " errors:%s flows %" PRIu64
	    " reports %" PRIu64 " elapsed %.3f s %.0f packets/s cpu %.3f s"
	    " peak_rss_kb %" PRIu64 " shed_packets %" PRIu64 " shed_flows %" PRIu64
	    " shed_starts %" PRIu64 " shed_budget_pps %" PRIu64 "\n",
	    c.packets, c.ip_packets, c.ip_bytes, c.by_result[DECODE_NON_IP],
	    off ? errs : " none", c.flows_created,
	    c.reports, elapsed, elapsed > 0 ? (double)c.packets / elapsed : 0,
	    cpu, health_peak_rss_bytes() / 1024, c.shed_packets, c.shed_flows,
	    c.shed_starts, engine_shed_budget(pr->eng, NULL, 0));
	dpi_get_stats(engine_dpi(pr->eng), &ds);
	log_debug("dpi: packets %" PRIu64 " classified %" PRIu64 " given_up %"
	    PRIu64 " forced %" PRIu64, ds.packets, ds.classified, ds.given_up,
	    ds.states_forced);
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;    /* no SA_RESTART: poll() returns at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
setup_capture(struct probe *pr)
{
	const struct opts *o = pr->o;
	struct capture_config cc = {
		.iface = o->iface, .file = o->file, .filter = o->filter,
		.snaplen = o->snaplen, .promisc = o->promisc, .immediate = o->immediate,
		.buffer_mb = o->buffer_mb, .timeout_ms = CAPTURE_TIMEOUT_MS,
	};

	pr->cap = capture_open(&cc);
	if (pr->cap == NULL)
		fatalx("cannot open the capture (see above)");
	if (!decode_dlt_supported(capture_datalink(pr->cap)))
		fatalx("link type %d is not supported", capture_datalink(pr->cap));
}

/* --threshold KEY=VALUE options, applied after the thresholds file. */
static void
apply_thresholds(struct detect *d, const struct opts *o)
{
	size_t i;

	for (i = 0; i < o->n_threshold_kv; i++) {
		const char *kv = o->threshold_kv[i], *eq = strchr(kv, '=');
		char key[128], *end;
		double v;

		if (eq == NULL || (size_t)(eq - kv) >= sizeof(key))
			fatalx("--threshold: \"%s\": expected KEY=VALUE", kv);
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		errno = 0;
		v = strtod(eq + 1, &end);
		if (end == eq + 1 || *end != '\0' || errno != 0 ||
		    detect_set_threshold(d, key, v) != 0)
			fatalx("--threshold: \"%s\": expected a known key and a number "
			    "in its range (see --help)", kv);
	}
}
static void
setup_engine(struct probe *pr)
{
	const struct opts *o = pr->o;
	struct engine_config ec;

	memset(&ec, 0, sizeof(ec));
	ec.map = pr->map;
	ec.dlt = capture_datalink(pr->cap);
	ec.interval_us = (uint64_t)llround(o->interval_s * 1e6);
	ec.flow.max_flows = (size_t)o->max_flows;
	ec.flow.idle_timeout_us = o->idle_ms * 1000;
	ec.flow.active_timeout_us = o->active_ms * 1000;
	ec.dpi.max_pkts = o->dpi_packets;
	ec.dpi.max_states = (size_t)o->dpi_states;
	ec.shed.max_pps = o->shed_pps;
	/* Unset: auto live; off for a replay, whose output then depends on nothing but the file. */
	ec.shed.auto_budget = o->shed_auto == 1 || (o->shed_auto == -1 && o->file == NULL);
	ec.shed.target_share = o->shed_target_pct / 100.0;
	ec.thresholds_path = o->thresholds;
	ec.sink.stats = sink_stats;
	ec.sink.event = sink_event;
	ec.sink.flow = o->flows ? sink_flow : NULL;
	ec.sink.ctx = pr;
	pr->eng = engine_new(&ec);
	if (pr->eng == NULL)
		fatalx("cannot start the packet engine (see above)");
	apply_thresholds(engine_detect(pr->eng), o);
}

static void
setup_outputs(struct probe *pr)
{
	const struct opts *o = pr->o;
	char err[256];
	struct publish_config pc = {
		.endpoint = NULL, .probe_id = o->probe_id,
		.sndhwm = o->queue, .backlog_bytes = (size_t)o->queue_bytes,
		.server_key_path = o->server_key,
		.client_key_path = o->client_key, .patient = o->file != NULL,
	};

	if (o->operator_ep != NULL) {
		if (shard_init(&pr->shard, o->operator_ep, o->probe_id, err,
		    sizeof(err)) == -1)
			fatalx("--operator: %s", err);
		pc.endpoint = shard_current(&pr->shard);
		if (pr->shard.n > 1)
			log_info("shard: reporting to %s (rank 1 of %zu for %s)",
			    pc.endpoint, pr->shard.n, o->probe_id);
	}
	if (o->operator_ep != NULL && (pr->pub = publish_new(&pc)) == NULL)
		fatalx("--operator %s: cannot set up (see above)", o->operator_ep);
	if (pr->pub != NULL && pr->shard.n > 1 &&
	    (pr->watch = shard_watch_start(&pr->shard, 300, 1.0)) == NULL)
		fatalx("shard: cannot start the reachability thread");
	pr->health = health_new();
	if (pr->health == NULL)
		fatalx("out of memory");
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct probe pr;
	double t0, c0;
	int rc = 0;

	log_init("gatewatch-probe", LOG_LVL_INFO, false);
	opts_parse(&o, argc, argv);
	log_init("gatewatch-probe", o.log_level, o.use_syslog);
	memset(&pr, 0, sizeof(pr));
	pr.o = &o;
	install_signals();
	pr.map = setup_map(&o);
	setup_capture(&pr);
	pr.enf = setup_enforce(&o);
	/* Like tcpdump -w: the output file is opened with the start-up privileges. */
	if (o.jsonl != NULL && (pr.jsonl = jsonl_open(o.jsonl)) == NULL)
		fatalx("--jsonl %s: cannot open", o.jsonl);
	if (o.user != NULL)
		drop_privileges(o.user);
	else if (getuid() != 0)
		drop_capabilities();
	setup_outputs(&pr);
	setup_engine(&pr);
	if (pr.pub != NULL)
		send_hello(&pr);
	t0 = mono_s();
	c0 = cpu_s();
	if (o.file != NULL)
		run_offline(&pr);
	else
		run_live(&pr);
	engine_finish(pr.eng);       /* last interval, then flow records */
	handle_commands(&pr);
	print_summary(&pr, mono_s() - t0, cpu_s() - c0);
	if (jsonl_close(pr.jsonl) != 0 || pr.jsonl_failed) {
		log_err("--jsonl %s: write failed", o.jsonl);
		rc = 1;
	}
	engine_free(pr.eng);
	shard_watch_stop(pr.watch);
	publish_free(pr.pub, 2000);
	enforce_free(pr.enf);
	health_free(pr.health);
	capture_close(pr.cap);
	customer_map_free(pr.map);
	return rc;
}
