/* log.h: leveled logging to stderr or syslog, fatal exits for main(), rate limiting. */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

/*
 * Sets the program name shown in every line, the minimum level, and the
 * destination (stderr when use_syslog is false). May be called again.
 */
void log_init(const char *progname, enum log_level level, bool use_syslog);

/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int log_level_parse(const char *s, enum log_level *out);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For main() only: log at error level (fatal adds strerror(errno)) and exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * A rate limiter for messages caused by untrusted input: at most `burst`
 * messages per `period_s` seconds; the rest are counted in `suppressed` and
 * reported by the next message that passes.
 */
struct log_ratelimit {
	uint32_t period_s;
	uint32_t burst;
	int64_t  window_start_s;
	uint32_t in_window;
	uint64_t suppressed;
};
#define LOG_RATELIMIT_INIT(period, burst) { (period), (burst), 0, 0, 0 }

/*
 * Sends every formatted line (without the trailing newline) to fn instead of
 * stderr/syslog, e.g. for tests that assert on error messages. fn(NULL)
 * restores the destination chosen by log_init(). ctx is borrowed.
 */
typedef void (*log_sink_fn)(enum log_level level, const char *line, void *ctx);
void log_set_sink(log_sink_fn fn, void *ctx);

/* log_warn through a rate limiter. */
void log_warn_rl(struct log_ratelimit *rl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
