/* The per-vertex adjacency sets of the scalar core (Set in _scalar.h): find,
 * add, remove, clear.  Included by _scalar.c only. */
#ifndef CCELIM_SETS_H
#define CCELIM_SETS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_scalar.h"

#if defined(__SSE2__)
#include <emmintrin.h>
_Static_assert(SET_SMALL == 16 && SET_INLINE == 8, "set_find compares 8 or 16 entries");
#endif

#define SLOT_KEY 0xffffffff00000000ULL

static inline uint32_t set_home(int nb, int bits) {
    return ((uint32_t)(nb + 1) * 2654435761u) >> (32 - bits);
}

static inline uint64_t slot_key(int nb) { return (uint64_t)(uint32_t)(nb + 1) << 32; }

/* Index slot of nb (its key or the empty slot where it would go). */
static inline uint32_t idx_slot(const Set *a, int nb) {
    uint32_t mask = (1u << a->ibits) - 1, i = set_home(nb, a->ibits);
    uint64_t key = slot_key(nb);
    while (a->idx[i] && (a->idx[i] & SLOT_KEY) != key) i = (i + 1) & mask;
    return i;
}

static void idx_build(Set *a, int bits) {
    free(a->idx);
    a->ibits = bits;
    a->idx = calloc((size_t)1 << bits, sizeof(uint64_t));
    if (!a->idx) abort();
    for (int k = 0; k < a->n; k++) {
        int nb = a->e[k] >> 1;
        a->idx[idx_slot(a, nb)] = slot_key(nb) | (uint32_t)k;
    }
}

/* Position of nb in the set, or -1. */
static inline int set_find(const Set *a, int nb) {
    if (!a->idx) {
        int want = (nb << 1) | 1;
#if defined(__SSE2__)
        /* A set without an index holds at most SET_SMALL = 16 entries: up to
         * 8 in own[] (8 readable ints), more in a heap array of at least 16.
         * Compare 8 (or 16) at once and mask those past n.  A scan that stops
         * at the match mispredicts a branch almost every lookup (a third of
         * the mispredictions of annealing on a 90-vertex graph).  16, not 8:
         * on g (95 intermediates, dense fill) sets grew past 8 and shrank
         * back on almost every priced move, and each time built a 64-slot
         * index (2 per move); the 16-wide scan made annealing there 14 %
         * faster. */
        if (!a->n) return -1;
        __m128i w = _mm_set1_epi32(want), one = _mm_set1_epi32(1);
        __m128i lo = _mm_or_si128(_mm_loadu_si128((const __m128i *)a->e), one);
        __m128i hi = _mm_or_si128(_mm_loadu_si128((const __m128i *)(a->e + 4)), one);
        int hits = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(lo, w))) |
                   _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi, w))) << 4;
        if (a->n > 8) {
            __m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)(a->e + 8)), one);
            __m128i y = _mm_or_si128(_mm_loadu_si128((const __m128i *)(a->e + 12)), one);
            hits |= (_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(x, w))) |
                     _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(y, w))) << 4) << 8;
        }
        hits &= (1 << a->n) - 1;
        return hits ? __builtin_ctz(hits) : -1;
#else
        for (int k = a->n - 1; k >= 0; k--) /* from the end: undo takes the last */
            if ((a->e[k] | 1) == want) return k;
        return -1;
#endif
    }
    uint64_t x = a->idx[idx_slot(a, nb)];
    return x ? (int)(uint32_t)x : -1;
}

static inline int set_add(Set *a, int nb, unsigned char vl) {
    if (a->n == a->cap) {
        if (!a->cap) {
            a->e = a->own;
            a->cap = SET_INLINE;
        } else if (a->e == a->own) {
            a->e = cc_xmalloc(sizeof(int) * 2 * a->cap);
            memcpy(a->e, a->own, sizeof(int) * a->n);
            a->cap *= 2;
        } else {
            a->cap *= 2;
            a->e = realloc(a->e, sizeof(int) * a->cap);
            if (!a->e) abort();
        }
    }
    int pos = a->n++;
    a->e[pos] = (nb << 1) | vl;
    if (a->idx) {
        if (2 * a->n > (1 << a->ibits))
            idx_build(a, a->ibits + 1);
        else
            a->idx[idx_slot(a, nb)] = slot_key(nb) | (uint32_t)pos;
    } else if (a->n > SET_SMALL) {
        idx_build(a, SET_MIN_BITS);
    }
    return pos;
}

/* Removes nb's index slot (backward shift: no tombstones). */
static void idx_remove(Set *a, int nb) {
    uint32_t mask = (1u << a->ibits) - 1, i = idx_slot(a, nb), j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!a->idx[j]) break;
        uint32_t home = set_home((int)(a->idx[j] >> 32) - 1, a->ibits);
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            a->idx[i] = a->idx[j];
            i = j;
        }
    }
    a->idx[i] = 0;
}

/* Removes the entry at pos; returns whether it was value-less. */
static inline unsigned char set_del(Set *a, int pos) {
    int x = a->e[pos], last = --a->n;
    if (a->idx) idx_remove(a, x >> 1);
    if (pos != last) {
        a->e[pos] = a->e[last];
        if (a->idx) a->idx[idx_slot(a, a->e[pos] >> 1)] = slot_key(a->e[pos] >> 1) | (uint32_t)pos;
    }
    if (a->idx && 2 * a->n <= SET_SMALL) { /* small again: a scan is as fast */
        free(a->idx);
        a->idx = NULL;
    } else if (a->idx && a->ibits > SET_MIN_BITS && (a->n << 4) < (1 << a->ibits)) {
        idx_build(a, a->ibits - 1); /* keeps a shrunken set's lookups in cache */
    }
    return (unsigned char)(x & 1);
}

static inline void set_clear(Set *a) {
    a->n = 0;
    if (a->idx) {
        free(a->idx);
        a->idx = NULL;
    }
}

#endif
