/* fuzz-sources: operator/forward.c operator/cluster.c operator/idmap.c operator/api.c operator/api_report.c operator/api_merge.c operator/metrics.c operator/live.c operator/store.c operator/store_queue.c operator/events.c operator/respond.c operator/policy.c operator/bantable.c operator/hook.c operator/respond_queue.c operator/report.c */
/* fuzz-libs: libnats librrd jansson sqlite3 */
/* fuzz_forward.c: libFuzzer target for the answer of another shard's API, as forward.c parses it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_response r;
	char *copy = malloc(size + 1);   /* exact size + the NUL the reader adds */

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	memset(&r, 0, sizeof(r));
	if (forward_parse(copy, size, &r) == 0) {
		if (r.status < 100 || r.status > 599 || r.content_type == NULL ||
		    r.body_len > size)
			abort();
		api_response_clear(&r);
	}
	free(copy);
	return 0;
}
