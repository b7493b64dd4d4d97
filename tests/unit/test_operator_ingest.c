/* test_operator_ingest.c: sequence accounting of ingest across shard moves (Hello away ranges, leaving mark), with hand-made seqs over a real ROUTER. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <zmq.h>

#include "envelope.h"
#include "ingest.h"
#include "live.h"

struct fix {
	char dir[64], ep[128], state[128];
	void *zctx, *dealer;
	struct live *live;
	struct ingest *in;
	const char *id;
};

static void
fix_open(struct fix *f, const char *id)
{
	struct ingest_config cfg;
	int zero = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = f->ep;
	cfg.seq_state_file = f->state;
	f->id = id;
	f->live = live_new(16, 16);
	assert_non_null(f->live);
	f->in = ingest_new(&cfg, f->live, NULL, NULL);
	assert_non_null(f->in);
	f->zctx = zmq_ctx_new();
	f->dealer = zmq_socket(f->zctx, ZMQ_DEALER);
	zmq_setsockopt(f->dealer, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(f->dealer, ZMQ_ROUTING_ID, id, strlen(id));
	assert_int_equal(zmq_connect(f->dealer, f->ep), 0);
}

static void
fix_close(struct fix *f)
{
	zmq_close(f->dealer);
	zmq_ctx_term(f->zctx);
	ingest_publish(f->in);   /* writes the seq state */
	ingest_free(f->in);
	live_free(f->live);
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/gwing.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->ep, sizeof(f->ep), "ipc://%s/in.sock", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/seq.state", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	char p[160];

	snprintf(p, sizeof(p), "%s/in.sock", f->dir);
	unlink(p);
	unlink(f->state);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Sends one envelope with seq; a Hello with the away ranges given as pairs. */
static void
send_env(struct fix *f, enum gw_body type, uint64_t seq, bool leaving,
    size_t n_away, const uint64_t *away)
{
	static struct gw_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;

	memset(&m, 0, sizeof(m));
	m.version = GW_PROTO_VERSION;
	snprintf(m.probe_id, sizeof(m.probe_id), "%s", f->id);
	m.seq = seq;
	m.sent_ts = 1700000000.0 + (double)seq;
	m.type = type;
	if (type == GW_BODY_HELLO) {
		snprintf(m.u.hello.software, GW_NAME_MAX, "test");
		snprintf(m.u.hello.mode, sizeof(m.u.hello.mode), "live");
		m.u.hello.n_away = n_away;
		for (size_t i = 0; i < n_away; i++) {
			m.u.hello.away[i].first = away[2 * i];
			m.u.hello.away[i].last = away[2 * i + 1];
		}
	} else {
		m.type = GW_BODY_HEARTBEAT;
		m.u.heartbeat.ts = m.sent_ts;
		m.u.heartbeat.leaving = leaving;
	}
	assert_int_equal(envelope_encode(&m, &buf, &len), 0);
	assert_true(zmq_send(f->dealer, buf, len, 0) == (int)len);
	free(buf);
}

static void
hb(struct fix *f, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s <= to; s++)
		send_env(f, GW_BODY_HEARTBEAT, s, false, 0, NULL);
}

/* Polls ingest until the probe's highest seq is want (bounded: about 10 s); returns its info. */
static struct live_probe_info
wait_seq(struct fix *f, uint64_t want_seq, uint64_t want_msgs)
{
	struct live_probe_info *v, got;
	size_t n;

	memset(&got, 0, sizeof(got));
	for (int i = 0; i < 1000; i++) {
		ingest_poll(f->in, 10);
		assert_int_equal(live_probes_list(f->live, &v, &n), 0);
		for (size_t k = 0; k < n; k++)
			if (strcmp(v[k].id, f->id) == 0)
				got = v[k];
		free(v);
		if (got.seq == want_seq && got.accepted + got.duplicates >= want_msgs)
			return got;
	}
	fail_msg("probe %s: seq %llu, want %llu", f->id,
	    (unsigned long long)got.seq, (unsigned long long)want_seq);
	return got;
}

/*
 * A -> elsewhere -> back, as the shard that stays (seq numbers hand-made):
 * the seqs that went elsewhere are away, not lost, whether they were in the
 * Hello's own gap or already counted as lost behind a backlog; the run's own
 * drops are lost once; a stray copy of an away seq is a duplicate; the
 * state file keeps away and accepted.
 */
