//  array.c: growing an array by doubling (see spw_array.h).

#include "spw_array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int spw_grow(void *items, size_t *size, size_t needed, size_t item_size, size_t first,
             size_t limit)
{
    if (needed <= *size)
        return 0;
    if ((limit && needed > limit) || item_size == 0)
        return -1;
    size_t grown = *size ? *size : (first ? first : 1);
    while (grown < needed)
        grown = grown > SIZE_MAX / 2 ? needed : grown * 2;
    if (limit && grown > limit)
        grown = limit;
    if (grown > SIZE_MAX / item_size)
        return -1;
    //  The caller's pointer is read and written as bytes: it may point to
    //  any type, and only its value passes through realloc.
    void *array;
    memcpy(&array, items, sizeof array);
    void *more = realloc(array, grown * item_size);
    if (!more)
        return -1;
    memcpy(items, &more, sizeof more);
    *size = grown;
    return 0;
}
