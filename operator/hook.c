/* hook.c: the upstream hook: one process per distributed attack decision, JSON on stdin, bounded in time and number. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "respond_int.h"

#define RS_JSON_MAX      4096   /* hook input; fits an empty pipe's buffer */

/* Appends s to buf as a JSON string; false when it does not fit. */
static bool
hook_json_str(char *buf, size_t len, size_t *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int w;

	if (*o + 1 >= len)
		return false;
	buf[(*o)++] = '"';
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			w = snprintf(buf + *o, len - *o, "\\%c", *p);
		else if (*p < 0x20)
			w = snprintf(buf + *o, len - *o, "\\u%04x", *p);
		else
			w = snprintf(buf + *o, len - *o, "%c", *p);
		if (w < 0 || (size_t)w >= len - *o)
			return false;
		*o += (size_t)w;
	}
	if (*o + 1 >= len)
		return false;
	buf[(*o)++] = '"';
	buf[*o] = '\0';
	return true;
}

/* Appends raw text (already JSON); false when it does not fit. */
static bool
hook_json_raw(char *buf, size_t len, size_t *o, const char *fmt, double v)
{
	int w = snprintf(buf + *o, len - *o, fmt, v);

	if (w < 0 || (size_t)w >= len - *o)
		return false;
	*o += (size_t)w;
	return true;
}

/* The hook's input: the decision as one JSON object and a newline. */
static bool
hook_json(const struct respond *r, const struct countermeasure *cm,
    const struct gw_event *ev, const char *action, char *buf, size_t len)
{
	size_t o = 0;
	bool ok;

	ok = hook_json_raw(buf, len, &o, "{\"action\":", 0) &&
	    hook_json_str(buf, len, &o, action) &&
	    hook_json_raw(buf, len, &o, ",\"countermeasure_id\":%.0f,"
	    "\"customer\":", (double)cm->id) &&
	    hook_json_str(buf, len, &o, cm->customer) &&
	    hook_json_raw(buf, len, &o, ",\"target\":", 0) &&
	    hook_json_str(buf, len, &o, ev->dst) &&
	    hook_json_raw(buf, len, &o, ",\"rate_pps\":%.0f", ev->rate_pps) &&
	    hook_json_raw(buf, len, &o, ",\"rate_bps\":%.0f", ev->rate_bps) &&
	    hook_json_raw(buf, len, &o, ",\"timeout_s\":%.0f",
	    (double)r->cfg.ban_timeout_s) &&
	    hook_json_raw(buf, len, &o, ",\"decided_ts\":%.3f", cm->decided_ts) &&
	    hook_json_raw(buf, len, &o, ",\"decided_by\":", 0) &&
	    hook_json_str(buf, len, &o, cm->decided_by) &&
	    hook_json_raw(buf, len, &o, ",\"reason\":", 0) &&
	    hook_json_str(buf, len, &o, cm->reason) &&
	    hook_json_raw(buf, len, &o, ",\"sources\":[", 0);
	for (size_t i = 0; ok && i < ev->n_top_talkers && i < GW_LIST_MAX; i++)
		ok = (i == 0 || hook_json_raw(buf, len, &o, ",", 0)) &&
		    hook_json_str(buf, len, &o, ev->top_talkers[i]);
	return ok && hook_json_raw(buf, len, &o, "]}\n", 0);
}

/*
 * Starts path with no arguments, json on its stdin (written into the pipe
 * before the fork, so the hook can never block us and we never get SIGPIPE),
 * stdout to /dev/null, in its own process group. Returns the pid or -1.
 */
static pid_t
hook_spawn(const char *path, const char *json, char *err, size_t errlen)
{
	char *const argv[] = { (char *)path, NULL };
	char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	size_t len = strlen(json);
	int p[2], devnull;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (write(p[1], json, len) != (ssize_t)len ||
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "hook input: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	if ((pid = fork()) == 0) {
		/* Child: async-signal-safe calls only. */
		setpgid(0, 0);
		if (dup2(p[0], 0) == -1 || dup2(devnull, 1) == -1)
			_exit(126);
		fcntl(0, F_SETFL, 0);	/* the hook reads a blocking stdin */
		close_range(3, ~0U, 0);
		execve(path, argv, envp);
		_exit(127);
	}
	close(p[0]);
	close(devnull);
	if (pid == -1)
		snprintf(err, errlen, "fork: %s", strerror(errno));
	return pid;
}

