/* main.c: gatewatch-operator: options, start-up, the ingest loop, signals, orderly shutdown. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <unistd.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cluster.h"
#include "config.h"
#include "correlate.h"
#include "events.h"
#include "forward.h"
#include "http.h"
#include "ingest.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "report.h"
#include "respond.h"
#include "static.h"
#include "store.h"
#include "usage.h"

#define MAIN_ROLLUP_PER_S 20   /* customers whose daily 95th values are stored per second */
/*
 * Also bounds how long an API ban (respond_queue.c) and a ban or event from
 * the cluster (cluster_poll) wait for the loop: 100 ms made a manual ban
 * take 150 ms to reach nft; 10 ms costs ~100 idle wakeups a second.
 */
#define MAIN_POLL_MS 10

struct opts {
	char *listen, *http, *rrd_dir, *rrdcached, *curve_secret, *probe_keys;
	char *probes, *log_level, *db, *policy, *dashboard_dir, *tz, *plans, *seq_state;
	char *nats, *shard_id, *api_url;
	char *nats_user, *nats_pwfile, *nats_creds, *nats_ca, *nats_cert, *nats_key;
	unsigned long long history, max_events, metrics_max, store_backlog;
	int use_syslog;
};

/* What the ingest hooks and the respond send callback work on (main's frame). */
struct main_ctx {
	struct ingest    *in;
	struct live      *live;
	struct events    *es;
	struct respond   *rs;
	struct correlate *co;
	struct usage     *us;   /* application bytes per day for reports */
	struct report    *rep;  /* daily 95th roll-up (ingest thread) */
	struct cluster   *cl;            /* NULL = standalone (no --nats) */
	uint32_t          ban_timeout_s; /* BANS key TTL */
};

static volatile sig_atomic_t main_stop;

static void
main_on_signal(int sig)
{
	(void)sig;
	main_stop = 1;
}

/* Sets the time zone of reports; fatal for a zone the system does not know. */
static void
main_tz(const char *tz)
{
	char path[PATH_MAX];

	if (tz != NULL) {
		snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
		if (tz[0] == '\0' || strstr(tz, "..") != NULL || tz[0] == '/' ||
		    access(path, R_OK) == -1)
			fatalx("--tz: unknown time zone \"%s\" (expected a name "
			    "under /usr/share/zoneinfo, e.g. Europe/Zurich or UTC)",
			    tz);
		if (setenv("TZ", tz, 1) == -1)
			fatalx("--tz: out of memory");
	}
	tzset();
}

