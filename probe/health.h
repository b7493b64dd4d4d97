/* health.h: the probe's own CPU% and RSS, and its cgroup's (the gateway's) CPU% and memory. */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

#include <stdint.h>

#include "gwmsg.h"

struct health;

/* New sampler; finds the cgroup v2 directory from /proc/self/cgroup. NULL on ENOMEM. */
struct health *health_new(void);
void health_free(struct health *h);

/*
 * Samples now: fills h->cpu_pct (probe CPU since the previous sample, % of
 * one core; 0 on the first call), rss_bytes, cgroup_cpu_pct (-1 when
 * unknown) and cgroup_mem_bytes (0 when unknown). Other fields untouched.
 */
void health_sample(struct health *hs, struct gw_health *h);

/* Current resident set size of this process in bytes (0 when unknown). */
uint64_t health_rss_bytes(void);

/* Peak resident set size (VmHWM) in bytes (0 when unknown). */
uint64_t health_peak_rss_bytes(void);

#endif
