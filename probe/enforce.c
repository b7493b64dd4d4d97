/*
 * enforce.c: countermeasures in the probe's own nftables table (inet gatewatch).
 * Policy (allowlist, cap, host bits) runs here in every mode; in mode on the
 * changes go as fixed-size typed requests to gatewatch-enforcer, a helper this
 * module starts and restarts, so the probe never links libnftables.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enforce.h"
#include "enforcer/banlist.h"
#include "enforcer/request.h"
#include "log.h"

#define ENFORCE_TABLE_MAX   32
#define ENFORCE_HELPER      "gatewatch-enforcer"
#define ENFORCE_CALL_MS     200     /* ban, unban, allow: one nft transaction */
#define ENFORCE_LIST_MS     1000    /* list: reads both sets back */
#define ENFORCE_START_MS    3000    /* first start: exec and table creation */
#define ENFORCE_RESTART_MS  1000    /* restart from the capture loop, incl. re-sending bans */
#define ENFORCE_RESPAWN_GAP_US 2000000

struct enforce {
	enum enforce_mode mode;
	char table[ENFORCE_TABLE_MAX];
	size_t max_entries;
	uint32_t default_timeout_s;
	struct banlist *bl;       /* policy and bookkeeping, all modes */
	/* ENFORCE_ON: the helper */
	char path[PATH_MAX];
	char user[64];            /* "" = none */
	bool use_syslog;
	pid_t pid;                /* -1 when not running */
	int fd;                   /* SOCK_SEQPACKET, -1 when not running */
	uint32_t seq;
	uint64_t last_spawn_us;
};

/* Table names end up in nft commands: letters, digits and '_' only. */
static bool enforce_table_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= ENFORCE_TABLE_MAX ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static void enforce_msg(char *msg, size_t msglen, const char *fmt, const char *arg)
{
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, fmt, arg);
}

/* ---- finding and starting the helper ---- */

/* Looks name up in $PATH; 0 with the full path in out, or -1. */
static int enforce_path_lookup(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH"), *p, *end;

	for (p = path; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end == p)
			continue;
		if ((size_t)snprintf(out, outlen, "%.*s/%s", (int)(end - p), p, name) < outlen &&
		    access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Resolves the helper: given path, else next to /proc/self/exe, else $PATH. */
static int enforce_find_helper(const char *given, char *out, size_t outlen)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (given != NULL && strchr(given, '/') != NULL) {
		snprintf(out, outlen, "%s", given);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	if (given != NULL)
		return enforce_path_lookup(given, out, outlen);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(out, outlen, "%s/%s", exe, ENFORCE_HELPER) < outlen &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	return enforce_path_lookup(ENFORCE_HELPER, out, outlen);
}

/* What the child must do to hand CAP_NET_ADMIN over exec (computed before fork). */
struct enforce_caps {
	bool raise_ambient;       /* non-root holding CAP_NET_ADMIN: make it ambient */
	bool set_inheritable;     /* ... after adding it to the inheritable set */
	struct __user_cap_data_struct data[2];
};

static void enforce_caps_plan(struct enforce_caps *c)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	const uint32_t admin = 1U << CAP_NET_ADMIN;

	memset(c, 0, sizeof(*c));
	if (getuid() == 0 || syscall(SYS_capget, &hdr, c->data) != 0 ||
	    !(c->data[0].permitted & admin))
		return;       /* root regains capabilities on exec; else nothing to pass */
	c->raise_ambient = true;
	c->set_inheritable = !(c->data[0].inheritable & admin);
	c->data[0].inheritable |= admin;
}

/*
 * In the forked child: the socket becomes fd 3, stdin /dev/null, stdout the
 * probe's stderr (stdout may carry JSON Lines); every other descriptor closes
 * on exec; only CAP_NET_ADMIN stays ambient. Async-signal-safe calls only.
 */
static void __attribute__((noreturn))
enforce_child(int sock, int errfd, int devnull, char *const argv[], struct enforce_caps *c)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	sigset_t none;
	int err, fd;

	setsid();      /* the terminal's ^C goes to the probe, which then shuts us down */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(sock, 3) < 0 || dup2(devnull, 0) < 0 || dup2(2, 1) < 0)
		goto fail;
	if (syscall(SYS_close_range, 4U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0)
		for (fd = 4; fd < 4096; fd++)
			if (fd != errfd)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (c->set_inheritable)
		(void)syscall(SYS_capset, &hdr, c->data);
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (c->raise_ambient)
		(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0);
	execv(argv[0], argv);
fail:
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0)
		_exit(126);
	_exit(127);
}

