/*
 * gw-enforce-ctl.c: test driver that calls enforce_* from commands on stdin (for
 * tests/e2e/test_enforce_netns.sh). In mode on it is a client of
 * gatewatch-enforcer like the probe: --enforcer PATH, else $GW_ENFORCER, else
 * ../gatewatch-enforcer next to this tool (build/tools/ -> build/).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enforce.h"
#include "log.h"

/* Parses "ADDR/LEN" (LEN optional: host) into a and len; 0 or -1. */
static int ctl_parse_prefix(const char *s, struct gw_addr *a, unsigned *len)
{
	char buf[GW_ADDR_MAX + 8], *slash, *end;
	unsigned long v;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	if (gw_addr_parse(buf, a) != 0)
		return -1;
	*len = a->family == 4 ? 32 : 128;
	if (slash != NULL) {
		v = strtoul(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || v > 128)
			return -1;
		*len = (unsigned)v;
	}
	return 0;
}

static void ctl_usage(void)
{
	fprintf(stderr, "usage: gw-enforce-ctl [--mode off|dry-run|on] [--table NAME] "
	    "[--max N] [--timeout S] [--allow ADDR/LEN]... [--enforcer PATH]\n"
	    "stdin commands: ban P [S] | unban P | allow P | list | count | sleep S | quit\n");
}

static void ctl_command(struct enforce *e, char *line)
{
	char *cmd = strtok(line, " \t\r\n"), *arg = strtok(NULL, " \t\r\n");
	char *arg2 = strtok(NULL, " \t\r\n");
	char msg[GW_TEXT_MAX] = "", lines[64][GW_TEXT_MAX];
	struct gw_addr a;
	unsigned len;
	size_t i, n;
	int rc;

	if (cmd == NULL)
		return;
	if (strcmp(cmd, "list") == 0) {
		n = enforce_list(e, lines, 64);
		for (i = 0; i < n; i++)
			printf("entry %s\n", lines[i]);
		printf("ok %zu entries\n", n);
	} else if (strcmp(cmd, "count") == 0) {
		printf("ok %zu\n", enforce_count(e));
	} else if (strcmp(cmd, "sleep") == 0 && arg != NULL) {
		usleep((useconds_t)(atof(arg) * 1e6));
		printf("ok slept\n");
	} else if (arg == NULL || ctl_parse_prefix(arg, &a, &len) != 0) {
		printf("err bad command or address\n");
	} else if (strcmp(cmd, "ban") == 0) {
		rc = enforce_ban(e, &a, len, arg2 ? (uint32_t)atoi(arg2) : 0, msg, sizeof(msg));
		printf("%s %s\n", rc == 0 ? "ok" : "err", msg);
	} else if (strcmp(cmd, "unban") == 0) {
		rc = enforce_unban(e, &a, len, msg, sizeof(msg));
		printf("%s %s\n", rc == 0 ? "ok" : "err", msg);
	} else if (strcmp(cmd, "allow") == 0) {
		printf("%s allow\n", enforce_allow(e, &a, len) == 0 ? "ok" : "err");
	} else {
		printf("err unknown command\n");
	}
}

/* The helper next to this tool's build directory: <exe dir>/../gatewatch-enforcer. */
static const char *ctl_default_enforcer(char *buf, size_t len)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (getenv("GW_ENFORCER") != NULL)
		return getenv("GW_ENFORCER");
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/../gatewatch-enforcer", exe) >= len ||
	    access(buf, X_OK) != 0)
		return NULL;
	return buf;
}

int main(int argc, char **argv)
{
	struct enforce_config cfg = { .mode = ENFORCE_DRY_RUN, .table = "gatewatch",
		.max_entries = 10000, .default_timeout_s = 600 };
	char helper[PATH_MAX];
	struct gw_addr allow[16];
	unsigned allow_len[16], n_allow = 0, k;
	struct enforce *e;
	char line[512];
	int i;

	log_init("gw-enforce-ctl", LOG_LVL_INFO, false);
	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			ctl_usage();
			return 2;
		}
		if (strcmp(argv[i], "--mode") == 0 && enforce_mode_parse(v, &cfg.mode) == 0)
			i++;
		else if (strcmp(argv[i], "--table") == 0)
			cfg.table = argv[++i];
		else if (strcmp(argv[i], "--max") == 0)
			cfg.max_entries = (size_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--enforcer") == 0)
			cfg.enforcer_path = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0)
			cfg.default_timeout_s = (uint32_t)atol(argv[++i]);
		else if (strcmp(argv[i], "--allow") == 0 && n_allow < 16 &&
		    ctl_parse_prefix(v, &allow[n_allow], &allow_len[n_allow]) == 0) {
			n_allow++;
			i++;
		} else {
			ctl_usage();
			return 2;
		}
	}
	if (cfg.enforcer_path == NULL)
		cfg.enforcer_path = ctl_default_enforcer(helper, sizeof(helper));
	if ((e = enforce_new(&cfg)) == NULL) {
		printf("err enforce_new failed\n");
		return 1;
	}
	for (k = 0; k < n_allow; k++)
		enforce_allow(e, &allow[k], allow_len[k]);
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (strncmp(line, "quit", 4) == 0)
			break;
		ctl_command(e, line);
		fflush(stdout);
	}
	enforce_free(e);
	printf("bye\n");
	return 0;
}