static void
main_usage(FILE *f)
{
	fprintf(f,
"usage: gatewatch-operator [options]\n"
"       gatewatch-operator --keygen DIR NAME\n"
"Receives probe reports over ZeroMQ, keeps live state, writes RRD files\n"
"through rrdcached and serves the HTTP API.\n"
"  --listen ENDPOINT[,...]  ZeroMQ ROUTER endpoints, comma-separated, e.g.\n"
"                           tcp://127.0.0.1:7700,ipc:///run/gatewatch/op.sock\n"
"                           (default tcp://127.0.0.1:7700)\n"
"  --http ADDR:PORT         HTTP API address (default " HTTP_DEFAULT_ADDR ")\n"
"  --rrd-dir DIR            RRD directory, DIR/<customer>.rrd (default ./rrd)\n"
"  --rrdcached ADDR         rrdcached address: unix:/path/sock, /path/sock or\n"
"                           host:port (then DIR must be rrdcached's -b base);\n"
"                           without it RRD files are written directly\n"
"  --store-backlog BYTES    memory for RRD steps waiting for rrdcached (down or\n"
"                           slow); when full the oldest are dropped and counted\n"
"                           (rrd_dropped); %u..%llu\n"
"                           (default %u bytes = %u steps)\n"
"  --curve-secret-file F    enable CURVE: F has \"secret Z85\" and \"public Z85\"\n"
"                           lines (see --keygen)\n"
"  --probe-keys F           with CURVE: lines \"probe_id z85_public_key\"; only\n"
"                           these keys may connect, each only as its probe id\n"
"  --probes F               without CURVE: allowed probe ids (words); others are\n"
"                           rejected and counted\n"
"  --history N              intervals kept in memory per customer (default %d)\n"
"  --metrics-max-customers N\n"
"                           customers on /metrics (default %d, 1..%d); with\n"
"                           more, only the N with the highest rx bit/s, and\n"
"                           gatewatch_metrics_customers_omitted counts the rest\n"
"  --seq-state FILE         keep the probes' sequence numbers in FILE across\n"
"                           restarts: envelopes lost while the operator was\n"
"                           down are counted as lost (default: not kept)\n"
"  --dashboard-dir DIR      NOC dashboard files, served at / and /ui/NAME\n"
"                           (default " GW_DASHBOARD_DIR ", else ../dashboards\n"
"                           next to the binary's directory)\n"
"  --db PATH                SQLite database of events and countermeasures\n"
"                           (default: gatewatch.db next to the RRD directory,\n"
"                           i.e. RRD_DIR/../gatewatch.db); active bans in it are\n"
"                           re-sent to the probes after a restart\n"
"  --max-events N           events kept in the database (default %d); the\n"
"                           oldest are deleted, countermeasures are kept\n"
"  --policy FILE            countermeasure policy, \"key value\" lines:\n"
"                           ban_timeout_s, global_min_probes, global_window_s,\n"
"                           distributed_min_sources, distributed_window_s,\n"
"                           silent_timeout_s, hook PATH, hook_timeout_s,\n"
"                           allow CIDR (repeatable); defaults without it\n"
"  --tz ZONE                time zone of capacity reports (calendar months,\n"
"                           days, busy hour), e.g. Europe/Zurich (default: TZ\n"
"                           of the environment, else the system's)\n"
"  --plans FILE             plan rates for capacity reports: lines\n"
"                           \"CUSTOMER DOWN/UP\" or \"default DOWN/UP\", bit/s\n"
"                           with k/M/G suffixes, e.g. \"c101 100M/20M\"\n"
"  --nats URL[,URL...]      sharded operators: join the NATS JetStream cluster\n"
"                           at these nats:// or tls:// URLs (EVENTS stream,\n"
"                           BANS bucket, see README \"Scaling\"); without it:\n"
"                           standalone\n"
"  --shard-id ID            this operator shard's id (required with --nats)\n"
"  --shard-api HOST:PORT    where the other shards reach this shard's HTTP API\n"
"                           to answer for its customers and the cluster-wide\n"
"                           list routes (default: --http)\n"
"  --nats-user USER         NATS user/password authorization, with\n"
"  --nats-password-file F   the password as the first line of F\n"
"  --nats-creds FILE        NATS credentials file (JWT and nkey seed) instead\n"
"  --nats-tls-ca FILE       TLS to the NATS servers, verified against this CA\n"
"  --nats-tls-cert FILE     TLS client certificate (with --nats-tls-key and\n"
"  --nats-tls-key FILE      --nats-tls-ca) for servers that verify clients\n"
"  --log-level LEVEL        debug, info, warn or error (default info)\n"
"  --syslog                 log to syslog instead of stderr\n"
"  --config FILE            read options from FILE: \"option value\" per line\n"
"                           (option names without --; \"syslog yes\"); command\n"
"                           line options override the file\n"
"  --keygen DIR NAME        write DIR/NAME.key (mode 0600) and DIR/NAME.pub and exit\n"
"  -h, --help               this text\n"
"  --version                print the version\n",
	    STORE_BACKLOG_MIN, (unsigned long long)STORE_BACKLOG_MAX,
	    STORE_BACKLOG_DEFAULT,
	    (unsigned)(STORE_BACKLOG_DEFAULT / store_update_bytes()),
	    LIVE_HISTORY_DEFAULT,
	    METRICS_MAX_CUSTOMERS_DEFAULT, METRICS_MAX_CUSTOMERS_MAX,
	    EVENTS_CAP_DEFAULT);
}