/* Waits up to ms for pid to exit, then kills it; always reaps. */
static void enforce_reap(pid_t pid, int ms)
{
	int i, status;

	for (i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* Forks and execs the helper; 0 with e->pid/e->fd set, or -1 with msg. */
static int enforce_fork(struct enforce *e, char *msg, size_t msglen)
{
	char maxs[24], *argv[12];
	int sv[2] = { -1, -1 }, ep[2] = { -1, -1 }, devnull, err = 0, argc = 0, i;
	struct enforce_caps caps;
	struct pollfd pfd;
	pid_t pid;

	snprintf(maxs, sizeof(maxs), "%zu", e->max_entries);
	argv[argc++] = e->path;
	argv[argc++] = "--fd";
	argv[argc++] = "3";
	argv[argc++] = "--table";
	argv[argc++] = e->table;
	argv[argc++] = "--max";
	argv[argc++] = maxs;
	if (e->user[0] != '\0') {
		argv[argc++] = "--user";
		argv[argc++] = e->user;
	}
	if (e->use_syslog)
		argv[argc++] = "--syslog";
	argv[argc] = NULL;
	enforce_caps_plan(&caps);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(ep, O_CLOEXEC) != 0 || (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		enforce_msg(msg, msglen, "cannot start the enforcer: %s", strerror(errno));
		for (i = 0; i < 2; i++) {
			if (sv[i] >= 0) close(sv[i]);
			if (ep[i] >= 0) close(ep[i]);
		}
		return -1;
	}
	/* Keep the child's descriptors clear of 0..3, which it rearranges. */
	for (i = 0; i < 2; i++) {
		int hi = fcntl(sv[i], F_DUPFD_CLOEXEC, 10), hj = fcntl(ep[i], F_DUPFD_CLOEXEC, 10);

		close(sv[i]), sv[i] = hi;
		close(ep[i]), ep[i] = hj;
	}
	i = fcntl(devnull, F_DUPFD_CLOEXEC, 10);
	close(devnull);
	devnull = i;
	if ((pid = fork()) == 0)
		enforce_child(sv[1], ep[1], devnull, argv, &caps);
	if (pid < 0)
		err = errno;
	close(sv[1]);
	close(ep[1]);
	close(devnull);
	if (pid > 0) {
		pfd.fd = ep[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 2000) == 1 && read(ep[0], &err, sizeof(err)) != sizeof(err))
			err = 0;       /* EOF: exec succeeded */
	}
	close(ep[0]);
	if (pid < 0 || err != 0) {
		snprintf(msg, msglen, "cannot run %.160s: %s", e->path, strerror(err));
		if (pid > 0)
			enforce_reap(pid, 0);
		close(sv[0]);
		return -1;
	}
	e->pid = pid;
	e->fd = sv[0];
	return 0;
}

/* ---- requests ---- */

/* Receives the reply to seq before deadline_us; stale replies are skipped. 0 or -1 with msg. */
static int enforce_recv(struct enforce *e, uint32_t seq, struct wire_reply *rp,
    uint64_t deadline_us, char *msg, size_t msglen)
{
	uint8_t buf[sizeof(*rp) + 16];
	struct pollfd pfd = { .fd = e->fd, .events = POLLIN };
	uint64_t now;
	ssize_t n;
	int rc;

	for (;;) {
		now = banlist_now_us();
		if (now >= deadline_us) {
			enforce_msg(msg, msglen, "%s did not answer in time", ENFORCE_HELPER);
			return -1;
		}
		rc = poll(&pfd, 1, (int)((deadline_us - now + 999) / 1000));
		if (rc <= 0)
			continue;      /* EINTR or time up: the loop decides */
		n = recv(e->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			enforce_msg(msg, msglen, "%s exited", ENFORCE_HELPER);
			return -1;
		}
		if (request_reply_check(buf, (size_t)n, rp) != 0) {
			enforce_msg(msg, msglen, "malformed reply from %s", ENFORCE_HELPER);
			return -1;
		}
		if (rp->seq == seq)
			return 0;
	}
}

/* Sends rq and waits up to budget_ms for its reply. 0 (reply in rp) or -1 (transport; msg). */
static int enforce_rpc(struct enforce *e, struct wire_request *rq, struct wire_reply *rp,
    int budget_ms, char *msg, size_t msglen)
{
	ssize_t n;

	if (e->fd < 0) {
		enforce_msg(msg, msglen, "%s is not running", ENFORCE_HELPER);
		return -1;
	}
	rq->seq = ++e->seq;
	n = send(e->fd, rq, sizeof(*rq), MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)sizeof(*rq)) {
		enforce_msg(msg, msglen, "cannot reach %s", ENFORCE_HELPER);
		return -1;
	}
	return enforce_recv(e, rq->seq, rp, banlist_now_us() + (uint64_t)budget_ms * 1000,
	    msg, msglen);
}

