/* respond_int.h: respond's private state, shared by respond.c, policy.c, bantable.c, hook.c and respond_queue.c only. */
#ifndef GW_RESPOND_INT_H
#define GW_RESPOND_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "idmap.h"
#include "respond.h"

#define RS_CMDS_MAX      4096   /* outstanding commands remembered for results */
#define RS_HOOKDEC_MAX   256    /* customers with a recent hook decision */
#define RS_MIN_PREFIX_V4 16     /* wider bans are refused: too much collateral */
#define RS_MIN_PREFIX_V6 32

/* A ban in force, mirrored from its audit row. */
struct rs_ban {
	struct countermeasure cm;
	uint32_t n_sent, n_ok, n_fail;   /* commands of the current run */
};

/* A command waiting for its CommandResult. */
struct rs_cmd {
	uint64_t id;                     /* 0 = free slot */
	uint64_t cm_id;
	bool     unban;
	char     probe[GW_ID_MAX];
};

/* A running hook process. */
struct rs_hook {
	pid_t    pid;                    /* 0 = free slot */
	uint64_t cm_id;
	double   deadline;
};

/* A recent hook decision (one per customer per ban_timeout_s). */
struct rs_hookdec {
	char     customer[GW_ID_MAX];
	uint64_t cm_id;
	double   until;                  /* 0 = free slot */
};

/* A manual request handed over from an API thread (respond_submit). */
enum rs_req_state { RS_REQ_FREE = 0, RS_REQ_QUEUED, RS_REQ_RUNNING,
	RS_REQ_DONE };

struct rs_req {
	enum rs_req_state state;
	enum respond_op   op;
	uint64_t          seq;           /* FIFO order */
	char              address[GW_ADDR_MAX];
	uint32_t          prefix_len;
	bool              has_scope;
	char              scope[GW_ID_MAX];
	uint32_t          timeout_s;
	char              user[GW_ID_MAX];
	bool              has_reason;
	char              reason[GW_TEXT_MAX];
	uint64_t          id;            /* answer */
	char              err[GW_TEXT_MAX];
};

/* What a policy rule or the API wants banned. */
struct rs_ban_req {
	const char *address;
	uint32_t    prefix_len;          /* 0 = host */
	const char *scope;
	const char *customer;
	const char *reason;
	const char *decided_by;
	uint32_t    timeout_s;
};

struct respond {
	struct respond_config cfg;
	struct events        *es;        /* borrowed */
	respond_send_fn       send;
	void                 *ctx;       /* borrowed */
	struct idmap         *probes;    /* known probe ids -> (void *)1 */
	struct rs_ban        *bans;      /* RESPOND_BANS_MAX slots, n_bans used */
	size_t                n_bans;
	struct rs_cmd         cmds[RS_CMDS_MAX];
	size_t                cmd_next;
	struct rs_hook        hooks[RESPOND_HOOKS_MAX];
	struct rs_hookdec     hookdec[RS_HOOKDEC_MAX];
	uint64_t              next_cmd_id;
	struct respond_stats  st;
	pthread_mutex_t       qlock;     /* guards reqs and req_seq only */
	pthread_cond_t        qcond;
	struct rs_req         reqs[RESPOND_REQUESTS_MAX];
	uint64_t              req_seq;
};


/* policy.c: the never-ban rules. */

/* True when c overlaps loopback or an allowlisted prefix. */
bool policy_cidr_allowed(const struct respond *r, const struct respond_cidr *c);

/* Canonical text of a prefix's address (so equal bans compare equal). */
void policy_cidr_text(const struct respond_cidr *c, char out[GW_ADDR_MAX]);

/* bantable.c: the bans in force and the commands that carry them. */

/* Sends a ban (timeout_s > 0) or unban for cm to one probe; 0 or -1 (counted). */
int bantable_send_one(struct respond *r, const char *probe,
    struct countermeasure *cm, uint64_t result_cm_id, bool unban,
    uint32_t timeout_s);

/* Remaining time of a ban in whole seconds (at least 1). */
uint32_t bantable_remaining(const struct countermeasure *cm, double now);

/* True when ban is for address/prefix_len in scope (NULL = any scope). */
bool bantable_match(const struct rs_ban *ban, const char *address,
    uint32_t prefix_len, const char *scope);

/* The ban in force for address/prefix_len/scope (NULL = any), or NULL. */
struct rs_ban *bantable_find(struct respond *r, const char *address,
    uint32_t prefix_len, const char *scope);

/* Removes ban from the in-force set (the last slot moves into its place). */
void bantable_remove(struct respond *r, struct rs_ban *ban);

/* Writes cm's audit row back (failure logged). */
void bantable_row_update(struct respond *r, const struct countermeasure *cm);

/*
 * Decides a ban: refuses allowlisted targets, extends a ban in force (the
 * same scope, or a global one), else writes the row and sends the commands.
 * Returns the row id, or 0 with err.
 */
uint64_t bantable_ban(struct respond *r, const struct rs_ban_req *req,
    double now, char *err, size_t errlen);

/* Lifts ban: unban commands, row to `state`, removal from the in-force set. */
void bantable_lift(struct respond *r, struct rs_ban *ban, enum cm_state state,
    uint64_t result_cm_id, double now);

/* hook.c: the upstream hook. */

/* distributed_attack: one hook decision per customer per ban timeout. */
void hook_decide(struct respond *r, const struct gw_event *ev, double now);

/* Reaps finished hooks, kills those past their deadline; rows updated. */
void hook_reap(struct respond *r, double now);

/* Marks hook rows expired when their decision window ends. */
void hook_expire(struct respond *r, double now);

/* Kills and reaps every running hook (respond_free). */
void hook_kill_all(struct respond *r);

#endif