/* The first line of path (a password) into buf, without its newline. 0 or -1. */
static int
main_read_secret(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (f == NULL)
		return -1;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] != '\0' ? 0 : -1;
}

static int
main_set(struct opts *o, const char *key, const char *val, char *err,
    size_t errlen)
{
	char **dst = NULL;

	if (strcmp(key, "listen") == 0) dst = &o->listen;
	else if (strcmp(key, "http") == 0) dst = &o->http;
	else if (strcmp(key, "rrd-dir") == 0) dst = &o->rrd_dir;
	else if (strcmp(key, "rrdcached") == 0) dst = &o->rrdcached;
	else if (strcmp(key, "curve-secret-file") == 0) dst = &o->curve_secret;
	else if (strcmp(key, "probe-keys") == 0) dst = &o->probe_keys;
	else if (strcmp(key, "probes") == 0) dst = &o->probes;
	else if (strcmp(key, "log-level") == 0) dst = &o->log_level;
	else if (strcmp(key, "dashboard-dir") == 0) dst = &o->dashboard_dir;
	else if (strcmp(key, "db") == 0) dst = &o->db;
	else if (strcmp(key, "policy") == 0) dst = &o->policy;
	else if (strcmp(key, "tz") == 0) dst = &o->tz;
	else if (strcmp(key, "plans") == 0) dst = &o->plans;
	else if (strcmp(key, "seq-state") == 0) dst = &o->seq_state;
	else if (strcmp(key, "nats") == 0) dst = &o->nats;
	else if (strcmp(key, "shard-id") == 0) dst = &o->shard_id;
	else if (strcmp(key, "shard-api") == 0) dst = &o->api_url;
	else if (strcmp(key, "nats-user") == 0) dst = &o->nats_user;
	else if (strcmp(key, "nats-password-file") == 0) dst = &o->nats_pwfile;
	else if (strcmp(key, "nats-creds") == 0) dst = &o->nats_creds;
	else if (strcmp(key, "nats-tls-ca") == 0) dst = &o->nats_ca;
	else if (strcmp(key, "nats-tls-cert") == 0) dst = &o->nats_cert;
	else if (strcmp(key, "nats-tls-key") == 0) dst = &o->nats_key;
	else if (strcmp(key, "max-events") == 0) {
		if (config_parse_u64(val, 1, 100000000ULL, &o->max_events) == -1) {
			snprintf(err, errlen, "max-events: \"%.64s\" is not "
			    "1..100000000", val);
			return -1;
		}
		return 0;
	} else if (strcmp(key, "store-backlog") == 0) {
		if (config_parse_u64(val, STORE_BACKLOG_MIN, STORE_BACKLOG_MAX,
		    &o->store_backlog) == -1) {
			snprintf(err, errlen, "store-backlog: \"%.64s\" is not "
			    "%u..%llu bytes", val, STORE_BACKLOG_MIN,
			    (unsigned long long)STORE_BACKLOG_MAX);
			return -1;
		}
		return 0;
	} else if (strcmp(key, "metrics-max-customers") == 0) {
		if (config_parse_u64(val, 1, METRICS_MAX_CUSTOMERS_MAX,
		    &o->metrics_max) == -1) {
			snprintf(err, errlen, "metrics-max-customers: \"%.64s\" is "
			    "not 1..%d", val, METRICS_MAX_CUSTOMERS_MAX);
			return -1;
		}
		return 0;
	} else if (strcmp(key, "history") == 0) {
		if (config_parse_u64(val, 1, LIVE_HISTORY_MAX, &o->history) == -1) {
			snprintf(err, errlen, "history: \"%.64s\" is not 1..%d", val,
			    LIVE_HISTORY_MAX);
			return -1;
		}
		return 0;
	} else if (strcmp(key, "syslog") == 0) {
		if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0) {
			snprintf(err, errlen, "syslog: expected yes or no, got \"%.64s\"",
			    val);
			return -1;
		}
		o->use_syslog = val[0] == 'y';
		return 0;
	} else {
		snprintf(err, errlen, "unknown option \"%.64s\"", key);
		return -1;
	}
	free(*dst);
	if ((*dst = strdup(val)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
main_config_line(const struct config_line *l, void *ctx, char *err,
    size_t errlen)
{
	if (l->nwords != 2) {
		snprintf(err, errlen, "expected \"option value\"");
		return -1;
	}
	return main_set(ctx, l->words[0], l->words[1], err, errlen);
}

static const struct option main_longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "http", required_argument, NULL, 'H' },
	{ "rrd-dir", required_argument, NULL, 'd' },
	{ "rrdcached", required_argument, NULL, 'r' },
	{ "curve-secret-file", required_argument, NULL, 'c' },
	{ "probe-keys", required_argument, NULL, 'k' },
	{ "probes", required_argument, NULL, 'p' },
	{ "history", required_argument, NULL, 'n' },
	{ "metrics-max-customers", required_argument, NULL, 'm' },
	{ "store-backlog", required_argument, NULL, 'B' },
	{ "seq-state", required_argument, NULL, 'Q' },
	{ "db", required_argument, NULL, 'D' },
	{ "policy", required_argument, NULL, 'P' },
	{ "max-events", required_argument, NULL, 'M' },
	{ "dashboard-dir", required_argument, NULL, 'W' },
	{ "log-level", required_argument, NULL, 'L' },
	{ "tz", required_argument, NULL, 'z' },
	{ "plans", required_argument, NULL, 'a' },
	{ "nats", required_argument, NULL, 'N' },
	{ "shard-id", required_argument, NULL, 'I' },
	{ "shard-api", required_argument, NULL, 'A' },
	{ "nats-user", required_argument, NULL, 'u' },
	{ "nats-password-file", required_argument, NULL, 'w' },
	{ "nats-creds", required_argument, NULL, 'j' },
	{ "nats-tls-ca", required_argument, NULL, 't' },
	{ "nats-tls-cert", required_argument, NULL, 'x' },
	{ "nats-tls-key", required_argument, NULL, 'y' },
	{ "syslog", no_argument, NULL, 'S' },
	{ "config", required_argument, NULL, 'C' },
	{ "keygen", required_argument, NULL, 'K' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Loads --config first (wherever it is), then the other options override it. */
static void
main_parse(int argc, char **argv, struct opts *o, const char **keygen_dir)
{
	char err[256];
	int ch;

	for (int i = 1; i < argc - 1; i++)
		if (strcmp(argv[i], "--config") == 0 &&
		    config_parse_file(argv[i + 1], main_config_line, o) == -1)
			exit(1);
	while ((ch = getopt_long(argc, argv, "h", main_longopts, NULL)) != -1) {
		const char *key = NULL;
		switch (ch) {
		case 'h': main_usage(stdout); exit(0);
		case 'V': printf("gatewatch-operator %s\n", GW_VERSION); exit(0);
		case 'C': continue;
		case 'K': *keygen_dir = optarg; continue;
		case 'S': o->use_syslog = 1; continue;
		case '?': main_usage(stderr); exit(2);
		default:
			for (const struct option *lo = main_longopts; lo->name; lo++)
				if (lo->val == ch)
					key = lo->name;
		}
		if (key == NULL || main_set(o, key, optarg, err, sizeof(err)) == -1) {
			fprintf(stderr, "gatewatch-operator: --%s\n", err);
			exit(2);
		}
	}
}

/*
 * Opens the dashboard files: dir when given (fatal if unusable), else the
 * installed GW_DASHBOARD_DIR, else ../dashboards beside the binary's directory
 * (a source checkout's build/). Returns NULL (warned) when there is none.
 */
static struct static_site *
main_dashboard_open(const char *dir)
{
	char err[512], exe[PATH_MAX], alt[PATH_MAX + 32];
	struct static_site *site;
	ssize_t n;

	if (dir != NULL) {
		if ((site = static_open(dir, err, sizeof(err))) == NULL)
			fatalx("--dashboard-dir: %s", err);
		return site;
	}
	if ((site = static_open(GW_DASHBOARD_DIR, err, sizeof(err))) != NULL)
		return site;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(alt, sizeof(alt), "%s/../dashboards", dirname(exe));
		if ((site = static_open(alt, err, sizeof(err))) != NULL)
			return site;
	}
	log_warn("no dashboard (use --dashboard-dir): %s", err);
	return NULL;
}

static double
main_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;   /* no SA_RESTART: poll returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* respond reaps its hook processes: SIGCHLD must not be ignored
	 * (an ignored disposition is inherited across exec). */
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
}