/* Ends the helper: with graceful, asks it to remove its table first. */
static void enforce_stop(struct enforce *e, bool graceful)
{
	struct wire_request rq;
	struct wire_reply rp;

	if (e->pid <= 0)
		return;
	if (graceful && e->fd >= 0) {
		request_init(&rq, WIRE_OP_SHUTDOWN, NULL);
		if (enforce_rpc(e, &rq, &rp, 2000, NULL, 0) == 0 && rp.status == 0)
			log_info("enforce: table inet %s removed", e->table);
	}
	if (e->fd >= 0)
		close(e->fd);       /* EOF also makes it remove the table and exit */
	e->fd = -1;
	if (!graceful)
		kill(e->pid, SIGTERM);
	enforce_reap(e->pid, graceful ? 1000 : 500);
	e->pid = -1;
}

/* Re-sends the allowlist and the live bans to a restarted helper within budget. */
static void enforce_restore(struct enforce *e, uint64_t deadline_us)
{
	struct wire_request rq;
	struct wire_reply rp;
	const struct banlist_entry *b;
	uint64_t now = banlist_now_us();
	size_t i, lost = 0;

	for (i = BANLIST_ALLOW_BUILTIN; i < banlist_allow_count(e->bl); i++) {
		request_init(&rq, WIRE_OP_ALLOW, banlist_allow_at(e->bl, i));
		if (enforce_rpc(e, &rq, &rp, ENFORCE_CALL_MS, NULL, 0) != 0 || rp.status != 0)
			log_err("enforce: cannot re-send the allowlist to the restarted helper");
	}
	banlist_prune(e->bl, now);
	i = 0;
	while ((b = banlist_at(e->bl, i)) != NULL) {
		request_init(&rq, WIRE_OP_BAN, &b->p);
		rq.timeout_s = (uint32_t)((b->expires_us - now + 999999) / 1000000);
		if (banlist_now_us() < deadline_us &&
		    enforce_rpc(e, &rq, &rp, ENFORCE_CALL_MS, NULL, 0) == 0 && rp.status == 0) {
			i++;
			continue;
		}
		banlist_remove(e->bl, &b->p);
		lost++;
	}
	if (lost > 0 || i > 0)
		log_warn("enforce: restarted helper: %zu bans re-applied, %zu lost", i, lost);
}

/* Starts the helper and waits for its table; then restores state. 0 or -1 with msg. */
static int enforce_spawn(struct enforce *e, int budget_ms, char *msg, size_t msglen)
{
	struct wire_request rq;
	struct wire_reply rp;
	uint64_t deadline = banlist_now_us() + (uint64_t)budget_ms * 1000;

	e->last_spawn_us = banlist_now_us();
	if (enforce_fork(e, msg, msglen) != 0)
		return -1;
	request_init(&rq, WIRE_OP_HELLO, NULL);
	if (enforce_rpc(e, &rq, &rp, budget_ms, msg, msglen) != 0) {
		enforce_stop(e, false);
		return -1;
	}
	if (rp.status != 0) {       /* the helper could not create its table */
		enforce_msg(msg, msglen, "%s", rp.message);
		enforce_stop(e, false);
		return -1;
	}
	log_info("enforce: %s (pid %d): %s", ENFORCE_HELPER, (int)e->pid, rp.message);
	enforce_restore(e, deadline);
	return 0;
}

