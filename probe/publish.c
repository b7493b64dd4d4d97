/* publish.c: ZeroMQ DEALER to the operator: bounded backlog (bytes), counted drops, CURVE, commands in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "envelope.h"
#include "log.h"
#include "publish.h"

#define PUBLISH_Z85_LEN       40
#define PUBLISH_DEFAULT_HWM   10000
#define PUBLISH_DEFAULT_BYTES (16u * 1024 * 1024)
#define PUBLISH_PATIENT_MS    1000

/* One encoded envelope waiting for ZeroMQ. */
struct publish_entry {
	struct publish_entry *next;
	uint64_t seq;
	size_t len;
	uint8_t data[];
};

struct publish {
	void *zctx;
	void *sock;
	const char *server_key_path, *client_key_path;   /* borrowed (publish_config) */
	char probe_id[GW_ID_MAX];
	bool patient;                 /* blocking sends with a timeout, until one times out */
	bool dropping;                /* in a run of budget drops (logged once per run) */
	struct publish_stats st;
	struct publish_entry *head, *tail;   /* the backlog, oldest first (owned) */
	size_t budget_bytes;
	uint64_t max_waiting;         /* ZeroMQ's queue + backlog, envelopes */
	int pipe_hwm;                 /* ZeroMQ's queue: min(PUBLISH_PIPE_HWM, max_waiting) */
	uint8_t *rbuf;                /* GW_ENVELOPE_MAX receive buffer */
	/* Shard runs (publish.h): closed ones oldest first, then the open one. */
	struct publish_run runs[PUBLISH_RUNS_MAX];
	size_t nruns;
	char cur_ep[PUBLISH_EP_MAX];  /* endpoint of the open run */
	uint64_t run_first;           /* first seq of the open run */
	bool handed_any;              /* anything handed to ZeroMQ yet */
	uint64_t last_handed;         /* highest seq handed to ZeroMQ */
};

static double
publish_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
publish_is_z85_key(const char *tok)
{
	uint8_t bin[32];

	return strlen(tok) == PUBLISH_Z85_LEN && zmq_z85_decode(bin, tok) != NULL;
}

/* Finds a labelled or bare key on one line; returns 's', 'p', 'k' (bare) or 0. */
static int
publish_key_line(char *line, char *key)
{
	char *save = NULL, *tok;
	int kind = 'k';

	for (tok = strtok_r(line, " \t\r\n\"", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\r\n\"", &save)) {
		if (tok[0] == '#')
			break;
		if (strncmp(tok, "secret", 6) == 0 && !publish_is_z85_key(tok))
			kind = 's';
		else if (strncmp(tok, "public", 6) == 0 && !publish_is_z85_key(tok))
			kind = 'p';
		else if (publish_is_z85_key(tok)) {
			memcpy(key, tok, PUBLISH_Z85_LEN + 1);
			explicit_bzero(tok, PUBLISH_Z85_LEN);
			return kind;
		}
	}
	return 0;
}

