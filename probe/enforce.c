/* enforce.c: countermeasures in nftables (minimal placeholder: dry-run logging only). */
#include <stdio.h>
#include <stdlib.h>

#include "enforce.h"
#include "log.h"

struct enforce {
	enum enforce_mode mode;
};

/* See enforce.h. */
struct enforce *enforce_new(const struct enforce_config *cfg)
{
	struct enforce *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->mode = cfg != NULL ? cfg->mode : ENFORCE_DRY_RUN;
	return e;
}

/* See enforce.h. */
void enforce_free(struct enforce *e)
{
	free(e);
}

/* See enforce.h. */
int enforce_allow(struct enforce *e, const struct gw_addr *a, unsigned prefix_len)
{
	(void)e;
	(void)a;
	(void)prefix_len;
	return 0;
}

/* See enforce.h. */
int enforce_ban(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    uint32_t timeout_s, char *msg, size_t msglen)
{
	char buf[GW_ADDR_MAX];

	(void)e;
	gw_addr_str(a, buf, sizeof(buf));
	log_info("enforce: dry-run ban %s/%u for %u s", buf, prefix_len, timeout_s);
	snprintf(msg, msglen, "dry-run");
	return 0;
}

/* See enforce.h. */
int enforce_unban(struct enforce *e, const struct gw_addr *a, unsigned prefix_len,
    char *msg, size_t msglen)
{
	(void)e;
	(void)a;
	(void)prefix_len;
	snprintf(msg, msglen, "not banned");
	return -1;
}

/* See enforce.h. */
size_t enforce_list(struct enforce *e, char lines[][GW_TEXT_MAX], size_t max)
{
	(void)e;
	(void)lines;
	(void)max;
	return 0;
}

/* See enforce.h. */
void enforce_tick(struct enforce *e, uint64_t now_us)
{
	(void)e;
	(void)now_us;
}
