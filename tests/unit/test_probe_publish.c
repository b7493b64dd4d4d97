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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backlog_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count_limit_and_exit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
