/*
 * main.c: gatewatch-enforcer, the probe's privileged helper. Keeps only
 * CAP_NET_ADMIN, reads fixed-size typed requests from the socket the probe
 * passed (--fd), checks every field, and changes its own nftables table.
 * It never executes text it was sent. Exits (removing the table) on a
 * shutdown request, when the probe closes the socket or dies, or on SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banlist.h"
#include "config.h"
#include "log.h"
#include "request.h"
#include "rules.h"

struct enforcer {
	int fd;                       /* SOCK_SEQPACKET to the probe */
	struct rules *rules;          /* NULL when set-up failed or after shutdown */
	struct banlist *bans;
	char setup_msg[GW_TEXT_MAX];
	uint64_t bad_requests;
	struct log_ratelimit bad_rl;
};

struct enforcer_opts {
	int fd;
	const char *table;
	unsigned long long max_entries;
	const char *user;
	bool use_syslog;
	enum log_level level;
};

static volatile sig_atomic_t enforcer_stop;

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: gatewatch-enforcer --fd N [--table NAME] [--max N] [--user USER]\n"
"                          [--syslog] [--log-level LEVEL]\n"
"The privileged helper of gatewatch-probe --enforce on; the probe starts it.\n"
"Serves fixed-size requests on the AF_UNIX SOCK_SEQPACKET socket N and keeps\n"
"nftables table inet NAME (default gatewatch) with at most N bans (default\n"
"10000). Keeps only CAP_NET_ADMIN; as root with --user, switches to USER.\n"
"Removes its table and exits when the probe closes the socket or on SIGTERM.\n");
}

static void
opts_parse(struct enforcer_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "fd", required_argument, NULL, 'f' }, { "table", required_argument, NULL, 't' },
		{ "max", required_argument, NULL, 'm' }, { "user", required_argument, NULL, 'u' },
		{ "syslog", no_argument, NULL, 's' }, { "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	unsigned long long fd = 0;
	int c;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->table = "gatewatch";
	o->max_entries = 10000;
	o->level = LOG_LVL_INFO;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (config_parse_u64(optarg, 0, 65535, &fd) != 0)
				fatalx("--fd: \"%s\": expected a descriptor number", optarg);
			o->fd = (int)fd;
			break;
		case 't': o->table = optarg; break;
		case 'm':
			if (config_parse_u64(optarg, 1, BANLIST_ENTRIES_MAX, &o->max_entries) != 0)
				fatalx("--max: \"%s\": expected 1..%d", optarg, BANLIST_ENTRIES_MAX);
			break;
		case 'u': o->user = optarg; break;
		case 's': o->use_syslog = true; break;
		case 'l':
			if (log_level_parse(optarg, &o->level) != 0)
				fatalx("--log-level: \"%s\": expected debug, info, warn or error", optarg);
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc || o->fd < 0)
		fatalx("--fd N is required (the probe starts this helper; see --help)");
	if (!rules_table_valid(o->table))
		fatalx("--table: \"%s\": expected a letter, then letters, digits or '_'", o->table);
}

/* As root: optionally switch to user (keeping capabilities over setuid). */
static void
switch_user(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		fatalx("--user: no such user \"%s\"", user);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		fatal("prctl(PR_SET_KEEPCAPS)");
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		fatal("cannot switch to user %s", user);
	if (pw->pw_uid != 0 && setuid(0) == 0)
		fatalx("could regain root after dropping privileges");
}

/*
 * Keeps CAP_NET_ADMIN (when we have it) and nothing else: shrinks the
 * bounding set when allowed, clears ambient and inheritable capabilities,
 * optionally switches user, and sets no_new_privs.
 */
