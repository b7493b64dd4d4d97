/* dpi.c: nDPI on the first packets of each flow, with a cap on live nDPI states. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ndpi_api.h>

#include "dpi.h"
#include "log.h"

/*
 * One nDPI flow state. Live states sit on the pending list in creation
 * order, so the oldest can be forced to a verdict when the cap is reached;
 * released states go to a free list and are reused. States come in chunks
 * of DPI_CHUNK_STATES (no malloc header per state, no churn).
 */
#define DPI_CHUNK_STATES 32

struct dpi_state {
	struct dpi_state *prev, *next;
	struct flow *owner;                /* borrowed: the flow this state serves */
	struct ndpi_flow_struct nf;
};

/*
 * nDPI's start-up allocations: about 80,000 small blocks (patricia nodes of
 * its IP lists, string automata) that live until the module is freed. From
 * malloc each costs 8-24 bytes of header and rounding on top of its size
 * (about 1 MiB in all); from a bump arena it costs its size. The arena is
 * address space reserved up front; only the pages used become memory.
 * nDPI's allocator hooks are process-wide, so the live arenas are kept in a
 * file-static list that only the two hook functions below read: blocks from
 * an arena are never freed one by one (the arena goes in dpi_free), every
 * other block is malloc's. Outside dpi_new the hooks are plain malloc/free.
 */
#define DPI_ARENA_BYTES ((size_t)64 << 20)

struct dpi_arena {
	struct dpi_arena *next;
	unsigned char *base, *cur, *end;
};

static struct dpi_arena *dpi_arenas;        /* every live arena */
static struct dpi_arena *dpi_arena_filling; /* the one taking allocations, or NULL */

static void *
dpi_hook_malloc(size_t size)
{
	struct dpi_arena *a = dpi_arena_filling;
	/* 16-byte alignment only where an object of that size could need it */
	uintptr_t align = (size % 16 == 0) ? 16 : 8, p;

	if (a != NULL && size > 0) {
		p = ((uintptr_t)a->cur + align - 1) & ~(align - 1);
		if (p <= (uintptr_t)a->end && size <= (uintptr_t)a->end - p) {
			a->cur = (unsigned char *)(p + size);
			return (void *)p;
		}
	}
	return malloc(size);
}

static void
dpi_hook_free(void *ptr)
{
	const struct dpi_arena *a;

	for (a = dpi_arenas; a != NULL; a = a->next)
		if ((unsigned char *)ptr >= a->base && (unsigned char *)ptr < a->end)
			return;
	free(ptr);
}

/* Reserves an arena and routes nDPI's allocations to it; NULL: nDPI uses malloc. */
static struct dpi_arena *
dpi_arena_begin(void)
{
	struct dpi_arena *a = malloc(sizeof(*a));
	void *m;

	if (a == NULL)
		return NULL;
	m = mmap(NULL, DPI_ARENA_BYTES, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		free(a);
		return NULL;
	}
	a->base = a->cur = m;
	a->end = a->base + DPI_ARENA_BYTES;
	a->next = dpi_arenas;
	dpi_arenas = a;
	set_ndpi_malloc(dpi_hook_malloc);
	set_ndpi_free(dpi_hook_free);
	dpi_arena_filling = a;
	return a;
}

/* Stops filling arena a and gives back the address space it did not use. */
static void
dpi_arena_end(struct dpi_arena *a)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t used;

	dpi_arena_filling = NULL;
	if (a == NULL || pg <= 0)
		return;
	used = ((uintptr_t)a->cur + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	if (used < (uintptr_t)a->end && munmap((void *)used, (uintptr_t)a->end - used) == 0)
		a->end = (unsigned char *)used;
}