/* Finds the customer's recent hook decision slot (or a free one). */
static struct rs_hookdec *
hook_dec_slot(struct respond *r, const char *customer, double now, bool *found)
{
	struct rs_hookdec *free_slot = NULL;

	*found = false;
	for (size_t i = 0; i < RS_HOOKDEC_MAX; i++) {
		struct rs_hookdec *d = &r->hookdec[i];

		if (d->until > now && strcmp(d->customer, customer) == 0) {
			*found = true;
			return d;
		}
		if (free_slot == NULL && d->until <= now)
			free_slot = d;
	}
	return free_slot;
}

/* Starts the hook for cm (row written); records the outcome when it cannot start. */
static void
hook_start(struct respond *r, struct countermeasure *cm,
    const struct gw_event *ev, const char *action, double now)
{
	char json[RS_JSON_MAX], err[GW_TEXT_MAX];
	struct rs_hook *h = NULL;
	pid_t pid = -1;

	for (size_t i = 0; i < RESPOND_HOOKS_MAX && h == NULL; i++)
		if (r->hooks[i].pid == 0)
			h = &r->hooks[i];
	if (h == NULL)
		snprintf(err, sizeof(err), "too many hooks running (%d)",
		    RESPOND_HOOKS_MAX);
	else if (!hook_json(r, cm, ev, action, json, sizeof(json)))
		snprintf(err, sizeof(err), "decision too large for the hook");
	else
		pid = hook_spawn(r->cfg.hook, json, err, sizeof(err));
	r->st.hooks_run++;
	if (pid == -1) {
		r->st.hooks_failed++;
		cm->state = CM_FAILED;
		snprintf(cm->result_message, sizeof(cm->result_message),
		    "not run: %.220s", err);
		log_err("respond: hook %s: %s", r->cfg.hook, err);
	} else {
		h->pid = pid;
		h->cm_id = cm->id;
		h->deadline = now + r->cfg.hook_timeout_s;
		cm->sent_ts = now;
	}
	bantable_row_update(r, cm);
}

/* distributed_attack: one hook decision per customer per ban timeout. */
void
hook_decide(struct respond *r, const struct gw_event *ev, double now)
{
	struct countermeasure cm;
	struct rs_hookdec *d;
	bool found;

	if (r->cfg.hook[0] == '\0') {
		log_info("respond: distributed attack on %s: no hook "
		    "configured", ev->customer);
		return;
	}
	if ((d = hook_dec_slot(r, ev->customer, now, &found)) == NULL || found)
		return;  /* decided recently (or table full: counted below) */
	memset(&cm, 0, sizeof(cm));
	cm.action = CM_HOOK;
	snprintf(cm.address, sizeof(cm.address), "%s", ev->dst);
	snprintf(cm.scope, sizeof(cm.scope), "%s", CM_SCOPE_GLOBAL);
	snprintf(cm.customer, sizeof(cm.customer), "%s", ev->customer);
	snprintf(cm.reason, sizeof(cm.reason), "distributed_attack: %.220s",
	    ev->detail);
	snprintf(cm.decided_by, sizeof(cm.decided_by), "policy:distributed");
	cm.decided_ts = now;
	cm.expires_ts = now + r->cfg.ban_timeout_s;
	cm.state = CM_PENDING;
	if (events_cm_add(r->es, &cm) == -1)
		return;
	snprintf(d->customer, sizeof(d->customer), "%s", ev->customer);
	d->cm_id = cm.id;
	d->until = cm.expires_ts;
	hook_start(r, &cm, ev, "blackhole", now);
}