/* ---- glue between ingest, the events store, correlate and respond ---- */

static int
main_send_command(const char *probe_id, const struct gw_command *cmd, void *ctx)
{
	struct main_ctx *mc = ctx;

	return mc->in != NULL ? ingest_send_command(mc->in, probe_id, cmd) : -1;
}

static void
main_on_event(void *ctx, const char *probe_id, const struct gw_event *ev)
{
	struct main_ctx *mc = ctx;
	double now = main_now();

	events_add(mc->es, probe_id, now, ev, NULL);
	respond_event(mc->rs, probe_id, ev, now);
	/* Sharded: every shard correlates every shard's events (main_cl_event). */
	if (mc->cl != NULL)
		cluster_publish_event(mc->cl, probe_id, ev);
	else
		correlate_event(mc->co, probe_id, ev, now);
}

static void
main_on_result(void *ctx, const char *probe_id,
    const struct gw_command_result *res)
{
	struct main_ctx *mc = ctx;

	respond_command_result(mc->rs, probe_id, res, main_now());
}

static void
main_on_hello(void *ctx, const char *probe_id, const struct gw_hello *hello)
{
	struct main_ctx *mc = ctx;
	double now = main_now();

	respond_probe_hello(mc->rs, probe_id, now);
	correlate_probe_seen(mc->co, probe_id, hello->interval_ms / 1000.0, now);
}

