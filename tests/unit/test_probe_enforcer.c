/*
 * test_probe_enforcer.c: the enforcer's wire protocol (valid and invalid requests), the shared
 * ban policy, and, as root in a private network namespace, the real gatewatch-enforcer: bad
 * requests refused while it keeps serving, table removed on EOF, and the probe-side client
 * (enforce.c) surviving a killed or hung helper. Helper: $GW_ENFORCER or ../gatewatch-enforcer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "enforce.h"
#include "enforcer/banlist.h"
#include "enforcer/request.h"

static char helper[PATH_MAX];

static struct gw_addr A(const char *s)
{
	struct gw_addr a;

	assert_int_equal(gw_addr_parse(s, &a), 0);
	return a;
}

static struct banlist_prefix P(const char *s, unsigned len)
{
	struct gw_addr a = A(s);
	struct banlist_prefix p;

	assert_int_equal(banlist_prefix_make(&a, len, &p), 0);
	return p;
}

static int check(const struct wire_request *r, char *why)
{
	return request_check(r, sizeof(*r), NULL, why, 128);
}

static void test_request_check(void **state)
{
	struct banlist_prefix p = P("198.51.100.7", 32), p6 = P("2001:db8::", 32);
	struct wire_request r, ok;
	char why[128];
	uint8_t big[sizeof(r) + 1];

	(void)state;
	request_init(&ok, WIRE_OP_BAN, &p);
	ok.timeout_s = 60;
	assert_int_equal(check(&ok, why), 0);
	r = ok; r.timeout_s = 0;
	assert_int_equal(check(&r, why), -1);
	assert_non_null(strstr(why, "timeout"));
	r = ok; r.timeout_s = 7 * 86400 + 1;
	assert_int_equal(check(&r, why), -1);
	r = ok; r.magic ^= 1;
	assert_int_equal(check(&r, why), -1);
	r = ok; r.op = 0;
	assert_int_equal(check(&r, why), -1);
	r = ok; r.op = WIRE_OP_END;
	assert_int_equal(check(&r, why), -1);
	r = ok; r.family = 5;
	assert_int_equal(check(&r, why), -1);
	r = ok; r.prefix_len = 33;
	assert_int_equal(check(&r, why), -1);
	r = ok; r.prefix_len = 24;              /* 198.51.100.7/24: host bits set */
	assert_int_equal(check(&r, why), -1);
	assert_non_null(strstr(why, "host bits"));
	r = ok; r.addr[4] = 1;                  /* IPv4 with a fifth byte */
	assert_int_equal(check(&r, why), -1);
	r = ok; r.reserved[11] = 1;
	assert_int_equal(check(&r, why), -1);
	r = ok; r.limit = 5;
	assert_int_equal(check(&r, why), -1);
	request_init(&r, WIRE_OP_BAN, &p6);
	r.timeout_s = 1;
	assert_int_equal(check(&r, why), 0);
	r.prefix_len = 129;
	assert_int_equal(check(&r, why), -1);
	/* sizes */
	assert_int_equal(request_check(&ok, sizeof(ok) - 1, NULL, why, sizeof(why)), -1);
	memset(big, 0, sizeof(big));
	memcpy(big, &ok, sizeof(ok));
	assert_int_equal(request_check(big, sizeof(big), NULL, why, sizeof(why)), -1);
	assert_int_equal(request_check(NULL, 0, NULL, why, sizeof(why)), -1);
	/* ops without a prefix carry no address; list needs a limit */
	request_init(&r, WIRE_OP_LIST, NULL);
	assert_int_equal(check(&r, why), -1);
	r.limit = 10;
	assert_int_equal(check(&r, why), 0);
	r.limit = WIRE_LIST_MAX + 1;
	assert_int_equal(check(&r, why), -1);
	request_init(&r, WIRE_OP_COUNT, NULL);
	assert_int_equal(check(&r, why), 0);
	r.family = 4;
	assert_int_equal(check(&r, why), -1);
	request_init(&r, WIRE_OP_SHUTDOWN, NULL);
	r.addr[0] = 1;
	assert_int_equal(check(&r, why), -1);
	assert_string_equal(request_op_name(WIRE_OP_UNBAN), "unban");
	assert_string_equal(request_op_name(99), "?");
}

