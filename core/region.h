/*
 * A region: one private anonymous mapping with a small size-class
 * allocator inside.  Freeing the region gives every page back to the
 * kernel at once.
 *
 * Why: an expat parser is ~10 KiB of small blocks made while a client logs
 * in and freed when the session goes idle.  From the ordinary heap those
 * blocks interleave with long-lived session data, so the freed memory stays
 * in the process (fragmentation) and the resident size keeps the login
 * peak.  A parser whose blocks all live in its own region leaves nothing
 * behind.
 */
#ifndef MYNAH_REGION_H
#define MYNAH_REGION_H

#include <stddef.h>

typedef struct region region;

/* Reserves `reserve` bytes of address space (pages are only committed when
 * touched).  NULL on failure. */
region *region_new(size_t reserve);
void region_free(region *r);
/* A block of at least size bytes, 16-byte aligned; NULL when the region
 * is full (the caller falls back to malloc). */
void *region_alloc(region *r, size_t size);
/* Gives a block back for reuse; size as asked of region_alloc. */
void region_release(region *r, void *block, size_t size);
/* How many bytes a block of this size really occupies. */
size_t region_block_size(size_t size);
/* Bytes handed out from the region so far (its high-water mark). */
size_t region_used(const region *r);

#endif
