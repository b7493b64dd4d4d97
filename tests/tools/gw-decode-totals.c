/* gw-decode-totals.c: decode every frame of pcap files and print IP packet/byte totals. */
/*
 * Usage: gw-decode-totals [-l LOOPS] [-p] FILE...
 *   Prints per file: "FILE packets N bytes N nonip N" followed by
 *   " REASON N REASON_bytes N" for every non-OK decode result seen (bytes
 *   from pcap len, since such packets have no IP length).
 *   -p   also print one line per frame: "frame N result R ip_bytes N".
 *   -l N benchmark: read the file into memory, decode it N times, print
 *        packets/s on stderr (totals are those of one pass).
 * Exit status 0, or 1 when a file cannot be opened.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"

struct frame {
	uint32_t caplen, wirelen;
	const uint8_t *data;
};

struct totals {
	uint64_t packets, bytes, nonip;
	uint64_t reason[DECODE_RESULT_MAX];
	uint64_t reason_wire[DECODE_RESULT_MAX];
};

struct capture {
	int dlt;
	size_t n, cap;
	struct frame *f;
	int read_error;
};

static int capture_load(const char *path, struct capture *cap)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *pc;
	int rc;

	memset(cap, 0, sizeof(*cap));
	pc = pcap_open_offline(path, errbuf);
	if (pc == NULL) {
		fprintf(stderr, "%s: %s\n", path, errbuf);
		return -1;
	}
	cap->dlt = pcap_datalink(pc);
	while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
		uint8_t *copy;

		if (cap->n == cap->cap) {
			cap->cap = cap->cap ? cap->cap * 2 : 1024;
			cap->f = realloc(cap->f, cap->cap * sizeof(*cap->f));
			if (cap->f == NULL)
				abort();
		}
		copy = malloc(h->caplen ? h->caplen : 1);  /* exact size for ASan */
		if (copy == NULL)
			abort();
		memcpy(copy, d, h->caplen);
		cap->f[cap->n].caplen = h->caplen;
		cap->f[cap->n].wirelen = h->len;
		cap->f[cap->n].data = copy;
		cap->n++;
	}
	cap->read_error = (rc == -1);
	pcap_close(pc);
	return 0;
}

static void capture_free(struct capture *cap)
{
	for (size_t i = 0; i < cap->n; i++)
		free((void *)cap->f[i].data);
	free(cap->f);
}

static void count(const struct capture *cap, struct totals *t, int per_frame)
{
	struct pkt p;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < cap->n; i++) {
		const struct frame *f = &cap->f[i];
		enum decode_result r = decode_packet(cap->dlt, f->data, f->caplen, &p);

		t->reason[r]++;
		if (decode_is_ip(r)) {
			t->packets++;
			t->bytes += p.ip_bytes;
		} else {
			t->nonip++;
			t->reason_wire[r] += f->wirelen;
		}
		if (per_frame)
			printf("frame %zu result %s ip_bytes %u\n", i + 1,
			    decode_result_name(r), p.ip_bytes);
	}
}

static void bench(const struct capture *cap, long loops)
{
	struct timespec a, b;
	struct pkt p;
	uint64_t sink = 0;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long l = 0; l < loops; l++)
		for (size_t i = 0; i < cap->n; i++) {
			decode_packet(cap->dlt, cap->f[i].data, cap->f[i].caplen, &p);
			sink += p.ip_bytes + p.sport;
		}
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	fprintf(stderr, "decoded %zu packets x %ld in %.3f s: %.0f packets/s (sink %llu)\n",
	    cap->n, loops, s, s > 0 ? (double)cap->n * (double)loops / s : 0.0,
	    (unsigned long long)sink);
}

int main(int argc, char **argv)
{
	long loops = 0;
	int per_frame = 0, opt, status = 0;

	while ((opt = getopt(argc, argv, "l:p")) != -1) {
		if (opt == 'l')
			loops = strtol(optarg, NULL, 10);
		else if (opt == 'p')
			per_frame = 1;
		else {
			fprintf(stderr, "usage: gw-decode-totals [-l loops] [-p] file...\n");
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		struct capture cap;
		struct totals t;

		if (capture_load(argv[i], &cap) != 0) {
			status = 1;
			continue;
		}
		count(&cap, &t, per_frame);
		printf("%s packets %llu bytes %llu nonip %llu", argv[i],
		    (unsigned long long)t.packets, (unsigned long long)t.bytes,
		    (unsigned long long)t.nonip);
		for (int r = 1; r < DECODE_RESULT_MAX; r++)
			if (t.reason[r])
				printf(" %s %llu %s_wirebytes %llu",
				    decode_result_name((enum decode_result)r),
				    (unsigned long long)t.reason[r],
				    decode_result_name((enum decode_result)r),
				    (unsigned long long)t.reason_wire[r]);
		printf("%s\n", cap.read_error ? " read_error 1" : "");
		if (loops > 0)
			bench(&cap, loops);
		capture_free(&cap);
	}
	return status;
}
