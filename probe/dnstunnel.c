/*
 * dnstunnel.c: DNS tunnelling indicator (iodine, dnscat2, DNS exfiltration):
 * a bounds-checked parse of the question name, label statistics, and per
 * (client, domain) counts over 60 s windows in a fixed table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dnstunnel.h"
#include "sketch.h"

#define DNST_WAYS        4
#define DNST_WINDOW_US   60000000ULL
#define DNST_LONG_LABEL  30      /* a label this long is not a host name */
#define DNST_LONG_SUB    50      /* nor is this much before the domain */
#define DNST_ENT_LABEL   20      /* labels from this long are judged by entropy */
#define DNST_ENT_BITS    3.9     /* bits per byte: above hex, typical of base32/64 */
#define DNST_AVG_SUB     12      /* volume rule: average bytes before the domain */

struct dslot {
	uint64_t key;                /* 0 = free */
	uint64_t win_start_us;
	uint64_t last_us;
	uint64_t names_seen;         /* linear-counting bitmap of distinct names */
	uint32_t queries, suspicious, distinct, sub_bytes;
	uint32_t domain_hash;
	unsigned max_label;
	char domain[DNSTUNNEL_DOMAIN_MAX];
};

struct dnstunnel {
	struct dslot *slots;
	size_t n_buckets;
};

/* See dnstunnel.h. */
struct dnstunnel *dnstunnel_new(size_t slots)
{
	struct dnstunnel *t;

