/* ctl_fmt.c: gatewatchctl's value formatting (SI prefixes, local times, JSON numbers). */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "ctl_fmt.h"

const char *
ctl_fmt_si(char *buf, size_t len, double v, const char *unit, int prec,
    bool whole)
{
	static const char *const pfx[] = { "", "k", "M", "G", "T", "P" };
	int i = 0;

	if (isnan(v))
		return "-";
	while (fabs(v) >= 999.95 && i < 5) {
		v /= 1000;
		i++;
	}
	if (whole && i == 0 && v == floor(v))
		prec = 0;
	snprintf(buf, len, "%.*f %s%s", prec, v, pfx[i], unit);
	return buf;
}

const char *
ctl_fmt_time(char *buf, size_t len, double ts, const char *fmt)
{
	struct tm tm;
	time_t t;

	if (isnan(ts) || ts <= 0 || ts >= 9e18)   /* 9e18: still a time_t */
		return "-";
	t = (time_t)ts;
	/* A time beyond what struct tm holds (a corrupt or hostile reply) prints "-". */
	if (localtime_r(&t, &tm) == NULL || strftime(buf, len, fmt, &tm) == 0)
		return "-";
	return buf;
}

double
ctl_fmt_jnum(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}
