/* jsonl.c: JSON Lines writer with strict escaping and stable number formatting. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"
#include "log.h"

struct jsonl {
	FILE *fp;
	bool owned;        /* fclose on close */
	bool failed;       /* a write failed at some point */
	char *buf;         /* stdio buffer for owned files */
};

#define JSONL_BUF (256 * 1024)

struct jsonl *
jsonl_wrap(FILE *fp)
{
	struct jsonl *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->fp = fp;
	return j;
}

struct jsonl *
jsonl_open(const char *path)
{
	struct jsonl *j;
	FILE *fp;

	if (strcmp(path, "-") == 0)
		return jsonl_wrap(stdout);
	fp = fopen(path, "w");
	if (fp == NULL) {
		log_err("jsonl: cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	j = jsonl_wrap(fp);
	if (j == NULL) {
		fclose(fp);
		return NULL;
	}
	j->owned = true;
	j->buf = malloc(JSONL_BUF);
	if (j->buf != NULL)
		setvbuf(fp, j->buf, _IOFBF, JSONL_BUF);
	return j;
}

int
jsonl_close(struct jsonl *j)
{
	int rc;

	if (j == NULL)
		return 0;
	if (fflush(j->fp) != 0 || ferror(j->fp))
		j->failed = true;
	if (j->owned && fclose(j->fp) != 0)
		j->failed = true;
	rc = j->failed ? -1 : 0;
	free(j->buf);
	free(j);
	return rc;
}

void
jsonl_put_string(FILE *fp, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;

	putc('"', fp);
	for (; *u != '\0'; u++) {
		if (*u == '"' || *u == '\\') {
			putc('\\', fp);
			putc(*u, fp);
		} else if (*u >= 0x20 && *u < 0x7f) {
			putc(*u, fp);
		} else if (*u == '\n') {
			fputs("\\n", fp);
		} else if (*u == '\t') {
			fputs("\\t", fp);
		} else {
			/* Control and non-ASCII bytes: always valid JSON, never bad UTF-8. */
			fputs("\\u00", fp);
			putc(hex[*u >> 4], fp);
			putc(hex[*u & 15], fp);
		}
	}
	putc('"', fp);
}

void
jsonl_put_double(FILE *fp, double v)
{
	char buf[64];
	size_t n;

	if (!isfinite(v))
		v = 0;
	if (v == floor(v) && fabs(v) < 1e15) {
		fprintf(fp, "%.1f", v);
		return;
	}
	n = (size_t)snprintf(buf, sizeof(buf), "%.6f", v);
	if (n >= sizeof(buf)) {
		fprintf(fp, "%g", v);
		return;
	}
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[n++] = '0', buf[n] = '\0';
	fputs(buf, fp);
}

/* ,"key":"value" */
static void
jsonl_kv_str(FILE *fp, const char *key, const char *v)
{
	fprintf(fp, ",\"%s\":", key);
	jsonl_put_string(fp, v);
}

static void
jsonl_kv_u64(FILE *fp, const char *key, uint64_t v)
{
	fprintf(fp, ",\"%s\":%" PRIu64, key, v);
}

static void
jsonl_kv_dbl(FILE *fp, const char *key, double v)
{
	fprintf(fp, ",\"%s\":", key);
	jsonl_put_double(fp, v);
}

/* {"type":"T","probe":"P" ... (no closing brace) */
static void
jsonl_head(FILE *fp, const char *type, const char *probe, const char *customer)
{
	fprintf(fp, "{\"type\":\"%s\",\"probe\":", type);
	jsonl_put_string(fp, probe);
	jsonl_kv_str(fp, "customer", customer);
}

static void
jsonl_apps(FILE *fp, const struct gw_customer_stats *c)
{
	size_t i;

	fputs(",\"apps\":{", fp);
	for (i = 0; i < c->n_apps && i < GW_APPS_MAX; i++) {
		if (i > 0)
			putc(',', fp);
		jsonl_put_string(fp, c->apps[i].app);
		fprintf(fp, ":{\"rx_bytes\":%" PRIu64 ",\"tx_bytes\":%" PRIu64,
		    c->apps[i].rx_bytes, c->apps[i].tx_bytes);
		jsonl_kv_str(fp, "category", c->apps[i].category);
		putc('}', fp);
	}
	putc('}', fp);
}

static void
jsonl_quality(FILE *fp, const struct gw_customer_stats *c)
{
	fprintf(fp, ",\"rtp\":{\"streams\":%" PRIu32, c->rtp.streams);
	jsonl_kv_u64(fp, "packets_expected", c->rtp.packets_expected);
	jsonl_kv_u64(fp, "packets_lost", c->rtp.packets_lost);
	jsonl_kv_dbl(fp, "jitter_ms_avg", c->rtp.jitter_ms_avg);
	jsonl_kv_dbl(fp, "jitter_ms_max", c->rtp.jitter_ms_max);
	jsonl_kv_u64(fp, "packets", c->rtp.packets);
	fprintf(fp, "},\"tcp\":{\"handshakes\":%" PRIu32, c->tcp.handshakes);
	jsonl_kv_dbl(fp, "rtt_wan_ms_avg", c->tcp.rtt_wan_ms_avg);
	jsonl_kv_dbl(fp, "rtt_lan_ms_avg", c->tcp.rtt_lan_ms_avg);
	jsonl_kv_dbl(fp, "rtt_ms_p95", c->tcp.rtt_ms_p95);
	jsonl_kv_u64(fp, "retransmits", c->tcp.retransmits);
	jsonl_kv_u64(fp, "segments", c->tcp.segments);
	jsonl_kv_u64(fp, "out_of_order", c->tcp.out_of_order);
	fprintf(fp, "},\"dns\":{\"queries\":%" PRIu64, c->dns.queries);
	jsonl_kv_u64(fp, "responses", c->dns.responses);
	jsonl_kv_u64(fp, "failures", c->dns.failures);
	jsonl_kv_dbl(fp, "latency_ms_avg", c->dns.latency_ms_avg);
	jsonl_kv_dbl(fp, "latency_ms_p95", c->dns.latency_ms_p95);
	jsonl_kv_u64(fp, "timeouts", c->dns.timeouts);
	fprintf(fp, "},\"udp\":{\"streams\":%" PRIu32, c->udp.streams);
	jsonl_kv_dbl(fp, "pps_avg", c->udp.pps_avg);
	jsonl_kv_dbl(fp, "iat_var_ms_avg", c->udp.iat_var_ms_avg);
	putc('}', fp);
}

static int
jsonl_end(struct jsonl *j)
{
	fputs("}\n", j->fp);
	if (ferror(j->fp)) {
		j->failed = true;
		return -1;
	}
	return 0;
}

int
jsonl_stats(struct jsonl *j, const char *probe, const struct gw_stats_report *r)
{
	const struct gw_customer_stats *c;
	size_t i;
	int rc = 0;

	for (i = 0; i < r->n_customers; i++) {
		c = &r->customers[i];
		jsonl_head(j->fp, "stats", probe, c->customer);
		jsonl_kv_dbl(j->fp, "ts", r->ts);
		jsonl_kv_dbl(j->fp, "interval", r->interval);
		jsonl_kv_u64(j->fp, "rx_bytes", c->rx_bytes);
		jsonl_kv_u64(j->fp, "tx_bytes", c->tx_bytes);
		jsonl_kv_u64(j->fp, "rx_packets", c->rx_packets);
		jsonl_kv_u64(j->fp, "tx_packets", c->tx_packets);
		jsonl_kv_u64(j->fp, "flows_active", c->flows_active);
		jsonl_kv_u64(j->fp, "flows_new", c->flows_new);
		if (c->shed_packets > 0)   /* only under load shedding */
			jsonl_kv_u64(j->fp, "shed_packets", c->shed_packets);
		jsonl_apps(j->fp, c);
		jsonl_quality(j->fp, c);
		if (jsonl_end(j) != 0)
			rc = -1;
	}
	return rc;
}

int
jsonl_event(struct jsonl *j, const char *probe, const struct gw_event *ev)
{
	FILE *fp = j->fp;
	size_t i;

	jsonl_head(fp, "event", probe, ev->customer);
	jsonl_kv_dbl(fp, "ts", ev->ts);
	jsonl_kv_str(fp, "kind", ev->kind);
	jsonl_kv_str(fp, "severity", ev->severity);
	jsonl_kv_str(fp, "src", ev->src);
	jsonl_kv_str(fp, "dst", ev->dst);
	jsonl_kv_dbl(fp, "rate_pps", ev->rate_pps);
	jsonl_kv_dbl(fp, "rate_bps", ev->rate_bps);
	jsonl_kv_str(fp, "direction", ev->direction);
	fprintf(fp, ",\"cleared\":%s", ev->cleared ? "true" : "false");
	jsonl_kv_u64(fp, "ip_proto", ev->ip_proto);
	jsonl_kv_u64(fp, "dport", ev->dport);
	jsonl_kv_str(fp, "detail", ev->detail);
	fputs(",\"top_talkers\":[", fp);
	for (i = 0; i < ev->n_top_talkers && i < GW_LIST_MAX; i++) {
		if (i > 0)
			putc(',', fp);
		jsonl_put_string(fp, ev->top_talkers[i]);
	}
	putc(']', fp);
	return jsonl_end(j);
}

int
jsonl_flow(struct jsonl *j, const char *probe, const struct gw_flow_record *fr)
{
	FILE *fp = j->fp;

	jsonl_head(fp, "flow", probe, fr->customer);
	jsonl_kv_dbl(fp, "first_ts", fr->first_ts);
	jsonl_kv_dbl(fp, "last_ts", fr->last_ts);
	jsonl_kv_u64(fp, "ip_proto", fr->ip_proto);
	jsonl_kv_str(fp, "src", fr->src);
	jsonl_kv_str(fp, "dst", fr->dst);
	jsonl_kv_u64(fp, "sport", fr->sport);
	jsonl_kv_u64(fp, "dport", fr->dport);
	jsonl_kv_u64(fp, "vlan", fr->vlan);
	jsonl_kv_str(fp, "app", fr->app);
	jsonl_kv_str(fp, "category", fr->category);
	jsonl_kv_u64(fp, "rx_bytes", fr->rx_bytes);
	jsonl_kv_u64(fp, "tx_bytes", fr->tx_bytes);
	jsonl_kv_u64(fp, "rx_packets", fr->rx_packets);
	jsonl_kv_u64(fp, "tx_packets", fr->tx_packets);
	jsonl_kv_str(fp, "end_reason", fr->end_reason);
	jsonl_kv_dbl(fp, "rtt_wan_ms", fr->rtt_wan_ms);
	jsonl_kv_dbl(fp, "rtt_lan_ms", fr->rtt_lan_ms);
	jsonl_kv_u64(fp, "retransmits", fr->retransmits);
	jsonl_kv_dbl(fp, "jitter_ms", fr->jitter_ms);
	jsonl_kv_u64(fp, "rtp_lost", fr->rtp_lost);
	return jsonl_end(j);
}
