#include "region.h"

#include <stdint.h>
#include <sys/mman.h>

#define REGION_MIN_SHIFT 5  /* 32-byte blocks at least */
#define REGION_CLASSES 26   /* up to 1 GiB: more than any reserve */

typedef struct free_block {
    struct free_block *next;
} free_block;

struct region {
    size_t reserve;     /* bytes mapped, this header included */
    size_t top;         /* bump offset */
    free_block *free_lists[REGION_CLASSES];
};

static unsigned size_class(size_t size)
{
    unsigned k = 0;
    size_t block = (size_t)1 << REGION_MIN_SHIFT;
    while (block < size && k + 1 < REGION_CLASSES) {
        block <<= 1;
        k++;
    }
    return k;
}

size_t region_block_size(size_t size)
{
    return (size_t)1 << (REGION_MIN_SHIFT + size_class(size));
}

region *region_new(size_t reserve)
{
    void *p = mmap(NULL, reserve, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    region *r = p;
    r->reserve = reserve;
    /* The header stays at the start; blocks begin on a 64-byte line. */
    r->top = (sizeof *r + 63) & ~(size_t)63;
    for (unsigned i = 0; i < REGION_CLASSES; i++)
        r->free_lists[i] = NULL;
    return r;
}

void region_free(region *r)
{
    if (r != NULL)
        munmap(r, r->reserve);
}

void *region_alloc(region *r, size_t size)
{
    if (size == 0)
        size = 1;
    unsigned k = size_class(size);
    size_t block = (size_t)1 << (REGION_MIN_SHIFT + k);
    if (block < size)
        return NULL;
    free_block *f = r->free_lists[k];
    if (f != NULL) {
        r->free_lists[k] = f->next;
        return f;
    }
    if (block > r->reserve - r->top)
        return NULL;
    void *p = (char *)r + r->top;
    r->top += block;
    return p;
}

void region_release(region *r, void *ptr, size_t size)
{
    if (ptr == NULL)
        return;
    unsigned k = size_class(size == 0 ? 1 : size);
    free_block *f = ptr;
    f->next = r->free_lists[k];
    r->free_lists[k] = f;
}

size_t region_used(const region *r)
{
    return r->top;
}
