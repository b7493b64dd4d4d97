/* ingest.c: ZeroMQ ROUTER + ZAP handler; decodes, authenticates, tracks sequence numbers, dispatches. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "config.h"
#include "envelope.h"
#include "idmap.h"
#include "ingest.h"
#include "log.h"

#define INGEST_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define INGEST_BATCH        4096   /* messages per ingest_poll() call, at most */
#define INGEST_RID_MAX      256
#define INGEST_SEQ_WINDOW   64
#define INGEST_Z85_LEN      40

/* Everything ingest knows about one probe. */
struct ingest_probe {
	struct live_probe_info info;
	bool     started;
	uint64_t window;       /* bit i set: seq (info.seq - i) was received
	                          (or went to another shard) */
	uint64_t run_start;    /* first seq of the current run */
	bool     run_here;     /* the run started in this process (not loaded):
	                          nothing below run_start was received in it */
	unsigned char rid[INGEST_RID_MAX]; /* ZeroMQ routing id */
	size_t   rid_len;
};

struct ingest {
	void *zctx;
	void *router;
	void *zap;                 /* NULL without CURVE */
	struct live *live;         /* borrowed */
	struct store *store;       /* borrowed */
	struct ingest_hooks hooks;
	struct idmap *probes;      /* probe id -> struct ingest_probe * (owned) */
	struct ingest_probe **pvec;
	size_t nprobes, capprobes;
	struct idmap *keys;        /* z85 public key -> probe id (owned strdup) */
	struct idmap *allow;       /* --probes: id -> (void *)1; NULL = anyone */
	struct live_counters c;
	char *seq_state;           /* path, owned; NULL = not kept */
	bool seq_dirty;            /* seq state changed since it was written */
	struct gw_msg msg;         /* decode buffer (large) */
	struct log_ratelimit rl_garbage, rl_unknown, rl_auth, rl_seq;
};

static double
ingest_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- key and allowlist files ---- */

static bool
ingest_z85_valid(const char *s)
{
	uint8_t bin[32];

	return strlen(s) == INGEST_Z85_LEN && zmq_z85_decode(bin, s) != NULL;
}

struct ingest_secret {
	char secret[INGEST_Z85_LEN + 1];
	char public[INGEST_Z85_LEN + 1];
};

static int
ingest_secret_line(const struct config_line *l, void *ctx, char *err,
    size_t errlen)
{
	struct ingest_secret *k = ctx;
	char *dst;

	if (l->nwords != 2 || (strcmp(l->words[0], "secret") != 0 &&
	    strcmp(l->words[0], "public") != 0)) {
		snprintf(err, errlen, "expected \"secret KEY\" or \"public KEY\"");
		return -1;
	}
	if (!ingest_z85_valid(l->words[1])) {
		snprintf(err, errlen, "not a 40-character z85 key");
		return -1;
	}
	dst = l->words[0][0] == 's' ? k->secret : k->public;
	memcpy(dst, l->words[1], INGEST_Z85_LEN + 1);
	return 0;
}

