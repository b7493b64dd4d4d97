/* log.c: leveled logging to stderr or syslog, fatal exits for main(), rate limiting. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

#define LOG_LINE_MAX 2048

/* The log destination is process-wide by nature, like OpenBSD's log.c. */
static struct {
	char           progname[64];
	enum log_level level;
	bool           use_syslog;
	log_sink_fn    sink;
	void          *sink_ctx;
} log_state = { "gatewatch", LOG_LVL_INFO, false, NULL, NULL };

static const char *const log_level_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *progname, enum log_level level, bool use_syslog)
{
	if (progname != NULL)
		snprintf(log_state.progname, sizeof(log_state.progname), "%s",
		    progname);
	if (level > LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	log_state.level = level;
	if (log_state.use_syslog && !use_syslog)
		closelog();
	if (use_syslog)
		openlog(log_state.progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_state.use_syslog = use_syslog;
}

void
log_set_sink(log_sink_fn fn, void *ctx)
{
	log_state.sink = fn;
	log_state.sink_ctx = fn != NULL ? ctx : NULL;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "err") == 0 || strcmp(s, "warning") == 0) {
		*out = s[0] == 'e' ? LOG_LVL_ERR : LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

static int
log_syslog_prio(enum log_level level)
{
	switch (level) {
	case LOG_LVL_DEBUG: return LOG_DEBUG;
	case LOG_LVL_INFO:  return LOG_INFO;
	case LOG_LVL_WARN:  return LOG_WARNING;
	default:            return LOG_ERR;
	}
}

/* Formats one line and writes it in a single call so threads don't interleave. */
static void
log_vemit(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 128];

	if (level < log_state.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_state.sink != NULL) {
		snprintf(line, sizeof(line), "%s%s", msg, suffix ? suffix : "");
		log_state.sink(level, line, log_state.sink_ctx);
		return;
	}
	if (log_state.use_syslog) {
		syslog(log_syslog_prio(level), "%s%s", msg, suffix ? suffix : "");
		return;
	}
	snprintf(line, sizeof(line), "%s: %s: %s%s\n", log_state.progname,
	    log_level_names[level], msg, suffix ? suffix : "");
	fputs(line, stderr);
}

#define LOG_DEFINE(name, lvl)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	log_vemit(lvl, NULL, fmt, ap);				\
	va_end(ap);						\
}

LOG_DEFINE(log_debug, LOG_LVL_DEBUG)
LOG_DEFINE(log_info, LOG_LVL_INFO)
LOG_DEFINE(log_warn, LOG_LVL_WARN)
LOG_DEFINE(log_err, LOG_LVL_ERR)

void
fatal(const char *fmt, ...)
{
	char suffix[256];
	int saved = errno;
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(saved));
	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, suffix, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

static int64_t
log_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

void
log_warn_rl(struct log_ratelimit *rl, const char *fmt, ...)
{
	char suffix[96] = "";
	int64_t now = log_now_s();
	va_list ap;

	if (rl->in_window == 0 ||
	    now - rl->window_start_s >= (int64_t)rl->period_s) {
		rl->window_start_s = now;
		rl->in_window = 0;
	}
	if (rl->in_window >= rl->burst) {
		rl->suppressed++;
		return;
	}
	rl->in_window++;
	if (rl->suppressed > 0) {
		snprintf(suffix, sizeof(suffix),
		    " (%llu similar messages suppressed)",
		    (unsigned long long)rl->suppressed);
		rl->suppressed = 0;
	}
	va_start(ap, fmt);
	log_vemit(LOG_LVL_WARN, suffix, fmt, ap);
	va_end(ap);
}
