/*
 * gw-netem.c: a userspace netem for the lab: an Ethernet bridge between two
 * interfaces that delays (uniform jitter, as tc netem without a distribution
 * table), and drops frames at random, for a bounded time. For kernels built
 * without sch_netem. Frames are released in order of their due time, so
 * jitter larger than the gap between two frames reorders them, as netem does.
 *
 *   gw-netem --down IFACE --up IFACE --seconds N [--delay-ms D] [--jitter-ms J]
 *            [--loss-pct L] [--dir both|down|up] [--seed S]
 *
 * --up is the interface toward the internet, --down the one toward the
 * gateway. A frame received on --up travels downstream and leaves on --down;
 * one received on --down travels upstream and leaves on --up. --dir says
 * which of the two directions is impaired (both by default); the other is
 * passed on at once. Both interfaces are put in promiscuous mode.
 *
 * Checksums: a frame generated on this host may reach us with its TCP/UDP
 * checksum not yet computed (TP_STATUS_CSUMNOTREADY, checksum offload on the
 * veth); it is completed here before the frame is sent on, or the receiver
 * would drop it. Frames over 1600 bytes (GSO super-frames: set gso_max_segs
 * 1 on the sending interfaces) are dropped and counted. The queue holds at
 * most 8192 frames per direction; more are dropped and counted. On SIGTERM,
 * SIGINT or after --seconds it prints one JSON line of counters and exits 0;
 * SIGUSR1 prints the same line and goes on.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NM_FRAME_MAX 1600
#define NM_QUEUE_MAX 8192

struct nm_frame {
	uint64_t due_ns;
	uint64_t order;          /* arrival order: ties keep FIFO */
	uint16_t len;
	uint8_t  data[NM_FRAME_MAX];
};

struct nm_dir {
	const char *name;
	int in_fd, out_fd;       /* receive on in_fd, send on out_fd */
	int impaired;
	struct nm_frame *heap[NM_QUEUE_MAX];
	size_t n;
	uint64_t rx, tx, lost, overflow, too_big, csum_fixed, send_err;
	/* Our own lateness (send time - due time): on a loaded host it adds delay variation
	 * beyond the configured jitter; its mean |change| between frames is reported. */
	uint64_t late_n;
	double late_last_ms, late_sum_ms, late_absdiff_sum_ms;
};

static volatile sig_atomic_t nm_stop, nm_report;
static uint64_t nm_rng = 0x9e3779b97f4a7c15ull;
static uint64_t nm_order;

static void nm_on_signal(int sig)
{
	if (sig == SIGUSR1)
		nm_report = 1;
	else
		nm_stop = 1;
}

static uint64_t nm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: uniform 64-bit values. */
static uint64_t nm_rand(void)
{
	nm_rng ^= nm_rng >> 12;
	nm_rng ^= nm_rng << 25;
	nm_rng ^= nm_rng >> 27;
	return nm_rng * 2685821657736338717ull;
}

static double nm_uniform(void)
{
	return (double)(nm_rand() >> 11) / 9007199254740992.0;
}

static int nm_less(const struct nm_frame *a, const struct nm_frame *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->order < b->order);
}