static void
test_move_and_back(void **state)
{
	struct fix *f = *state;
	struct live_probe_info i;
	static const uint64_t away1[] = { 11, 30 };
	static const uint64_t away2[] = { 41, 50 };
	FILE *fp;
	char line[256];
	bool found = false;

	fix_open(f, "pmove");
	send_env(f, GW_BODY_HELLO, 0, false, 0, NULL);
	hb(f, 1, 9);
	send_env(f, GW_BODY_HEARTBEAT, 10, true, 0, NULL);     /* leaving */
	i = wait_seq(f, 10, 11);
	assert_true(i.left);
	assert_int_equal(i.lost, 0);
	/* 11..30 went elsewhere; the Hello after the move back says so. */
	send_env(f, GW_BODY_HELLO, 31, false, 1, away1);
	i = wait_seq(f, 31, 12);
	assert_false(i.left);
	assert_int_equal(i.lost, 0);
	assert_int_equal(i.away, 20);
	assert_int_equal(i.restarts, 0);
	/* A drop of our own (35): lost once. */
	hb(f, 32, 34);
	hb(f, 36, 40);
	i = wait_seq(f, 40, 20);
	assert_int_equal(i.lost, 1);
	/*
	 * 41..50 elsewhere, 51..55 dropped (our run), the backlog 56..58
	 * arrives before the Hello at 59: 15 counted lost at first, then 10
	 * of them given back.
	 */
	hb(f, 56, 58);
	i = wait_seq(f, 58, 23);
	assert_int_equal(i.lost, 1 + 15);
	send_env(f, GW_BODY_HELLO, 59, false, 1, away2);
	i = wait_seq(f, 59, 24);
	assert_int_equal(i.lost, 1 + 5);
	assert_int_equal(i.away, 30);
	/* A stray copy of an away seq: a duplicate, not a late arrival. */
	hb(f, 45, 45);
	i = wait_seq(f, 59, 25);
	assert_int_equal(i.duplicates, 1);
	assert_int_equal(i.reordered, 0);
	assert_int_equal(i.lost, 6);
	/* Every seq 0..59: accepted, lost or away, once. */
	assert_int_equal(i.accepted + i.lost + i.away, 60);
	fix_close(f);
	fp = fopen(f->state, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "pmove ", 6) == 0) {
			assert_string_equal(line, "pmove 59 6 1 0 0 30 24\n");
			found = true;
		}
	fclose(fp);
	assert_true(found);
	/* A restart with the state keeps them; an old-style Hello still works. */
	fix_open(f, "pmove");
	send_env(f, GW_BODY_HELLO, 62, false, 0, NULL);
	i = wait_seq(f, 62, 25);
	assert_int_equal(i.accepted, 25);
	assert_int_equal(i.away, 30);
	assert_int_equal(i.lost, 6 + 2);
	fix_close(f);
}

/*
 * A shard that takes a probe over (never saw it): its run starts after the
 * ranges that went elsewhere; the seqs before its first one that are in no
 * range were meant for it and are lost, once.
 */
static void
test_take_over(void **state)
{
	struct fix *f = *state;
	struct live_probe_info i;
	static const uint64_t away[] = { 0, 80, 85, 90 };

	fix_open(f, "pnew");
	hb(f, 100, 100);                       /* the backlog comes first */
	i = wait_seq(f, 100, 1);
	assert_int_equal(i.lost, 0);
	send_env(f, GW_BODY_HELLO, 103, false, 2, away);
	i = wait_seq(f, 103, 2);
	/* 81..84 and 91..99 before the run, 101..102 in it. */
	assert_int_equal(i.lost, 4 + 9 + 2);
	assert_int_equal(i.away, 81 + 6);
	assert_int_equal(i.restarts, 0);
	/* A later Hello with the same ranges gives nothing back twice. */
	hb(f, 104, 104);
	send_env(f, GW_BODY_HELLO, 105, false, 2, away);
	i = wait_seq(f, 105, 4);
	assert_int_equal(i.lost, 15);
	fix_close(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_move_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_over, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
