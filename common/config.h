/* config.h: line-oriented config files: "word word ..." per line, '#' comments. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_WORDS 16
#define CONFIG_MAX_LINE  1024

/* One parsed line; words point into a buffer owned by the parser (borrowed). */
struct config_line {
	const char *file;    /* borrowed */
	int         lineno;
	int         nwords;
	char       *words[CONFIG_MAX_WORDS];
};

/*
 * Called for each non-empty, non-comment line. Returns 0 to go on, or -1
 * after writing an explanation (what was expected, quoting the bad value) to
 * err; config_parse_file then logs "file:line: explanation" and fails.
 */
typedef int (*config_line_cb)(const struct config_line *line, void *ctx,
    char *err, size_t errlen);

/*
 * Reads path line by line and calls cb for each line. Lines longer than
 * CONFIG_MAX_LINE, with more than CONFIG_MAX_WORDS words, or containing NUL
 * or control characters are errors. Returns 0 when every line was accepted,
 * -1 on the first error (logged with file:line, already-accepted lines stay
 * accepted by the callback's context: callers load into a fresh context).
 */
int config_parse_file(const char *path, config_line_cb cb, void *ctx);

/* Same as config_parse_file for an in-memory string (name used in messages). */
int config_parse_string(const char *name, const char *text, config_line_cb cb,
    void *ctx);

/* Strict number parsing: whole string, in range; 0 on success, -1 otherwise. */
int config_parse_u64(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out);
int config_parse_double(const char *s, double min, double max, double *out);

/* Parses a duration "250ms", "10s", "5m", "2h", "1d" or plain seconds into ms. */
int config_parse_duration_ms(const char *s, unsigned long long *out_ms);

#endif
