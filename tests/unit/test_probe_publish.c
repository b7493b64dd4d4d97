/* test_probe_publish.c: the publish backlog: bounded by bytes, tail drop, order kept, delivered after the operator comes up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <zmq.h>

#include "envelope.h"
#include "publish.h"

#define N_FIRST   200
#define N_SECOND  10

struct fixture {
	char dir[64];
	char endpoint[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/gwpub.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->endpoint, sizeof(f->endpoint), "ipc://%s/op.sock", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/op.sock", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int
send_heartbeat(struct publish *p, double ts)
{
	struct gw_msg m;

	memset(&m, 0, sizeof(m));
	m.type = GW_BODY_HEARTBEAT;
	m.u.heartbeat.ts = ts;
	return publish_send(p, &m);
}

/* Receives envelopes on router until want arrived or about 10 s passed; fills seqs. */
static size_t
receive_all(void *router, struct publish *p, uint64_t *seqs, size_t want)
{
	static struct gw_msg m;
	uint8_t buf[4096];
	char err[128];
	size_t n = 0;
	int tries = 0, len;

	while (n < want && tries < 1000) {
		publish_flush(p);
		len = zmq_recv(router, buf, sizeof(buf), ZMQ_DONTWAIT);  /* routing id */
		if (len < 0) {
			tries++;
			usleep(10000);
			continue;
		}
		len = zmq_recv(router, buf, sizeof(buf), 0);
		assert_true(len > 0 && (size_t)len <= sizeof(buf));
		assert_int_equal(envelope_decode(buf, (size_t)len, &m, err, sizeof(err)), 0);
		assert_int_equal(m.type, GW_BODY_HEARTBEAT);
		seqs[n++] = m.seq;
		gw_msg_clear(&m);
	}
	return n;
}

/* Operator absent: ZeroMQ's queue, then the byte budget, then counted drops; all kept ones arrive in order. */
static void
test_backlog_budget(void **state)
{
	struct fixture *f = *state;
	struct publish_config cfg = {
		.endpoint = f->endpoint, .probe_id = "ptest", .backlog_bytes = 4096,
	};
	struct publish_stats st;
	struct publish *p = publish_new(&cfg);
	uint64_t seqs[N_FIRST + N_SECOND];
	size_t kept, got, i;
	void *zctx, *router;
	int fails = 0;

	assert_non_null(p);
	for (i = 0; i < N_FIRST; i++)
		fails += send_heartbeat(p, 1700000000.0 + (double)i) != 0;
	publish_get_stats(p, &st);
	assert_int_equal(st.next_seq, N_FIRST);
	assert_int_equal(st.dropped, (uint64_t)fails);
	assert_true(st.dropped > 0);                       /* the budget was reached */
	assert_true(st.backlog > 0 && st.backlog_bytes <= 4096);
	assert_true(st.backlog_peak_bytes <= 4096);
	kept = st.sent + st.backlog;
	assert_int_equal(kept + st.dropped, N_FIRST);
	assert_true(st.sent <= PUBLISH_PIPE_HWM);

	/* The operator comes up: everything kept arrives, oldest first, then new ones. */
	zctx = zmq_ctx_new();
	router = zmq_socket(zctx, ZMQ_ROUTER);
	assert_int_equal(zmq_bind(router, f->endpoint), 0);
	got = receive_all(router, p, seqs, kept);
	assert_int_equal(got, kept);
	for (i = 0; i < kept; i++)
		assert_int_equal(seqs[i], i);             /* tail drop: a gap after them */
	publish_get_stats(p, &st);
	assert_int_equal(st.backlog, 0);
	assert_int_equal(st.backlog_bytes, 0);
	assert_int_equal(st.late + PUBLISH_PIPE_HWM >= kept, 1);
	for (i = 0; i < N_SECOND; i++)
		assert_int_equal(send_heartbeat(p, 1700001000.0 + (double)i), 0);
	got = receive_all(router, p, seqs, N_SECOND);
	assert_int_equal(got, N_SECOND);
	for (i = 0; i < N_SECOND; i++)
		assert_int_equal(seqs[i], N_FIRST + i);   /* the operator sees dropped = gap */
	publish_get_stats(p, &st);
	assert_int_equal(st.sent + st.dropped, N_FIRST + N_SECOND);
	publish_free(p, 0);
	zmq_close(router);
	zmq_ctx_term(zctx);
}

/* The count limit (--queue) holds too, and publish_free counts what it could not hand over. */
static void
test_count_limit_and_exit(void **state)
{
	struct fixture *f = *state;
	struct publish_config cfg = {
		.endpoint = f->endpoint, .probe_id = "ptest",
		.sndhwm = PUBLISH_PIPE_HWM + 5, .backlog_bytes = 1 << 20,
	};
	struct publish_stats st;
	struct publish *p = publish_new(&cfg);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < 100; i++)
		(void)send_heartbeat(p, 1700000000.0 + (double)i);
	publish_get_stats(p, &st);
	assert_int_equal(st.backlog, 5);     /* ZeroMQ's 32 + 5 = the 37 allowed */
	assert_int_equal(st.sent + st.backlog + st.dropped, 100);
	publish_free(p, 0);                  /* counts the 5 left as dropped */
	publish_free(NULL, 0);
}