static void test_reply_check(void **state)
{
	struct wire_reply rp, out;

	(void)state;
	memset(&rp, 0, sizeof(rp));
	rp.magic = WIRE_MAGIC;
	snprintf(rp.message, sizeof(rp.message), "fine");
	assert_int_equal(request_reply_check(&rp, sizeof(rp), &out), 0);
	assert_int_equal(request_reply_check(&rp, sizeof(rp) - 1, &out), -1);
	memset(rp.message, 'x', sizeof(rp.message));       /* unterminated */
	assert_int_equal(request_reply_check(&rp, sizeof(rp), &out), -1);
	rp.message[0] = '\0';
	rp.status = 7;
	assert_int_equal(request_reply_check(&rp, sizeof(rp), &out), -1);
	rp.status = 0;
	rp.count = 1;
	rp.entries[0].family = 4;
	rp.entries[0].prefix_len = 40;
	assert_int_equal(request_reply_check(&rp, sizeof(rp), &out), -1);
}

static void test_banlist(void **state)
{
	struct banlist *b = banlist_new(2);
	struct banlist_prefix p = P("203.0.113.77", 24), q = P("198.51.100.1", 32);
	struct banlist_prefix r = P("2001:db8::1", 128), lo = P("127.1.2.3", 32);
	char msg[GW_TEXT_MAX], s[BANLIST_PREFIX_STR_MAX];

	(void)state;
	assert_non_null(b);
	assert_null(banlist_new(0));
	assert_string_equal(banlist_prefix_str(&p, s, sizeof(s)), "203.0.113.0/24");
	assert_int_equal(banlist_admit(b, &lo, 0, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "allowlisted (127.0.0.0/8)"));
	assert_int_equal(banlist_admit(b, &p, 0, msg, sizeof(msg)), 0);
	assert_int_equal(banlist_put(b, &p, 100), 0);
	assert_int_equal(banlist_put(b, &q, 200), 0);
	assert_int_equal(banlist_admit(b, &r, 0, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "cap of 2"));
	assert_int_equal(banlist_admit(b, &p, 0, msg, sizeof(msg)), 0);  /* refresh is fine */
	banlist_prune(b, 150);                                            /* p expired */
	assert_int_equal(banlist_count(b), 1);
	assert_int_equal(banlist_admit(b, &r, 150, msg, sizeof(msg)), 0);
	assert_int_equal(banlist_remove(b, &q), 0);
	assert_int_equal(banlist_remove(b, &q), -1);
	assert_int_equal(banlist_allow(b, &q), 0);
	assert_int_equal(banlist_allow_count(b), BANLIST_ALLOW_BUILTIN + 1);
	q.addr.a[3] = 0x11;
	q.len = 24;                                                       /* not canonical */
	assert_false(banlist_prefix_canonical(&q));
	assert_int_equal(banlist_allow(b, &q), -1);
	banlist_free(b);
	banlist_free(NULL);
}

/* ---- the real helper (root only, private network namespace) ---- */

static int live_setup(void **state)
{
	const char *env = getenv("GW_ENFORCER");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	(void)state;
	helper[0] = '\0';
	if (getuid() != 0 || unshare(CLONE_NEWNET) != 0 || system("nft list tables >/dev/null 2>&1") != 0)
		return 0;
	if (env != NULL) {
		snprintf(helper, sizeof(helper), "%s", env);
	} else if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		snprintf(helper, sizeof(helper), "%.4000s/../gatewatch-enforcer", exe);
	}
	if (access(helper, X_OK) != 0)
		helper[0] = '\0';
	return 0;
}

