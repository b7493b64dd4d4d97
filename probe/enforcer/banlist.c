/* banlist.c: ban policy shared by the probe's enforce client and gatewatch-enforcer: prefixes, allowlist, capped bans. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banlist.h"

struct banlist {
	struct banlist_prefix allow[BANLIST_ALLOW_MAX];
	size_t n_allow;
	struct banlist_entry *bans;   /* max_entries slots, owned */
	size_t n_bans, max_entries;
};

/* See banlist.h. */
uint64_t banlist_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* See banlist.h. */
int banlist_prefix_make(const struct gw_addr *a, unsigned len, struct banlist_prefix *out)
{
	unsigned max, i;

	if (a == NULL || out == NULL || (a->family != 4 && a->family != 6))
		return -1;
	max = a->family == 4 ? 32 : 128;
	if (len > max)
		return -1;
	memset(out, 0, sizeof(*out));
	out->addr.family = a->family;
	out->len = len;
	for (i = 0; i < max / 8; i++) {
		unsigned bits = len > i * 8 ? len - i * 8 : 0;
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		out->addr.a[i] = a->a[i] & mask;
	}
	return 0;
}

/* See banlist.h. */
bool banlist_prefix_canonical(const struct banlist_prefix *p)
{
	struct banlist_prefix c;

	if (p == NULL || banlist_prefix_make(&p->addr, p->len, &c) != 0)
		return false;
	return memcmp(c.addr.a, p->addr.a, sizeof(c.addr.a)) == 0;
}

/* See banlist.h. */
char *banlist_prefix_str(const struct banlist_prefix *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (inet_ntop(p->addr.family == 4 ? AF_INET : AF_INET6, p->addr.a, addr,
	    sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, len, "%s/%u", addr, p->len);
	return buf;
}

/* See banlist.h. */
struct banlist *banlist_new(size_t max_entries)
{
	struct banlist *b;
	struct banlist_prefix lo4 = { { 4, { 127 } }, 8 }, lo6 = { { 6, { 0 } }, 128 };

	if (max_entries == 0 || max_entries > BANLIST_ENTRIES_MAX)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->bans = calloc(max_entries, sizeof(*b->bans))) == NULL) {
		free(b);
		return NULL;
	}
	b->max_entries = max_entries;
	lo6.addr.a[15] = 1;
	banlist_allow(b, &lo4);
	banlist_allow(b, &lo6);
	return b;
}

/* See banlist.h. */
void banlist_free(struct banlist *b)
{
	if (b == NULL)
		return;
	free(b->bans);
	free(b);
}

/* See banlist.h. */
int banlist_allow(struct banlist *b, const struct banlist_prefix *p)
{
	if (b == NULL || !banlist_prefix_canonical(p) || b->n_allow >= BANLIST_ALLOW_MAX)
		return -1;
	b->allow[b->n_allow++] = *p;
	return 0;
}

/* True when the two prefixes share any address (one contains the other). */
static bool banlist_overlap(const struct banlist_prefix *x, const struct banlist_prefix *y)
{
	unsigned len = x->len < y->len ? x->len : y->len, i;

	if (x->addr.family != y->addr.family)
		return false;
	for (i = 0; i < len / 8; i++)
		if (x->addr.a[i] != y->addr.a[i])
			return false;
	if (len % 8 != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - len % 8));

		if ((x->addr.a[len / 8] & mask) != (y->addr.a[len / 8] & mask))
			return false;
	}
	return true;
}

static bool banlist_same(const struct banlist_prefix *x, const struct banlist_prefix *y)
{
	return x->len == y->len && x->addr.family == y->addr.family &&
	    memcmp(x->addr.a, y->addr.a, sizeof(x->addr.a)) == 0;
}

/* See banlist.h. */
int banlist_admit(struct banlist *b, const struct banlist_prefix *p, uint64_t now_us,
    char *msg, size_t msglen)
{
	char s[BANLIST_PREFIX_STR_MAX], as[BANLIST_PREFIX_STR_MAX];
	size_t i;

	for (i = 0; i < b->n_allow; i++) {
		if (banlist_overlap(&b->allow[i], p)) {
			if (msg != NULL && msglen > 0)
				snprintf(msg, msglen, "%s is allowlisted (%s)",
				    banlist_prefix_str(p, s, sizeof(s)),
				    banlist_prefix_str(&b->allow[i], as, sizeof(as)));
			return -1;
		}
	}
	banlist_prune(b, now_us);
	if (banlist_find(b, p) == NULL && b->n_bans >= b->max_entries) {
		if (msg != NULL && msglen > 0)
			snprintf(msg, msglen, "cap of %zu banned entries reached", b->max_entries);
		return -1;
	}
	return 0;
}

/* See banlist.h. */
const struct banlist_entry *banlist_find(const struct banlist *b, const struct banlist_prefix *p)
{
	size_t i;

	for (i = 0; i < b->n_bans; i++)
		if (banlist_same(&b->bans[i].p, p))
			return &b->bans[i];
	return NULL;
}

/* See banlist.h. */
int banlist_put(struct banlist *b, const struct banlist_prefix *p, uint64_t expires_us)
{
	struct banlist_entry *e = (struct banlist_entry *)banlist_find(b, p);

	if (e == NULL) {
		if (b->n_bans >= b->max_entries)
			return -1;
		e = &b->bans[b->n_bans++];
		e->p = *p;
	}
	e->expires_us = expires_us;
	return 0;
}

/* See banlist.h. */
int banlist_remove(struct banlist *b, const struct banlist_prefix *p)
{
	const struct banlist_entry *e = banlist_find(b, p);

	if (e == NULL)
		return -1;
	b->bans[e - b->bans] = b->bans[--b->n_bans];
	return 0;
}

/* See banlist.h. */
void banlist_prune(struct banlist *b, uint64_t now_us)
{
	size_t i = 0;

	while (i < b->n_bans) {
		if (b->bans[i].expires_us <= now_us)
			b->bans[i] = b->bans[--b->n_bans];
		else
			i++;
	}
}

/* See banlist.h. */
size_t banlist_count(const struct banlist *b)
{
	return b != NULL ? b->n_bans : 0;
}

/* See banlist.h. */
const struct banlist_entry *banlist_at(const struct banlist *b, size_t i)
{
	return b != NULL && i < b->n_bans ? &b->bans[i] : NULL;
}

/* See banlist.h. */
size_t banlist_allow_count(const struct banlist *b)
{
	return b != NULL ? b->n_allow : 0;
}

/* See banlist.h. */
const struct banlist_prefix *banlist_allow_at(const struct banlist *b, size_t i)
{
	return b != NULL && i < b->n_allow ? &b->allow[i] : NULL;
}

/* See banlist.h. */
size_t banlist_cap(const struct banlist *b)
{
	return b != NULL ? b->max_entries : 0;
}