static void nm_push(struct nm_dir *d, struct nm_frame *f)
{
	size_t i = d->n++;

	while (i > 0 && nm_less(f, d->heap[(i - 1) / 2])) {
		d->heap[i] = d->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	d->heap[i] = f;
}

static struct nm_frame *nm_pop(struct nm_dir *d)
{
	struct nm_frame *top = d->heap[0], *last = d->heap[--d->n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < d->n) {
		if (c + 1 < d->n && nm_less(d->heap[c + 1], d->heap[c]))
			c++;
		if (!nm_less(d->heap[c], last))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->n > 0)
		d->heap[i] = last;
	return top;
}

static uint32_t nm_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* Completes the TCP/UDP checksum of an untagged IPv4 frame; 1 if changed. */
static int nm_fix_csum(uint8_t *fr, size_t len)
{
	size_t ihl, tot, l4len, off;
	uint32_t sum;
	uint16_t cs;
	uint8_t proto;

	if (len < 14 + 20 || fr[12] != 0x08 || fr[13] != 0x00 || (fr[14] >> 4) != 4)
		return 0;
	ihl = (size_t)(fr[14] & 0x0f) * 4;
	tot = (size_t)fr[16] << 8 | fr[17];
	if (ihl < 20 || tot < ihl || 14 + tot > len)
		return 0;
	if ((fr[20] & 0x3f) != 0 || fr[21] != 0)   /* a fragment: leave it */
		return 0;
	proto = fr[23];
	l4len = tot - ihl;
	if (proto == 6 && l4len >= 20)
		off = 16;
	else if (proto == 17 && l4len >= 8)
		off = 6;
	else
		return 0;
	fr[14 + ihl + off] = 0;
	fr[14 + ihl + off + 1] = 0;
	sum = nm_sum(fr + 26, 8, 0);                /* source and destination */
	sum += proto;
	sum += (uint32_t)l4len;
	sum = nm_sum(fr + 14 + ihl, l4len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	cs = (uint16_t)~sum;
	if (proto == 17 && cs == 0)
		cs = 0xffff;
	fr[14 + ihl + off] = (uint8_t)(cs >> 8);
	fr[14 + ihl + off + 1] = (uint8_t)cs;
	return 1;
}

static int nm_open(const char *ifname)
{
	struct sockaddr_ll sll;
	struct packet_mreq mr;
	unsigned idx = if_nametoindex(ifname);
	int fd, one = 1;

	if (idx == 0) {
		fprintf(stderr, "gw-netem: no interface %s\n", ifname);
		return -1;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (fd == -1) {
		perror("gw-netem: socket(AF_PACKET)");
		return -1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)idx;
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = (int)idx;
	mr.mr_type = PACKET_MR_PROMISC;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) == -1 ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) == -1) {
		fprintf(stderr, "gw-netem: %s: %s\n", ifname, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct nm_opts {
	double delay_ms, jitter_ms, loss_pct;
};

/* Reads every waiting frame of d, drops or queues it. */
static void nm_read(struct nm_dir *d, const struct nm_opts *o)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		struct cmsghdr align;
	} ctl;
	uint8_t buf[65536];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh;
	struct cmsghdr *c;
	struct nm_frame *f;
	double delay_ms;
	ssize_t n;
	int notready;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(d->in_fd, &mh, MSG_TRUNC);
		if (n < 0)
			return;
		d->rx++;
		notready = 0;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
			struct tpacket_auxdata aux;

			if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
			    c->cmsg_len < CMSG_LEN(sizeof(aux)))
				continue;
			memcpy(&aux, CMSG_DATA(c), sizeof(aux));
			notready = (aux.tp_status & TP_STATUS_CSUMNOTREADY) != 0;
		}
		if (n > NM_FRAME_MAX || (size_t)n > sizeof(buf)) {
			d->too_big++;
			continue;
		}
		if (d->impaired && o->loss_pct > 0 && nm_uniform() * 100.0 < o->loss_pct) {
			d->lost++;
			continue;
		}
		if (d->n >= NM_QUEUE_MAX || (f = malloc(sizeof(*f))) == NULL) {
			d->overflow++;
			continue;
		}
		memcpy(f->data, buf, (size_t)n);
		f->len = (uint16_t)n;
		if (notready && nm_fix_csum(f->data, f->len))
			d->csum_fixed++;
		delay_ms = 0;
		if (d->impaired)
			delay_ms = o->delay_ms + o->jitter_ms * (2.0 * nm_uniform() - 1.0);
		if (delay_ms < 0)
			delay_ms = 0;
		f->due_ns = nm_now_ns() + (uint64_t)(delay_ms * 1e6);
		f->order = nm_order++;
		nm_push(d, f);
	}
}

/* Sends every due frame of d; returns ns until the next one (-1: none). */
static int64_t nm_flush(struct nm_dir *d)
{
	uint64_t now = nm_now_ns();
	struct nm_frame *f;
	double late_ms;

	while (d->n > 0 && d->heap[0]->due_ns <= now) {
		f = nm_pop(d);
		late_ms = (double)(now - f->due_ns) / 1e6;
		if (d->late_n > 0)
			d->late_absdiff_sum_ms += fabs(late_ms - d->late_last_ms);
		d->late_last_ms = late_ms;
		d->late_sum_ms += late_ms;
		d->late_n++;
		if (send(d->out_fd, f->data, f->len, 0) == (ssize_t)f->len)
			d->tx++;
		else
			d->send_err++;
		free(f);
	}
	if (d->n == 0)
		return -1;
	return (int64_t)(d->heap[0]->due_ns - now);
}

static void nm_print(const struct nm_dir *d, const char *sep)
{
	printf("\"%s\":{\"rx\":%llu,\"tx\":%llu,\"lost\":%llu,\"overflow\":%llu,"
	    "\"too_big\":%llu,\"csum_fixed\":%llu,\"send_errors\":%llu,\"queued\":%zu,"
	    "\"late_ms_avg\":%.3f,\"late_jitter_ms\":%.3f}%s",
	    d->name, (unsigned long long)d->rx, (unsigned long long)d->tx,
	    (unsigned long long)d->lost, (unsigned long long)d->overflow,
	    (unsigned long long)d->too_big, (unsigned long long)d->csum_fixed,
	    (unsigned long long)d->send_err, d->n,
	    d->late_n ? d->late_sum_ms / (double)d->late_n : 0.0,
	    d->late_n > 1 ? d->late_absdiff_sum_ms / (double)(d->late_n - 1) : 0.0, sep);
}