	if (slots < DNST_WAYS || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->n_buckets = slots / DNST_WAYS;
	if ((t->slots = calloc(t->n_buckets * DNST_WAYS, sizeof(*t->slots))) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

/* See dnstunnel.h. */
void dnstunnel_free(struct dnstunnel *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

/* See dnstunnel.h. */
size_t dnstunnel_memory(const struct dnstunnel *t)
{
	return t == NULL ? 0 : sizeof(*t) + t->n_buckets * DNST_WAYS * sizeof(*t->slots);
}

static double label_entropy(const uint8_t *s, size_t n)
{
	unsigned cnt[256] = { 0 };
	double h = 0;
	size_t i;

	for (i = 0; i < n; i++)
		cnt[s[i]]++;
	for (i = 0; i < 256; i++)
		if (cnt[i] > 0) {
			double q = (double)cnt[i] / (double)n;

			h -= q * log2(q);
		}
	return h;
}

static bool host_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Offset of the registrable domain: last two labels, three for "co.uk"-style names. */
static void name_domain(struct dnstunnel_name *n, const size_t *starts)
{
	size_t k = n->labels >= 2 ? 2 : n->labels;

	if (n->labels >= 3) {
		size_t tld = n->len - starts[n->labels - 1];
		size_t sld = starts[n->labels - 1] - 1 - starts[n->labels - 2];

		if (tld == 2 && sld <= 3)
			k = 3;
	}
	n->domain_off = k > 0 ? starts[n->labels - k] : n->len;
	n->sub_len = n->domain_off > 0 ? n->domain_off - 1 : 0;
}

/* Reads the labels at msg[off..len) into n; -1 on a pointer, overrun or bad length. */
static int name_labels(const uint8_t *msg, size_t len, size_t *off,
    struct dnstunnel_name *n)
{
	size_t starts[128];
	size_t o = *off, i;
	const uint8_t *longest = NULL;

	for (;;) {
		uint8_t l;

		if (o >= len)
			return -1;
		l = msg[o++];
		if (l == 0)
			break;
		if (l > 63 || l > len - o || n->labels >= 127 ||
		    n->len + l + 2 > sizeof(n->text))
			return -1;
		if (n->len > 0)
			n->text[n->len++] = '.';
		starts[n->labels++] = n->len;
		for (i = 0; i < l; i++) {
			uint8_t c = msg[o + i];

			if (!host_byte(c))
				n->odd_bytes = true;
			n->text[n->len++] = c > ' ' && c < 0x7f ? (char)c : '?';
		}
		if (l > n->max_label) {
			n->max_label = l;
			longest = msg + o;
		}
		o += l;
	}
	n->text[n->len] = '\0';
	if (n->labels == 0)
		return -1;
	/* Entropy only where it decides: long labels and odd bytes already do. */
	if (n->max_label >= DNST_ENT_LABEL && n->max_label < DNST_LONG_LABEL && !n->odd_bytes)
		n->max_entropy = label_entropy(longest, n->max_label);
	name_domain(n, starts);
	*off = o;
	return 0;
}

/* See dnstunnel.h. */
int dnstunnel_parse(const uint8_t *msg, size_t len, struct dnstunnel_name *out)
{
	size_t off = 12;

	memset(out, 0, sizeof(*out));
	if (msg == NULL || len < 12 + 5)
		return -1;
	if ((msg[2] & 0x80) != 0 || (msg[2] & 0x78) != 0)   /* a response, or not QUERY */
		return -1;
	if (msg[4] != 0 || msg[5] == 0)                      /* qdcount 1..255 */
		return -1;
	if (name_labels(msg, len, &off, out) != 0 || len - off < 4)
		return -1;
	out->qtype = (uint16_t)(msg[off] << 8 | msg[off + 1]);
	return 0;
}

/* See dnstunnel.h. */
bool dnstunnel_suspicious(const struct dnstunnel_name *n)
{
	if (n->sub_len == 0)
		return false;
	return n->odd_bytes || n->max_label >= DNST_LONG_LABEL ||
	    n->sub_len >= DNST_LONG_SUB || n->max_entropy >= DNST_ENT_BITS;
}

static struct dslot *dnst_slot(struct dnstunnel *t, uint64_t key, uint64_t now_us)
{
	struct dslot *b = &t->slots[((key >> 9) % t->n_buckets) * DNST_WAYS], *victim = NULL;
	int i;

	for (i = 0; i < DNST_WAYS; i++)
		if (b[i].key == key)
			return &b[i];
	for (i = 0; i < DNST_WAYS && victim == NULL; i++)
		if (b[i].key == 0)
			victim = &b[i];
	for (i = 0, victim = victim != NULL ? victim : b; i < DNST_WAYS; i++)
		if (victim->key != 0 && b[i].last_us < victim->last_us)
			victim = &b[i];
	memset(victim, 0, sizeof(*victim));
	victim->key = key;
	victim->win_start_us = now_us;
	return victim;
}

static void dnst_count(struct dslot *s, const struct dnstunnel_name *n, uint64_t now_us)
{
	uint64_t h = sketch_hash(n->text, n->len, 3), bit = (uint64_t)1 << (h & 63);

	if (now_us >= s->win_start_us + DNST_WINDOW_US) {
		s->win_start_us = now_us;
		s->queries = s->suspicious = s->distinct = s->sub_bytes = 0;
		s->names_seen = 0;
		s->max_label = 0;
	}
	s->last_us = now_us;
	s->queries++;
	if (dnstunnel_suspicious(n))
		s->suspicious++;
	if (!(s->names_seen & bit)) {
		s->names_seen |= bit;
		s->distinct++;
		s->sub_bytes += (uint32_t)n->sub_len;
	} else if (s->names_seen == UINT64_MAX) {
		/* Bitmap full: count on as if every name were new (tunnels are). */
		s->distinct++;
		s->sub_bytes += (uint32_t)n->sub_len;
	}
	if (n->max_label > s->max_label)
		s->max_label = n->max_label;
}

/* See dnstunnel.h. */
bool dnstunnel_packet(struct dnstunnel *t, const struct pkt *p, double threshold,
    struct dnstunnel_finding *out)
{
	struct dnstunnel_name n;
	struct dslot *s;
	uint64_t key, dh, w[2];
	const char *dom;

	if (t == NULL || p->l4_proto != 17 || !p->has_l4 || p->dport != 53 ||
	    p->payload == NULL || threshold <= 0)
		return false;
	if (dnstunnel_parse(p->payload, p->payload_caplen, &n) != 0 || n.sub_len == 0)
		return false;
	dom = n.text + n.domain_off;
	dh = sketch_hash(dom, n.len - n.domain_off, 11);
	memcpy(w, p->src.a, sizeof(w));
	key = sketch_mix(sketch_mix(w[0] ^ p->src.family, w[1]), dh) | 1;
	s = dnst_slot(t, key, p->ts_us);
	if (s->domain[0] == '\0') {
		size_t l = n.len - n.domain_off;

		s->domain_hash = (uint32_t)dh;
		if (l >= sizeof(s->domain))
			l = sizeof(s->domain) - 1;
		memcpy(s->domain, dom, l);
		s->domain[l] = '\0';
	}
	dnst_count(s, &n, p->ts_us);
	if (s->suspicious < threshold && !(s->distinct >= 2 * threshold &&
	    s->sub_bytes >= (uint64_t)DNST_AVG_SUB * s->distinct))
		return false;
	memset(out, 0, sizeof(*out));
	out->client = p->src;
	out->server = p->dst;
	memcpy(out->domain, s->domain, sizeof(out->domain));
	out->domain_hash = s->domain_hash;
	out->queries = s->queries;
	out->suspicious = s->suspicious;
	out->distinct = s->distinct;
	out->max_label = s->max_label;
	return true;
}
