/* shard.c: rendezvous-hash choice of the operator shard, ordered fallback and move back (no ZeroMQ here). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shard.h"

/* FNV-1a over s, continuing from h (shard_score adds the splitmix64 finaliser). */
static unsigned long long
shard_hash(unsigned long long h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

unsigned long long
shard_score(const char *probe_id, const char *endpoint)
{
	unsigned long long h = shard_hash(1469598103934665603ULL, probe_id);

	h ^= 0xff;		/* separator: ("ab","c") != ("a","bc") */
	h *= 1099511628211ULL;
	h = shard_hash(h, endpoint);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* Splits list at commas into s->ep (unordered); 0 or -1 with err. */
static int
shard_split(struct shard *s, const char *list, char *err, size_t errlen)
{
	const char *p = list, *comma;
	size_t len;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= SHARD_EP_MAX || s->n == SHARD_MAX) {
			snprintf(err, errlen, "expected ENDPOINT[,ENDPOINT...] "
			    "(at most %d, each shorter than %d), got \"%.80s\"",
			    SHARD_MAX, SHARD_EP_MAX, list);
			return -1;
		}
		memcpy(s->ep[s->n], p, len);
		s->ep[s->n][len] = '\0';
		for (size_t i = 0; i < s->n; i++)
			if (strcmp(s->ep[i], s->ep[s->n]) == 0) {
				snprintf(err, errlen, "endpoint \"%.80s\" given "
				    "twice", s->ep[i]);
				return -1;
			}
		s->n++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int
shard_init(struct shard *s, const char *list, const char *probe_id,
    char *err, size_t errlen)
{
	unsigned long long score[SHARD_MAX];

	memset(s, 0, sizeof(*s));
	if (list == NULL || probe_id == NULL) {
		snprintf(err, errlen, "no endpoint list or probe id");
		return -1;
	}
	if (shard_split(s, list, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		score[i] = shard_score(probe_id, s->ep[i]);
	/* Insertion sort by descending score; ties by endpoint text. */
	for (size_t i = 1; i < s->n; i++) {
		char ep[SHARD_EP_MAX];
		unsigned long long sc = score[i];
		size_t j = i;

		memcpy(ep, s->ep[i], sizeof(ep));
		while (j > 0 && (score[j - 1] < sc || (score[j - 1] == sc &&
		    strcmp(s->ep[j - 1], ep) > 0))) {
			score[j] = score[j - 1];
			memcpy(s->ep[j], s->ep[j - 1], sizeof(ep));
			j--;
		}
		score[j] = sc;
		memcpy(s->ep[j], ep, sizeof(ep));
	}
	return 0;
}

const char *
shard_current(const struct shard *s)
{
	return s->ep[s->cur];
}

size_t
shard_decide(struct shard *s, const bool up[SHARD_MAX], double now_s)
{
	size_t best = s->n, pick = s->cur;

	for (size_t i = 0; i < s->n; i++) {
		if (!up[i]) {
			s->up_since[i] = 0;
			continue;
		}
		if (s->up_since[i] == 0)
			s->up_since[i] = now_s;
		if (best == s->n)
			best = i;
	}
	if (best == s->n)
		return s->cur;	/* nothing answers: stay, ZeroMQ keeps trying */
	if (!up[s->cur])
		pick = best;	/* current down: best one up, at once */
	else
		for (size_t i = 0; i < s->cur; i++)
			if (up[i] && now_s - s->up_since[i] >= SHARD_BACK_S) {
				pick = i;	/* a better rank is back for good */
				break;
			}
	if (pick != s->cur) {
		s->cur = pick;
		s->switches++;
	}
	return s->cur;
}

/* Waits for a non-blocking connect on fd; true when it completed. */
static bool
shard_wait_connect(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 &&
	    soerr == 0;
}

/*
 * True when the peer on connected fd greets within timeout_ms: a ZMTP 3
 * peer sends its signature (first byte 0xff) at once. The kernel accepts
 * connections for a process that is stopped (SIGSTOP) or stuck; the
 * greeting shows that the operator itself runs.
 */
static bool
shard_greets(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned char b = 0;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	return recv(fd, &b, 1, MSG_DONTWAIT) == 1 && b == 0xff;
}

/* Connects to "host:port" (IPv6 in brackets); true when accepted. */
static bool
shard_tcp_up(const char *hp, int timeout_ms)
{
	char host[SHARD_EP_MAX];
	const char *colon = strrchr(hp, ':');
	struct addrinfo hints, *ai = NULL;
	bool up = false;
	size_t len;
	int fd;

	if (colon == NULL || (len = (size_t)(colon - hp)) >= sizeof(host))
		return false;
	memcpy(host, hp, len);
	host[len] = '\0';
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		memmove(host, host + 1, len - 2);
		host[len - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return false;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			up = true;
		else if (errno == EINPROGRESS)
			up = shard_wait_connect(fd, timeout_ms);
		up = up && shard_greets(fd, timeout_ms);
		close(fd);
	}
	freeaddrinfo(ai);
	return up;
}

static bool
shard_ipc_up(const char *path, int timeout_ms)
{
	struct sockaddr_un sa;
	bool up;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    shard_greets(fd, timeout_ms);
	close(fd);
	return up;
}

bool
shard_reachable(const struct shard *s, size_t i, int timeout_ms)
{
	const char *ep;

	if (i >= s->n)
		return false;
	ep = s->ep[i];
	if (strncmp(ep, "tcp://", 6) == 0)
		return shard_tcp_up(ep + 6, timeout_ms);
	if (strncmp(ep, "ipc://", 6) == 0)
		return shard_ipc_up(ep + 6, timeout_ms);
	return true;
}

/* ---- the watcher thread ---- */

struct shard_watch {
	struct shard eps;            /* own copy: the loop changes its cur */
	int timeout_ms;
	double period_s;
	pthread_t th;
	pthread_mutex_t mu;          /* guards up, rounds, stop */
	pthread_cond_t cv;
	bool up[SHARD_MAX];
	unsigned long rounds;
	bool stop;
};

static void *
shard_watch_main(void *arg)
{
	struct shard_watch *w = arg;
	bool up[SHARD_MAX] = { false };   /* entries past eps.n stay false */
	struct timespec until;

	for (;;) {
		for (size_t i = 0; i < w->eps.n; i++)
			up[i] = shard_reachable(&w->eps, i, w->timeout_ms);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)w->period_s;
		until.tv_nsec += (long)((w->period_s - (double)(time_t)w->period_s) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&w->mu);
		memcpy(w->up, up, sizeof(up));
		w->rounds++;
		while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu,
		    &until) == 0)
			;
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		pthread_mutex_unlock(&w->mu);
	}
}

struct shard_watch *
shard_watch_start(const struct shard *s, int timeout_ms, double period_s)
{
	struct shard_watch *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (w == NULL)
		return NULL;
	w->eps = *s;
	w->timeout_ms = timeout_ms;
	w->period_s = period_s > 0 ? period_s : 1;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals stay with the loop thread (its poll() wakes up for them). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->th, NULL, shard_watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

bool
shard_watch_read(struct shard_watch *w, unsigned long *seen_rounds,
    bool up[SHARD_MAX])
{
	bool fresh = false;

	if (pthread_mutex_trylock(&w->mu) != 0)
		return false;    /* the thread is storing a round: next time */
	if (w->rounds != *seen_rounds) {
		memcpy(up, w->up, sizeof(w->up));
		*seen_rounds = w->rounds;
		fresh = true;
	}
	pthread_mutex_unlock(&w->mu);
	return fresh;
}

void
shard_watch_stop(struct shard_watch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
