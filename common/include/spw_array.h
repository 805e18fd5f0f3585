//  spw_array.h: growing an array by doubling, for the tables that grow as
//  they are used (the hub's indexes and lists, the benchmarks' samples).
//  Internal to Spillway's programs: not an installed header.

#ifndef SPW_ARRAY_H_INCLUDED
#define SPW_ARRAY_H_INCLUDED

#include <stddef.h>

//  Grows the array *items points to (item_size bytes an item, *size items
//  held) so that it holds at least needed: from first (at least 1) when it
//  is empty, doubling, and never past limit (0: no limit). items is the
//  address of the caller's pointer, of any item type. Returns 0 when it
//  holds needed (at once if it did), -1 if needed is past limit or memory
//  is short; the array and *size are then as they were.
int spw_grow(void *items, size_t *size, size_t needed, size_t item_size, size_t first,
             size_t limit);

#endif