/* Unmaps arena a (NULL: no-op); nothing may use its blocks any more. */
static void
dpi_arena_free(struct dpi_arena *a)
{
	struct dpi_arena **pp;

	if (a == NULL)
		return;
	for (pp = &dpi_arenas; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	munmap(a->base, (size_t)(a->end - a->base));
	free(a);
}

struct dpi_chunk {
	struct dpi_chunk *next;
	struct dpi_state states[DPI_CHUNK_STATES];
};

struct dpi {
	struct ndpi_detection_module_struct *ndpi;
	struct dpi_arena *arena;           /* nDPI's start-up blocks, or NULL */
	struct dpi_chunk *chunks;
	unsigned max_pkts;
	size_t max_states;
	size_t n_states;                   /* carved from chunks (pending + free) */
	struct dpi_state *head, *tail;     /* pending, oldest first */
	struct dpi_state *free_list;       /* linked through next */
	struct dpi_stats stats;
};

struct dpi *
dpi_new(const struct dpi_config *cfg)
{
	NDPI_PROTOCOL_BITMASK all;
	struct dpi *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->max_pkts = (cfg != NULL && cfg->max_pkts > 0) ? cfg->max_pkts :
	    DPI_DEFAULT_MAX_PKTS;
	if (d->max_pkts > 250)
		d->max_pkts = 250;         /* fits f->dpi_pkts (uint8_t) */
	d->max_states = (cfg != NULL && cfg->max_states > 0) ? cfg->max_states :
	    DPI_DEFAULT_MAX_STATES;
	/*
	 * Memory: the Tor exit-node list is the only optional host list in
	 * nDPI 4.2 and costs about 1 MiB of RSS for one protocol (Tor traffic
	 * then shows up as TLS or Unknown). nDPI's explicit libgcrypt start-up
	 * (about 300 KiB) is not needed: libgcrypt initialises itself on first
	 * use, and QUIC decryption classifies the shared captures unchanged.
	 */
	d->arena = dpi_arena_begin();
	d->ndpi = ndpi_init_detection_module(ndpi_dont_load_tor_hosts |
	    ndpi_dont_init_libgcrypt);
	if (d->ndpi == NULL) {
		dpi_arena_end(d->arena);
		dpi_arena_free(d->arena);
		log_err("dpi: nDPI initialisation failed");
		free(d);
		return NULL;
	}
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(d->ndpi, &all);
	ndpi_finalize_initialization(d->ndpi);
	dpi_arena_end(d->arena);
	return d;
}

void
dpi_free(struct dpi *d)
{
	struct dpi_state *s, *next;
	struct dpi_chunk *c, *cnext;

	if (d == NULL)
		return;
	for (s = d->head; s != NULL; s = next) {
		next = s->next;
		if (s->owner != NULL) {
			s->owner->dpi = NULL;
			s->owner->dpi_state = DPI_SKIPPED;
		}
		ndpi_free_flow_data(&s->nf);
	}
	for (c = d->chunks; c != NULL; c = cnext) {
		cnext = c->next;
		free(c);
	}
	if (d->ndpi != NULL)
		ndpi_exit_detection_module(d->ndpi);
	dpi_arena_free(d->arena);
	free(d);
}

static void
dpi_unlink(struct dpi *d, struct dpi_state *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		d->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		d->tail = s->prev;
	s->prev = s->next = NULL;
}

/* Stores the verdict in the owner flow and returns the state to the free list. */
static void
dpi_finish(struct dpi *d, struct dpi_state *s, ndpi_protocol proto)
{
	struct flow *f = s->owner;
	uint16_t app = proto.app_protocol != NDPI_PROTOCOL_UNKNOWN ?
	    proto.app_protocol : proto.master_protocol;
	ndpi_protocol_category_t cat = proto.category;

	if (cat == NDPI_PROTOCOL_CATEGORY_UNSPECIFIED && app != NDPI_PROTOCOL_UNKNOWN)
		cat = ndpi_get_proto_category(d->ndpi, proto);
	f->app = app;
	f->category = (uint16_t)cat;
	f->dpi_state = DPI_DONE;
	f->dpi = NULL;
	dpi_unlink(d, s);
	ndpi_free_flow_data(&s->nf);
	s->owner = NULL;
	s->next = d->free_list;
	d->free_list = s;
	d->stats.states_live--;
}

static void
dpi_give_up(struct dpi *d, struct dpi_state *s)
{
	uint8_t guessed = 0;
	ndpi_protocol proto = ndpi_detection_giveup(d->ndpi, &s->nf, 1, &guessed);

	d->stats.given_up++;
	dpi_finish(d, s, proto);
}

/* A state never used yet, from the current chunk or a new one; NULL if no memory. */
static struct dpi_state *
dpi_state_new(struct dpi *d)
{
	size_t i = d->n_states % DPI_CHUNK_STATES;
	struct dpi_chunk *c = d->chunks;

	if (i == 0) {
		c = malloc(sizeof(*c));
		if (c == NULL)
			return NULL;
		c->next = d->chunks;
		d->chunks = c;
	}
	d->n_states++;
	return &c->states[i];
}

/* A zeroed state for flow f, or NULL when memory is exhausted. */
static struct dpi_state *
dpi_state_get(struct dpi *d, struct flow *f)
{
	struct dpi_state *s = d->free_list;

	if (s != NULL) {
		d->free_list = s->next;
	} else if (d->n_states < d->max_states) {
		s = dpi_state_new(d);
		if (s == NULL)
			return NULL;
	} else {
		/* Cap reached: the oldest pending flow gets its verdict now. */
		d->stats.states_forced++;
		dpi_give_up(d, d->head);
		s = d->free_list;
		d->free_list = s->next;
	}
	memset(s, 0, sizeof(*s));
	s->owner = f;
	s->prev = d->tail;
	if (d->tail != NULL)
		d->tail->next = s;
	else
		d->head = s;
	d->tail = s;
	d->stats.states_live++;
	return s;
}

bool
dpi_packet(struct dpi *d, struct flow *f, const struct pkt *p, int dir)
{
	struct dpi_state *s = f->dpi;
	ndpi_protocol proto;
	uint32_t len = p->l3_caplen;

	(void)dir;   /* nDPI works out direction from the addresses itself */
	if (f->dpi_state != DPI_PENDING)
		return false;
	if (p->l3 == NULL || len == 0 || (p->frag && !p->frag_first))
		return false;
	if (s == NULL) {
		s = dpi_state_get(d, f);
		if (s == NULL) {
			f->dpi_state = DPI_SKIPPED;
			return false;
		}
		f->dpi = s;
	}
	if (len > 65535)
		len = 65535;
	proto = ndpi_detection_process_packet(d->ndpi, &s->nf, p->l3,
	    (unsigned short)len, p->ts_us / 1000);
	d->stats.packets++;
	f->dpi_pkts++;
	/*
	 * A protocol without a sub-application (plain "TLS", "DNS") may still
	 * learn one from later packets; keep going while nDPI says so.
	 */
	if (proto.app_protocol != NDPI_PROTOCOL_UNKNOWN &&
	    (proto.master_protocol != NDPI_PROTOCOL_UNKNOWN ||
	     !ndpi_extra_dissection_possible(d->ndpi, &s->nf))) {
		d->stats.classified++;
		dpi_finish(d, s, proto);
		return true;
	}
	if (f->dpi_pkts >= d->max_pkts) {
		dpi_give_up(d, s);
		return true;
	}
	return false;
}

void
dpi_flow_end(struct dpi *d, struct flow *f)
{
	if (f->dpi != NULL)
		dpi_give_up(d, f->dpi);
	else if (f->dpi_state == DPI_PENDING)
		f->dpi_state = DPI_SKIPPED;
}

const char *
dpi_app_name(const struct dpi *d, uint16_t app)
{
	const char *n = ndpi_get_proto_name(d->ndpi, app);

	return n != NULL ? n : "Unknown";
}

const char *
dpi_category_name(const struct dpi *d, uint16_t category)
{
	const char *n = ndpi_category_get_name(d->ndpi,
	    (ndpi_protocol_category_t)category);

	return n != NULL ? n : "Unspecified";
}

void
dpi_get_stats(const struct dpi *d, struct dpi_stats *out)
{
	*out = d->stats;
}