int
publish_read_keys(const char *path, char *public_z85, char *secret_z85)
{
	char line[512], key[PUBLISH_Z85_LEN + 1];
	FILE *fp = fopen(path, "r");
	int kind, n_bare = 0, rc = 0;

	public_z85[0] = secret_z85[0] = '\0';
	if (fp == NULL) {
		log_err("publish: cannot read key file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		kind = publish_key_line(line, key);
		if (kind == 'k')
			kind = n_bare++ == 0 ? 'p' : 's';
		if (kind == 'p')
			memcpy(public_z85, key, sizeof(key));
		else if (kind == 's')
			memcpy(secret_z85, key, sizeof(key));
	}
	explicit_bzero(line, sizeof(line));
	explicit_bzero(key, sizeof(key));
	fclose(fp);
	if (public_z85[0] == '\0') {
		log_err("publish: %s: no z85 public key (expected \"public KEY\")", path);
		rc = -1;
	}
	return rc;
}

static int
publish_setup_curve(struct publish *p, const struct publish_config *cfg)
{
	char server_pub[PUBLISH_Z85_LEN + 1], pub[PUBLISH_Z85_LEN + 1];
	char sec[PUBLISH_Z85_LEN + 1], unused[PUBLISH_Z85_LEN + 1];
	int rc = -1;

	if (publish_read_keys(cfg->server_key_path, server_pub, unused) != 0 ||
	    publish_read_keys(cfg->client_key_path, pub, sec) != 0)
		goto out;
	if (sec[0] == '\0') {
		log_err("publish: %s: no secret key (expected \"secret KEY\")",
		    cfg->client_key_path);
		goto out;
	}
	if (zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, server_pub,
	    PUBLISH_Z85_LEN) != 0 ||
	    zmq_setsockopt(p->sock, ZMQ_CURVE_PUBLICKEY, pub, PUBLISH_Z85_LEN) != 0 ||
	    zmq_setsockopt(p->sock, ZMQ_CURVE_SECRETKEY, sec, PUBLISH_Z85_LEN) != 0) {
		log_err("publish: CURVE setup: %s", zmq_strerror(errno));
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(sec, sizeof(sec));
	explicit_bzero(unused, sizeof(unused));
	return rc;
}

/* Creates p->sock with every option and connects it to endpoint; 0 or -1 (logged). */
static int
publish_setup(struct publish *p, const struct publish_config *cfg,
    const char *endpoint)
{
	int hwm = p->pipe_hwm;
	int zero = 0, one = 1, timeout = PUBLISH_PATIENT_MS;

	if ((p->sock = zmq_socket(p->zctx, ZMQ_DEALER)) == NULL) {
		log_err("publish: cannot create the socket: %s", zmq_strerror(errno));
		return -1;
	}

	/*
	 * Immediate: ZeroMQ queues only to a completed connection. While the
	 * operator is away envelopes wait in our backlog, which survives a move
	 * to another shard, instead of in ZeroMQ's queue for the dead one.
	 */
	if (zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(p->sock, ZMQ_ROUTING_ID, p->probe_id,
	    strlen(p->probe_id)) != 0 ||
	    zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(p->sock, ZMQ_SNDTIMEO, &timeout, sizeof(timeout)) != 0) {
		log_err("publish: socket options: %s", zmq_strerror(errno));
		return -1;
	}
	if ((cfg->server_key_path != NULL) != (cfg->client_key_path != NULL)) {
		log_err("publish: CURVE needs both the operator's public key and our key pair");
		return -1;
	}
	if (cfg->server_key_path != NULL && publish_setup_curve(p, cfg) != 0)
		return -1;
	if (zmq_connect(p->sock, endpoint) != 0) {
		log_err("publish: cannot connect to %s: %s", endpoint,
		    zmq_strerror(errno));
		return -1;
	}
	return 0;
}

struct publish *
publish_new(const struct publish_config *cfg)
{
	struct publish *p;

	if (cfg->endpoint == NULL || cfg->probe_id == NULL ||
	    !gw_id_valid(cfg->probe_id)) {
		log_err("publish: an endpoint and a valid probe id are needed");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	snprintf(p->probe_id, sizeof(p->probe_id), "%s", cfg->probe_id);
	p->patient = cfg->patient;
	p->budget_bytes = cfg->backlog_bytes > 0 ? cfg->backlog_bytes :
	    PUBLISH_DEFAULT_BYTES;
	p->max_waiting = cfg->sndhwm > 0 ? (uint64_t)cfg->sndhwm : PUBLISH_DEFAULT_HWM;
	p->pipe_hwm = p->max_waiting < PUBLISH_PIPE_HWM ? (int)p->max_waiting :
	    PUBLISH_PIPE_HWM;
	snprintf(p->cur_ep, sizeof(p->cur_ep), "%s", cfg->endpoint);
	p->server_key_path = cfg->server_key_path;
	p->client_key_path = cfg->client_key_path;
	p->zctx = zmq_ctx_new();
	p->rbuf = malloc(GW_ENVELOPE_MAX);
	if (p->zctx == NULL || p->rbuf == NULL) {
		log_err("publish: cannot create the ZeroMQ context");
		publish_free(p, 0);
		return NULL;
	}
	if (publish_setup(p, cfg, cfg->endpoint) != 0) {
		publish_free(p, 0);
		return NULL;
	}
	return p;
}

/* Notes that seq went to ZeroMQ for the open run's endpoint. */
static void
publish_handed(struct publish *p, uint64_t seq)
{
	p->handed_any = true;
	p->last_handed = seq;
}

/* Removes the oldest backlog entry. */
static void
publish_pop(struct publish *p)
{
	struct publish_entry *e = p->head;

	p->head = e->next;
	if (p->head == NULL)
		p->tail = NULL;
	p->st.backlog--;
	p->st.backlog_bytes -= sizeof(*e) + e->len;
	free(e);
}

size_t
publish_flush(struct publish *p)
{
	size_t n = 0;

	while (p->head != NULL &&
	    zmq_send(p->sock, p->head->data, p->head->len, ZMQ_DONTWAIT) >= 0) {
		publish_handed(p, p->head->seq);
		publish_pop(p);
		p->st.sent++;
		p->st.late++;
		n++;
	}
	if (n > 0 && p->head == NULL) {
		log_info("publish: backlog delivered (%llu envelopes sent late so far)",
		    (unsigned long long)p->st.late);
		p->dropping = false;
	}
	return n;
}

/* Waits up to timeout_ms in total for ZeroMQ to take the backlog. */
static void
publish_drain(struct publish *p, int timeout_ms)
{
	zmq_pollitem_t it = { p->sock, 0, ZMQ_POLLOUT, 0 };
	struct timespec t0, t;
	long left = timeout_ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		publish_flush(p);
		if (p->head == NULL || left <= 0)
			break;
		if (zmq_poll(&it, 1, left) < 0 && errno != EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000L +
		    (t.tv_nsec - t0.tv_nsec) / 1000000L);
	}
}

void
publish_free(struct publish *p, int linger_ms)
{
	if (p == NULL)
		return;
	if (p->sock != NULL && p->head != NULL)
		publish_drain(p, linger_ms);
	if (p->head != NULL)
		log_warn("publish: %llu envelopes still waiting for the operator at "
		    "exit: dropped", (unsigned long long)p->st.backlog);
	while (p->head != NULL) {
		publish_pop(p);
		p->st.dropped++;
	}
	if (p->st.next_seq > 0)   /* the figures tests and benchmarks read */
		log_info("publish: next_seq %llu sent %llu late %llu dropped %llu "
		    "backlog_peak_bytes %llu", (unsigned long long)p->st.next_seq,
		    (unsigned long long)p->st.sent, (unsigned long long)p->st.late,
		    (unsigned long long)p->st.dropped,
		    (unsigned long long)p->st.backlog_peak_bytes);
	if (p->sock != NULL) {
		zmq_setsockopt(p->sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
		zmq_close(p->sock);
	}
	if (p->zctx != NULL)
		zmq_ctx_term(p->zctx);
	free(p->rbuf);
	free(p);
}

/*
 * Appends buf to the backlog when the budget and the count allow (a Hello,
 * hello = true, needs only the budget: after a shard move it tells the new
 * shard which seqs went elsewhere, and there is one per move). Takes
 * nothing: buf stays the caller's. Returns 0, or -1 when dropped (counted).
 */
static int
publish_enqueue(struct publish *p, const uint8_t *buf, size_t len, uint64_t seq,
    bool hello)
{
	struct publish_entry *e;
	size_t need = sizeof(*e) + len;

	if (p->st.backlog_bytes + need > p->budget_bytes ||
	    (!hello && p->st.backlog + (uint64_t)p->pipe_hwm >= p->max_waiting) ||
	    (e = malloc(need)) == NULL) {
		if (!p->dropping)
			log_warn("publish: backlog full (%llu envelopes, %llu bytes): "
			    "dropping from seq %llu", (unsigned long long)p->st.backlog,
			    (unsigned long long)p->st.backlog_bytes,
			    (unsigned long long)seq);
		p->dropping = true;
		p->st.dropped++;
		return -1;
	}
	if (p->head == NULL)
		log_info("publish: operator not taking envelopes; keeping them "
		    "(budget %zu bytes)", p->budget_bytes);
	e->next = NULL;
	e->seq = seq;
	e->len = len;
	memcpy(e->data, buf, len);
	if (p->tail != NULL)
		p->tail->next = e;
	else
		p->head = e;
	p->tail = e;
	p->st.backlog++;
	p->st.backlog_bytes += need;
	if (p->st.backlog_bytes > p->st.backlog_peak_bytes)
		p->st.backlog_peak_bytes = p->st.backlog_bytes;
	return 0;
}

int
publish_send(struct publish *p, struct gw_msg *m)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = -1;

	m->version = GW_PROTO_VERSION;
	snprintf(m->probe_id, sizeof(m->probe_id), "%s", p->probe_id);
	m->seq = p->st.next_seq++;
	m->sent_ts = publish_wall_now();
	if (envelope_encode(m, &buf, &len) != 0) {
		p->st.encode_failed++;
		return -1;
	}
	publish_flush(p);
	/* Behind a backlog, the envelope waits its turn (order is kept). */
	if (p->head == NULL)
		rc = zmq_send(p->sock, buf, len, p->patient ? 0 : ZMQ_DONTWAIT);
	if (rc >= 0) {
		p->st.sent++;
		publish_handed(p, m->seq);
		free(buf);
		return 0;
	}
	if (p->head == NULL && errno == EAGAIN && p->patient) {
		log_warn("publish: operator not taking envelopes; not waiting from now on");
		p->patient = false;
	}
	rc = publish_enqueue(p, buf, len, m->seq, m->type == GW_BODY_HELLO);
	free(buf);
	return rc;
}

int
publish_recv(struct publish *p, struct gw_msg *m)
{
	char err[128];
	int more = 0, n, last = -1;
	size_t optlen;

	publish_flush(p);
	/* Multipart ([""][payload] from a REQ-style peer): keep the last part. */
	do {
		n = zmq_recv(p->sock, p->rbuf, GW_ENVELOPE_MAX, ZMQ_DONTWAIT);
		if (n < 0)
			return last < 0 ? 0 : -1;
		last = n;
		optlen = sizeof(more);
		if (zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &optlen) != 0)
			more = 0;
	} while (more);
	p->st.received++;
	if (last > GW_ENVELOPE_MAX ||
	    envelope_decode(p->rbuf, (size_t)last, m, err, sizeof(err)) != 0) {
		p->st.bad_received++;
		return -1;
	}
	return 1;
}

