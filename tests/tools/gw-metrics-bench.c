/* gw-metrics-bench.c: measures what one /metrics scrape costs with N customers (live snapshot + rendering); prints, asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "live.h"
#include "metrics.h"

#define BENCH_RUNS_MAX 1000

static double
bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Fills lv with n customers whose latest interval has TCP, RTP and DNS data. */
static int
bench_fill(struct live *lv, size_t n)
{
	struct gw_customer_stats *cs = calloc(1, sizeof(*cs));

	if (cs == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		snprintf(cs->customer, sizeof(cs->customer), "cust%06zu", i);
		cs->rx_bytes = 1000 + i * 37;
		cs->tx_bytes = 200 + i * 11;
		cs->rx_packets = 10 + i % 100;
		cs->tx_packets = 5 + i % 50;
		cs->flows_active = (uint32_t)(i % 40);
		cs->tcp.handshakes = 1 + (uint32_t)(i % 3);
		cs->tcp.rtt_wan_ms_avg = 10.0 + (double)(i % 97) / 7.0;
		cs->tcp.rtt_lan_ms_avg = 1.0 + (double)(i % 13) / 3.0;
		cs->rtp.streams = 1;
		cs->rtp.packets_expected = 500;
		cs->rtp.packets_lost = i % 9;
		cs->rtp.jitter_ms_avg = (double)(i % 31) / 3.0;
		cs->dns.responses = 2;
		cs->dns.latency_ms_avg = 5.0 + (double)(i % 17) / 9.0;
		if (live_customer_update(lv, "p1", 1700000000.0, 1.0, cs) == -1) {
			free(cs);
			return -1;
		}
	}
	free(cs);
	return 0;
}

/*
 * Usage: gw-metrics-bench [CUSTOMERS [RUNS [MAX_CUSTOMERS]]] (defaults 10000,
 * 20, the operator's default cap). Prints one line with the median and
 * minimum milliseconds of the snapshot (live_customers_list) and of the
 * rendering, the body size and the number of sample lines. Exit 0, 1 on
 * bad arguments or out of memory.
 */
int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	size_t runs = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
	size_t max = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
	static double snap_ms[BENCH_RUNS_MAX], rend_ms[BENCH_RUNS_MAX];
	struct live *lv = live_new(1, 1);
	size_t len = 0, samples = 0;

	if (lv == NULL || n == 0 || runs == 0 || runs > BENCH_RUNS_MAX ||
	    bench_fill(lv, n) == -1) {
		fprintf(stderr, "usage: gw-metrics-bench [CUSTOMERS [RUNS(1..%d) "
		    "[MAX_CUSTOMERS]]] (or out of memory)\n", BENCH_RUNS_MAX);
		live_free(lv);
		return 1;
	}
	for (size_t r = 0; r < runs; r++) {
		struct metrics_snapshot s = { .max_customers = max, .now = 1.0 };
		struct live_customer_view *cv;
		char *out;
		double t0 = bench_now_ms(), t1;

		if (live_customers_list(lv, &cv, &s.n_customers) == -1)
			goto oom;
		s.customers = cv;
		t1 = bench_now_ms();
		if (metrics_render(&s, &out, &len) == -1) {
			free(cv);
			goto oom;
		}
		rend_ms[r] = bench_now_ms() - t1;
		snap_ms[r] = t1 - t0;
		samples = 0;
		for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
			samples += p[1] != '#' && p[1] != '\0';
		free(out);
		free(cv);
	}
	qsort(snap_ms, runs, sizeof(double), bench_cmp);
	qsort(rend_ms, runs, sizeof(double), bench_cmp);
	printf("customers %zu runs %zu snapshot_ms_median %.2f snapshot_ms_min %.2f "
	    "render_ms_median %.2f render_ms_min %.2f body_bytes %zu samples %zu\n",
	    n, runs, snap_ms[runs / 2], snap_ms[0], rend_ms[runs / 2], rend_ms[0],
	    len, samples);
	live_free(lv);
	return 0;
oom:
	fprintf(stderr, "gw-metrics-bench: out of memory\n");
	live_free(lv);
	return 1;
}
