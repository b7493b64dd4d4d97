/*
 * quality_sdp.c: SDP in SIP messages: remembers each media endpoint
 * (c= address, m= port) with the clock rates of its dynamic payload types
 * (a=rtpmap), so RTP jitter can use them. telephone-event gets rate 0 (no
 * jitter), as tshark does: its timestamps do not advance per packet.
 * The table holds QUALITY_SDP_ENTRIES endpoints, oldest replaced first.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "quality_int.h"

#define QSDP_MEDIA_MAX 4
#define QSDP_LINE_MAX  256

struct qsdp_media {
	struct gw_addr addr;     /* media-level c=, family 0 when none */
	uint16_t port;
	uint8_t  n;
	uint8_t  pt[QUALITY_SDP_PTS];
	uint32_t rate[QUALITY_SDP_PTS];
};

struct qsdp_parse {
	struct gw_addr session;  /* session-level c= */
	struct qsdp_media m[QSDP_MEDIA_MAX];
	unsigned n_media;
};

/* True if the payload is a SIP message (request line or status line). */
static bool quality_sdp_is_sip(const uint8_t *b, size_t len)
{
	size_t i;

	if (len < 12 || b[0] < 'A' || b[0] > 'Z')
		return false;
	if (memcmp(b, "SIP/2.0 ", 8) == 0)
		return true;
	for (i = 0; i + 1 < len && i < 512; i++) {
		if (b[i] == '\r' || b[i] == '\n')
			return i >= 8 && memcmp(b + i - 8, " SIP/2.0", 8) == 0;
	}
	return false;
}

/* Offset of the body after the blank line, or 0 when there is none. */
static size_t quality_sdp_body(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++) {
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n')
			return i + 4;
	}
	for (i = 0; i + 1 < len; i++) {
		if (b[i] == '\n' && b[i + 1] == '\n')
			return i + 2;
	}
	return 0;
}

/* "IN IP4 192.0.2.1" -> address; leaves out untouched on error. */
static void quality_sdp_conn(const char *s, struct gw_addr *out)
{
	char buf[GW_ADDR_MAX];
	size_t n;

	if (strncmp(s, "IN IP4 ", 7) != 0 && strncmp(s, "IN IP6 ", 7) != 0)
		return;
	s += 7;
	n = strcspn(s, " /");
	if (n == 0 || n >= sizeof(buf))
		return;
	memcpy(buf, s, n);
	buf[n] = '\0';
	(void)gw_addr_parse(buf, out);
}

/* "audio 49170 RTP/AVP 0 96" -> a new media entry with its port. */
static void quality_sdp_mline(struct qsdp_parse *sp, const char *s)
{
	const char *sp1 = strchr(s, ' ');
	char *end;
	unsigned long port;

	if (sp1 == NULL || sp->n_media >= QSDP_MEDIA_MAX)
		return;
	port = strtoul(sp1 + 1, &end, 10);
	if (end == sp1 + 1 || port == 0 || port > 65535)
		return;
	memset(&sp->m[sp->n_media], 0, sizeof(sp->m[0]));
	sp->m[sp->n_media].port = (uint16_t)port;
	sp->n_media++;
}

/* "96 opus/48000/2" -> dynamic payload type 96 at 48000 Hz in the current media. */
static void quality_sdp_rtpmap(struct qsdp_parse *sp, const char *s)
{
	struct qsdp_media *m;
	unsigned long pt, rate;
	const char *name, *slash;
	char *end;

	if (sp->n_media == 0)
		return;
	m = &sp->m[sp->n_media - 1];
	pt = strtoul(s, &end, 10);
	if (end == s || *end != ' ' || pt < 96 || pt > 127 || m->n >= QUALITY_SDP_PTS)
		return;
	name = end + 1;
	slash = strchr(name, '/');
	if (slash == NULL)
		return;
	rate = strtoul(slash + 1, &end, 10);
	if (end == slash + 1 || rate == 0 || rate > 1000000)
		return;
	if (strncasecmp(name, "telephone-event", 15) == 0)
		rate = 0;
	m->pt[m->n] = (uint8_t)pt;
	m->rate[m->n] = (uint32_t)rate;
	m->n++;
}

