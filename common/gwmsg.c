/* gwmsg.c: small helpers shared by every user of the plain message types. */
#include <string.h>

#include "gwmsg.h"

/* Names indexed by enum gw_body; keep in the enum's order. */
static const char *const gwmsg_body_names[] = {
	[GW_BODY_NONE]      = "none",
	[GW_BODY_HELLO]     = "hello",
	[GW_BODY_STATS]     = "stats",
	[GW_BODY_EVENT]     = "event",
	[GW_BODY_FLOW]      = "flow",
	[GW_BODY_COMMAND]   = "command",
	[GW_BODY_RESULT]    = "result",
	[GW_BODY_HEARTBEAT] = "heartbeat",
};

const char *
gw_body_name(enum gw_body type)
{
	size_t i = (size_t)type;

	if (i >= sizeof(gwmsg_body_names) / sizeof(gwmsg_body_names[0]))
		return "none";
	return gwmsg_body_names[i];
}

static bool
gwmsg_id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
	    c == '-';
}

bool
gw_id_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= GW_ID_MAX - 1 || !gwmsg_id_char((unsigned char)s[i]))
			return false;
	}
	return true;
}

/*
 * Length of the well-formed UTF-8 sequence at s (1..4), or 0 when the bytes
 * there are not one (overlong forms, surrogates, > U+10FFFF, truncation).
 */
static size_t
gwmsg_utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2; cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3; cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4; cp = c & 0x07;
	} else
		return 0;
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

bool
gw_text_valid(const char *s, bool allow_newline)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i, n;

	if (s == NULL)
		return false;
	len = strlen(s);
	for (i = 0; i < len; i += n) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			if (!(allow_newline && (p[i] == '\n' || p[i] == '\t')))
				return false;
		}
		n = gwmsg_utf8_seq(p + i, len - i);
		if (n == 0)
			return false;
	}
	return true;
}

size_t
gw_text_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t len, i, n, replaced = 0;

	if (s == NULL)
		return 0;
	len = strlen(s);
	for (i = 0; i < len; i += n) {
		n = gwmsg_utf8_seq(p + i, len - i);
		if (n == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			p[i] = '?';
			n = 1;
			replaced++;
		}
	}
	return replaced;
}
