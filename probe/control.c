/* control.c: dispatches operator commands to enforce, detect and the flow table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

/* Parses cmd's address ("a.b.c.d", "a.b.c.d/24" or prefix_len) into a and *len. */
static int
control_parse_target(const struct gw_command *cmd, struct gw_addr *a,
    unsigned *len, char *msg, size_t msglen)
{
	char buf[GW_ADDR_MAX];
	char *slash;
	unsigned max;
	long v;

	snprintf(buf, sizeof(buf), "%s", cmd->address);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if (gw_addr_parse(buf, a) != 0) {
		snprintf(msg, msglen, "bad address \"%.60s\": expected IPv4 or IPv6",
		    cmd->address);
		return -1;
	}
	max = a->family == 4 ? 32 : 128;
	*len = cmd->prefix_len ? cmd->prefix_len : max;
	if (slash != NULL) {
		char *end;

		v = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || v < 0 || v > (long)max) {
			snprintf(msg, msglen, "bad prefix length \"%.8s\"", slash);
			return -1;
		}
		*len = (unsigned)v;
	}
	if (*len > max || *len == 0) {
		snprintf(msg, msglen, "prefix length %u out of range 1..%u", *len, max);
		return -1;
	}
	return 0;
}

static void
control_ban(const struct control_deps *d, const struct gw_command *cmd,
    struct gw_command_result *res, bool ban)
{
	struct gw_addr a;
	unsigned len;
	char msg[GW_TEXT_MAX] = "";
	int rc;

	if (d->enforce == NULL) {
		snprintf(res->message, sizeof(res->message), "enforcement is off");
		return;
	}
	if (control_parse_target(cmd, &a, &len, res->message,
	    sizeof(res->message)) != 0)
		return;
	if (ban)
		rc = enforce_ban(d->enforce, &a, len, cmd->timeout_s, msg, sizeof(msg));
	else
		rc = enforce_unban(d->enforce, &a, len, msg, sizeof(msg));
	res->ok = rc == 0;
	if (msg[0] != '\0')
		snprintf(res->message, sizeof(res->message), "%s", msg);
	else
		snprintf(res->message, sizeof(res->message), "%s %s/%u",
		    ban ? "banned" : "unbanned", cmd->address, len);
}

/* Keeps the CONTROL_TOP_FLOWS largest flows by bytes. */
struct control_top {
	struct flow *f[CONTROL_TOP_FLOWS];
	size_t n;
};

static int
control_top_walk(struct flow *f, void *ctx)
{
	struct control_top *t = ctx;
	uint64_t b = f->bytes[0] + f->bytes[1];
	size_t i;

	if (t->n < CONTROL_TOP_FLOWS) {
		t->f[t->n++] = f;
	} else {
		size_t min = 0;

		for (i = 1; i < t->n; i++)
			if (t->f[i]->bytes[0] + t->f[i]->bytes[1] <
			    t->f[min]->bytes[0] + t->f[min]->bytes[1])
				min = i;
		if (b <= t->f[min]->bytes[0] + t->f[min]->bytes[1])
			return 0;
		t->f[min] = f;
	}
	return 0;
}

static int
control_cmp_flow(const void *x, const void *y)
{
	const struct flow *a = *(struct flow *const *)x, *b = *(struct flow *const *)y;
	uint64_t ba = a->bytes[0] + a->bytes[1], bb = b->bytes[0] + b->bytes[1];

	return ba < bb ? 1 : ba > bb ? -1 : 0;
}

static void
control_inspect(const struct control_deps *d, struct gw_command_result *res)
{
	struct control_top top = { .n = 0 };
	char s[GW_ADDR_MAX], t[GW_ADDR_MAX];
	size_t i, room;

	if (d->detect != NULL)
		res->n_entries = detect_inspect(d->detect, res->entries,
		    GW_LIST_MAX - CONTROL_TOP_FLOWS);
	if (d->flows != NULL)
		flow_table_walk(d->flows, control_top_walk, &top);
	qsort(top.f, top.n, sizeof(top.f[0]), control_cmp_flow);
	room = GW_LIST_MAX - res->n_entries;
	for (i = 0; i < top.n && i < room; i++) {
		const struct flow *f = top.f[i];

		snprintf(res->entries[res->n_entries++], GW_TEXT_MAX,
		    "flow %s:%u > %s:%u proto %u app %s bytes %llu pkts %llu",
		    gw_addr_str(&f->src, s, sizeof(s)), f->sport,
		    gw_addr_str(&f->dst, t, sizeof(t)), f->dport, f->proto,
		    d->dpi != NULL ? dpi_app_name(d->dpi, f->app) : "?",
		    (unsigned long long)(f->bytes[0] + f->bytes[1]),
		    (unsigned long long)(f->pkts[0] + f->pkts[1]));
	}
	res->ok = true;
	snprintf(res->message, sizeof(res->message), "%zu lines", res->n_entries);
}

void
control_handle(const struct control_deps *d, const struct gw_command *cmd,
    struct gw_command_result *res)
{
	memset(res, 0, sizeof(*res));
	res->id = cmd->id;
	if (strcmp(cmd->kind, "ban") == 0 || strcmp(cmd->kind, "unban") == 0) {
		control_ban(d, cmd, res, cmd->kind[0] == 'b');
	} else if (strcmp(cmd->kind, "list_bans") == 0) {
		if (d->enforce != NULL)
			res->n_entries = enforce_list(d->enforce, res->entries, GW_LIST_MAX);
		res->ok = d->enforce != NULL;
		snprintf(res->message, sizeof(res->message), "%s",
		    d->enforce != NULL ? "bans listed" : "enforcement is off");
	} else if (strcmp(cmd->kind, "set_threshold") == 0) {
		res->ok = d->detect != NULL &&
		    detect_set_threshold(d->detect, cmd->key, cmd->value) == 0;
		if (res->ok)
			snprintf(res->message, sizeof(res->message), "%.40s set to %g",
			    cmd->key, cmd->value);
		else
			snprintf(res->message, sizeof(res->message),
			    "unknown threshold \"%.40s\" or value %g out of range",
			    cmd->key, cmd->value);
	} else if (strcmp(cmd->kind, "inspect") == 0) {
		control_inspect(d, res);
	} else {
		snprintf(res->message, sizeof(res->message),
		    "unknown command \"%.40s\": expected ban, unban, list_bans, "
		    "set_threshold or inspect", cmd->kind);
	}
}