static void
main_on_seen(void *ctx, const char *probe_id, const char *peer_address)
{
	struct main_ctx *mc = ctx;
	double now = main_now();

	respond_probe_seen(mc->rs, probe_id, peer_address, now);
	correlate_probe_seen(mc->co, probe_id, 0, now);
}

static void
main_on_stats(void *ctx, const char *probe_id,
    const struct gw_customer_stats *cs)
{
	struct main_ctx *mc = ctx;
	double now = main_now();

	correlate_stats(mc->co, probe_id, cs, now);
	usage_add(mc->us, now, cs);
	cluster_own(mc->cl, cs->customer, now);   /* sharded: any shard's API finds it */
}

/* Events the operator derives (correlate): stored, shown, given to the policy. */
static void
main_corr_event(const char *probe_id, const struct gw_event *ev, void *ctx)
{
	struct main_ctx *mc = ctx;
	double now = main_now();
	enum cluster_claim r;
	struct cluster_ban b;

	events_add(mc->es, probe_id, now, ev, NULL);
	live_event_add(mc->live, probe_id, ev);
	if (mc->cl != NULL && strcmp(ev->kind, "distributed_attack") == 0 &&
	    !ev->cleared) {
		/* Every shard sees it: only the shard that claims it runs the hook. */
		memset(&b, 0, sizeof(b));
		snprintf(b.src, sizeof(b.src), "%s", ev->customer);
		snprintf(b.kind, sizeof(b.kind), "%s", ev->kind);
		snprintf(b.customer, sizeof(b.customer), "%s", ev->customer);
		b.timeout_s = mc->ban_timeout_s;
		/* No JetStream answer: better a hook run twice than none. */
		r = cluster_claim(mc->cl, "dist", &b, now);
		if (r != CLUSTER_CLAIM_WON && r != CLUSTER_CLAIM_ERROR)
			return;
	}
	respond_event(mc->rs, probe_id, ev, now);
}

