/* fuzz-sources: operator/cluster.c operator/idmap.c */
/* fuzz-libs: libnats */
/* fuzz_cluster_ban.c: libFuzzer target for BANS values (written by any shard, read by every one) and key mapping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_ban b, again;
	char *copy, out[512], key[96];
	int n;

	/* Exact-size copy: ASan sees any read past the value. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (cluster_ban_parse(copy, size, &b) == 0) {
		/* What parses formats back and parses to the same decision. */
		n = cluster_ban_format(&b, out, sizeof(out));
		if (n <= 0 || cluster_ban_parse(out, (size_t)n, &again) != 0 ||
		    strcmp(again.src, b.src) != 0 || strcmp(again.shard, b.shard) != 0 ||
		    strcmp(again.kind, b.kind) != 0 ||
		    strcmp(again.customer, b.customer) != 0 ||
		    again.timeout_s != b.timeout_s)
			abort();
		if (cluster_key("src", b.src, key, sizeof(key)) == 0 &&
		    strspn(key + 4, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
		    strlen(key + 4))
			abort();
	}
	free(copy);
	return 0;
}