static int
ingest_keys_line(const struct config_line *l, void *ctx, char *err,
    size_t errlen)
{
	struct ingest *in = ctx;
	char *id;

	if (l->nwords != 2) {
		snprintf(err, errlen, "expected \"probe_id z85_public_key\"");
		return -1;
	}
	if (!gw_id_valid(l->words[0])) {
		snprintf(err, errlen, "bad probe id \"%.64s\"", l->words[0]);
		return -1;
	}
	if (!ingest_z85_valid(l->words[1])) {
		snprintf(err, errlen, "\"%.64s\" is not a 40-character z85 key",
		    l->words[1]);
		return -1;
	}
	if (idmap_get(in->keys, l->words[1]) != NULL) {
		snprintf(err, errlen, "key listed twice");
		return -1;
	}
	if ((id = strdup(l->words[0])) == NULL ||
	    idmap_put(in->keys, l->words[1], id) == -1) {
		free(id);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
ingest_allow_line(const struct config_line *l, void *ctx, char *err,
    size_t errlen)
{
	struct ingest *in = ctx;

	for (int i = 0; i < l->nwords; i++) {
		if (!gw_id_valid(l->words[i])) {
			snprintf(err, errlen, "bad probe id \"%.64s\"", l->words[i]);
			return -1;
		}
		if (idmap_put(in->allow, l->words[i], (void *)1) == -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* ---- sequence state across restarts ---- */

static struct ingest_probe *ingest_probe_get(struct ingest *in, const char *id);

/* "id seq lost duplicates reordered restarts [away accepted]" (older files: 6 words) */
static int
ingest_state_line(const struct config_line *l, void *ctx, char *err,
    size_t errlen)
{
	struct ingest *in = ctx;
	struct ingest_probe *p;
	unsigned long long v[7] = { 0 };

	if ((l->nwords != 6 && l->nwords != 8) || !gw_id_valid(l->words[0])) {
		snprintf(err, errlen, "expected \"probe_id seq lost duplicates "
		    "reordered restarts [away accepted]\"");
		return -1;
	}
	for (int i = 0; i < (int)l->nwords - 1; i++)
		if (config_parse_u64(l->words[i + 1], 0, UINT64_MAX, &v[i]) == -1) {
			snprintf(err, errlen, "\"%.32s\" is not a number",
			    l->words[i + 1]);
			return -1;
		}
	if ((p = ingest_probe_get(in, l->words[0])) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->started = true;
	p->window = 1;
	p->info.seq = v[0];
	p->info.lost = v[1];
	p->info.duplicates = v[2];
	p->info.reordered = v[3];
	p->info.restarts = v[4];
	p->info.away = v[5];
	p->info.accepted = v[6];
	p->run_start = v[0];
	return 0;
}

/* Loads the state file when it exists. 0, or -1 (logged with file:line). */
static int
ingest_state_load(struct ingest *in)
{
	if (access(in->seq_state, F_OK) == -1 && errno == ENOENT)
		return 0;
	if (config_parse_file(in->seq_state, ingest_state_line, in) == -1)
		return -1;
	log_info("ingest: sequence state of %zu probes from %s", in->nprobes,
	    in->seq_state);
	return 0;
}

/* Writes the state file (to a temporary, then renamed). 0 or -1 (logged). */
static int
ingest_state_save(struct ingest *in)
{
	char tmp[PATH_MAX];
	FILE *fp;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", in->seq_state);
	if ((fp = fopen(tmp, "w")) == NULL) {
		log_warn_rl(&in->rl_seq, "ingest: %s: %s", tmp, strerror(errno));
		return -1;
	}
	fprintf(fp, "# gatewatch-operator sequence state: probe_id seq lost "
	    "duplicates reordered restarts away accepted\n");
	for (size_t i = 0; i < in->nprobes; i++) {
		const struct ingest_probe *p = in->pvec[i];
		if (!p->started)
			continue;
		fprintf(fp, "%s %llu %llu %llu %llu %llu %llu %llu\n", p->info.id,
		    (unsigned long long)p->info.seq,
		    (unsigned long long)p->info.lost,
		    (unsigned long long)p->info.duplicates,
		    (unsigned long long)p->info.reordered,
		    (unsigned long long)p->info.restarts,
		    (unsigned long long)p->info.away,
		    (unsigned long long)p->info.accepted);
	}
	/* No fsync: the loop must not stall on the disk; rename keeps the file whole. */
	if (fflush(fp) != 0)
		rc = -1;
	if (fclose(fp) != 0 || rc == -1 || rename(tmp, in->seq_state) == -1) {
		log_warn_rl(&in->rl_seq, "ingest: cannot write %s: %s",
		    in->seq_state, strerror(errno));
		unlink(tmp);
		return -1;
	}
	in->seq_dirty = false;
	return 0;
}

/* ---- sockets ---- */

static int
ingest_setup_curve(struct ingest *in, const struct ingest_config *cfg)
{
	struct ingest_secret k;
	int one = 1, rc = -1;

	memset(&k, 0, sizeof(k));
	if (config_parse_file(cfg->curve_secret_file, ingest_secret_line, &k) == -1)
		goto out;
	if (k.secret[0] == '\0') {
		log_err("%s: no \"secret\" line", cfg->curve_secret_file);
		goto out;
	}
	if (cfg->probe_keys_file == NULL) {
		log_err("CURVE needs --probe-keys (the probes allowed to connect)");
		goto out;
	}
	if ((in->keys = idmap_new()) == NULL ||
	    config_parse_file(cfg->probe_keys_file, ingest_keys_line, in) == -1)
		goto out;
	in->zap = zmq_socket(in->zctx, ZMQ_REP);
	if (in->zap == NULL || zmq_bind(in->zap, INGEST_ZAP_ENDPOINT) == -1) {
		log_err("ingest: ZAP handler: %s", zmq_strerror(errno));
		goto out;
	}
	if (zmq_setsockopt(in->router, ZMQ_CURVE_SERVER, &one, sizeof(one)) == -1 ||
	    zmq_setsockopt(in->router, ZMQ_CURVE_SECRETKEY, k.secret,
	    INGEST_Z85_LEN) == -1 ||
	    zmq_setsockopt(in->router, ZMQ_ZAP_DOMAIN, "gatewatch", 9) == -1) {
		log_err("ingest: CURVE setup: %s", zmq_strerror(errno));
		goto out;
	}
	log_info("ingest: CURVE on, %zu probe keys", idmap_count(in->keys));
	rc = 0;
out:
	explicit_bzero(&k, sizeof(k));
	return rc;
}

static int
ingest_setup_router(struct ingest *in, const char *endpoint)
{
	int64_t maxsz = GW_ENVELOPE_MAX;
	int one = 1, hwm = 100000, zero = 0, backlog = 4096;

	in->router = zmq_socket(in->zctx, ZMQ_ROUTER);
	if (in->router == NULL ||
	    zmq_setsockopt(in->router, ZMQ_MAXMSGSIZE, &maxsz, sizeof(maxsz)) == -1 ||
	    zmq_setsockopt(in->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) == -1 ||
	    zmq_setsockopt(in->router, ZMQ_RCVHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(in->router, ZMQ_LINGER, &zero, sizeof(zero)) == -1 ||
	    /* many probes reconnect at once after an operator restart */
	    zmq_setsockopt(in->router, ZMQ_BACKLOG, &backlog, sizeof(backlog)) == -1) {
		log_err("ingest: socket setup: %s", zmq_strerror(errno));
		return -1;
	}
	(void)endpoint;
	return 0;
}

/* Binds every comma-separated endpoint of list. 0 or -1 (logged). */
static int
ingest_bind_all(struct ingest *in, const char *list)
{
	char ep[1024];
	const char *p = list, *comma;
	size_t n, count = 0;

	if (list == NULL || *list == '\0') {
		log_err("ingest: no endpoint to listen on");
		return -1;
	}
	for (; *p != '\0'; p = *comma ? comma + 1 : comma) {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		n = (size_t)(comma - p);
		if (n == 0 || n >= sizeof(ep) || ++count > INGEST_LISTEN_MAX) {
			log_err("ingest: bad endpoint list \"%s\" (at most %d "
			    "comma-separated endpoints)", list, INGEST_LISTEN_MAX);
			return -1;
		}
		memcpy(ep, p, n);
		ep[n] = '\0';
		if (zmq_bind(in->router, ep) == -1) {
			log_err("ingest: bind %s: %s", ep, zmq_strerror(errno));
			return -1;
		}
		log_info("ingest: listening on %s%s", ep, in->zap ? " (CURVE)" : "");
	}
	return 0;
}

static void
ingest_free_key(const char *key, void *value, void *ctx)
{
	(void)key;
	(void)ctx;
	free(value);
}

struct ingest *
ingest_new(const struct ingest_config *cfg, struct live *live,
    struct store *st, const struct ingest_hooks *hooks)
{
	struct ingest *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return NULL;
	in->live = live;
	in->store = st;
	if (hooks != NULL)
		in->hooks = *hooks;
	in->rl_garbage = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	in->rl_unknown = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	in->rl_auth = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	in->rl_seq = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	if ((in->probes = idmap_new()) == NULL || (in->zctx = zmq_ctx_new()) == NULL)
		goto fail;
	if (ingest_setup_router(in, cfg->listen) == -1)
		goto fail;
	if (cfg->curve_secret_file != NULL && ingest_setup_curve(in, cfg) == -1)
		goto fail;
	if (cfg->curve_secret_file == NULL && cfg->probe_keys_file != NULL) {
		log_err("--probe-keys needs --curve-secret-file");
		goto fail;
	}
	if (cfg->probes_file != NULL && ((in->allow = idmap_new()) == NULL ||
	    config_parse_file(cfg->probes_file, ingest_allow_line, in) == -1))
		goto fail;
	if (cfg->seq_state_file != NULL &&
	    ((in->seq_state = strdup(cfg->seq_state_file)) == NULL ||
	    ingest_state_load(in) == -1))
		goto fail;
	if (ingest_bind_all(in, cfg->listen) == -1)
		goto fail;
	return in;
fail:
	ingest_free(in);
	return NULL;
}

void
ingest_free(struct ingest *in)
{
	if (in == NULL)
		return;
	if (in->seq_state != NULL && in->seq_dirty)
		ingest_state_save(in);
	free(in->seq_state);
	if (in->router != NULL)
		zmq_close(in->router);
	if (in->zap != NULL)
		zmq_close(in->zap);
	if (in->zctx != NULL)
		zmq_ctx_term(in->zctx);
	for (size_t i = 0; i < in->nprobes; i++)
		free(in->pvec[i]);
	free(in->pvec);
	idmap_free(in->probes);
	if (in->keys != NULL)
		idmap_foreach(in->keys, ingest_free_key, NULL);
	idmap_free(in->keys);
	idmap_free(in->allow);
	gw_msg_clear(&in->msg);
	free(in);
}

/* ---- ZAP (CURVE authentication) ---- */

/* Receives one frame into buf (truncated, NUL-terminated); returns its size or -1. */
static int
ingest_recv_frame(void *s, char *buf, size_t len, bool *more)
{
	int n = zmq_recv(s, buf, len - 1, ZMQ_DONTWAIT), m = 0;
	size_t ml = sizeof(m);

	if (n < 0)
		return -1;
	buf[(size_t)n < len - 1 ? (size_t)n : len - 1] = '\0';
	zmq_getsockopt(s, ZMQ_RCVMORE, &m, &ml);
	*more = m != 0;
	return n;
}

/* Answers one ZAP request: 200 with the probe id as User-Id for listed keys. */
static void
ingest_zap_handle(struct ingest *in)
{
	char f[7][64], key[INGEST_Z85_LEN + 1] = "";
	int len[7] = { 0 }, nf = 0;
	bool more = true;
	const char *id = NULL;

	while (more && nf < 7) {
		if ((len[nf] = ingest_recv_frame(in->zap, f[nf], sizeof(f[nf]),
		    &more)) < 0)
			return;
		nf++;
	}
	while (more) {   /* drain unexpected extra frames */
		char skip[8];
		if (ingest_recv_frame(in->zap, skip, sizeof(skip), &more) < 0)
			break;
	}
	if (nf == 7 && strcmp(f[5], "CURVE") == 0 && len[6] == 32 &&
	    zmq_z85_encode(key, (uint8_t *)f[6], 32) != NULL)
		id = idmap_get(in->keys, key);
	zmq_send(in->zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(in->zap, f[1], nf > 1 ? (size_t)len[1] : 0, ZMQ_SNDMORE);
	zmq_send(in->zap, id ? "200" : "400", 3, ZMQ_SNDMORE);
	zmq_send(in->zap, id ? "OK" : "unknown key", id ? 2 : 11, ZMQ_SNDMORE);
	zmq_send(in->zap, id ? id : "", id ? strlen(id) : 0, ZMQ_SNDMORE);
	zmq_send(in->zap, "", 0, 0);
	if (id == NULL) {
		in->c.zap_denied++;
		log_warn_rl(&in->rl_auth, "ingest: refused CURVE key %s from %s",
		    key[0] ? key : "(none)", nf > 3 ? f[3] : "?");
	}
}

/* ---- per-probe state and sequence numbers ---- */

static struct ingest_probe *
ingest_probe_get(struct ingest *in, const char *id)
{
	struct ingest_probe *p = idmap_get(in->probes, id);

	if (p != NULL)
		return p;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	snprintf(p->info.id, sizeof(p->info.id), "%s", id);
	if (in->nprobes == in->capprobes) {
		size_t ncap = in->capprobes ? in->capprobes * 2 : 64;
		struct ingest_probe **nv = realloc(in->pvec, ncap * sizeof(*nv));
		if (nv == NULL) {
			free(p);
			return NULL;
		}
		in->pvec = nv;
		in->capprobes = ncap;
	}
	if (idmap_put(in->probes, id, p) == -1) {
		free(p);
		return NULL;
	}
	in->pvec[in->nprobes++] = p;
	p->info.first_seen = ingest_now();
	return p;
}

/* How many seqs of [a, b] (inclusive) lie in [lo, hi]. */
static uint64_t
ingest_overlap(uint64_t a, uint64_t b, uint64_t lo, uint64_t hi)
{
	if (a < lo)
		a = lo;
	if (b > hi)
		b = hi;
	return a <= b ? b - a + 1 : 0;
}

/* Takes n from the lost counters (at most what is there). */
static void
ingest_unlose(struct ingest *in, struct live_probe_info *i, uint64_t n)
{
	if (n > i->lost)
		n = i->lost;
	i->lost -= n;
	in->c.lost -= n < in->c.lost ? n : in->c.lost;
}

/*
 * The away ranges of a Hello at seq (not a restart; before its own gap is
 * counted): seqs the probe sent to other shards are not lost here. Those
 * at or below the highest seq were counted as lost (they never came here):
 * given back. Those above it are in the Hello's own gap: returned in
 * *pending so that the gap does not count them. When this run started here
 * at a seq above the first range (the shard took the probe over, or first
 * saw it behind a backlog), the seqs before run_start that are in no range
 * were meant for this shard and did not arrive: lost, once. Away seqs in
 * the window are marked, so a stray copy counts as a duplicate.
 */
static void
ingest_seq_away(struct ingest *in, struct ingest_probe *p, uint64_t seq,
    const struct gw_hello *h, uint64_t *pending)
{
	struct live_probe_info *i = &p->info;
	uint64_t back = 0, before = 0, lo = UINT64_MAX, n;

	*pending = 0;
	for (size_t k = 0; k < h->n_away; k++) {
		const struct gw_seq_range *r = &h->away[k];

		if (r->first >= seq)
			continue;    /* not in the past of this Hello: ignored */
		if (r->first < lo)
			lo = r->first;
		back += ingest_overlap(r->first, r->last, p->run_start + 1, i->seq);
		*pending += ingest_overlap(r->first, r->last, i->seq + 1, seq - 1);
		if (p->run_start > 0)
			before += ingest_overlap(r->first, r->last, 0,
			    p->run_start - 1);
		for (uint64_t d = 0; d < INGEST_SEQ_WINDOW && d <= i->seq; d++)
			if (i->seq - d >= r->first && i->seq - d <= r->last)
				p->window |= 1ULL << d;
	}
	if (lo == UINT64_MAX)
		return;
	ingest_unlose(in, i, back);
	i->away += back + *pending + (p->run_here ? before : 0);
	if (p->run_here && lo < p->run_start) {
		n = p->run_start - lo - (before < p->run_start - lo ? before :
		    p->run_start - lo);
		i->lost += n;
		in->c.lost += n;
		if (n > 0)
			log_info("ingest: probe %s: %llu envelopes before seq %llu "
			    "were for this shard and did not arrive: lost", i->id,
			    (unsigned long long)n, (unsigned long long)p->run_start);
	}
	p->run_here = false;   /* counted once */
	if (back + *pending > 0)
		log_info("ingest: probe %s: %llu envelopes went to other shards",
		    i->id, (unsigned long long)(back + *pending));
}

/*
 * Tracks seq for p. Returns true when the envelope is new (process it),
 * false for a duplicate (counted, dropped). A Hello that is not a restart
 * may carry away ranges (ingest_seq_away).
 */
static bool
ingest_seq_track(struct ingest *in, struct ingest_probe *p, const struct gw_msg *m)
{
	struct live_probe_info *i = &p->info;
	bool is_hello = m->type == GW_BODY_HELLO;
	uint64_t seq = m->seq, d, pending = 0;

	if (!p->started || (is_hello && seq <= i->seq) ||
	    (seq == 1 && i->seq > 1)) {
		if (p->started) {
			i->restarts++;
			in->c.restarts++;
			log_info("ingest: probe %s restarted (seq %llu after %llu)",
			    i->id, (unsigned long long)seq,
			    (unsigned long long)i->seq);
		}
		p->started = true;
		p->run_start = seq;
		p->run_here = true;
		i->seq = seq;
		p->window = 1;
		if (is_hello && m->u.hello.n_away > 0)
			ingest_seq_away(in, p, seq, &m->u.hello, &pending);
		return true;
	}
	if (is_hello && m->u.hello.n_away > 0)
		ingest_seq_away(in, p, seq, &m->u.hello, &pending);
	if (seq > i->seq) {
		d = seq - i->seq;
		if (pending > d - 1)
			pending = d - 1;
		i->lost += d - 1 - pending;
		in->c.lost += d - 1 - pending;
		p->window = d >= INGEST_SEQ_WINDOW ? 1 : (p->window << d) | 1;
		/* The away seqs of the gap just skipped count as received. */
		for (uint64_t k = 1; is_hello && k < d && k < INGEST_SEQ_WINDOW; k++)
			for (size_t r = 0; r < m->u.hello.n_away; r++)
				if (seq - k >= m->u.hello.away[r].first &&
				    seq - k <= m->u.hello.away[r].last)
					p->window |= 1ULL << k;
		i->seq = seq;
		return true;
	}
	d = i->seq - seq;
	if (d < INGEST_SEQ_WINDOW && !(p->window & (1ULL << d))) {
		p->window |= 1ULL << d;   /* late, filled a gap counted as lost */
		ingest_unlose(in, i, 1);
		i->reordered++;
		in->c.reordered++;
		return true;
	}
	i->duplicates++;
	in->c.duplicates++;
	return false;
}

/* ---- dispatch ---- */

static void
ingest_on_stats(struct ingest *in, struct ingest_probe *p,
    const struct gw_stats_report *r)
{
	for (size_t i = 0; i < r->n_customers; i++) {
		const struct gw_customer_stats *cs = &r->customers[i];
		live_customer_update(in->live, p->info.id, r->ts, r->interval, cs);
		store_submit(in->store, r->ts, r->interval, cs);
		if (in->hooks.on_stats != NULL)
			in->hooks.on_stats(in->hooks.ctx, p->info.id, cs);
	}
	p->info.customers = r->n_customers;
	p->info.last_report_ts = r->ts;
	p->info.health = r->health;
	p->info.has_health = true;
}

static void
ingest_dispatch(struct ingest *in, struct ingest_probe *p, const struct gw_msg *m)
{
	switch (m->type) {
	case GW_BODY_HELLO:
		p->info.hello = m->u.hello;
		p->info.has_hello = true;
		log_info("ingest: hello from probe %s (%s, %s)", p->info.id,
		    m->u.hello.software, m->u.hello.hostname);
		if (in->hooks.on_hello != NULL)
			in->hooks.on_hello(in->hooks.ctx, p->info.id, &m->u.hello);
		break;
	case GW_BODY_STATS:
		ingest_on_stats(in, p, &m->u.stats);
		break;
	case GW_BODY_EVENT:
		live_event_add(in->live, p->info.id, &m->u.event);
		if (in->hooks.on_event != NULL)
			in->hooks.on_event(in->hooks.ctx, p->info.id, &m->u.event);
		break;
	case GW_BODY_FLOW:
		if (in->hooks.on_flow != NULL)
			in->hooks.on_flow(in->hooks.ctx, p->info.id, &m->u.flow);
		break;
	case GW_BODY_RESULT:
		log_info("ingest: probe %s: command %llu %s: %s", p->info.id,
		    (unsigned long long)m->u.result.id,
		    m->u.result.ok ? "ok" : "failed", m->u.result.message);
		if (in->hooks.on_result != NULL)
			in->hooks.on_result(in->hooks.ctx, p->info.id, &m->u.result);
		break;
	default:   /* heartbeat: last_seen is enough */
		break;
	}
}

/*
 * Counts a refused envelope, and against probe_id when given: callers pass
 * only authenticated ids (the CURVE User-Id, or the id of an envelope that
 * passed the allowlist), so the probe's entry may be created here; it is
 * counted even when its refused envelopes arrive before its first good one.
 */
static void
ingest_reject(struct ingest *in, uint64_t *reason, const char *probe_id)
{
	struct ingest_probe *p;

	in->c.rejected++;
	if (reason != NULL)
		(*reason)++;
	if (probe_id != NULL && (p = ingest_probe_get(in, probe_id)) != NULL) {
		p->info.rejected++;
		live_probe_update(in->live, &p->info);
	}
}

/* Applies authentication and allowlist rules. Returns true when m may be processed. */
static bool
ingest_authorized(struct ingest *in, const struct gw_msg *m, const char *user_id,
    const char *peer)
{
	if (in->zap != NULL) {
		if (user_id == NULL || strcmp(user_id, m->probe_id) != 0) {
			ingest_reject(in, &in->c.key_mismatch, user_id);
			log_warn_rl(&in->rl_auth, "ingest: envelope for probe %s "
			    "sent with the key of %s from %s: rejected", m->probe_id,
			    user_id ? user_id : "(none)", peer ? peer : "?");
			return false;
		}
	} else if (in->allow != NULL && idmap_get(in->allow, m->probe_id) == NULL) {
		ingest_reject(in, &in->c.unknown_probe, NULL);
		log_warn_rl(&in->rl_unknown, "ingest: unknown probe %s from %s: "
		    "rejected", m->probe_id, peer ? peer : "?");
		return false;
	}
	if (m->type == GW_BODY_COMMAND || m->type == GW_BODY_NONE) {
		ingest_reject(in, NULL, m->probe_id);
		log_warn_rl(&in->rl_garbage, "ingest: probe %s sent a %s: rejected",
		    m->probe_id, gw_body_name(m->type));
		return false;
	}
	return true;
}

static void
ingest_accept(struct ingest *in, const zmq_msg_t *rid, const char *user_id,
    const char *peer)
{
	const struct gw_msg *m = &in->msg;
	struct ingest_probe *p;

	if (!ingest_authorized(in, m, user_id, peer))
		return;
	if ((p = ingest_probe_get(in, m->probe_id)) == NULL) {
		in->c.live_errors++;
		return;
	}
	if (!ingest_seq_track(in, p, m)) {
		log_warn_rl(&in->rl_seq, "ingest: probe %s: duplicate seq %llu",
		    p->info.id, (unsigned long long)m->seq);
		live_probe_update(in->live, &p->info);
		return;
	}
	in->c.accepted++;
	in->seq_dirty = true;
	if ((unsigned)m->type < 8) {
		in->c.by_type[m->type]++;
		p->info.by_type[m->type]++;
	}
	p->info.messages++;
	p->info.accepted++;
	p->info.last_seen = ingest_now();
	p->info.left = m->type == GW_BODY_HEARTBEAT && m->u.heartbeat.leaving;
	if (p->info.left)
		log_info("ingest: probe %s moves to another shard after seq %llu",
		    p->info.id, (unsigned long long)m->seq);
	if (peer != NULL)
		snprintf(p->info.address, sizeof(p->info.address), "%s", peer);
	if (zmq_msg_size((zmq_msg_t *)rid) <= INGEST_RID_MAX) {
		p->rid_len = zmq_msg_size((zmq_msg_t *)rid);
		memcpy(p->rid, zmq_msg_data((zmq_msg_t *)rid), p->rid_len);
	}
	ingest_dispatch(in, p, m);
	if (in->hooks.on_seen != NULL)
		in->hooks.on_seen(in->hooks.ctx, p->info.id, peer ? peer : "");
	live_probe_update(in->live, &p->info);
}

/*
 * Receives the rest of a multipart message after the routing id: [payload]
 * or [""][payload]. Returns 0 with the payload in part, -1 on bad framing
 * (the rest of the message is drained).
 */
static int
ingest_recv_payload(struct ingest *in, const zmq_msg_t *rid, zmq_msg_t *part)
{
	int nparts = 0;
	bool more = zmq_msg_more(rid);

	while (more) {
		if (zmq_msg_recv(part, in->router, ZMQ_DONTWAIT) == -1)
			return -1;
		nparts++;
		more = zmq_msg_more(part);
		if (nparts == 1 && zmq_msg_size(part) == 0 && more)
			continue;   /* empty delimiter */
		break;
	}
	if (more) {
		while (more && zmq_msg_recv(part, in->router, ZMQ_DONTWAIT) != -1)
			more = zmq_msg_more(part);
		return -1;
	}
	return nparts > 0 && zmq_msg_size(part) > 0 ? 0 : -1;
}

/* Handles one message from the ROUTER. Returns 1 when one was handled, 0 when none waited, -1 on error. */
static int
ingest_handle_one(struct ingest *in)
{
	zmq_msg_t rid, part;
	char err[128];
	int rc = 1;

	zmq_msg_init(&rid);
	zmq_msg_init(&part);
	if (zmq_msg_recv(&rid, in->router, ZMQ_DONTWAIT) == -1) {
		rc = errno == EAGAIN ? 0 : -1;
		goto out;
	}
	in->c.envelopes++;
	if (ingest_recv_payload(in, &rid, &part) == -1) {
		ingest_reject(in, &in->c.bad_frames, NULL);
		log_warn_rl(&in->rl_garbage, "ingest: badly framed message: dropped");
		goto out;
	}
	if (envelope_decode(zmq_msg_data(&part), zmq_msg_size(&part), &in->msg,
	    err, sizeof(err)) == -1) {
		ingest_reject(in, &in->c.garbage, NULL);
		log_warn_rl(&in->rl_garbage, "ingest: undecodable envelope (%zu "
		    "bytes) from %s: %s", zmq_msg_size(&part),
		    zmq_msg_gets(&part, "Peer-Address") ?
		    zmq_msg_gets(&part, "Peer-Address") : "?", err);
		goto out;
	}
	ingest_accept(in, &rid, zmq_msg_gets(&part, "User-Id"),
	    zmq_msg_gets(&part, "Peer-Address"));
	gw_msg_clear(&in->msg);
out:
	zmq_msg_close(&rid);
	zmq_msg_close(&part);
	return rc;
}

int
ingest_poll(struct ingest *in, int timeout_ms)
{
	zmq_pollitem_t items[2] = {
		{ in->router, 0, ZMQ_POLLIN, 0 },
		{ in->zap, 0, ZMQ_POLLIN, 0 },
	};
	int nitems = in->zap ? 2 : 1, rc;

	if (zmq_poll(items, nitems, timeout_ms) == -1) {
		if (errno == EINTR)
			return -1;
		log_err("ingest: poll: %s", zmq_strerror(errno));
		return -1;
	}
	if (nitems == 2 && (items[1].revents & ZMQ_POLLIN))
		for (int i = 0; i < 64 && (zmq_poll(&items[1], 1, 0) > 0); i++)
			ingest_zap_handle(in);
	for (int i = 0; i < INGEST_BATCH; i++) {
		if ((rc = ingest_handle_one(in)) <= 0) {
			if (rc == -1 && errno != EINTR)
				log_err("ingest: recv: %s", zmq_strerror(errno));
			return rc;
		}
	}
	return 0;
}

void
ingest_publish(struct ingest *in)
{
	live_counters_set(in->live, &in->c);
	if (in->seq_state != NULL && in->seq_dirty)
		ingest_state_save(in);
}

int
ingest_send_command(struct ingest *in, const char *probe_id,
    const struct gw_command *cmd)
{
	struct ingest_probe *p = idmap_get(in->probes, probe_id);
	struct gw_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = -1;

	memset(&m, 0, sizeof(m));
	if (p == NULL || p->rid_len == 0)
		goto out;
	m.version = GW_PROTO_VERSION;
	snprintf(m.probe_id, sizeof(m.probe_id), "%s", probe_id);
	m.seq = ++in->c.commands_sent;
	m.sent_ts = ingest_now();
	m.type = GW_BODY_COMMAND;
	m.u.command = *cmd;
	if (envelope_encode(&m, &buf, &len) == -1)
		goto out;
	if (zmq_send(in->router, p->rid, p->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
	    zmq_send(in->router, buf, len, ZMQ_DONTWAIT) == -1) {
		log_warn("ingest: command to probe %s: %s", probe_id,
		    zmq_strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		in->c.commands_failed++;
	free(buf);
	return rc;
}

/* Writes text to path with mode, failing if it exists. 0 or -1 (logged). */
static int
ingest_write_new(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	size_t len = strlen(text);

	if (fd == -1) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || close(fd) == -1) {
		log_err("%s: write: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int
ingest_keygen(const char *dir, const char *name)
{
	char pub[INGEST_Z85_LEN + 1], sec[INGEST_Z85_LEN + 1];
	char path[PATH_MAX], text[256];
	int rc = -1;

	if (!gw_id_valid(name)) {
		log_err("keygen: bad name \"%s\" (allowed: [A-Za-z0-9_.:-])", name);
		return -1;
	}
	if (zmq_curve_keypair(pub, sec) == -1) {
		log_err("keygen: %s (libzmq without CURVE?)", zmq_strerror(errno));
		return -1;
	}
	snprintf(text, sizeof(text), "# gatewatch CURVE key pair %s (keep secret)\n"
	    "public %s\nsecret %s\n", name, pub, sec);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if (ingest_write_new(path, text, 0600) == -1)
		goto out;
	snprintf(text, sizeof(text), "# gatewatch CURVE public key %s\n"
	    "public %s\n", name, pub);
	snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
	if (ingest_write_new(path, text, 0644) == -1)
		goto out;
	rc = 0;
out:
	explicit_bzero(sec, sizeof(sec));
	explicit_bzero(text, sizeof(text));
	return rc;
}