/* --queue below ZeroMQ's 32: ZeroMQ's own queue shrinks to it, nothing more waits. */
static void
test_small_queue(void **state)
{
	struct fixture *f = *state;
	struct publish_config cfg = {
		.endpoint = f->endpoint, .probe_id = "ptest", .sndhwm = 10,
		.backlog_bytes = 1 << 20,
	};
	struct publish_stats st;
	struct publish *p = publish_new(&cfg);

	assert_non_null(p);
	for (int i = 0; i < 100; i++)
		(void)send_heartbeat(p, 1700000000.0 + i);
	publish_get_stats(p, &st);
	assert_int_equal(st.backlog, 0);
	assert_true(st.sent <= 10);
	assert_true(st.dropped >= 90);
	assert_int_equal(st.sent + st.dropped, 100);
	publish_free(p, 0);
}

static void *
bind_router(void *zctx, const char *ep)
{
	void *r = zmq_socket(zctx, ZMQ_ROUTER);
	int zero = 0, one = 1;

	assert_non_null(r);
	zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof(zero));
	/*
	 * The test moves back within milliseconds: the ROUTER may not have seen
	 * the old connection close yet and would refuse the same routing id.
	 * (A probe moves back SHARD_BACK_S after the shard is up again.)
	 */
	zmq_setsockopt(r, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
	assert_int_equal(zmq_bind(r, ep), 0);
	return r;
}

/*
 * Shard runs: each endpoint gets a consecutive seq run; the leaving mark
 * goes to the endpoint left; publish_away lists the runs that went
 * elsewhere since the endpoint's last one (all, merged, for a new one).
 */
static void
test_runs_and_away(void **state)
{
	struct fixture *f = *state;
	struct publish_config cfg = { .endpoint = f->endpoint, .probe_id = "ptest" };
	struct gw_seq_range r[GW_AWAY_MAX];
	struct publish_stats st;
	struct publish *p;
	char ep2[200], path2[160], none[200];
	uint64_t seqs[8];
	void *zctx = zmq_ctx_new(), *ra, *rb;
	struct gw_msg m;
	size_t n;

	snprintf(path2, sizeof(path2), "%s/op2.sock", f->dir);
	snprintf(ep2, sizeof(ep2), "ipc://%s", path2);
	ra = bind_router(zctx, f->endpoint);
	rb = bind_router(zctx, ep2);
	p = publish_new(&cfg);
	assert_non_null(p);
	assert_int_equal(publish_away(p, f->endpoint, r, GW_AWAY_MAX), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(send_heartbeat(p, 1700000000.0 + i), 0);
	assert_int_equal(receive_all(ra, p, seqs, 5), 5);
	assert_int_equal(seqs[4], 4);
	memset(&m, 0, sizeof(m));
	m.type = GW_BODY_HEARTBEAT;
	m.u.heartbeat.leaving = true;
	assert_int_equal(publish_leave(p, &m), 0);          /* seq 5, to A */
	assert_int_equal(receive_all(ra, p, seqs, 1), 1);
	assert_int_equal(seqs[0], 5);
	assert_int_equal(publish_reconnect(p, f->endpoint, ep2, 1000), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(send_heartbeat(p, 1700000010.0 + i), 0);
	assert_int_equal(receive_all(rb, p, seqs, 5), 5);
	assert_int_equal(seqs[0], 6);
	assert_int_equal(seqs[4], 10);
	n = publish_away(p, f->endpoint, r, GW_AWAY_MAX);   /* back to A: B had 6..10 */
	assert_int_equal(n, 0);                             /* B's run is still open */
	assert_int_equal(publish_reconnect(p, ep2, f->endpoint, 0), 0);
	n = publish_away(p, f->endpoint, r, GW_AWAY_MAX);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].first, 6);
	assert_int_equal(r[0].last, 10);
	assert_int_equal(publish_away(p, ep2, r, GW_AWAY_MAX), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_heartbeat(p, 1700000020.0 + i), 0);
	assert_int_equal(receive_all(ra, p, seqs, 3), 3);
	assert_int_equal(seqs[0], 11);
	assert_int_equal(publish_reconnect(p, f->endpoint, ep2, 0), 0);
	n = publish_away(p, ep2, r, GW_AWAY_MAX);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].first, 11);
	assert_int_equal(r[0].last, 13);
	n = publish_away(p, "tcp://127.0.0.1:1", r, GW_AWAY_MAX);  /* never used: all */
	assert_int_equal(n, 1);
	assert_int_equal(r[0].first, 0);
	assert_int_equal(r[0].last, 13);
	assert_int_equal(publish_away(p, "tcp://127.0.0.1:1", r, 0), 0);
	publish_get_stats(p, &st);
	assert_int_equal(st.next_seq, 14);
	assert_int_equal(st.dropped, 0);
	/* Behind a backlog, no leaving mark (it would reach the next shard). */
	snprintf(none, sizeof(none), "ipc://%s/none.sock", f->dir);
	assert_int_equal(publish_reconnect(p, ep2, none, 0), 0);
	for (int i = 0; i < PUBLISH_PIPE_HWM + 3; i++)
		(void)send_heartbeat(p, 1700000030.0 + i);
	publish_get_stats(p, &st);
	assert_true(st.backlog > 0);
	assert_int_equal(publish_leave(p, &m), -1);
	publish_get_stats(p, &st);
	assert_int_equal(st.next_seq, 14 + PUBLISH_PIPE_HWM + 3);  /* no seq used */
	publish_free(p, 0);
	zmq_close(ra);
	zmq_close(rb);
	zmq_ctx_term(zctx);
	unlink(path2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backlog_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_limit_and_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_and_away, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