/* Records a finished (or killed) hook in its row. */
static void
hook_done(struct respond *r, struct rs_hook *h, int status, bool killed,
    double now)
{
	struct countermeasure cm;

	if (events_cm_get(r->es, h->cm_id, &cm) == 0) {
		if (killed)
			snprintf(cm.result_message, sizeof(cm.result_message),
			    "killed after %u s timeout", r->cfg.hook_timeout_s);
		else if (WIFEXITED(status))
			snprintf(cm.result_message, sizeof(cm.result_message),
			    "exit status %d", WEXITSTATUS(status));
		else
			snprintf(cm.result_message, sizeof(cm.result_message),
			    "killed by signal %d", WTERMSIG(status));
		if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			cm.state = CM_ACTIVE;
			cm.applied_ts = now;
		} else {
			cm.state = CM_FAILED;
			r->st.hooks_failed++;
		}
		bantable_row_update(r, &cm);
		log_info("respond: hook for countermeasure %llu: %s",
		    (unsigned long long)cm.id, cm.result_message);
	}
	h->pid = 0;
}

void
hook_reap(struct respond *r, double now)
{
	int status;
	pid_t w;

	for (size_t i = 0; i < RESPOND_HOOKS_MAX; i++) {
		struct rs_hook *h = &r->hooks[i];

		if (h->pid == 0)
			continue;
		w = waitpid(h->pid, &status, WNOHANG);
		if (w == h->pid) {
			hook_done(r, h, status, false, now);
		} else if (w == -1 && errno != EINTR) {
			status = 0x7f00;   /* lost (SIGCHLD ignored?): exit 127 */
			hook_done(r, h, status, false, now);
		} else if (now >= h->deadline) {
			kill(-h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
			hook_done(r, h, status, true, now);
		}
	}
}

/* Marks hook rows expired when their decision window ends. */
void
hook_expire(struct respond *r, double now)
{
	struct countermeasure cm;

	for (size_t i = 0; i < RS_HOOKDEC_MAX; i++) {
		struct rs_hookdec *d = &r->hookdec[i];

		if (d->until == 0 || d->until > now)
			continue;
		if (events_cm_get(r->es, d->cm_id, &cm) == 0 &&
		    cm.state == CM_ACTIVE) {
			cm.state = CM_EXPIRED;
			cm.lifted_ts = now;
			bantable_row_update(r, &cm);
		}
		d->until = 0;
	}
}


void
respond_hook_global(struct respond *r, const struct correlate_global *g,
    double now)
{
	struct countermeasure cm;
	struct gw_event ev;

	if (r == NULL || g == NULL || g->src[0] == '\0')
		return;
	if (r->cfg.hook[0] == '\0') {
		log_info("respond: cluster-wide ban of %s: no hook configured",
		    g->src);
		return;
	}
	memset(&cm, 0, sizeof(cm));
	cm.action = CM_HOOK;
	snprintf(cm.address, sizeof(cm.address), "%s", g->src);
	snprintf(cm.scope, sizeof(cm.scope), "%s", CM_SCOPE_GLOBAL);
	snprintf(cm.customer, sizeof(cm.customer), "%s", g->customer);
	snprintf(cm.reason, sizeof(cm.reason), "%s from %s, banned at every "
	    "shard", g->kind, g->src);
	snprintf(cm.decided_by, sizeof(cm.decided_by), "policy:cluster");
	cm.decided_ts = now;
	cm.expires_ts = now + r->cfg.ban_timeout_s;
	cm.state = CM_PENDING;
	if (events_cm_add(r->es, &cm) == -1)
		return;
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.dst, sizeof(ev.dst), "%s", g->src);
	snprintf(ev.top_talkers[0], sizeof(ev.top_talkers[0]), "%s", g->src);
	ev.n_top_talkers = 1;
	hook_start(r, &cm, &ev, "ban_source", now);
}

void
hook_kill_all(struct respond *r)
{
	for (size_t i = 0; i < RESPOND_HOOKS_MAX; i++) {
		if (r->hooks[i].pid <= 0)
			continue;
		kill(-r->hooks[i].pid, SIGKILL);
		waitpid(r->hooks[i].pid, NULL, 0);
		r->hooks[i].pid = 0;
	}
}
