/* fuzz_config.c: libFuzzer target for the config line parser and its number parsers. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_log_sink(enum log_level level, const char *line, void *ctx)
{
	(void)level;
	(void)ctx;
	if (strlen(line) > 4096)
		abort();	/* messages are bounded */
}

/* Runs every word through the number parsers and checks the line's invariants. */
static int
fuzz_cb(const struct config_line *line, void *ctx, char *err, size_t errlen)
{
	unsigned long long u;
	double d;
	int i;

	(void)ctx;
	if (line->nwords < 1 || line->nwords > CONFIG_MAX_WORDS || line->lineno < 1)
		abort();
	for (i = 0; i < line->nwords; i++) {
		if (strlen(line->words[i]) >= CONFIG_MAX_LINE)
			abort();
		(void)config_parse_u64(line->words[i], 0, 65535, &u);
		(void)config_parse_double(line->words[i], -1e9, 1e9, &d);
		(void)config_parse_duration_ms(line->words[i], &u);
	}
	if (strcmp(line->words[0], "fail") == 0) {
		snprintf(err, errlen, "rejected \"%s\"", line->words[0]);
		return -1;
	}
	return 0;
}

/* The file path reads raw bytes (embedded NULs included) through a memfd. */
static void
fuzz_file(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;

	fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (fd == -1)
		return;
	if (size == 0 || write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		(void)config_parse_file(path, fuzz_cb, NULL);
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	char *text;

	if (!init) {
		log_set_sink(fuzz_log_sink, NULL);
		init = 1;
	}
	if (size > 0 && (data[0] & 0x80) != 0) {
		fuzz_file(data + 1, size - 1);
		return 0;
	}
	/* Exact-size copy plus the terminating NUL the string API needs. */
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)config_parse_string("fuzz.conf", text, fuzz_cb, NULL);
	free(text);
	return 0;
}