/* Starts the helper again unless that was tried less than ENFORCE_RESPAWN_GAP_US ago. */
static int enforce_respawn(struct enforce *e, char *msg, size_t msglen)
{
	char why[GW_TEXT_MAX];

	if (banlist_now_us() - e->last_spawn_us < ENFORCE_RESPAWN_GAP_US) {
		enforce_msg(msg, msglen, "%s is not running", ENFORCE_HELPER);
		return -1;
	}
	if (enforce_spawn(e, ENFORCE_RESTART_MS, why, sizeof(why)) != 0) {
		log_err("enforce: cannot restart %s: %s", ENFORCE_HELPER, why);
		enforce_msg(msg, msglen, "%s is not running", ENFORCE_HELPER);
		return -1;
	}
	return 0;
}

/*
 * One request to the helper. 0 when a reply arrived (its status may still be
 * -1); -1 when the helper did not answer: it is stopped and started again
 * once, and msg says what happened.
 */
static int enforce_call(struct enforce *e, struct wire_request *rq, struct wire_reply *rp,
    int budget_ms, char *msg, size_t msglen)
{
	char why[GW_TEXT_MAX] = "";

	if (e->fd < 0 && enforce_respawn(e, msg, msglen) != 0)
		return -1;
	if (enforce_rpc(e, rq, rp, budget_ms, why, sizeof(why)) == 0)
		return 0;
	log_err("enforce: %s request: %s; restarting it", request_op_name(rq->op), why);
	enforce_stop(e, false);
	e->last_spawn_us = 0;   /* one immediate restart */
	if (enforce_respawn(e, NULL, 0) == 0)
		strncat(why, "; restarted", sizeof(why) - strlen(why) - 1);
	enforce_msg(msg, msglen, "%s", why);
	return -1;
}

/* ---- the enforce.h API ---- */

/* See enforce.h. */
struct enforce *enforce_new(const struct enforce_config *cfg)
{
	struct enforce_config def = { ENFORCE_DRY_RUN, "gatewatch", 10000, 600, NULL, NULL, false };
	struct enforce *e;
	char why[GW_TEXT_MAX];

	if (cfg == NULL)
		cfg = &def;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->mode = cfg->mode;
	e->pid = -1;
	e->fd = -1;
	snprintf(e->table, sizeof(e->table), "%s", cfg->table ? cfg->table : "gatewatch");
	e->max_entries = cfg->max_entries ? cfg->max_entries : 10000;
	e->default_timeout_s = cfg->default_timeout_s ? cfg->default_timeout_s : 600;
	e->use_syslog = cfg->enforcer_syslog;
	if (!enforce_table_valid(cfg->table ? cfg->table : "gatewatch") ||
	    e->mode > ENFORCE_ON || e->max_entries > BANLIST_ENTRIES_MAX ||
	    (cfg->enforcer_user != NULL && strlen(cfg->enforcer_user) >= sizeof(e->user))) {
		log_err("enforce: invalid configuration (table name or mode or cap or user)");
		free(e);
		return NULL;
	}
	if (cfg->enforcer_user != NULL)
		snprintf(e->user, sizeof(e->user), "%s", cfg->enforcer_user);
	if ((e->bl = banlist_new(e->max_entries)) == NULL) {
		free(e);
		return NULL;
	}
	if (e->mode != ENFORCE_ON)
		return e;
	if (enforce_find_helper(cfg->enforcer_path, e->path, sizeof(e->path)) != 0) {
		log_err("enforce: cannot find %s (%s)", cfg->enforcer_path ? cfg->enforcer_path :
		    ENFORCE_HELPER " next to this program or in $PATH", "give --enforcer PATH");
		enforce_free(e);
		return NULL;
	}
	if (enforce_spawn(e, ENFORCE_START_MS, why, sizeof(why)) != 0) {
		log_err("enforce: cannot set up nftables table inet %s: %s", e->table, why);
		enforce_free(e);
		return NULL;
	}
	log_info("enforce: table inet %s ready (cap %zu entries, default timeout %u s)",
	    e->table, e->max_entries, e->default_timeout_s);
	return e;
}

/* See enforce.h. */
void enforce_free(struct enforce *e)
{
	if (e == NULL)
		return;
	enforce_stop(e, true);
	banlist_free(e->bl);
	free(e);
}