static pid_t raw_spawn(int *fd, const char *table)
{
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(sv[1], 3);
		execl(helper, helper, "--fd", "3", "--table", table, "--max", "4", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

static struct wire_reply raw_call(int fd, const void *req, size_t len)
{
	struct wire_reply rp, raw;
	struct timeval tv = { 5, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	assert_int_equal(recv(fd, &raw, sizeof(raw), 0), (ssize_t)sizeof(raw));
	assert_int_equal(request_reply_check(&raw, sizeof(raw), &rp), 0);
	return rp;
}

static bool table_exists(const char *table)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "nft list table inet %s >/dev/null 2>&1", table);
	return system(cmd) == 0;
}

static void test_helper_protocol(void **state)
{
	struct banlist_prefix p = P("198.51.100.7", 32);
	struct wire_request r;
	struct wire_reply rp;
	uint8_t junk[7] = { 1, 2, 3, 4, 5, 6, 7 };
	int fd, status;
	pid_t pid;

	(void)state;
	if (helper[0] == '\0')
		skip();
	pid = raw_spawn(&fd, "gwut_proto");
	request_init(&r, WIRE_OP_HELLO, NULL);
	r.seq = 1;
	rp = raw_call(fd, &r, sizeof(r));
	assert_int_equal(rp.status, 0);
	assert_int_equal(rp.seq, 1);
	assert_true(table_exists("gwut_proto"));
	/* bad requests: refused with a reason, and the helper keeps serving */
	rp = raw_call(fd, junk, sizeof(junk));
	assert_int_equal(rp.status, -1);
	assert_non_null(strstr(rp.message, "wrong size"));
	request_init(&r, WIRE_OP_BAN, &p);
	r.seq = 2;
	r.timeout_s = 30;
	r.prefix_len = 24;                     /* host bits set */
	rp = raw_call(fd, &r, sizeof(r));
	assert_int_equal(rp.status, -1);
	assert_int_equal(rp.seq, 2);
	r.prefix_len = 32;
	r.reserved[0] = 0xff;
	rp = raw_call(fd, &r, sizeof(r));
	assert_int_equal(rp.status, -1);
	r.reserved[0] = 0;
	rp = raw_call(fd, &r, sizeof(r));
	assert_int_equal(rp.status, 0);
	assert_non_null(strstr(rp.message, "198.51.100.7/32 banned for 30 s"));
	/* its own allowlist: loopback can never be banned, even by a hostile probe */
	p = P("127.0.0.0", 8);
	request_init(&r, WIRE_OP_BAN, &p);
	r.timeout_s = 30;
	rp = raw_call(fd, &r, sizeof(r));
	assert_int_equal(rp.status, -1);
	assert_non_null(strstr(rp.message, "allowlisted"));
	request_init(&r, WIRE_OP_COUNT, NULL);
	rp = raw_call(fd, &r, sizeof(r));
	assert_int_equal(rp.bans, 1);
	/* EOF: the helper removes its table and exits */
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_false(table_exists("gwut_proto"));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pid of the helper child of this process (there is exactly one), from /proc. */
static pid_t helper_pid(void)
{
	char path[64], buf[512];
	unsigned long children[16];
	FILE *fp;
	int n = 0, i;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (n < 16 && fscanf(fp, "%lu", &children[n]) == 1)
		n++;
	fclose(fp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%lu/comm", children[i]);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), fp) != NULL && strncmp(buf, "gatewatch-enfor", 15) == 0) {
			fclose(fp);
			return (pid_t)children[i];
		}
		fclose(fp);
	}
	return 0;
}

static void test_client_survives_helper(void **state)
{
	struct enforce_config cfg = { .mode = ENFORCE_ON, .table = "gwut_client",
		.max_entries = 8, .default_timeout_s = 60, .enforcer_path = helper };
	struct enforce *e;
	struct gw_addr a;
	char msg[GW_TEXT_MAX], lines[8][GW_TEXT_MAX];
	pid_t pid;
	double t0;

	(void)state;
	if (helper[0] == '\0')
		skip();
	e = enforce_new(&cfg);
	assert_non_null(e);
	a = A("192.0.2.0");
	assert_int_equal(enforce_allow(e, &a, 28), 0);
	a = A("203.0.113.9");
	assert_int_equal(enforce_ban(e, &a, 32, 0, msg, sizeof(msg)), 0);
	/* killed helper: the call fails, the helper restarts with the ban re-applied */
	pid = helper_pid();
	assert_true(pid > 0);
	kill(pid, SIGKILL);
	usleep(100000);
	a = A("198.51.100.1");
	assert_int_equal(enforce_ban(e, &a, 32, 0, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "restarted"));
	assert_int_equal(enforce_ban(e, &a, 32, 0, msg, sizeof(msg)), 0);
	assert_int_equal(enforce_list(e, lines, 8), 2);
	a = A("192.0.2.3");                    /* the allowlist was re-sent as well */
	assert_int_equal(enforce_ban(e, &a, 32, 0, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "allowlisted"));
	/* hung helper: the call gives up quickly and the helper is replaced */
	pid = helper_pid();
	kill(pid, SIGSTOP);
	t0 = now_s();
	a = A("198.51.100.2");
	assert_int_equal(enforce_ban(e, &a, 32, 0, msg, sizeof(msg)), -1);
	assert_true(now_s() - t0 < 2.0);
	assert_int_not_equal(helper_pid(), pid);
	/* a helper that died on its own is noticed by enforce_tick */
	kill(helper_pid(), SIGKILL);
	usleep(100000);
	enforce_tick(e, 0);
	assert_true(helper_pid() > 0);
	assert_int_equal(enforce_list(e, lines, 8), 2);
	assert_true(table_exists("gwut_client"));
	enforce_free(e);
	assert_false(table_exists("gwut_client"));
	cfg.enforcer_path = "/nonexistent/gatewatch-enforcer";
	assert_null(enforce_new(&cfg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_check),
		cmocka_unit_test(test_reply_check),
		cmocka_unit_test(test_banlist),
		cmocka_unit_test(test_helper_protocol),
		cmocka_unit_test(test_client_survives_helper),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, live_setup, NULL);
}