/* One SDP line, NUL-terminated without CR/LF. */
static void quality_sdp_line(struct qsdp_parse *sp, const char *line)
{
	if (line[0] == '\0' || line[1] != '=')
		return;
	switch (line[0]) {
	case 'c':
		if (sp->n_media == 0)
			quality_sdp_conn(line + 2, &sp->session);
		else
			quality_sdp_conn(line + 2, &sp->m[sp->n_media - 1].addr);
		break;
	case 'm':
		quality_sdp_mline(sp, line + 2);
		break;
	case 'a':
		if (strncmp(line + 2, "rtpmap:", 7) == 0)
			quality_sdp_rtpmap(sp, line + 9);
		break;
	}
}

/* Stores one media endpoint, replacing an older entry for the same endpoint. */
static void quality_sdp_store(struct quality *q, const struct gw_addr *a,
    const struct qsdp_media *m, uint64_t ts_us)
{
	struct qsdp_entry *e = NULL;
	unsigned i;

	for (i = 0; i < QUALITY_SDP_ENTRIES; i++) {
		if (q->sdp[i].ts_us != 0 && q->sdp[i].port == m->port &&
		    gw_addr_cmp(&q->sdp[i].addr, a) == 0) {
			e = &q->sdp[i];
			break;
		}
	}
	if (e == NULL) {
		e = &q->sdp[q->sdp_next];
		q->sdp_next = (q->sdp_next + 1) % QUALITY_SDP_ENTRIES;
	}
	e->addr = *a;
	e->port = m->port;
	e->n = m->n;
	memcpy(e->pt, m->pt, sizeof(e->pt));
	memcpy(e->rate, m->rate, sizeof(e->rate));
	e->ts_us = ts_us ? ts_us : 1;
	q->sdp_gen++;
	q->ctr.sdp_parsed++;
}

/*
 * Looks at a UDP/TCP payload; if it is a SIP message with an SDP body,
 * remembers its media endpoints. Only the captured bytes are read.
 */
void quality_sdp_packet(struct quality *q, const struct pkt *p)
{
	struct qsdp_parse sp;
	char line[QSDP_LINE_MAX];
	size_t len = p->payload_caplen, off, n;
	const uint8_t *b = p->payload;
	unsigned i;

	if (b == NULL || !quality_sdp_is_sip(b, len))
		return;
	off = quality_sdp_body(b, len);
	if (off == 0 || off >= len)
		return;
	memset(&sp, 0, sizeof(sp));
	while (off < len) {
		for (n = 0; off + n < len && b[off + n] != '\n'; n++)
			;
		if (n > 0 && n < sizeof(line)) {
			memcpy(line, b + off, n);
			line[n] = '\0';
			if (line[n - 1] == '\r')
				line[n - 1] = '\0';
			quality_sdp_line(&sp, line);
		}
		off += n + 1;
	}
	for (i = 0; i < sp.n_media; i++) {
		const struct gw_addr *a = sp.m[i].addr.family ? &sp.m[i].addr : &sp.session;

		if (a->family != 0)
			quality_sdp_store(q, a, &sp.m[i], p->ts_us);
	}
}

/*
 * Clock rate from SDP for dynamic payload type pt at endpoint (a, port).
 * *found tells whether SDP named the type (the rate may be 0 then:
 * telephone-event).
 */
uint32_t quality_sdp_rate(const struct quality *q, const struct gw_addr *a,
    uint16_t port, uint8_t pt, bool *found)
{
	unsigned i, j;

	*found = false;
	for (i = 0; i < QUALITY_SDP_ENTRIES; i++) {
		const struct qsdp_entry *e = &q->sdp[i];

		if (e->ts_us == 0 || e->port != port || gw_addr_cmp(&e->addr, a) != 0)
			continue;
		for (j = 0; j < e->n && j < QUALITY_SDP_PTS; j++) {
			if (e->pt[j] == pt) {
				*found = true;
				return e->rate[j];
			}
		}
	}
	return 0;
}
