/* ctl_table.c: gatewatchctl's text output: aligned tables, value cells, generic JSON printing. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_fmt.h"
#include "ctl_table.h"

void
ctl_table_cols(struct ctl_table *t, const char *spec)
{
	/* spec: "NAME,>NUM,..." ('>' right-aligns); static strings only. */
	static char store[8][512];
	static int used;
	char *s, *tok, *save = NULL;

	memset(t, 0, sizeof(*t));
	s = store[used++ % 8];
	snprintf(s, sizeof(store[0]), "%s", spec);
	for (tok = strtok_r(s, ",", &save); tok && t->ncols < CTL_TABLE_COLS;
	    tok = strtok_r(NULL, ",", &save)) {
		t->right[t->ncols] = tok[0] == '>';
		t->hdr[t->ncols++] = tok[0] == '>' ? tok + 1 : tok;
	}
}

/* Appends a row; cells are copied (cut at CTL_CELL_MAX). NULL cells print "-". */
void
ctl_table_row(struct ctl_table *t, const char *const *cells)
{
	char **row;
	int i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->rows = realloc(t->rows, t->cap * sizeof(*t->rows));
		if (t->rows == NULL)
			abort();
	}
	row = calloc((size_t)t->ncols, sizeof(*row));
	if (row == NULL)
		abort();
	for (i = 0; i < t->ncols; i++) {
		const char *c = cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-";
		size_t n = strcspn(c, "\n\t");

		if (n > CTL_CELL_MAX)
			n = CTL_CELL_MAX;
		row[i] = malloc(n + 4);
		if (row[i] == NULL)
			abort();
		memcpy(row[i], c, n);
		strcpy(row[i] + n, c[n] != '\0' ? "..." : "");
	}
	t->rows[t->nrows++] = row;
}

void
ctl_table_print(struct ctl_table *t)
{
	size_t w[CTL_TABLE_COLS], r;
	int i;

	for (i = 0; i < t->ncols; i++)
		w[i] = strlen(t->hdr[i]);
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++)
			if (strlen(t->rows[r][i]) > w[i])
				w[i] = strlen(t->rows[r][i]);
	for (r = 0; r <= t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			const char *c = r == 0 ? t->hdr[i] : t->rows[r - 1][i];
			bool last = i == t->ncols - 1;

			if (t->right[i])
				printf("%*s%s", (int)w[i], c, last ? "" : "  ");
			else
				printf("%-*s%s", last ? 0 : (int)w[i], c, last ? "" : "  ");
		}
		putchar('\n');
	}
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++)
			free(t->rows[r][i]);
		free(t->rows[r]);
	}
	free(t->rows);
	t->rows = NULL;
	t->nrows = t->cap = 0;
}

/* "12.3 Mbit/s"; whole numbers below 1000 without decimals ("5 B"); "-" for NAN. */
const char *
ctl_si(char *buf, size_t len, double v, const char *unit)
{
	return ctl_fmt_si(buf, len, v, unit, 1, true);
}

const char *
ctl_num(char *buf, size_t len, double v)
{
	if (isnan(v))
		return "-";
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.2f", v);
	return buf;
}

/* Local time with seconds; "-" for NAN and ts <= 0. */
const char *
ctl_time(char *buf, size_t len, double ts)
{
	return ctl_fmt_time(buf, len, ts, "%Y-%m-%d %H:%M:%S");
}

const char *
ctl_jstr(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Renders any JSON scalar as text into buf (objects/arrays as compact JSON). */
const char *
ctl_jtext(char *buf, size_t len, const json_t *v)
{
	char *s;

	if (v == NULL || json_is_null(v))
		return "-";
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_true(v) || json_is_false(v))
		return json_is_true(v) ? "yes" : "no";
	if (json_is_number(v))
		return ctl_num(buf, len, json_number_value(v));
	s = json_dumps(v, JSON_COMPACT);
	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
	return buf;
}

json_t *
ctl_first_array(json_t *o)
{
	const char *key;
	json_t *v;

	if (json_is_array(o))
		return o;
	json_object_foreach(o, key, v) {
		if (json_is_array(v))
			return v;
	}
	return NULL;
}

/* Prints an array of flat objects as a table, columns in the first object's order. */
void
ctl_print_generic(json_t *arr)
{
	struct ctl_table t;
	char spec[512] = "", b[CTL_TABLE_COLS][128];
	const char *key, *cells[CTL_TABLE_COLS];
	json_t *first = json_array_get(arr, 0), *o, *v;
	size_t i;
	int k;

	if (first == NULL) {
		printf("(none)\n");
		return;
	}
	json_object_foreach(first, key, v) {
		if (strlen(spec) + strlen(key) + 3 < sizeof(spec))
			snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec),
			    "%s%s", spec[0] ? "," : "", key);
	}
	ctl_table_cols(&t, spec);
	json_array_foreach(arr, i, o) {
		for (k = 0; k < t.ncols; k++) {
			v = json_object_get(o, t.hdr[k]);
			if (json_is_number(v) && json_number_value(v) > 1e9 &&
			    json_number_value(v) < 1e10 && (strstr(t.hdr[k], "ts") ||
			    strstr(t.hdr[k], "_at") || strstr(t.hdr[k], "expires") ||
			    strstr(t.hdr[k], "seen") || strstr(t.hdr[k], "time")))
				cells[k] = ctl_time(b[k], 128, json_number_value(v));
			else
				cells[k] = ctl_jtext(b[k], 128, v);
		}
		ctl_table_row(&t, cells);
	}
	ctl_table_print(&t);
}


void
ctl_print_object(json_t *o, const char *prefix)
{
	const char *key;
	char name[256], buf[128];
	json_t *v;

	json_object_foreach(o, key, v) {
		snprintf(name, sizeof(name), "%s%s", prefix, key);
		if (json_is_object(v)) {
			char sub[sizeof(name) + 2];

			snprintf(sub, sizeof(sub), "%s.", name);
			ctl_print_object(v, sub);
		} else
			printf("%-32s %s\n", name, ctl_jtext(buf, sizeof(buf), v));
	}
}

/* Splits "ADDR[/LEN]" into addr and prefix length (-1 when absent). */
