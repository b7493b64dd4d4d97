/* ctl_fmt.h: gatewatchctl's value formatting, shared by its commands and ctl_report.c. */
#ifndef GW_CTL_FMT_H
#define GW_CTL_FMT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * Formats v with an SI prefix (k, M, G, T, P; steps of 1000) and unit into buf:
 * "12.3 Mbit/s" with prec = 1. With whole, a value that needs no prefix and is
 * a whole number is printed without decimals ("5 B"). Returns buf, or "-" for
 * NAN (buf untouched).
 */
const char *ctl_fmt_si(char *buf, size_t len, double v, const char *unit,
    int prec, bool whole);

/*
 * Formats the Unix time ts as local time with strftime format fmt into buf.
 * Returns buf, or "-" for NAN and ts <= 0 (buf untouched).
 */
const char *ctl_fmt_time(char *buf, size_t len, double ts, const char *fmt);

/* Number at key of object o (integer or real); NAN when missing or not a number. */
double ctl_fmt_jnum(const json_t *o, const char *key);

#endif
