/* The greedy baselines on the scalar cost core (_scalar.c): a lazy priority
 * queue, only the vertices an elimination touched re-scored.  Plain C11. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_scalar.h"
#include "_rng.h"

typedef struct {
    i64 key[3];
    int v, version;
} Entry;

typedef struct {
    Entry *a;
    int n, cap;
} Heap;

static int entry_less(const Entry *x, const Entry *y) {
    for (int k = 0; k < 3; k++)
        if (x->key[k] != y->key[k]) return x->key[k] < y->key[k];
    return x->v < y->v;
}

static void heap_push(Heap *h, Entry e) {
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 64;
        h->a = realloc(h->a, sizeof(Entry) * h->cap);
        if (!h->a) abort();
    }
    int i = h->n++;
    while (i > 0) {
        int up = (i - 1) / 2;
        if (!entry_less(&e, &h->a[up])) break;
        h->a[i] = h->a[up];
        i = up;
    }
    h->a[i] = e;
}

static Entry heap_pop(Heap *h) {
    Entry top = h->a[0], last = h->a[--h->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && entry_less(&h->a[c + 1], &h->a[c])) c++;
        if (!entry_less(&h->a[c], &last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    h->a[i] = last;
    return top;
}

static i64 term(Graph *g, int code, int v, double noise, uint64_t *rng) {
    switch (code) {
    case T_MULTS: return cc_cost(g, v);
    case T_MULTS_MINUS_REMOVED: return cc_cost(g, v) - g->pred[v].n - g->succ[v].n;
    case T_FILL: return cc_fill(g, v);
    case T_POSITION: return v;
    case T_NEG_POSITION: return -(i64)v;
    case T_NOISY_MULTS:
        return (i64)((double)cc_cost(g, v) * (1.0 + noise * rng_unit(rng)) * 4096.0);
    default: return (i64)(rng_next(rng) >> 2);
    }
}

static Entry score(Graph *g, int v, const int *terms, int nterms, int version,
                   double noise, uint64_t *rng) {
    Entry e;
    for (int k = 0; k < 3; k++) e.key[k] = k < nterms ? term(g, terms[k], v, noise, rng) : 0;
    e.v = v;
    e.version = version;
    return e;
}

/* A greedy order of the intermediates inter[0:len] by the rule's score terms
 * (lowest first); the graph is reset first and left eliminated.  A rule with
 * fill re-scores the other predecessors of v's successors too (their fill
 * changes).  Returns len, -1 if the deadline passed, or -2 once the order's
 * multiplications pass cap (<= 0: none). */
int cc_greedy(Graph *g, const int *inter, int len, const int *terms, int nterms,
              double noise, uint64_t seed, int *order, double deadline, i64 cap) {
    i64 total = 0;
    uint64_t rng = seed;
    int needs_fill = 0;
    for (int k = 0; k < nterms; k++) needs_fill |= terms[k] == T_FILL;
    cc_reset_to(g, needs_fill); /* the fill rule reads outputs' predecessors */
    int saved = g->logging;
    g->logging = 0;
    int *version = calloc(g->n ? g->n : 1, sizeof(int));
    unsigned char *inside = calloc(g->n ? g->n : 1, 1);
    int *touched = cc_xmalloc(sizeof(int) * (g->n ? g->n : 1));
    if (!version || !inside) abort();
    Heap h = {0};
    for (int k = 0; k < len; k++) {
        inside[inter[k]] = 1;
        heap_push(&h, score(g, inter[k], terms, nterms, 0, noise, &rng));
    }
    int done = 0, status = 0;
    while (done < len) {
        if (deadline > 0 && (done & 127) == 127 && cc_now() > deadline) {
            status = -1;
            break;
        }
        Entry e = heap_pop(&h);
        int v = e.v;
        if (g->gone[v] || e.version != version[v]) continue;
        int nt = 0, gen = cc_next_gen(g);
        Set *P = &g->pred[v], *S = &g->succ[v];
        for (int k = 0; k < P->n; k++) {
            int u = P->e[k] >> 1;
            if (g->stamp[u] != gen) { g->stamp[u] = gen; touched[nt++] = u; }
        }
        for (int k = 0; k < S->n; k++) {
            int u = S->e[k] >> 1;
            if (g->stamp[u] != gen) { g->stamp[u] = gen; touched[nt++] = u; }
            if (needs_fill) {
                const Set *ps = &g->pred[u];
                for (int j = 0; j < ps->n; j++) {
                    int w = ps->e[j] >> 1;
                    if (g->stamp[w] != gen) { g->stamp[w] = gen; touched[nt++] = w; }
                }
            }
        }
        total += cc_eliminate(g, v);
        order[done++] = v;
        if (cap > 0 && total > cap) {
            status = -2;
            break;
        }
        for (int k = 0; k < nt; k++) {
            int u = touched[k];
            if (!inside[u] || g->gone[u]) continue;
            heap_push(&h, score(g, u, terms, nterms, ++version[u], noise, &rng));
        }
    }
    free(h.a); free(version); free(inside); free(touched);
    g->logging = saved;
    return status ? status : len;
}