static void
main_corr_global(const struct correlate_global *g, void *ctx)
{
	struct main_ctx *mc = ctx;
	struct correlate_global local;
	struct cluster_ban b;

	if (mc->cl == NULL) {
		respond_global(mc->rs, g, g->ts);
		return;
	}
	/* Sharded: claim it in BANS; the watch applies it at every shard. */
	memset(&b, 0, sizeof(b));
	snprintf(b.src, sizeof(b.src), "%s", g->src);
	snprintf(b.kind, sizeof(b.kind), "%s", g->kind);
	snprintf(b.customer, sizeof(b.customer), "%s", g->customer);
	b.timeout_s = mc->ban_timeout_s;
	switch (cluster_claim(mc->cl, "src", &b, g->ts)) {
	case CLUSTER_CLAIM_WON:
		respond_hook_global(mc->rs, g, g->ts);
		break;
	case CLUSTER_CLAIM_ERROR:
		/* JetStream not answering (leader election): protect our own
		 * probes now (only ours: the reporting probes may be another
		 * shard's); the claim is retried, its winner runs the hook. */
		local = *g;
		local.n_probes = 0;
		respond_global(mc->rs, &local, g->ts);
		break;
	default:
		break;
	}
}

/* The global attack of BANS key b, decided at ts (no reporting probes). */
static void
main_ban_global(const struct cluster_ban *b, double ts, struct correlate_global *g)
{
	memset(g, 0, sizeof(*g));
	g->ts = ts;
	snprintf(g->src, sizeof(g->src), "%.*s", (int)sizeof(g->src) - 1, b->src);
	snprintf(g->kind, sizeof(g->kind), "%s", b->kind);
	snprintf(g->customer, sizeof(g->customer), "%s", b->customer);
}

/* Sharded: a claim that had failed was retried and won: this shard runs the hook. */
static void
main_cl_won(const char *prefix, const struct cluster_ban *b, void *ctx)
{
	struct main_ctx *mc = ctx;
	struct correlate_global g;

	if (strcmp(prefix, "src") != 0)
		return;		/* "dist" already ran the hook when the claim failed */
	main_ban_global(b, b->decided_ts, &g);
	respond_hook_global(mc->rs, &g, main_now());
}

/* Sharded: an event from a probe of any shard, for the correlator. */
static void
main_cl_event(const char *probe_id, const struct gw_event *ev, void *ctx)
{
	struct main_ctx *mc = ctx;

	correlate_event(mc->co, probe_id, ev, main_now());
}

/* Sharded: a BANS key was created or extended: ban it at this shard's probes. */
static void
main_cl_ban(const struct cluster_ban *b, void *ctx)
{
	struct main_ctx *mc = ctx;
	struct correlate_global g;
	double now = main_now();

	if (b->decided_ts + b->timeout_s <= now)
		return;		/* expired while we were away */
	main_ban_global(b, now, &g);
	respond_global(mc->rs, &g, now);
}

/* The ingest loop: until SIGINT/SIGTERM. */
static void
main_loop(struct main_ctx *mc, struct store *st)
{
	double last_tick = 0, now;

	while (!main_stop) {
		if (ingest_poll(mc->in, MAIN_POLL_MS) == -1 && !main_stop &&
		    errno != EINTR)
			fatalx("ingest failed");
		now = main_now();
		respond_run_requests(mc->rs, now);
		cluster_poll(mc->cl);
		if (now - last_tick >= 1.0) {
			store_tick(st, now);
			usage_tick(mc->us, now);
			report_rollup_tick(mc->rep, (time_t)now, MAIN_ROLLUP_PER_S);
			correlate_tick(mc->co, now);
			respond_tick(mc->rs, now);
			ingest_publish(mc->in);
			last_tick = now;
		}
	}
}