static void
drop_privileges(const char *user)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct cur[2], want[2];
	const uint32_t admin = 1U << CAP_NET_ADMIN;
	bool has_admin, others;
	int c;

	if (syscall(SYS_capget, &hdr, cur) != 0)
		fatal("capget");
	has_admin = (cur[0].permitted & admin) != 0;
	if (cur[0].effective & (1U << CAP_SETPCAP))
		for (c = 0; c < 64; c++)
			if (c != CAP_NET_ADMIN)
				(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);  /* EINVAL past the last cap */
	if (user != NULL && getuid() == 0)
		switch_user(user);
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	others = (cur[0].permitted & ~admin) != 0 || cur[1].permitted != 0 ||
	    cur[0].inheritable != 0 || cur[1].inheritable != 0;
	memset(want, 0, sizeof(want));
	if (has_admin)
		want[0].effective = want[0].permitted = admin;
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	if (syscall(SYS_capset, &hdr, want) != 0) {
		/* A seccomp filter may refuse capset; acceptable if nothing else is held. */
		if ((cur[0].permitted & ~admin) != 0 || cur[1].permitted != 0)
			fatal("capset(CAP_NET_ADMIN only)");
		if (others)
			log_debug("capset refused; inheritable capabilities left as they are");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (!has_admin)
		log_warn("no CAP_NET_ADMIN: changes to nftables will fail");
	else
		log_debug("running as uid %u with CAP_NET_ADMIN only", (unsigned)getuid());
}

