/* ctl_live.c: gatewatchctl's live-state commands: customers, customer, probes, series, stats. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "ctl_fmt.h"
#include "ctl_table.h"

static const char *
ctl_top_app(const json_t *cust)
{
	const json_t *apps = json_object_get(cust, "apps"), *v;
	const char *key, *best = NULL;
	double best_b = -1, b;

	json_object_foreach((json_t *)apps, key, v) {
		b = ctl_fmt_jnum(v, "rx_bytes") + ctl_fmt_jnum(v, "tx_bytes");
		if (!isnan(b) && b > best_b) {
			best_b = b;
			best = key;
		}
	}
	return best;
}

/* bits/s of a direction: the API's *_bps, else bytes * 8 / interval. */
static double
ctl_bps(const json_t *o, const char *dir)
{
	char k1[16], k2[16];
	double v, iv = ctl_fmt_jnum(o, "interval");

	snprintf(k1, sizeof(k1), "%s_bps", dir);
	snprintf(k2, sizeof(k2), "%s_bytes", dir);
	v = ctl_fmt_jnum(o, k1);
	if (isnan(v) && iv > 0)
		v = ctl_fmt_jnum(o, k2) * 8 / iv;
	return v;
}

static double
ctl_pps(const json_t *o, const char *dir)
{
	char k[16];
	double iv = ctl_fmt_jnum(o, "interval");

	snprintf(k, sizeof(k), "%s_packets", dir);
	return iv > 0 ? ctl_fmt_jnum(o, k) / iv : NAN;
}

/* How long a customer's last measured RTT/jitter/loss/DNS is shown when the latest interval
 * had no such traffic (the dashboard holds them as long). */
#define CTL_QOS_HOLD_S 300

/*
 * A quality summary ("tcp", "rtp", "dns") of customer o that has measurements (COUNT > 0):
 * the latest interval's, else the last measured one of the past CTL_QOS_HOLD_S (*held set).
 * NULL when there is none. Borrowed from o.
 */
static const json_t *
ctl_measured(const json_t *o, const char *kind, const char *count, bool *held)
{
	const json_t *cur = json_object_get(o, kind);
	const json_t *last = json_object_get(json_object_get(o, "last_measured"), kind);

	*held = false;
	if (ctl_fmt_jnum(cur, count) > 0)
		return cur;
	if (ctl_fmt_jnum(last, count) > 0 &&
	    ctl_fmt_jnum(o, "ts") - ctl_fmt_jnum(last, "ts") <= CTL_QOS_HOLD_S) {
		*held = true;
		return last;
	}
	return NULL;
}

/* "12.3" of a millisecond or percent figure, "12.3*" when held; "-" for NAN. */
static const char *
ctl_qos(char *buf, size_t len, double v, bool held)
{
	if (isnan(v))
		return "-";
	snprintf(buf, len, "%.1f%s", v, held ? "*" : "");
	return buf;
}

/* The RTT WAN, jitter, RTP loss % and DNS cells of customer o (4 of cells, 4 buffers of b); true if one is held. */
static bool
ctl_qos_cells(const json_t *o, char (*b)[64], const char **cells)
{
	const json_t *tcp, *rtp, *dns;
	bool ht, hr, hd;
	double exp, loss = NAN;

	tcp = ctl_measured(o, "tcp", "handshakes", &ht);
	rtp = ctl_measured(o, "rtp", "streams", &hr);
	dns = ctl_measured(o, "dns", "responses", &hd);
	exp = ctl_fmt_jnum(rtp, "packets_expected");
	if (exp > 0)
		loss = 100 * ctl_fmt_jnum(rtp, "packets_lost") / exp;
	cells[0] = ctl_qos(b[0], 64, tcp ? ctl_fmt_jnum(tcp, "rtt_wan_ms_avg") : NAN, ht);
	cells[1] = ctl_qos(b[1], 64, rtp ? ctl_fmt_jnum(rtp, "jitter_ms_avg") : NAN, hr);
	cells[2] = ctl_qos(b[2], 64, loss, hr);
	cells[3] = ctl_qos(b[3], 64, dns ? ctl_fmt_jnum(dns, "latency_ms_avg") : NAN, hd);
	return (tcp && ht) || (rtp && hr) || (dns && hd);
}

