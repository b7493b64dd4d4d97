/* health.c: /proc/self and cgroup v2 readers for the probe's health record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "health.h"

struct health {
	char cgroup_dir[640];       /* "" when unknown */
	uint64_t last_wall_us;
	uint64_t last_cpu_us;       /* this process, user + system */
	long long last_cg_cpu_us;   /* cgroup usage_usec, -1 when unknown */
	int have_last;
};

static uint64_t
health_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* Reads "0::/path" from /proc/self/cgroup into dir (cgroup v2 only). */
static void
health_find_cgroup(char *dir, size_t len)
{
	char line[512];
	FILE *fp = fopen("/proc/self/cgroup", "r");

	dir[0] = '\0';
	if (fp == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(dir, len, "/sys/fs/cgroup%s", line + 3);
		break;
	}
	fclose(fp);
}

struct health *
health_new(void)
{
	struct health *h = calloc(1, sizeof(*h));

	if (h != NULL)
		health_find_cgroup(h->cgroup_dir, sizeof(h->cgroup_dir));
	return h;
}

void
health_free(struct health *h)
{
	free(h);
}

/* utime + stime of this process in microseconds, 0 when unreadable. */
static uint64_t
health_self_cpu_us(void)
{
	char buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *fp = fopen("/proc/self/stat", "r");
	size_t n;

	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* The command name may contain spaces; fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || hz <= 0 ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000000ULL / (unsigned long long)hz;
}

/* Value of "key N" in a /proc or cgroup file; -1 when missing. */
static long long
health_read_key(const char *path, const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, key, kl) == 0 && (line[kl] == ' ' || line[kl] == ':' ||
		    line[kl] == '\t')) {
			v = strtoll(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(fp);
	return v;
}

uint64_t
health_rss_bytes(void)
{
	long long kb = health_read_key("/proc/self/status", "VmRSS");

	return kb > 0 ? (uint64_t)kb * 1024 : 0;
}

uint64_t
health_peak_rss_bytes(void)
{
	long long kb = health_read_key("/proc/self/status", "VmHWM");

	return kb > 0 ? (uint64_t)kb * 1024 : 0;
}

static long long
health_cgroup_value(const struct health *hs, const char *file, const char *key)
{
	char path[700];
	FILE *fp;
	long long v = -1;

	if (hs->cgroup_dir[0] == '\0')
		return -1;
	snprintf(path, sizeof(path), "%s/%s", hs->cgroup_dir, file);
	if (key != NULL)
		return health_read_key(path, key);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	if (fscanf(fp, "%lld", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

void
health_sample(struct health *hs, struct gw_health *h)
{
	uint64_t now = health_now_us(), cpu = health_self_cpu_us();
	long long cg_cpu = health_cgroup_value(hs, "cpu.stat", "usage_usec");
	long long cg_mem = health_cgroup_value(hs, "memory.current", NULL);
	uint64_t dt = now - hs->last_wall_us;

	h->rss_bytes = health_rss_bytes();
	h->cgroup_mem_bytes = cg_mem > 0 ? (uint64_t)cg_mem : 0;
	h->cpu_pct = 0;
	h->cgroup_cpu_pct = -1;
	if (hs->have_last && dt > 0) {
		h->cpu_pct = cpu >= hs->last_cpu_us ?
		    100.0 * (double)(cpu - hs->last_cpu_us) / (double)dt : 0;
		if (cg_cpu >= 0 && hs->last_cg_cpu_us >= 0 &&
		    cg_cpu >= hs->last_cg_cpu_us)
			h->cgroup_cpu_pct = 100.0 *
			    (double)(cg_cpu - hs->last_cg_cpu_us) / (double)dt;
	}
	hs->last_wall_us = now;
	hs->last_cpu_us = cpu;
	hs->last_cg_cpu_us = cg_cpu;
	hs->have_last = 1;
}
