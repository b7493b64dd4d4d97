/* control.h: answers operator commands (ban, unban, list_bans, set_threshold, inspect). */
#ifndef GW_CONTROL_H
#define GW_CONTROL_H

#include "detect.h"
#include "dpi.h"
#include "enforce.h"
#include "flow.h"
#include "gwmsg.h"

/* What commands act on; every pointer borrowed, any may be NULL (command then fails). */
struct control_deps {
	struct enforce *enforce;
	struct detect *detect;
	struct flow_table *flows;
	const struct dpi *dpi;
};

#define CONTROL_TOP_FLOWS 5   /* flows listed by "inspect" */

/*
 * Executes cmd and always fills res (id copied, ok, message, entries).
 * Kinds: "ban" (address[/len], prefix_len, timeout_s), "unban", "list_bans",
 * "set_threshold" (key, value), "inspect" (alarms, top talkers, top flows).
 * Unknown kinds get ok = false with an explanation.
 */
void control_handle(const struct control_deps *deps, const struct gw_command *cmd,
    struct gw_command_result *res);

#endif
