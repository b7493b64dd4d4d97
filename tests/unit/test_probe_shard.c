/* test_probe_shard.c: rendezvous order, balance, minimal movement, failover and move back, reachability checks (greeting), the watcher thread. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>
#include "shard.h"

static const char *const EPS3 = "tcp://10.0.0.1:7700,tcp://10.0.0.2:7700,tcp://10.0.0.3:7700";

static void
test_parse(void **state)
{
	struct shard s;
	char err[256], big[SHARD_EP_MAX + 8], many[SHARD_MAX * 20 + 40];
	size_t o = 0;

	(void)state;
	assert_int_equal(shard_init(&s, "tcp://127.0.0.1:7700", "p1", err, sizeof(err)), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(shard_current(&s), "tcp://127.0.0.1:7700");
	assert_int_equal(shard_init(&s, EPS3, "p1", err, sizeof(err)), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(shard_init(&s, "", "p1", err, sizeof(err)), -1);
	assert_int_equal(shard_init(&s, "tcp://a:1,,tcp://b:1", "p1", err, sizeof(err)), -1);
	assert_int_equal(shard_init(&s, "tcp://a:1,", "p1", err, sizeof(err)), -1);
	assert_int_equal(shard_init(&s, "tcp://a:1,tcp://a:1", "p1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "twice"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(shard_init(&s, big, "p1", err, sizeof(err)), -1);
	for (int i = 0; i <= SHARD_MAX; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%stcp://h%d:1",
		    i ? "," : "", i);
	assert_int_equal(shard_init(&s, many, "p1", err, sizeof(err)), -1);
	assert_int_equal(shard_init(&s, NULL, "p1", err, sizeof(err)), -1);
}

/* The order depends on the set of endpoints, not on how the list is written. */
static void
test_order_independent_of_list_order(void **state)
{
	struct shard a, b;
	char err[256], id[32];

	(void)state;
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "gw%04d", i);
		assert_int_equal(shard_init(&a, EPS3, id, err, sizeof(err)), 0);
		assert_int_equal(shard_init(&b, "tcp://10.0.0.3:7700,tcp://10.0.0.1:7700,"
		    "tcp://10.0.0.2:7700", id, err, sizeof(err)), 0);
		for (size_t r = 0; r < 3; r++)
			assert_string_equal(a.ep[r], b.ep[r]);
		/* Scores are in descending order. */
		assert_true(shard_score(id, a.ep[0]) >= shard_score(id, a.ep[1]));
		assert_true(shard_score(id, a.ep[1]) >= shard_score(id, a.ep[2]));
	}
}

/* 3000 probe ids over 3 shards: each gets a fair share, and removing one shard moves only its probes. */
static void
test_balance_and_minimal_movement(void **state)
{
	struct shard s3, s2;
	char err[256], id[32];
	int owners[3] = { 0, 0, 0 }, moved = 0, owned_by_removed = 0;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "probe-%d", i);
		assert_int_equal(shard_init(&s3, EPS3, id, err, sizeof(err)), 0);
		assert_int_equal(shard_init(&s2, "tcp://10.0.0.1:7700,tcp://10.0.0.2:7700",
		    id, err, sizeof(err)), 0);
		owners[s3.ep[0][13] - '1']++;
		if (strcmp(s3.ep[0], "tcp://10.0.0.3:7700") == 0) {
			owned_by_removed++;
			/* Its fallback is what the 2-shard list makes its owner. */
			assert_string_equal(s3.ep[1], s2.ep[0]);
		} else if (strcmp(s3.ep[0], s2.ep[0]) != 0) {
			moved++;
		}
	}
	for (int k = 0; k < 3; k++)
		assert_true(owners[k] > 800 && owners[k] < 1200);
	assert_int_equal(moved, 0);
	assert_int_equal(owned_by_removed, owners[2]);
}

static void
test_failover_and_back(void **state)
{
	struct shard s;
	char err[256];
	bool up[SHARD_MAX] = { true, true, true };

	(void)state;
	assert_int_equal(shard_init(&s, EPS3, "p7", err, sizeof(err)), 0);
	assert_int_equal(shard_decide(&s, up, 100.0), 0);
	/* Owner down: the next rank at once. */
	up[0] = false;
	assert_int_equal(shard_decide(&s, up, 101.0), 1);
	assert_int_equal(s.switches, 1);
	/* Ranks 0 and 1 down: rank 2. */
	up[1] = false;
	assert_int_equal(shard_decide(&s, up, 102.0), 2);
	/* Everything down: stay where we are. */
	up[2] = false;
	assert_int_equal(shard_decide(&s, up, 103.0), 2);
	/* The owner returns: not before it has answered for SHARD_BACK_S. */
	up[0] = true;
	up[2] = true;
	assert_int_equal(shard_decide(&s, up, 104.0), 2);
	assert_int_equal(shard_decide(&s, up, 104.0 + SHARD_BACK_S / 2), 2);
	/* A flap resets the hold-down. */
	up[0] = false;
	assert_int_equal(shard_decide(&s, up, 104.0 + SHARD_BACK_S * 0.9), 2);
	up[0] = true;
	assert_int_equal(shard_decide(&s, up, 104.0 + SHARD_BACK_S * 1.1), 2);
	assert_int_equal(shard_decide(&s, up, 104.0 + SHARD_BACK_S * 2.2), 0);
	assert_string_equal(shard_current(&s), s.ep[0]);
	assert_int_equal(s.switches, 3);
}