/* See enforce.h. */
int enforce_allow(struct enforce *e, const struct gw_addr *a, unsigned prefix_len)
{
	struct banlist_prefix p;
	struct wire_request rq;
	struct wire_reply rp;
	char msg[GW_TEXT_MAX];

	if (e == NULL || banlist_prefix_make(a, prefix_len, &p) != 0 ||
	    banlist_allow(e->bl, &p) != 0)
		return -1;
	if (e->mode != ENFORCE_ON)
		return 0;
	request_init(&rq, WIRE_OP_ALLOW, &p);
	if (enforce_call(e, &rq, &rp, ENFORCE_CALL_MS, msg, sizeof(msg)) != 0 || rp.status != 0) {
		log_err("enforce: allowlist entry not accepted by the helper: %s",
		    rp.status != 0 ? rp.message : msg);
		return -1;
	}
	return 0;
}

/* Checks the ban against local policy; fills p and the resolved timeout. */
static int enforce_ban_check(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    uint32_t *timeout_s, struct banlist_prefix *p, char *msg, size_t msglen)
{
	if (e == NULL || e->mode == ENFORCE_OFF) {
		enforce_msg(msg, msglen, "%s", "enforcement is off");
		return -1;
	}
	if (banlist_prefix_make(a, prefix_len, p) != 0) {
		enforce_msg(msg, msglen, "%s", "invalid address or prefix length");
		return -1;
	}
	if (*timeout_s == 0)
		*timeout_s = e->default_timeout_s;
	if (*timeout_s > BANLIST_TIMEOUT_MAX_S) {
		enforce_msg(msg, msglen, "%s", "timeout longer than 7 days");
		return -1;
	}
	return banlist_admit(e->bl, p, banlist_now_us(), msg, msglen);
}

/* See enforce.h. */
int enforce_ban(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    uint32_t timeout_s, char *msg, size_t msglen)
{
	struct banlist_prefix p;
	struct wire_request rq;
	struct wire_reply rp;
	char pfx[BANLIST_PREFIX_STR_MAX];
	const char *dry;

	if (enforce_ban_check(e, a, prefix_len, &timeout_s, &p, msg, msglen) != 0)
		return -1;
	if (e->mode == ENFORCE_ON) {
		request_init(&rq, WIRE_OP_BAN, &p);
		rq.timeout_s = timeout_s;
		if (enforce_call(e, &rq, &rp, ENFORCE_CALL_MS, msg, msglen) != 0)
			return -1;
		if (rp.status != 0) {
			enforce_msg(msg, msglen, "%s", rp.message);
			return -1;
		}
	}
	banlist_put(e->bl, &p, banlist_now_us() + (uint64_t)timeout_s * 1000000);
	banlist_prefix_str(&p, pfx, sizeof(pfx));
	dry = e->mode == ENFORCE_DRY_RUN ? "dry-run: " : "";
	if (msg != NULL && msglen > 0)
		snprintf(msg, msglen, "%s%s banned for %u s", dry, pfx, timeout_s);
	log_info("enforce: %s%s banned for %u s", dry, pfx, timeout_s);
	return 0;
}

/* See enforce.h. */
int enforce_unban(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    char *msg, size_t msglen)
{
	struct banlist_prefix p;
	struct wire_request rq;
	struct wire_reply rp;
	char pfx[BANLIST_PREFIX_STR_MAX];

	if (e == NULL || e->mode == ENFORCE_OFF) {
		enforce_msg(msg, msglen, "%s", "enforcement is off");
		return -1;
	}
	if (banlist_prefix_make(a, prefix_len, &p) != 0) {
		enforce_msg(msg, msglen, "%s", "invalid address or prefix length");
		return -1;
	}
	banlist_prefix_str(&p, pfx, sizeof(pfx));
	banlist_prune(e->bl, banlist_now_us());
	if (banlist_find(e->bl, &p) == NULL) {
		enforce_msg(msg, msglen, "%s is not banned", pfx);
		return -1;
	}
	if (e->mode == ENFORCE_ON) {
		request_init(&rq, WIRE_OP_UNBAN, &p);
		if (enforce_call(e, &rq, &rp, ENFORCE_CALL_MS, msg, msglen) != 0)
			return -1;
		if (rp.status != 0) {
			enforce_msg(msg, msglen, "%s", rp.message);
			return -1;
		}
	}
	banlist_remove(e->bl, &p);
	enforce_msg(msg, msglen, "%s unbanned", pfx);
	log_info("enforce: %s unbanned", pfx);
	return 0;
}

