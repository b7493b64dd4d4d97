/* jsonl.h: JSON Lines sink (DESIGN.md "JSON Lines sink"): stats, event and flow objects. */
#ifndef GW_JSONL_H
#define GW_JSONL_H

#include <stdio.h>

#include "gwmsg.h"

struct jsonl;

/* Opens path for writing ("-" = stdout, not closed later). NULL on error (logged). */
struct jsonl *jsonl_open(const char *path);

/* Wraps an already open stream (borrowed, not closed). NULL on ENOMEM. */
struct jsonl *jsonl_wrap(FILE *fp);

/* Flushes and closes; returns 0, or -1 when any write failed. NULL is a no-op (0). */
int jsonl_close(struct jsonl *j);

/* One "stats" line per customer of the report. 0, or -1 on write error. */
int jsonl_stats(struct jsonl *j, const char *probe, const struct gw_stats_report *r);

/* One "event" line. 0, or -1 on write error. */
int jsonl_event(struct jsonl *j, const char *probe, const struct gw_event *ev);

/* One "flow" line. 0, or -1 on write error. */
int jsonl_flow(struct jsonl *j, const char *probe, const struct gw_flow_record *fr);

/* Writes s as a JSON string literal (quotes included) to fp. Exposed for tests. */
void jsonl_put_string(FILE *fp, const char *s);

/* Writes v as a JSON number (non-finite values as 0). Exposed for tests. */
void jsonl_put_double(FILE *fp, double v);

#endif
