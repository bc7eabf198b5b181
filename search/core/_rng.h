/* The random source of the searches in C (splitmix64), shared by _greedy.c and
 * _anneal.c.  Plain C11. */
#ifndef CCELIM_RNG_H
#define CCELIM_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline double rng_unit(uint64_t *s) { return (rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

#endif
