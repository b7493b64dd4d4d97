/* main.c: gatewatch-operator: options, start-up, the ingest loop, signals, orderly shutdown. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "config.h"
#include "http.h"
#include "ingest.h"
#include "live.h"
#include "log.h"
#include "store.h"

struct opts {
	char *listen, *http, *rrd_dir, *rrdcached, *curve_secret, *probe_keys;
	char *probes, *log_level;
	unsigned long long history;
	int use_syslog;
};

static volatile sig_atomic_t main_stop;

static void
main_on_signal(int sig)
{
	(void)sig;
	main_stop = 1;
}

static void
main_usage(FILE *f)
{
	fprintf(f,
"usage: gatewatch-operator [options]\n"
"       gatewatch-operator --keygen DIR NAME\n"
"Receives probe reports over ZeroMQ, keeps live state, writes RRD files\n"
"through rrdcached and serves the HTTP API.\n"
"  --listen ENDPOINT        ZeroMQ ROUTER endpoint (default tcp://127.0.0.1:7700)\n"
"  --http ADDR:PORT         HTTP API address (default " HTTP_DEFAULT_ADDR ")\n"
"  --rrd-dir DIR            RRD directory, DIR/<customer>.rrd (default ./rrd)\n"
"  --rrdcached ADDR         rrdcached address: unix:/path/sock, /path/sock or\n"
"                           host:port (then DIR must be rrdcached's -b base);\n"
"                           without it RRD files are written directly\n"
"  --curve-secret-file F    enable CURVE: F has \"secret Z85\" and \"public Z85\"\n"
"                           lines (see --keygen)\n"
"  --probe-keys F           with CURVE: lines \"probe_id z85_public_key\"; only\n"
"                           these keys may connect, each only as its probe id\n"
"  --probes F               without CURVE: allowed probe ids (words); others are\n"
"                           rejected and counted\n"
"  --history N              intervals kept in memory per customer (default %d)\n"
"  --log-level LEVEL        debug, info, warn or error (default info)\n"
"  --syslog                 log to syslog instead of stderr\n"
"  --config FILE            read options from FILE: \"option value\" per line\n"
"                           (option names without --; \"syslog yes\"); command\n"
"                           line options override the file\n"
"  --keygen DIR NAME        write DIR/NAME.key (mode 0600) and DIR/NAME.pub and exit\n"
"  -h, --help               this text\n"
"  --version                print the version\n", LIVE_HISTORY_DEFAULT);
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
	else if (strcmp(key, "history") == 0) {
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
	{ "log-level", required_argument, NULL, 'L' },
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
}

/* The ingest loop: until SIGINT/SIGTERM. */
static void
main_loop(struct ingest *in, struct store *st)
{
	double last_tick = 0, now;

	while (!main_stop) {
		if (ingest_poll(in, 200) == -1 && !main_stop && errno != EINTR)
			fatalx("ingest failed");
		now = main_now();
		if (now - last_tick >= 1.0) {
			store_tick(st, now);
			ingest_publish(in);
			last_tick = now;
		}
	}
}

int
main(int argc, char **argv)
{
	struct opts o = { .history = LIVE_HISTORY_DEFAULT };
	const char *keygen_dir = NULL;
	enum log_level lvl = LOG_LVL_INFO;
	struct live *lv;
	struct store *st;
	struct ingest *in;
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

	if ((lv = live_new(o.history, LIVE_EVENTS_DEFAULT)) == NULL)
		fatalx("out of memory");
	struct store_config scfg = { .dir = o.rrd_dir ? o.rrd_dir : "rrd",
	    .rrdcached = o.rrdcached };
	if ((st = store_new(&scfg)) == NULL)
		fatalx("cannot start the RRD store");
	struct ingest_config icfg = {
	    .listen = o.listen ? o.listen : "tcp://127.0.0.1:7700",
	    .curve_secret_file = o.curve_secret, .probe_keys_file = o.probe_keys,
	    .probes_file = o.probes };
	if ((in = ingest_new(&icfg, lv, st, NULL)) == NULL)
		fatalx("cannot start ingest");
	struct api_ctx actx = { .live = lv, .store = st, .start_wall = main_now() };
	if ((h = http_start(o.http ? o.http : HTTP_DEFAULT_ADDR, &actx)) == NULL)
		fatalx("cannot start the HTTP server");
	log_info("gatewatch-operator %s running", GW_VERSION);

	main_loop(in, st);

	log_info("shutting down");
	http_stop(h);
	ingest_publish(in);
	store_free(st, 10000);   /* writes pending steps, rrdcached FLUSHALL */
	ingest_free(in);
	live_free(lv);
	free(o.listen); free(o.http); free(o.rrd_dir); free(o.rrdcached);
	free(o.curve_secret); free(o.probe_keys); free(o.probes); free(o.log_level);
	return 0;
}