/* Opens the events database and builds the policy engine and correlator. */
static void
main_policy_start(const struct opts *o, struct main_ctx *mc)
{
	struct respond_config *rc = calloc(1, sizeof(*rc));
	struct correlate_config cc;
	char dbpath[4096];
	const char *db = o->db;

	if (rc == NULL)
		fatalx("out of memory");
	memset(&cc, 0, sizeof(cc));
	if (db == NULL) {
		snprintf(dbpath, sizeof(dbpath), "%s/../gatewatch.db",
		    o->rrd_dir ? o->rrd_dir : "rrd");
		db = dbpath;
	}
	if ((mc->es = events_open(&(struct events_config){ .path = db,
	    .max_events = o->max_events })) == NULL)
		fatalx("cannot open the events database %s", db);
	if (o->policy != NULL && respond_config_load(o->policy, rc, &cc) == -1)
		fatalx("--policy %s: bad policy file (see above)", o->policy);
	if ((mc->rs = respond_new(rc, mc->es, main_send_command, mc)) == NULL)
		fatalx("cannot start the countermeasure policy");
	mc->ban_timeout_s = rc->ban_timeout_s ? rc->ban_timeout_s : 600;
	free(rc);
	mc->co = correlate_new(&cc, &(struct correlate_callbacks){
	    .event = main_corr_event, .global = main_corr_global, .ctx = mc });
	if (mc->co == NULL)
		fatalx("cannot start correlation (bad policy values?)");
	log_info("events database %s (%lld events)", db,
	    (long long)events_count(mc->es));
}

