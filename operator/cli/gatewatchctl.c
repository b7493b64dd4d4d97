/* gatewatchctl.c: command-line client for the operator's HTTP API (tables or raw JSON). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CTL_DEFAULT_URL   "http://127.0.0.1:8080"

static void
ctl_help(void)
{
	printf(
"usage: gatewatchctl [-u URL] [--json] [--http-timeout S] COMMAND [ARGS] [OPTIONS]\n"
"\n"
"Queries and controls a gatewatch operator through its HTTP API.\n"
"\n"
"Commands:\n"
"  customers                 latest interval of every customer: rates, packets/s,\n"
"                            flows, top application\n"
"  customer ID               one customer: counters, quality summaries (rtp, tcp,\n"
"                            dns, udp), applications and recent intervals\n"
"  probes                    probes: last seen, messages, lost, duplicates,\n"
"                            rejected, customers, CPU, drops\n"
"  series ID METRIC          a stored time series (RRD data source, e.g. rx_bytes,\n"
"                            tx_packets, flows_active); byte metrics in bit/s\n"
"      --from T              start: epoch seconds or relative (-1h, -30m, -7d);\n"
"                            default -1h\n"
"      --to T                end: epoch seconds, relative or \"now\" (default)\n"
"      --cf AVERAGE|MAX      consolidation function (default AVERAGE)\n"
"  events                    recent events (floods, scans, SLA violations, ...)\n"
"      --since T             only events at or after T (epoch seconds)\n"
"      --limit N             at most N events (default 100)\n"
"  bans                      active countermeasures\n"
"  ban ADDR[/LEN]            ban a source address or prefix\n"
"      --timeout S           ban duration in seconds (default 600)\n"
"      --probe P             only on probe P (default: every probe)\n"
"      --reason TEXT         reason recorded in the audit log\n"
"  unban ADDR[/LEN]          lift a ban\n"
"  stats                     operator counters\n"
"  report ID                 capacity report of one customer: totals, 95th\n"
"                            percentiles (nearest rank, 300 s rows), peaks, busy\n"
"                            hour, unknown share, QoS, SLA minutes, trend\n"
"      --month YYYY-MM       that month (operator's time zone); default: last\n"
"                            calendar month\n"
"      --from T, --to T      period: YYYY-MM[-DD], epoch seconds or -7d style\n"
"  top                       customers ranked (same period options)\n"
"      --by KEY              p95 (default), total, growth, saturation, sla\n"
"      --order asc|desc      default desc (saturation: soonest first)\n"
"      --offset N, --limit N page (default 0, 50; limit at most 1000)\n"
"\n"
"Options:\n"
"  -u, --url URL             operator API base URL (default $GATEWATCH_URL, else\n"
"                            " CTL_DEFAULT_URL ")\n"
"      --json                print the API's JSON reply instead of a table\n"
"      --http-timeout S      give up on a request after S seconds (default 10)\n"
"  -h, --help                show this help\n"
"\n"
"Exit status: 0 success, 1 API or HTTP error (including connection refused),\n"
"2 usage error.\n");
}

/* A command: name, operand count, accepted options, handler. */
struct ctl_cmd {
	const char *name;
	int         nargs;
	unsigned    opts;
	int       (*run)(const struct ctl *c);
	const char *synopsis;
};

static const struct ctl_cmd ctl_cmds[] = {
	{ "customers", 0, 0, cmd_customers, "customers" },
	{ "customer", 1, 0, cmd_customer, "customer ID" },
	{ "probes", 0, 0, cmd_probes, "probes" },
	{ "series", 2, OPT_FROM | OPT_TO | OPT_CF, cmd_series,
	  "series ID METRIC [--from T] [--to T] [--cf AVERAGE|MAX]" },
	{ "events", 0, OPT_SINCE | OPT_LIMIT, cmd_events,
	  "events [--since T] [--limit N]" },
	{ "bans", 0, 0, cmd_bans, "bans" },
	{ "ban", 1, OPT_TIMEOUT | OPT_PROBE | OPT_REASON, cmd_ban,
	  "ban ADDR [--timeout S] [--probe P] [--reason TEXT]" },
	{ "unban", 1, 0, cmd_unban, "unban ADDR" },
	{ "stats", 0, 0, cmd_stats, "stats" },
	{ "report", 1, OPT_MONTH | OPT_FROM | OPT_TO, cmd_report,
	  "report ID [--month YYYY-MM] [--from T] [--to T]" },
	{ "top", 0, OPT_MONTH | OPT_FROM | OPT_TO | OPT_BY | OPT_ORDER |
	  OPT_OFFSET | OPT_LIMIT, cmd_top, "top [--by p95|total|growth|saturation|"
	  "sla] [--order asc|desc] [--offset N] [--limit N] [--month YYYY-MM] "
	  "[--from T] [--to T]" },
};

/* Options that take a value: name, bit (0 = global), where the value goes. */
struct ctl_opt {
	const char  *name;
	unsigned     bit;
	size_t       off;
};

