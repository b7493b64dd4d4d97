/* ctl_report.h: gatewatchctl's capacity commands (report, top): request paths and text output. */
#ifndef GW_CTL_REPORT_H
#define GW_CTL_REPORT_H

#include <stddef.h>

#include <jansson.h>

/* The query arguments of the capacity commands (borrowed strings, NULL = absent). */
struct ctl_report_args {
	const char *month, *from, *to;   /* period */
	const char *by, *order, *offset, *limit;   /* top only */
};

/*
 * Builds the API path of "report ID" (top = false) or "top" into path.
 * Returns 0, or -1 when it does not fit.
 */
int ctl_report_path(char *path, size_t len, const char *id, bool top,
    const struct ctl_report_args *a);

/* Prints a /api/v1/reports/customers/ID reply as text. */
void ctl_report_print(const json_t *j);

/* Prints a /api/v1/reports/top reply as a table. */
void ctl_report_top_print(const json_t *j);

#endif
