/* ctl_cm.c: gatewatchctl's event and countermeasure commands: events, bans, ban, unban. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "ctl.h"
#include "ctl_fmt.h"
#include "ctl_table.h"

int
cmd_events(const struct ctl *c)
{
	char path[512], q[128];
	struct ctl_table t;
	json_t *j, *e;
	double since = NAN;
	size_t i;
	int rc, n;

	n = snprintf(path, sizeof(path), "/api/v1/events?limit=%s",
	    c->limit != NULL ? c->limit : "100");
	if (c->since != NULL) {
		char *end;

		ctl_urlenc(q, sizeof(q), c->since);
		snprintf(path + n, sizeof(path) - (size_t)n, "&since=%s", q);
		since = strtod(c->since, &end);
		if (*end != '\0')
			since = NAN;	/* relative times are the server's business */
	}
	if ((rc = ctl_call(c, "GET", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	ctl_table_cols(&t, "TIME,KIND,SEVERITY,CUSTOMER,PROBE,SRC,DST,>RATE,DETAIL");
	json_array_foreach(json_object_get(j, "events"), i, e) {
		char b[4][64], kind[96];
		const char *cells[9];

		if (!isnan(since) && ctl_fmt_jnum(e, "ts") < since)
			continue;
		snprintf(kind, sizeof(kind), "%s%s", ctl_jstr(e, "kind") ?
		    ctl_jstr(e, "kind") : "-", json_is_true(json_object_get(e,
		    "cleared")) ? " (cleared)" : "");
		cells[0] = ctl_time(b[0], 64, ctl_fmt_jnum(e, "ts"));
		cells[1] = kind;
		cells[2] = ctl_jstr(e, "severity");
		cells[3] = ctl_jstr(e, "customer");
		cells[4] = ctl_jstr(e, "probe");
		cells[5] = ctl_jstr(e, "src");
		cells[6] = ctl_jstr(e, "dst");
		cells[7] = ctl_fmt_jnum(e, "rate_pps") > 0 ?
		    ctl_si(b[1], 64, ctl_fmt_jnum(e, "rate_pps"), "pps") :
		    ctl_si(b[1], 64, ctl_fmt_jnum(e, "rate_bps"), "bit/s");
		cells[8] = ctl_jstr(e, "detail");
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
	json_decref(j);
	return CTL_OK;
}

/* The first array in o (o itself if it is one): for replies of unknown shape. */

int
cmd_bans(const struct ctl *c)
{
	json_t *j, *arr;
	int rc;

	if ((rc = ctl_call(c, "GET", "/api/v1/bans", NULL, &j)) != CTL_OK ||
	    j == NULL)
		return rc;
	arr = ctl_first_array(j);
	if (arr == NULL)
		printf("(no bans in force)\n");
	else
		ctl_print_generic(arr);
	json_decref(j);
	return CTL_OK;
}

/* Prints the scalar members of a reply object as "key: value" lines. */

static int
ctl_split_prefix(const char *arg, char *addr, size_t len, long *plen)
{
	const char *slash = strchr(arg, '/');
	char *end;

	*plen = -1;
	if (slash == NULL) {
		snprintf(addr, len, "%s", arg);
		return arg[0] != '\0' ? 0 : -1;
	}
	if ((size_t)(slash - arg) >= len || slash == arg)
		return -1;
	memcpy(addr, arg, (size_t)(slash - arg));
	addr[slash - arg] = '\0';
	*plen = strtol(slash + 1, &end, 10);
	return slash[1] != '\0' && *end == '\0' && *plen >= 0 && *plen <= 128 ? 0 : -1;
}

int
cmd_ban(const struct ctl *c)
{
	char addr[128], *body;
	unsigned char bin[16];
	long plen, timeout = 600;
	bool is_v6;
	json_t *req, *j;
	char *end;
	int rc;

	if (ctl_split_prefix(c->args[1], addr, sizeof(addr), &plen) == -1)
		return ctl_usage_error("bad address \"%s\" (expected ADDR or "
		    "ADDR/PREFIXLEN)", c->args[1]);
	is_v6 = strchr(addr, ':') != NULL;
	if (inet_pton(is_v6 ? AF_INET6 : AF_INET, addr, bin) != 1 ||
	    plen > (is_v6 ? 128 : 32))
		return ctl_usage_error("bad address \"%s\" (expected an IPv4 or "
		    "IPv6 address, optionally /PREFIXLEN)", c->args[1]);
	if (plen < 0)
		plen = is_v6 ? 128 : 32;
	if (c->timeout != NULL) {
		timeout = strtol(c->timeout, &end, 10);
		if (c->timeout[0] == '\0' || *end != '\0' || timeout < 1 ||
		    timeout > 365L * 86400)
			return ctl_usage_error("bad --timeout \"%s\" (expected "
			    "seconds, 1..31536000)", c->timeout);
	}
	req = json_pack("{s:s,s:i,s:i}", "address", addr, "prefix_len", (int)plen,
	    "timeout_s", (int)timeout);
	json_object_set_new(req, "probe", c->probe ? json_string(c->probe) : json_null());
	if (c->reason != NULL)
		json_object_set_new(req, "reason", json_string(c->reason));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL)
		return ctl_usage_error("reason or probe is not valid UTF-8");
	rc = ctl_call(c, "POST", "/api/v1/bans", body, &j);
	free(body);
	if (rc != CTL_OK || j == NULL)
		return rc;
	printf("ban requested: %s/%ld for %ld s%s%s\n", addr, plen, timeout,
	    c->probe ? " on probe " : " on all probes", c->probe ? c->probe : "");
	ctl_print_object(j, "");
	json_decref(j);
	return CTL_OK;
}

int
cmd_unban(const struct ctl *c)
{
	char path[512], addr[384];
	json_t *j;
	int rc;

	ctl_urlenc(addr, sizeof(addr), c->args[1]);
	snprintf(path, sizeof(path), "/api/v1/bans/%s", addr);
	if ((rc = ctl_call(c, "DELETE", path, NULL, &j)) != CTL_OK || j == NULL)
		return rc;
	printf("unban requested: %s\n", c->args[1]);
	ctl_print_object(j, "");
	json_decref(j);
	return CTL_OK;
}

