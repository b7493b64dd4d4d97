/* ctl_table.h: gatewatchctl's text output: aligned tables, value cells, generic JSON printing. */
#ifndef GW_CTL_TABLE_H
#define GW_CTL_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CTL_TABLE_COLS    16
#define CTL_CELL_MAX      64                   /* wider cells are cut with "..." */

struct ctl_table {
	int         ncols;
	const char *hdr[CTL_TABLE_COLS];
	bool        right[CTL_TABLE_COLS];
	char     ***rows;
	size_t      nrows, cap;
};

/* Starts table t with columns spec "NAME,>NUM,..." ('>' right-aligns). */
void ctl_table_cols(struct ctl_table *t, const char *spec);

/* Appends a row; cells are copied (cut at CTL_CELL_MAX). NULL cells print "-". */
void ctl_table_row(struct ctl_table *t, const char *const *cells);

/* Prints the header and rows with aligned columns, then frees the rows. */
void ctl_table_print(struct ctl_table *t);

/* "12.3 Mbit/s"; whole numbers below 1000 without decimals ("5 B"); "-" for NAN. */
const char *ctl_si(char *buf, size_t len, double v, const char *unit);

/* Whole numbers without decimals, others with 2; "-" for NAN. */
const char *ctl_num(char *buf, size_t len, double v);

/* Local time with seconds; "-" for NAN and ts <= 0. */
const char *ctl_time(char *buf, size_t len, double ts);

/* The string at key of o, or NULL. */
const char *ctl_jstr(const json_t *o, const char *key);

/* Renders any JSON scalar as text into buf (objects/arrays as compact JSON). */
const char *ctl_jtext(char *buf, size_t len, const json_t *v);

/* The first array in o (o itself if it is one): for replies of unknown shape. */
json_t *ctl_first_array(json_t *o);

/* Prints an array of flat objects as a table, columns in the first object's order. */
void ctl_print_generic(json_t *arr);

/* Prints the scalar members of a reply object as "key: value" lines. */
void ctl_print_object(json_t *o, const char *prefix);

#endif