int
publish_fd(const struct publish *p)
{
	int fd = -1;
	size_t optlen = sizeof(fd);

	if (zmq_getsockopt(p->sock, ZMQ_FD, &fd, &optlen) != 0)
		return -1;
	return fd;
}

void
publish_get_stats(const struct publish *p, struct publish_stats *out)
{
	*out = p->st;
}

/*
 * Closes the open run at the last seq handed to ZeroMQ (what follows,
 * backlog and drops included, belongs to the next run) and opens one for
 * new_ep. An empty run is not kept. At most PUBLISH_RUNS_MAX closed runs:
 * the oldest goes.
 */
static void
publish_run_switch(struct publish *p, const char *new_ep)
{
	uint64_t next_first = p->handed_any ? p->last_handed + 1 : p->run_first;

	if (p->handed_any && p->last_handed >= p->run_first) {
		if (p->nruns == PUBLISH_RUNS_MAX) {
			memmove(&p->runs[0], &p->runs[1],
			    (PUBLISH_RUNS_MAX - 1) * sizeof(p->runs[0]));
			p->nruns--;
		}
		snprintf(p->runs[p->nruns].ep, PUBLISH_EP_MAX, "%s", p->cur_ep);
		p->runs[p->nruns].first = p->run_first;
		p->runs[p->nruns].last = p->last_handed;
		p->nruns++;
	}
	if (next_first > p->run_first)
		p->run_first = next_first;
	snprintf(p->cur_ep, sizeof(p->cur_ep), "%s", new_ep);
}