/* A ZeroMQ ROUTER bound to ep (ZMQ_LAST_ENDPOINT into got): a running operator. */
static void *
bind_router(void *ctx, const char *ep, char *got, size_t gotlen)
{
	void *r = zmq_socket(ctx, ZMQ_ROUTER);
	int zero = 0;

	assert_non_null(r);
	assert_int_equal(zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	assert_int_equal(zmq_bind(r, ep), 0);
	assert_int_equal(zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, got, &gotlen), 0);
	return r;
}

/*
 * Up = accepts and greets with the ZMTP signature (a ROUTER); a socket that
 * listens but never greets (what the kernel does for a SIGSTOPped
 * operator), a missing unix socket and a closed port are down.
 */
static void
test_reachable(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct shard s;
	char list[1024], err[256], dir[] = "/tmp/gw-shard-XXXXXX";
	char tep[256], uep[256], ipcep[300], muteep[64];
	void *ctx = zmq_ctx_new(), *rt, *ru;
	int mute, port;

	(void)state;
	assert_non_null(ctx);
	assert_non_null(mkdtemp(dir));
	rt = bind_router(ctx, "tcp://127.0.0.1:*", tep, sizeof(tep));
	snprintf(ipcep, sizeof(ipcep), "ipc://%s/op.sock", dir);
	ru = bind_router(ctx, ipcep, uep, sizeof(uep));
	mute = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(mute, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(mute, 4), 0);
	assert_int_equal(getsockname(mute, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	snprintf(muteep, sizeof(muteep), "tcp://127.0.0.1:%d", port);
	snprintf(list, sizeof(list), "%s,%s,ipc://%s/none.sock,inproc://x,%s",
	    tep, ipcep, dir, muteep);
	assert_int_equal(shard_init(&s, list, "p1", err, sizeof(err)), 0);
	for (size_t i = 0; i < s.n; i++) {
		bool want = strstr(s.ep[i], "none.sock") == NULL &&
		    strcmp(s.ep[i], muteep) != 0;

		assert_int_equal(shard_reachable(&s, i, 500), want);
	}
	/* Closed: the TCP port refuses, the unix socket is gone. */
	zmq_close(rt);
	zmq_close(ru);
	zmq_ctx_term(ctx);   /* returns once the listeners are really closed */
	close(mute);
	unlink(ipcep + 6);
	for (size_t i = 0; i < s.n; i++)
		if (strncmp(s.ep[i], "inproc", 6) != 0)
			assert_false(shard_reachable(&s, i, 500));
	assert_false(shard_reachable(&s, s.n, 500));
	rmdir(dir);
}

/* Waits (bounded: 10 s) for the watcher's next round; false if none came. */
static bool
next_round(struct shard_watch *w, unsigned long *seen, bool up[SHARD_MAX])
{
	for (int i = 0; i < 1000; i++) {
		if (shard_watch_read(w, seen, up))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * The watcher thread reports every endpoint's state by rounds; a read
 * without a new round leaves up untouched; a ROUTER closed between rounds
 * shows as down in a later round, and coming back as up.
 */
static void
test_watch(void **state)
{
	char tep[256], list[600], err[256];
	void *ctx = zmq_ctx_new(), *rt;
	bool up[SHARD_MAX], probe[SHARD_MAX];
	unsigned long seen = 0, before;
	struct shard s;
	struct shard_watch *w;
	size_t ri = 0;

	(void)state;
	rt = bind_router(ctx, "tcp://127.0.0.1:*", tep, sizeof(tep));
	/* 127.0.0.1 port 1: refused (nothing listens there on a test host). */
	snprintf(list, sizeof(list), "%s,tcp://127.0.0.1:1", tep);
	assert_int_equal(shard_init(&s, list, "probe-w", err, sizeof(err)), 0);
	for (size_t i = 0; i < s.n; i++)
		if (strcmp(s.ep[i], tep) == 0)
			ri = i;
	w = shard_watch_start(&s, 300, 0.05);
	assert_non_null(w);
	assert_true(next_round(w, &seen, up));
	assert_true(up[ri]);
	assert_false(up[1 - ri]);
	/* No new round since: nothing copied. */
	memset(probe, 0x5a, sizeof(probe));
	before = seen;
	if (!shard_watch_read(w, &seen, probe)) {
		assert_int_equal(seen, before);
		assert_int_equal(((unsigned char *)probe)[0], 0x5a);
	}
	zmq_close(rt);
	/* A round may have started before the close: wait for a down one. */
	for (int k = 0; k < 20 && up[ri]; k++)
		assert_true(next_round(w, &seen, up));
	assert_false(up[ri]);
	rt = zmq_socket(ctx, ZMQ_ROUTER);
	assert_int_equal(zmq_bind(rt, tep), 0);
	for (int k = 0; k < 20 && !up[ri]; k++)
		assert_true(next_round(w, &seen, up));
	assert_true(up[ri]);
	shard_watch_stop(w);
	shard_watch_stop(NULL);
	zmq_close(rt);
	zmq_ctx_term(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_order_independent_of_list_order),
		cmocka_unit_test(test_balance_and_minimal_movement),
		cmocka_unit_test(test_failover_and_back),
		cmocka_unit_test(test_reachable),
		cmocka_unit_test(test_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