static const struct ctl_opt ctl_opts[] = {
	{ "--from", OPT_FROM, offsetof(struct ctl, from) },
	{ "--to", OPT_TO, offsetof(struct ctl, to) },
	{ "--cf", OPT_CF, offsetof(struct ctl, cf) },
	{ "--since", OPT_SINCE, offsetof(struct ctl, since) },
	{ "--limit", OPT_LIMIT, offsetof(struct ctl, limit) },
	{ "--timeout", OPT_TIMEOUT, offsetof(struct ctl, timeout) },
	{ "--probe", OPT_PROBE, offsetof(struct ctl, probe) },
	{ "--reason", OPT_REASON, offsetof(struct ctl, reason) },
	{ "--month", OPT_MONTH, offsetof(struct ctl, month) },
	{ "--by", OPT_BY, offsetof(struct ctl, by) },
	{ "--order", OPT_ORDER, offsetof(struct ctl, order) },
	{ "--offset", OPT_OFFSET, offsetof(struct ctl, offset) },
};

/* Handles one option at argv[*i]; returns 0, 1 for --help, or CTL_ERR_USAGE. */
static int
ctl_parse_opt(struct ctl *c, int argc, char **argv, int *i, const char **url)
{
	char *arg = argv[*i], *eq = strchr(arg, '='), name[32];
	const char *val = NULL;
	size_t k, nl = eq != NULL ? (size_t)(eq - arg) : strlen(arg);

	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		return 1;
	if (strcmp(arg, "--json") == 0) {
		c->raw_json = true;
		return 0;
	}
	if (nl >= sizeof(name))
		return ctl_usage_error("unknown option \"%s\"", arg);
	memcpy(name, arg, nl);
	name[nl] = '\0';
	if (eq != NULL)
		val = eq + 1;
	else if (*i + 1 < argc)
		val = argv[++*i];
	if (strcmp(name, "-u") == 0 || strcmp(name, "--url") == 0 ||
	    strcmp(name, "--http-timeout") == 0) {
		if (val == NULL)
			return ctl_usage_error("option %s needs a value", name);
		if (name[2] != 'h') {
			*url = val;
			return 0;
		}
		c->http_timeout_s = atoi(val);
		if (c->http_timeout_s < 1 || c->http_timeout_s > 3600 ||
		    strspn(val, "0123456789") != strlen(val))
			return ctl_usage_error("bad --http-timeout \"%s\" "
			    "(expected seconds, 1..3600)", val);
		return 0;
	}
	for (k = 0; k < sizeof(ctl_opts) / sizeof(ctl_opts[0]); k++) {
		if (strcmp(name, ctl_opts[k].name) != 0)
			continue;
		if (val == NULL)
			return ctl_usage_error("option %s needs a value", name);
		*(const char **)(void *)((char *)c + ctl_opts[k].off) = val;
		c->opts_seen |= ctl_opts[k].bit;
		return 0;
	}
	return ctl_usage_error("unknown option \"%s\"", arg);
}

/* Parses the whole command line into c; returns -1 to go on, else an exit code. */
static int
ctl_parse_args(struct ctl *c, int argc, char **argv, const struct ctl_cmd **cmd)
{
	const char *url = getenv("GATEWATCH_URL");
	bool only_args = false;
	size_t k;
	int i, rc;

	c->args = calloc((size_t)argc + 1, sizeof(*c->args));
	if (c->args == NULL)
		return CTL_ERR_API;
	for (i = 1; i < argc; i++) {
		if (!only_args && strcmp(argv[i], "--") == 0)
			only_args = true;
		else if (!only_args && argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((rc = ctl_parse_opt(c, argc, argv, &i, &url)) == 1) {
				ctl_help();
				return CTL_OK;
			} else if (rc != 0)
				return rc;
		} else
			c->args[c->nargs++] = argv[i];
	}
	if (c->nargs == 0)
		return ctl_usage_error("no command given");
	for (k = 0; k < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); k++)
		if (strcmp(c->args[0], ctl_cmds[k].name) == 0)
			*cmd = &ctl_cmds[k];
	if (*cmd == NULL)
		return ctl_usage_error("unknown command \"%s\"", c->args[0]);
	if (c->nargs - 1 != (*cmd)->nargs)
		return ctl_usage_error("usage: gatewatchctl %s", (*cmd)->synopsis);
	if ((c->opts_seen & ~(*cmd)->opts) != 0)
		return ctl_usage_error("option not accepted here; usage: "
		    "gatewatchctl %s", (*cmd)->synopsis);
	if (c->cf != NULL && strcmp(c->cf, "AVERAGE") != 0 && strcmp(c->cf, "MAX") != 0)
		return ctl_usage_error("bad --cf \"%s\" (expected AVERAGE or MAX)", c->cf);
	if (c->limit != NULL && (c->limit[0] == '\0' ||
	    strspn(c->limit, "0123456789") != strlen(c->limit) || atoi(c->limit) < 1))
		return ctl_usage_error("bad --limit \"%s\" (expected a positive "
		    "number)", c->limit);
	if (ctl_url_parse(url != NULL && url[0] != '\0' ? url : CTL_DEFAULT_URL,
	    &c->url) == -1)
		return CTL_ERR_USAGE;
	return -1;
}

int
main(int argc, char **argv)
{
	struct ctl c;
	const struct ctl_cmd *cmd = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	c.http_timeout_s = 10;
	rc = ctl_parse_args(&c, argc, argv, &cmd);
	if (rc == -1)
		rc = cmd->run(&c);
	free(c.args);
	return rc;
}