/*
 * Shard failover (shard.c decides): same queue and seq, a new socket for the
 * other peer. A new socket, not zmq_disconnect + zmq_connect on the old one:
 * with ZMQ_IMMEDIATE the old connection's queue leaves the socket only
 * later (asynchronously), so envelopes sent right after the move (the
 * Hello) could still go to it and be lost. The old socket is closed with
 * linger_ms: ZeroMQ delivers its queue in the background meanwhile.
 */
int
publish_reconnect(struct publish *p, const char *old_ep, const char *new_ep,
    int linger_ms)
{
	struct publish_config cfg = {
		.probe_id = p->probe_id, .server_key_path = p->server_key_path,
		.client_key_path = p->client_key_path,
	};
	void *old = p->sock;

	p->sock = NULL;
	if (publish_setup(p, &cfg, new_ep) != 0) {
		if (p->sock != NULL)
			zmq_close(p->sock);
		p->sock = old;     /* stay where we are */
		return -1;
	}
	publish_run_switch(p, new_ep);
	log_debug("publish: %s -> %s (old queue: %d ms to drain)",
	    old_ep != NULL ? old_ep : "-", new_ep, linger_ms);
	if (old != NULL) {
		if (linger_ms < 0)
			linger_ms = 0;
		zmq_setsockopt(old, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
		zmq_close(old);
	}
	return 0;
}

size_t
publish_away(const struct publish *p, const char *ep, struct gw_seq_range *out,
    size_t max)
{
	size_t from = 0, n = 0;

	for (size_t i = 0; i < p->nruns; i++)
		if (strcmp(p->runs[i].ep, ep) == 0)
			from = i + 1;
	for (size_t i = from; i < p->nruns && n < max; i++) {
		if (n > 0 && out[n - 1].last + 1 == p->runs[i].first) {
			out[n - 1].last = p->runs[i].last;   /* adjacent: merged */
			continue;
		}
		out[n].first = p->runs[i].first;
		out[n].last = p->runs[i].last;
		n++;
	}
	return n;
}

int
publish_leave(struct publish *p, struct gw_msg *m)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	publish_flush(p);
	if (p->head != NULL)
		return -1;   /* it would reach the next shard, after the move */
	m->version = GW_PROTO_VERSION;
	snprintf(m->probe_id, sizeof(m->probe_id), "%s", p->probe_id);
	m->seq = p->st.next_seq;
	m->sent_ts = publish_wall_now();
	if (envelope_encode(m, &buf, &len) != 0) {
		p->st.encode_failed++;
		return -1;
	}
	rc = zmq_send(p->sock, buf, len, ZMQ_DONTWAIT);
	free(buf);
	if (rc < 0)
		return -1;   /* the seq was not used */
	p->st.next_seq++;
	p->st.sent++;
	publish_handed(p, m->seq);
	return 0;
}
