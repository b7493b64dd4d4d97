/* fuzz_frames.h: the packet-sequence input format of the fuzz targets that replay frames. */
#ifndef GW_FUZZ_FRAMES_H
#define GW_FUZZ_FRAMES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Takes the record at data[*off] of [len_hi][len_lo][gap][frame...]: len is the
 * low 11 bits of the first two bytes (cut to what the input has left). The
 * frame is copied into a heap buffer of exactly len bytes (at least 1), so ASan
 * sees any over-read; the caller frees *frame. *off moves past the record.
 * Returns false at the end of the input (fewer than 3 bytes left) or when out
 * of memory.
 */
static inline bool
fz_next_frame(const uint8_t *data, size_t size, size_t *off, uint8_t **frame,
    size_t *len, uint8_t *gap)
{
	size_t o = *off, n;

	if (o + 3 > size)
		return false;
	n = ((size_t)data[o] << 8 | data[o + 1]) & 0x7ff;
	*gap = data[o + 2];
	o += 3;
	if (n > size - o)
		n = size - o;
	if ((*frame = malloc(n ? n : 1)) == NULL)
		return false;
	memcpy(*frame, data + o, n);
	*off = o + n;
	*len = n;
	return true;
}

#endif