static void nm_report_line(const struct nm_opts *o, const char *dir,
    const struct nm_dir *down, const struct nm_dir *up)
{
	printf("{\"type\":\"netem\",\"delay_ms\":%g,\"jitter_ms\":%g,\"loss_pct\":%g,\"dir\":\"%s\",",
	    o->delay_ms, o->jitter_ms, o->loss_pct, dir);
	nm_print(down, ",");
	nm_print(up, "}\n");
	fflush(stdout);
}

static int nm_usage(void)
{
	fprintf(stderr, "usage: gw-netem --down IFACE --up IFACE --seconds N [--delay-ms D] "
	    "[--jitter-ms J] [--loss-pct L] [--dir both|down|up] [--seed S]\n"
	    "  frames received on --up travel downstream and leave on --down, and back\n");
	return 2;
}

static int nm_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *down_if = NULL, *up_if = NULL, *dir = "both";
	struct nm_opts o = { 0, 0, 0 };
	struct nm_dir down = { .name = "down" }, up = { .name = "up" };
	struct pollfd pf[2];
	double secs = 0, seed = 1;
	uint64_t end_ns;
	struct timespec ts;
	int64_t t1, t2, timeout;
	int i, fd_down, fd_up;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			return nm_usage();
		if (strcmp(a, "--down") == 0)
			down_if = v;
		else if (strcmp(a, "--up") == 0)
			up_if = v;
		else if (strcmp(a, "--dir") == 0)
			dir = v;
		else if (strcmp(a, "--seconds") == 0 ? nm_num(v, 1, 86400, &secs) :
		    strcmp(a, "--delay-ms") == 0 ? nm_num(v, 0, 5000, &o.delay_ms) :
		    strcmp(a, "--jitter-ms") == 0 ? nm_num(v, 0, 5000, &o.jitter_ms) :
		    strcmp(a, "--loss-pct") == 0 ? nm_num(v, 0, 100, &o.loss_pct) :
		    strcmp(a, "--seed") == 0 ? nm_num(v, 1, 1e15, &seed) : -2) {
			fprintf(stderr, "gw-netem: bad value for %s: '%s'\n", a, v);
			return nm_usage();
		}
		i++;
	}
	if (down_if == NULL || up_if == NULL || secs <= 0 || o.jitter_ms > o.delay_ms ||
	    (strcmp(dir, "both") != 0 && strcmp(dir, "down") != 0 && strcmp(dir, "up") != 0))
		return nm_usage();
	nm_rng ^= (uint64_t)seed * 0x2545f4914f6cdd1dull;
	if ((fd_down = nm_open(down_if)) == -1 || (fd_up = nm_open(up_if)) == -1)
		return 1;
	/* downstream: received on the up-side interface, sent on the down-side one */
	down.in_fd = fd_up;
	down.out_fd = fd_down;
	down.impaired = strcmp(dir, "up") != 0;
	up.in_fd = fd_down;
	up.out_fd = fd_up;
	up.impaired = strcmp(dir, "down") != 0;
	signal(SIGTERM, nm_on_signal);
	signal(SIGINT, nm_on_signal);
	signal(SIGUSR1, nm_on_signal);
	end_ns = nm_now_ns() + (uint64_t)(secs * 1e9);
	while (!nm_stop && nm_now_ns() < end_ns) {
		t1 = nm_flush(&down);
		t2 = nm_flush(&up);
		timeout = 100000000;
		if (t1 >= 0 && t1 < timeout)
			timeout = t1;
		if (t2 >= 0 && t2 < timeout)
			timeout = t2;
		pf[0].fd = fd_up;
		pf[0].events = POLLIN;
		pf[1].fd = fd_down;
		pf[1].events = POLLIN;
		ts.tv_sec = (time_t)(timeout / 1000000000);
		ts.tv_nsec = (long)(timeout % 1000000000);
		pf[0].revents = pf[1].revents = 0;
		if (ppoll(pf, 2, &ts, NULL) < 0 && errno != EINTR)
			break;
		if (nm_report) {
			nm_report = 0;
			nm_report_line(&o, dir, &down, &up);
		}
		if (pf[0].revents & POLLIN)
			nm_read(&down, &o);
		if (pf[1].revents & POLLIN)
			nm_read(&up, &o);
	}
	nm_report_line(&o, dir, &down, &up);
	while (down.n > 0)
		free(nm_pop(&down));
	while (up.n > 0)
		free(nm_pop(&up));
	close(fd_down);
	close(fd_up);
	return 0;
}