int
cmd_customers(const struct ctl *c)
{
	struct ctl_table t;
	json_t *j, *arr, *o;
	size_t i;
	bool any_held = false;
	int rc;

	if ((rc = ctl_call(c, "GET", "/api/v1/customers", NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	arr = json_object_get(j, "customers");
	ctl_table_cols(&t, "CUSTOMER,PROBE,>RX,>TX,>RX_PPS,>TX_PPS,>FLOWS,>NEW,TOP_APP,"
	    ">RTT_WAN_MS,>JITTER_MS,>RTP_LOSS%,>DNS_MS,UPDATED");
	json_array_foreach(arr, i, o) {
		char b[14][64];
		const char *cells[14] = {
			ctl_jstr(o, "id"), ctl_jstr(o, "probe"),
			ctl_si(b[2], 64, ctl_bps(o, "rx"), "bit/s"),
			ctl_si(b[3], 64, ctl_bps(o, "tx"), "bit/s"),
			ctl_num(b[4], 64, round(ctl_pps(o, "rx"))),
			ctl_num(b[5], 64, round(ctl_pps(o, "tx"))),
			ctl_num(b[6], 64, ctl_fmt_jnum(o, "flows_active")),
			ctl_num(b[7], 64, ctl_fmt_jnum(o, "flows_new")),
			ctl_top_app(o), NULL, NULL, NULL, NULL,
			ctl_time(b[13], 64, ctl_fmt_jnum(o, "ts")),
		};
		if (ctl_qos_cells(o, b + 9, cells + 9))
			any_held = true;
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
	if (any_held)
		printf("* last measured value of the past %d s (no such traffic in the latest interval)\n",
		    CTL_QOS_HOLD_S);
	json_decref(j);
	return CTL_OK;
}

/* Prints "  name: k=v k=v" for a summary object such as "rtp". */
static void
ctl_print_summary(const json_t *o, const char *name)
{
	const json_t *s = json_object_get(o, name), *v;
	const char *key;
	char buf[128];

	if (!json_is_object(s) || json_object_size(s) == 0)
		return;
	printf("%-9s", name);
	json_object_foreach((json_t *)s, key, v)
		printf(" %s=%s", key, ctl_jtext(buf, sizeof(buf), v));
	putchar('\n');
}

static void
ctl_print_customer(const json_t *o)
{
	struct ctl_table t;
	const json_t *v;
	const char *key;
	char b[6][64];
	size_t i;

	printf("customer %s  probe %s  interval %s s ending %s\n",
	    ctl_jstr(o, "id") ? ctl_jstr(o, "id") : "-",
	    ctl_jstr(o, "probe") ? ctl_jstr(o, "probe") : "-",
	    ctl_num(b[0], 64, ctl_fmt_jnum(o, "interval")),
	    ctl_time(b[1], 64, ctl_fmt_jnum(o, "ts")));
	printf("rx        %s  %s bytes  %s packets\n",
	    ctl_si(b[0], 64, ctl_bps(o, "rx"), "bit/s"),
	    ctl_num(b[1], 64, ctl_fmt_jnum(o, "rx_bytes")),
	    ctl_num(b[2], 64, ctl_fmt_jnum(o, "rx_packets")));
	printf("tx        %s  %s bytes  %s packets\n",
	    ctl_si(b[0], 64, ctl_bps(o, "tx"), "bit/s"),
	    ctl_num(b[1], 64, ctl_fmt_jnum(o, "tx_bytes")),
	    ctl_num(b[2], 64, ctl_fmt_jnum(o, "tx_packets")));
	printf("flows     %s active, %s new\n",
	    ctl_num(b[0], 64, ctl_fmt_jnum(o, "flows_active")),
	    ctl_num(b[1], 64, ctl_fmt_jnum(o, "flows_new")));
	ctl_print_summary(o, "rtp");
	ctl_print_summary(o, "tcp");
	ctl_print_summary(o, "dns");
	ctl_print_summary(o, "udp");
	if (json_object_size(json_object_get(o, "apps")) > 0) {
		putchar('\n');
		ctl_table_cols(&t, "APP,>RX_BYTES,>TX_BYTES");
		json_object_foreach(json_object_get(o, "apps"), key, v) {
			const char *cells[3] = { key,
			    ctl_si(b[0], 64, ctl_fmt_jnum(v, "rx_bytes"), "B"),
			    ctl_si(b[1], 64, ctl_fmt_jnum(v, "tx_bytes"), "B") };
			ctl_table_row(&t, cells);
		}
		ctl_table_print(&t);
	}
	if (json_array_size(json_object_get(o, "history")) > 0) {
		putchar('\n');
		ctl_table_cols(&t, "TIME,>RX_BYTES,>TX_BYTES,>RX_PACKETS,>TX_PACKETS");
		json_array_foreach(json_object_get(o, "history"), i, v) {
			const char *cells[5] = {
			    ctl_time(b[0], 64, ctl_fmt_jnum(v, "ts")),
			    ctl_num(b[1], 64, ctl_fmt_jnum(v, "rx_bytes")),
			    ctl_num(b[2], 64, ctl_fmt_jnum(v, "tx_bytes")),
			    ctl_num(b[3], 64, ctl_fmt_jnum(v, "rx_packets")),
			    ctl_num(b[4], 64, ctl_fmt_jnum(v, "tx_packets")) };
			ctl_table_row(&t, cells);
		}
		ctl_table_print(&t);
	}
}

int
cmd_customer(const struct ctl *c)
{
	char path[512], id[256];
	json_t *j;
	int rc;

	ctl_urlenc(id, sizeof(id), c->args[1]);
	snprintf(path, sizeof(path), "/api/v1/customers/%s", id);
	if ((rc = ctl_call(c, "GET", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	ctl_print_customer(j);
	json_decref(j);
	return CTL_OK;
}

int
cmd_probes(const struct ctl *c)
{
	struct ctl_table t;
	json_t *j, *o, *h;
	size_t i;
	int rc;

	if ((rc = ctl_call(c, "GET", "/api/v1/probes", NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	ctl_table_cols(&t, "PROBE,ADDRESS,LAST_SEEN,>MESSAGES,>LOST,>DUPS,"
	    ">AWAY,>REJECTED,>CUSTOMERS,>CPU%,>PCAP_DROP,>QUEUE_DROP");
	json_array_foreach(json_object_get(j, "probes"), i, o) {
		char b[12][64];
		const char *cells[12];

		h = json_object_get(o, "health");
		cells[0] = ctl_jstr(o, "id");
		cells[1] = ctl_jstr(o, "address");
		cells[2] = ctl_time(b[2], 64, ctl_fmt_jnum(o, "last_seen"));
		cells[3] = ctl_num(b[3], 64, ctl_fmt_jnum(o, "messages"));
		cells[4] = ctl_num(b[4], 64, ctl_fmt_jnum(o, "lost"));
		cells[5] = ctl_num(b[5], 64, ctl_fmt_jnum(o, "duplicates"));
		/* Envelopes the probe sent to other shards (failover), not lost. */
		cells[6] = ctl_num(b[6], 64, ctl_fmt_jnum(o, "forwarded_elsewhere"));
		cells[7] = ctl_num(b[7], 64, ctl_fmt_jnum(o, "rejected"));
		cells[8] = ctl_num(b[8], 64, ctl_fmt_jnum(o, "customers"));
		snprintf(b[9], 64, "%.1f", ctl_fmt_jnum(h, "cpu_pct"));
		cells[9] = isnan(ctl_fmt_jnum(h, "cpu_pct")) ? "-" : b[9];
		cells[10] = ctl_num(b[10], 64, ctl_fmt_jnum(h, "pcap_dropped"));
		cells[11] = ctl_num(b[11], 64, ctl_fmt_jnum(h, "queue_dropped"));
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
	json_decref(j);
	return CTL_OK;
}

/* Formats one series value by the metric's unit. */
static const char *
ctl_series_value(char *buf, size_t len, const char *metric, const json_t *v)
{
	size_t ml = strlen(metric);

	if (!json_is_number(v))
		return "-";
	if (ml > 6 && strcmp(metric + ml - 6, "_bytes") == 0)
		return ctl_si(buf, len, json_number_value(v) * 8, "bit/s");
	if (ml > 8 && strcmp(metric + ml - 8, "_packets") == 0)
		return ctl_si(buf, len, json_number_value(v), "pkt/s");
	snprintf(buf, len, "%.3f", json_number_value(v));
	return buf;
}

int
cmd_series(const struct ctl *c)
{
	char path[1024], id[256], metric[256], q[256];
	struct ctl_table t;
	json_t *j, *pt;
	size_t i;
	int rc, n;

	ctl_urlenc(id, sizeof(id), c->args[1]);
	ctl_urlenc(metric, sizeof(metric), c->args[2]);
	n = snprintf(path, sizeof(path), "/api/v1/customers/%s/series?metric=%s",
	    id, metric);
	if (c->from != NULL && (ctl_urlenc(q, sizeof(q), c->from), 1))
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&from=%s", q);
	if (c->to != NULL && (ctl_urlenc(q, sizeof(q), c->to), 1))
		n += snprintf(path + n, sizeof(path) - (size_t)n, "&to=%s", q);
	if (c->cf != NULL && (ctl_urlenc(q, sizeof(q), c->cf), 1))
		snprintf(path + n, sizeof(path) - (size_t)n, "&cf=%s", q);
	if ((rc = ctl_call(c, "GET", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	printf("%s %s %s, step %s s\n", c->args[1], c->args[2],
	    ctl_jstr(j, "cf") ? ctl_jstr(j, "cf") : "",
	    ctl_num(q, sizeof(q), ctl_fmt_jnum(j, "step")));
	ctl_table_cols(&t, "TIME,>VALUE");
	json_array_foreach(json_object_get(j, "points"), i, pt) {
		char b[2][64];
		const char *cells[2] = {
		    ctl_time(b[0], 64, json_number_value(json_array_get(pt, 0))),
		    ctl_series_value(b[1], 64, c->args[2], json_array_get(pt, 1)) };
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
	json_decref(j);
	return CTL_OK;
}


int
cmd_stats(const struct ctl *c)
{
	json_t *j;
	int rc;

	if ((rc = ctl_call(c, "GET", "/api/v1/stats", NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	ctl_print_object(j, "");
	json_decref(j);
	return CTL_OK;
}

/* report ID / top: capacity reports (output in ctl_report.c). */