static void
on_signal(int sig)
{
	(void)sig;
	enforcer_stop = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;   /* no SA_RESTART: recv/send return EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Sends one reply; 0 or -1 (the probe is gone). */
static int
reply_send(struct enforcer *en, struct wire_reply *rp)
{
	ssize_t n;

	rp->magic = WIRE_MAGIC;
	do
		n = send(en->fd, rp, sizeof(*rp), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR && !enforcer_stop);
	return n == (ssize_t)sizeof(*rp) ? 0 : -1;
}

static void
reply_msg(struct wire_reply *rp, int status, const char *msg)
{
	rp->status = status;
	snprintf(rp->message, sizeof(rp->message), "%s", msg);
}

static void
handle_ban(struct enforcer *en, const struct wire_request *rq, struct wire_reply *rp)
{
	struct banlist_prefix p;
	char s[BANLIST_PREFIX_STR_MAX];
	uint64_t now = banlist_now_us();
	bool present;

	request_prefix(rq, &p);
	rp->status = -1;
	if (banlist_admit(en->bans, &p, now, rp->message, sizeof(rp->message)) != 0)
		return;
	present = banlist_find(en->bans, &p) != NULL;
	if (rules_add(en->rules, &p, rq->timeout_s, present, rp->message,
	    sizeof(rp->message)) != 0)
		return;
	if (banlist_put(en->bans, &p, now + (uint64_t)rq->timeout_s * 1000000) != 0) {
		/* Cannot happen after banlist_admit; keep the kernel in line anyway. */
		rules_del(en->rules, &p, NULL, 0);
		reply_msg(rp, -1, "ban table full");
		return;
	}
	banlist_prefix_str(&p, s, sizeof(s));
	snprintf(rp->message, sizeof(rp->message), "%s banned for %u s", s, rq->timeout_s);
	rp->status = 0;
	log_info("%s banned for %u s", s, rq->timeout_s);
}

static void
handle_unban(struct enforcer *en, const struct wire_request *rq, struct wire_reply *rp)
{
	struct banlist_prefix p;
	char s[BANLIST_PREFIX_STR_MAX];

	request_prefix(rq, &p);
	banlist_prefix_str(&p, s, sizeof(s));
	banlist_prune(en->bans, banlist_now_us());
	rp->status = -1;
	if (banlist_find(en->bans, &p) == NULL) {
		snprintf(rp->message, sizeof(rp->message), "%s is not banned", s);
		return;
	}
	if (rules_del(en->rules, &p, rp->message, sizeof(rp->message)) != 0)
		return;
	banlist_remove(en->bans, &p);
	snprintf(rp->message, sizeof(rp->message), "%s unbanned", s);
	rp->status = 0;
	log_info("%s unbanned", s);
}

/* Answers LIST with ceil(n / WIRE_LIST_PER_REPLY) replies (at least one). */
static int
handle_list(struct enforcer *en, const struct wire_request *rq, struct wire_reply *rp)
{
	struct wire_entry *all = calloc(rq->limit, sizeof(*all));
	size_t n, i = 0, k;

	if (all == NULL) {
		reply_msg(rp, -1, "out of memory");
		return reply_send(en, rp);
	}
	n = rules_list(en->rules, all, rq->limit);
	do {
		k = n - i < WIRE_LIST_PER_REPLY ? n - i : WIRE_LIST_PER_REPLY;
		memset(rp->entries, 0, sizeof(rp->entries));
		memcpy(rp->entries, all + i, k * sizeof(*all));
		rp->count = (uint32_t)k;
		i += k;
		rp->more = i < n;
		snprintf(rp->message, sizeof(rp->message), "%zu entries", n);
		rp->status = 0;
		if (reply_send(en, rp) != 0) {
			free(all);
			return -1;
		}
	} while (i < n);
	free(all);
	return 0;
}

/* Carries out one checked request and answers it; -1 when the loop should end. */
static int
handle(struct enforcer *en, const struct wire_request *rq, struct wire_reply *rp)
{
	struct banlist_prefix p;

	if (en->rules == NULL && rq->op != WIRE_OP_SHUTDOWN) {
		reply_msg(rp, -1, en->setup_msg);
		reply_send(en, rp);
		return -1;       /* nothing useful to do without our table */
	}
	switch (rq->op) {
	case WIRE_OP_HELLO:
		reply_msg(rp, 0, en->setup_msg);
		break;
	case WIRE_OP_ALLOW:
		request_prefix(rq, &p);
		if (banlist_allow(en->bans, &p) == 0)
			reply_msg(rp, 0, "allowlisted");
		else
			reply_msg(rp, -1, "allowlist full");
		break;
	case WIRE_OP_BAN: handle_ban(en, rq, rp); break;
	case WIRE_OP_UNBAN: handle_unban(en, rq, rp); break;
	case WIRE_OP_LIST: return handle_list(en, rq, rp);
	case WIRE_OP_COUNT:
		banlist_prune(en->bans, banlist_now_us());
		rp->bans = (uint32_t)banlist_count(en->bans);
		reply_msg(rp, 0, "count");
		break;
	case WIRE_OP_SHUTDOWN:
		rules_free(en->rules);
		en->rules = NULL;
		reply_msg(rp, 0, "table removed");
		reply_send(en, rp);
		return -1;
	}
	return reply_send(en, rp);
}

/* Reads, checks and answers requests until shutdown, EOF or a signal. */
static void
serve(struct enforcer *en)
{
	uint8_t buf[sizeof(struct wire_request) + 16];
	struct wire_request rq;
	struct wire_reply rp;
	char why[128];
	ssize_t n;

	while (!enforcer_stop) {
		n = recv(en->fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;       /* EOF: the probe closed the socket or died */
		memset(&rp, 0, sizeof(rp));
		/* With MSG_TRUNC n is the datagram's real size: request_check refuses it
		 * unless it is exactly one request, before reading anything. */
		if (request_check(buf, (size_t)n, &rq, why, sizeof(why)) != 0) {
			en->bad_requests++;
			log_warn_rl(&en->bad_rl, "bad request %llu refused: %s",
			    (unsigned long long)en->bad_requests, why);
			if ((size_t)n >= 8)
				memcpy(&rp.seq, buf + 4, sizeof(rp.seq));
			rp.status = -1;
			snprintf(rp.message, sizeof(rp.message), "bad request: %s", why);
			if (reply_send(en, &rp) != 0)
				break;
			continue;
		}
		rp.seq = rq.seq;
		if (handle(en, &rq, &rp) != 0)
			break;
	}
}

int
main(int argc, char **argv)
{
	struct enforcer_opts o;
	struct enforcer en;

	log_init("gatewatch-enforcer", LOG_LVL_INFO, false);
	opts_parse(&o, argc, argv);
	log_init("gatewatch-enforcer", o.level, o.use_syslog);
	install_signals();
	drop_privileges(o.user);
	memset(&en, 0, sizeof(en));
	en.fd = o.fd;
	en.bad_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	if ((en.bans = banlist_new((size_t)o.max_entries)) == NULL)
		fatalx("out of memory");
	en.rules = rules_new(o.table, en.setup_msg, sizeof(en.setup_msg));
	if (en.rules != NULL)
		log_info("table inet %s ready (cap %llu entries)", o.table, o.max_entries);
	serve(&en);
	rules_free(en.rules);
	banlist_free(en.bans);
	close(en.fd);
	return 0;
}
