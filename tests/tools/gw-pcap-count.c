/* gw-pcap-count.c: the bare libpcap read loop (no decoding), the throughput limit the bench compares the probe with. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double
pcap_count_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Reads FILE with pcap_next_ex and touches the first byte of every packet so
 * the data is really read. Prints "packets N bytes B seconds S pps P gbps G"
 * (bytes = sum of wire lengths). Exit 0, or 1 when the file cannot be opened.
 */
int
main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t packets = 0, bytes = 0, sink = 0;
	double t0, dt;
	pcap_t *p;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: gw-pcap-count FILE\n");
		return 2;
	}
	t0 = pcap_count_now_s();
	if ((p = pcap_open_offline(argv[1], err)) == NULL) {
		fprintf(stderr, "gw-pcap-count: %s\n", err);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		packets++;
		bytes += h->len;
		if (h->caplen > 0)
			sink += data[0];
	}
	pcap_close(p);
	dt = pcap_count_now_s() - t0;
	if (dt <= 0)
		dt = 1e-9;
	printf("packets %llu bytes %llu seconds %.6f pps %.0f gbps %.3f sink %llu\n",
	    (unsigned long long)packets, (unsigned long long)bytes, dt, (double)packets / dt,
	    (double)bytes * 8 / dt / 1e9, (unsigned long long)(sink & 1));
	return rc == -1 ? 1 : 0;
}