int
main(int argc, char **argv)
{
	struct opts o = { .history = LIVE_HISTORY_DEFAULT,
	    .metrics_max = METRICS_MAX_CUSTOMERS_DEFAULT };
	const char *keygen_dir = NULL;
	enum log_level lvl = LOG_LVL_INFO;
	struct static_site *site;
	struct main_ctx mc;
	struct live *lv;
	struct store *st;
	struct report *rep;
	struct report_plans *plans = NULL;
	struct http *h;

	log_init("gatewatch-operator", LOG_LVL_INFO, false);
	main_parse(argc, argv, &o, &keygen_dir);
	if (keygen_dir != NULL) {
		if (optind != argc - 1)
			fatalx("usage: --keygen DIR NAME");
		return ingest_keygen(keygen_dir, argv[optind]) == 0 ? 0 : 1;
	}
	if (optind != argc)
		fatalx("unexpected argument \"%s\" (see --help)", argv[optind]);
	if (o.log_level != NULL && log_level_parse(o.log_level, &lvl) == -1)
		fatalx("--log-level: \"%s\" is not debug, info, warn or error",
		    o.log_level);
	log_init("gatewatch-operator", lvl, o.use_syslog != 0);
	main_signals();
	main_tz(o.tz);   /* before any thread starts: setenv is not thread-safe */

	if ((lv = live_new(o.history, LIVE_EVENTS_DEFAULT)) == NULL)
		fatalx("out of memory");
	struct store_config scfg = { .dir = o.rrd_dir ? o.rrd_dir : "rrd",
	    .rrdcached = o.rrdcached, .backlog_bytes = o.store_backlog };
	if ((st = store_new(&scfg)) == NULL)
		fatalx("cannot start the RRD store");
	memset(&mc, 0, sizeof(mc));
	mc.live = lv;
	main_policy_start(&o, &mc);
	if (o.nats != NULL) {
		char pw[256] = "";
		if (o.nats_pwfile != NULL && main_read_secret(o.nats_pwfile, pw,
		    sizeof(pw)) == -1)
			fatalx("--nats-password-file %s: cannot read a password "
			    "line", o.nats_pwfile);
		struct cluster_config ccfg = { .urls = o.nats,
		    .shard_id = o.shard_id, .ban_ttl_s = mc.ban_timeout_s,
		    .api_addr = o.api_url != NULL ? o.api_url :
		    (o.http != NULL ? o.http : HTTP_DEFAULT_ADDR),
		    .user = o.nats_user, .password = o.nats_pwfile ? pw : NULL,
		    .creds_file = o.nats_creds, .tls_ca = o.nats_ca,
		    .tls_cert = o.nats_cert, .tls_key = o.nats_key };
		if ((mc.cl = cluster_new(&ccfg, &(struct cluster_callbacks){
		    .event = main_cl_event, .ban = main_cl_ban, .won = main_cl_won,
		    .ctx = &mc })) ==
		    NULL)
			fatalx("--nats %s: cannot join the cluster (see above)",
			    o.nats);
		explicit_bzero(pw, sizeof(pw));
	} else if (o.shard_id != NULL || o.nats_user != NULL ||
	    o.nats_pwfile != NULL || o.nats_creds != NULL || o.nats_ca != NULL ||
	    o.nats_cert != NULL || o.nats_key != NULL) {
		fatalx("--shard-id and --nats-* options need --nats");
	}
	struct ingest_config icfg = {
	    .listen = o.listen ? o.listen : "tcp://127.0.0.1:7700",
	    .curve_secret_file = o.curve_secret, .probe_keys_file = o.probe_keys,
	    .probes_file = o.probes, .seq_state_file = o.seq_state };
	struct ingest_hooks hooks = { .ctx = &mc, .on_event = main_on_event,
	    .on_result = main_on_result, .on_hello = main_on_hello,
	    .on_seen = main_on_seen, .on_stats = main_on_stats };
	if ((mc.in = ingest_new(&icfg, lv, st, &hooks)) == NULL)
		fatalx("cannot start ingest");
	if (o.plans != NULL && (plans = report_plans_load(o.plans)) == NULL)
		fatalx("--plans %s: not loaded", o.plans);
	struct usage_config ucfg = { .events = mc.es };
	if ((mc.us = usage_new(&ucfg)) == NULL)
		fatalx("out of memory");
	struct report_config rcfg = { .store = st, .events = mc.es,
	    .plans = plans };
	if ((rep = report_new(&rcfg)) == NULL)
		fatalx("out of memory");
	mc.rep = rep;
	struct api_ctx actx = { .live = lv, .store = st, .events = mc.es,
	    .respond = mc.rs, .report = rep, .start_wall = main_now(),
	    .metrics_max_customers = (size_t)o.metrics_max,
	    .forward = mc.cl != NULL ? forward_request : NULL,
	    .fanout = mc.cl != NULL ? forward_fanout : NULL,
	    .shard_id = mc.cl != NULL ? cluster_shard_id(mc.cl) : NULL,
	    .fctx = mc.cl };
	site = main_dashboard_open(o.dashboard_dir);
	if ((h = http_start(o.http ? o.http : HTTP_DEFAULT_ADDR, &actx, site)) == NULL)
		fatalx("cannot start the HTTP server");
	log_info("gatewatch-operator %s running", GW_VERSION);

	main_loop(&mc, st);

	log_info("shutting down");
	http_stop(h);            /* no API thread waits in respond_submit now */
	static_close(site);
	report_free(rep);
	report_plans_free(plans);
	ingest_publish(mc.in);
	cluster_free(mc.cl);     /* before respond: its callbacks use it */
	respond_free(mc.rs);
	correlate_free(mc.co);
	usage_free(mc.us);       /* last application bytes into the database */
	events_close(mc.es);
	store_free(st, 10000);   /* writes pending steps, rrdcached FLUSHALL */
	ingest_free(mc.in);
	live_free(lv);
	free(o.listen); free(o.http); free(o.rrd_dir); free(o.rrdcached);
	free(o.curve_secret); free(o.probe_keys); free(o.probes); free(o.log_level);
	free(o.db); free(o.policy); free(o.dashboard_dir); free(o.tz); free(o.plans);
	free(o.seq_state);
	free(o.nats); free(o.shard_id); free(o.api_url);
	free(o.nats_user); free(o.nats_pwfile); free(o.nats_creds);
	free(o.nats_ca); free(o.nats_cert); free(o.nats_key);
	return 0;
}