/* Formats one entry as "ADDR/LEN expires_in_s". */
static void enforce_entry_line(const struct wire_entry *w, char *line)
{
	struct banlist_prefix p;
	char pfx[BANLIST_PREFIX_STR_MAX];

	memset(&p, 0, sizeof(p));
	p.addr.family = w->family;
	memcpy(p.addr.a, w->addr, sizeof(p.addr.a));
	p.len = w->prefix_len;
	snprintf(line, GW_TEXT_MAX, "%s %ld", banlist_prefix_str(&p, pfx, sizeof(pfx)),
	    (long)w->expires_in_s);
}

/* ENFORCE_ON: reads the bans back from the kernel through the helper. */
static size_t enforce_list_on(struct enforce *e, char lines[][GW_TEXT_MAX], size_t max)
{
	struct wire_request rq;
	struct wire_reply rp;
	char msg[GW_TEXT_MAX];
	uint64_t deadline = banlist_now_us() + ENFORCE_LIST_MS * 1000ULL;
	size_t n = 0, i;

	request_init(&rq, WIRE_OP_LIST, NULL);
	rq.limit = (uint32_t)(max < WIRE_LIST_MAX ? max : WIRE_LIST_MAX);
	if (enforce_call(e, &rq, &rp, ENFORCE_LIST_MS, msg, sizeof(msg)) != 0) {
		log_warn("enforce: list: %s", msg);
		return 0;
	}
	for (;;) {
		for (i = 0; i < rp.count && i < WIRE_LIST_PER_REPLY && n < max; i++)
			enforce_entry_line(&rp.entries[i], lines[n++]);
		if (!rp.more || rp.status != 0)
			return n;
		if (enforce_recv(e, rq.seq, &rp, deadline, msg, sizeof(msg)) != 0) {
			log_warn("enforce: list: %s", msg);
			return n;      /* the next request skips the rest as stale */
		}
	}
}

/* See enforce.h. */
size_t enforce_list(struct enforce *e, char lines[][GW_TEXT_MAX], size_t max)
{
	uint64_t now = banlist_now_us();
	const struct banlist_entry *b;
	char pfx[BANLIST_PREFIX_STR_MAX];
	size_t n = 0;

	if (e == NULL || e->mode == ENFORCE_OFF || max == 0)
		return 0;
	if (e->mode == ENFORCE_ON)
		return enforce_list_on(e, lines, max);
	banlist_prune(e->bl, now);
	while (n < max && (b = banlist_at(e->bl, n)) != NULL) {
		snprintf(lines[n++], GW_TEXT_MAX, "%s %llu",
		    banlist_prefix_str(&b->p, pfx, sizeof(pfx)),
		    (unsigned long long)((b->expires_us - now) / 1000000));
	}
	return n;
}

/* See enforce.h. */
void enforce_tick(struct enforce *e, uint64_t now_us)
{
	int status;

	(void)now_us;  /* ban timeouts run on the monotonic clock, as nft's do */
	if (e == NULL)
		return;
	banlist_prune(e->bl, banlist_now_us());
	if (e->mode != ENFORCE_ON)
		return;
	if (e->pid > 0 && waitpid(e->pid, &status, WNOHANG) == e->pid) {
		log_err("enforce: %s (pid %d) exited (%s %d); restarting it", ENFORCE_HELPER,
		    (int)e->pid, WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		close(e->fd);
		e->fd = -1;
		e->pid = -1;
		e->last_spawn_us = 0;
	}
	if (e->pid <= 0)
		enforce_respawn(e, NULL, 0);
}

/* See enforce.h. */
int enforce_mode_parse(const char *s, enum enforce_mode *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "off") == 0)
		*out = ENFORCE_OFF;
	else if (strcmp(s, "dry-run") == 0 || strcmp(s, "dryrun") == 0)
		*out = ENFORCE_DRY_RUN;
	else if (strcmp(s, "on") == 0 || strcmp(s, "enforce") == 0)
		*out = ENFORCE_ON;
	else
		return -1;
	return 0;
}

/* See enforce.h. */
size_t enforce_count(struct enforce *e)
{
	if (e == NULL)
		return 0;
	banlist_prune(e->bl, banlist_now_us());
	return banlist_count(e->bl);
}
