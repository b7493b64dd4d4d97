/* respond_queue.c: manual ban/unban requests handed from API threads to the ingest thread. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "respond_int.h"

static int
rs_req_fill(struct rs_req *q, enum respond_op op, const struct respond_manual *m)
{
	int bad = 0;

	memset(q, 0, sizeof(*q));
	q->op = op;
	q->prefix_len = m->prefix_len;
	q->timeout_s = m->timeout_s;
	q->has_scope = m->scope != NULL;
	q->has_reason = m->reason != NULL;
	bad |= snprintf(q->address, sizeof(q->address), "%s",
	    m->address != NULL ? m->address : "") >= (int)sizeof(q->address);
	bad |= snprintf(q->scope, sizeof(q->scope), "%s",
	    m->scope != NULL ? m->scope : "") >= (int)sizeof(q->scope);
	bad |= snprintf(q->user, sizeof(q->user), "%s",
	    m->user != NULL ? m->user : "") >= (int)sizeof(q->user);
	bad |= snprintf(q->reason, sizeof(q->reason), "%s",
	    m->reason != NULL ? m->reason : "") >= (int)sizeof(q->reason);
	return bad ? -1 : 0;
}

/* Waits (qlock held) until q is done or the deadline passes while it is still queued. */
static void
rs_req_wait(struct respond *r, struct rs_req *q, int timeout_ms)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (q->state != RS_REQ_DONE) {
		if (pthread_cond_timedwait(&r->qcond, &r->qlock, &dl) ==
		    ETIMEDOUT && q->state == RS_REQ_QUEUED) {
			q->id = 0;
			snprintf(q->err, sizeof(q->err), "timed out waiting for "
			    "the operator's ingest thread");
			return;
		}
	}
}

uint64_t
respond_submit(struct respond *r, enum respond_op op,
    const struct respond_manual *m, int timeout_ms, char *err, size_t errlen)
{
	struct rs_req *q = NULL;
	uint64_t id;

	if (r == NULL || m == NULL || timeout_ms <= 0) {
		snprintf(err, errlen, "bad request");
		return 0;
	}
	pthread_mutex_lock(&r->qlock);
	for (size_t i = 0; i < RESPOND_REQUESTS_MAX && q == NULL; i++)
		if (r->reqs[i].state == RS_REQ_FREE)
			q = &r->reqs[i];
	if (q == NULL || rs_req_fill(q, op, m) == -1) {
		snprintf(err, errlen, q == NULL ? "too many requests in "
		    "progress" : "request field too long");
		if (q != NULL)
			q->state = RS_REQ_FREE;
		pthread_mutex_unlock(&r->qlock);
		return 0;
	}
	q->state = RS_REQ_QUEUED;
	q->seq = ++r->req_seq;
	rs_req_wait(r, q, timeout_ms);
	id = q->id;
	if (id == 0)
		snprintf(err, errlen, "%s", q->err);
	q->state = RS_REQ_FREE;
	pthread_mutex_unlock(&r->qlock);
	return id;
}

/* Oldest queued request (qlock held), or NULL. */
static struct rs_req *
rs_req_next(struct respond *r)
{
	struct rs_req *best = NULL;

	for (size_t i = 0; i < RESPOND_REQUESTS_MAX; i++)
		if (r->reqs[i].state == RS_REQ_QUEUED &&
		    (best == NULL || r->reqs[i].seq < best->seq))
			best = &r->reqs[i];
	return best;
}

void
respond_run_requests(struct respond *r, double now)
{
	struct respond_manual m;
	struct rs_req *q, copy;
	char err[GW_TEXT_MAX];
	uint64_t id;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->qlock);
	while ((q = rs_req_next(r)) != NULL) {
		q->state = RS_REQ_RUNNING;
		copy = *q;
		pthread_mutex_unlock(&r->qlock);
		memset(&m, 0, sizeof(m));
		m.address = copy.address;
		m.prefix_len = copy.prefix_len;
		m.scope = copy.has_scope ? copy.scope : NULL;
		m.timeout_s = copy.timeout_s;
		m.user = copy.user;
		m.reason = copy.has_reason ? copy.reason : NULL;
		err[0] = '\0';
		id = copy.op == RESPOND_OP_BAN ?
		    respond_manual_ban(r, &m, now, err, sizeof(err)) :
		    respond_manual_unban(r, &m, now, err, sizeof(err));
		pthread_mutex_lock(&r->qlock);
		q->id = id;
		memcpy(q->err, err, sizeof(q->err));
		q->state = RS_REQ_DONE;
		pthread_cond_broadcast(&r->qcond);
	}
	pthread_mutex_unlock(&r->qlock);
}
