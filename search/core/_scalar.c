/* Fast scalar elimination: the cost core of ccelim for scalar graphs, in C.
 *
 * The definition lives in graphs/elimination.py + graphs/algebra.py; this file
 * makes it fast and is checked against it in tests/search/test_core.py.  A scalar
 * partial is either valued (a number) or value-less (a copy).  Eliminating v
 * costs (valued preds of v) x (valued succs of v) multiplications; a product is
 * value-less only when both factors are, and anything added onto an existing
 * edge is valued.
 *
 * The graph is kept as per-vertex sets of predecessors and successors (Set
 * below: each edge with its value-less flag, in the memory of its own vertex),
 * and an undo log, so that a search can eliminate a few vertices, price them
 * and take them back.  Loaded with ctypes by search/core/scalar.py; plain C11,
 * no Python headers.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef long long i64;

/* One side of a vertex's adjacency: its neighbours, each stored as
 * (neighbour << 1) | value_less, in insertion order (removal moves the last
 * entry into the gap).  A set of more than SET_SMALL entries also has an
 * open-addressing index ((neighbour + 1) << 32 | position, 0: empty slot), so
 * that a lookup touches this vertex's memory only: eliminating v looks up
 * succ[p] for every p in P(v) (or pred[s] for every s in S(v)), a few small
 * tables that stay in cache, where one table of all the graph's edges meant a
 * random memory access per multiplication. */
enum { SET_SMALL = 8, SET_MIN_BITS = 6, SET_INLINE = 9 };

/* 64 bytes: a small set's entries share its cache line. */
typedef struct {
    int *e; /* own[] while it fits */
    uint64_t *idx; /* NULL while the set is small */
    int n, cap, ibits;
    int own[SET_INLINE];
} Set;

typedef struct {
    int n;
    /* the graph as given, to reset to */
    int *ip, *ii;
    unsigned char *ivl;
    Set *pred, *succ;
    int *valued_pred, *valued_succ; /* counts of valued edges */
    unsigned char *gone;
    /* Vertices that may be eliminated (the intermediates).  An edge is kept in
     * pred[s] only where s may be eliminated or p may not, and in succ[p]
     * only where p may be eliminated or s may not (full: in both always): an
     * elimination enumerates only the sets of vertices that may be eliminated,
     * and never updates an output's huge set of predecessors. */
    unsigned char *elim;
    int full;
    int *log;
    i64 loglen, logcap;
    int logging;
    int *stamp, *tmp_p, *tmp_s;
    unsigned char *tmp_pvl, *tmp_svl;
    int gen;
} Graph;

enum { OP_ADD = 1, OP_FLAG = 2, OP_DEL = 3, OP_GONE = 4 };

double cc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

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
        /* from the end: undo removes the entries added last */
        int want = (nb << 1) | 1;
        for (int k = a->n - 1; k >= 0; k--)
            if ((a->e[k] | 1) == want) return k;
        return -1;
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
            a->e = xmalloc(sizeof(int) * 2 * a->cap);
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

static inline int on_pred(const Graph *g, int s, int p) {
    return g->full || g->elim[s] || !g->elim[p];
}

static inline int on_succ(const Graph *g, int s, int p) {
    return g->full || g->elim[p] || !g->elim[s];
}

static inline void insert_edge(Graph *g, int s, int p, unsigned char vl) {
    if (on_pred(g, s, p)) set_add(&g->pred[s], p, vl);
    if (on_succ(g, s, p)) set_add(&g->succ[p], s, vl);
    if (!vl) {
        g->valued_pred[s]++;
        g->valued_succ[p]++;
    }
}

/* Removes edge (p -> s); returns whether it was value-less. */
static inline unsigned char remove_edge(Graph *g, int s, int p) {
    Set *ps = &g->pred[s], *sp = &g->succ[p];
    unsigned char vl = 0;
    if (on_pred(g, s, p)) vl = set_del(ps, set_find(ps, p));
    if (on_succ(g, s, p)) vl = set_del(sp, set_find(sp, s));
    if (!vl) {
        g->valued_pred[s]--;
        g->valued_succ[p]--;
    }
    return vl;
}

static void log_push(Graph *g, int op, int a, int b, int c) {
    if (!g->logging) return;
    if (g->loglen + 4 > g->logcap) {
        g->logcap = g->logcap ? 2 * g->logcap : 1024;
        g->log = realloc(g->log, sizeof(int) * g->logcap);
        if (!g->log) abort();
    }
    g->log[g->loglen++] = op;
    g->log[g->loglen++] = a;
    g->log[g->loglen++] = b;
    g->log[g->loglen++] = c;
}

static void reset_to(Graph *g, int full) {
    g->full = full;
    for (int v = 0; v < g->n; v++) {
        set_clear(&g->pred[v]);
        set_clear(&g->succ[v]);
    }
    memset(g->valued_pred, 0, sizeof(int) * g->n);
    memset(g->valued_succ, 0, sizeof(int) * g->n);
    memset(g->gone, 0, g->n);
    for (int s = 0; s < g->n; s++)
        for (int k = g->ip[s]; k < g->ip[s + 1]; k++) insert_edge(g, s, g->ii[k], g->ivl[k]);
    g->loglen = 0;
}

void cc_reset(Graph *g) { reset_to(g, 0); }

/* n vertices; the predecessors of s are ii[ip[s]:ip[s+1]], vl = value-less;
 * only the vertices inter[0:ninter] may be eliminated (inter NULL: all). */
Graph *cc_new(int n, const int *ip, const int *ii, const unsigned char *vl,
              const int *inter, int ninter) {
    if (n >= (1 << 30)) abort(); /* a set entry keeps the vertex in 31 bits */
    Graph *g = calloc(1, sizeof(Graph));
    if (!g) abort();
    g->n = n;
    int m = ip[n];
    int n1 = n ? n : 1;
    g->ip = xmalloc(sizeof(int) * (n + 1));
    g->ii = xmalloc(sizeof(int) * m);
    g->ivl = xmalloc(m);
    memcpy(g->ip, ip, sizeof(int) * (n + 1));
    memcpy(g->ii, ii, sizeof(int) * m);
    memcpy(g->ivl, vl, m);
    g->pred = aligned_alloc(64, sizeof(Set) * n1);
    g->succ = aligned_alloc(64, sizeof(Set) * n1);
    if (!g->pred || !g->succ) abort();
    memset(g->pred, 0, sizeof(Set) * n1);
    memset(g->succ, 0, sizeof(Set) * n1);
    g->valued_pred = xmalloc(sizeof(int) * n1);
    g->valued_succ = xmalloc(sizeof(int) * n1);
    g->gone = xmalloc(n1);
    g->stamp = calloc(n1, sizeof(int));
    g->tmp_p = xmalloc(sizeof(int) * n1);
    g->tmp_s = xmalloc(sizeof(int) * n1);
    g->tmp_pvl = xmalloc(n1);
    g->tmp_svl = xmalloc(n1);
    g->elim = calloc(n1, 1);
    if (!g->elim) abort();
    if (inter)
        for (int k = 0; k < ninter; k++) g->elim[inter[k]] = 1;
    else
        memset(g->elim, 1, n1);
    if (!g->pred || !g->succ || !g->stamp) abort();
    cc_reset(g);
    return g;
}

void cc_free(Graph *g) {
    if (!g) return;
    for (int v = 0; v < g->n; v++) {
        if (g->pred[v].e != g->pred[v].own) free(g->pred[v].e);
        if (g->succ[v].e != g->succ[v].own) free(g->succ[v].e);
        free(g->pred[v].idx);
        free(g->succ[v].idx);
    }
    free(g->pred); free(g->succ); free(g->ip); free(g->ii); free(g->ivl);
    free(g->valued_pred); free(g->valued_succ); free(g->gone); free(g->elim);
    free(g->stamp); free(g->tmp_p); free(g->tmp_s); free(g->tmp_pvl); free(g->tmp_svl);
    free(g->log);
    free(g);
}

static int next_gen(Graph *g) {
    if (++g->gen == 0x7fffffff) {
        memset(g->stamp, 0, sizeof(int) * g->n);
        g->gen = 1;
    }
    return g->gen;
}

/* Multiplications of eliminating v now. */
i64 cc_cost(const Graph *g, int v) {
    return (i64)g->valued_pred[v] * (i64)g->valued_succ[v];
}

/* Edges into and out of v now (what eliminating it removes). */
int cc_degree(const Graph *g, int v) { return g->pred[v].n + g->succ[v].n; }

/* Edges that eliminating v now would create. */
i64 cc_fill(Graph *g, int v) {
    const Set *P = &g->pred[v], *S = &g->succ[v];
    i64 fill = 0;
    for (int k = 0; k < P->n; k++) {
        int p = P->e[k] >> 1;
        for (int j = 0; j < S->n; j++) {
            int s = S->e[j] >> 1;
            fill += (on_succ(g, s, p) ? set_find(&g->succ[p], s)
                                      : set_find(&g->pred[s], p)) < 0;
        }
    }
    return fill;
}

/* Adds the product p -> s of an elimination: a new edge, or values onto a
 * value-less one (a sum has values).  Looks the edge up in succ[p] if in_succ
 * (it must be kept there), else in pred[s]. */
static inline void product(Graph *g, int s, int p, int in_succ, unsigned char vl) {
    Set *here = in_succ ? &g->succ[p] : &g->pred[s];
    int at = set_find(here, in_succ ? s : p);
    if (at < 0) {
        insert_edge(g, s, p, vl);
        log_push(g, OP_ADD, s, p, 0);
        return;
    }
    if (!(here->e[at] & 1)) return;
    here->e[at] &= ~1;
    if (in_succ ? on_pred(g, s, p) : on_succ(g, s, p)) {
        Set *there = in_succ ? &g->pred[s] : &g->succ[p];
        there->e[set_find(there, in_succ ? p : s)] &= ~1;
    }
    g->valued_pred[s]++;
    g->valued_succ[p]++;
    log_push(g, OP_FLAG, s, p, 0);
}

/* Eliminates v; returns its multiplications (-1: v may not be eliminated). */
i64 cc_eliminate(Graph *g, int v) {
    if (!g->elim[v]) return -1;
    i64 cost = cc_cost(g, v);
    int np = g->pred[v].n, ns = g->succ[v].n;
    int *P = g->tmp_p, *S = g->tmp_s;
    unsigned char *pvl = g->tmp_pvl, *svl = g->tmp_svl;
    for (int k = 0; k < np; k++) {
        P[k] = g->pred[v].e[k] >> 1;
        pvl[k] = g->pred[v].e[k] & 1;
    }
    for (int j = 0; j < ns; j++) {
        S[j] = g->succ[v].e[j] >> 1;
        svl[j] = g->succ[v].e[j] & 1;
    }
    /* Each set gets its new entries in the same order either way round; the
     * inner loop looks up one set, kept in cache. */
    if (np <= ns) {
        for (int k = 0; k < np; k++) {
            int p = P[k];
            if (g->full || g->elim[p]) /* all in succ[p] */
                for (int j = 0; j < ns; j++) product(g, S[j], p, 1, pvl[k] & svl[j]);
            else
                for (int j = 0; j < ns; j++)
                    product(g, S[j], p, on_succ(g, S[j], p), pvl[k] & svl[j]);
        }
    } else {
        for (int j = 0; j < ns; j++) {
            int s = S[j];
            if (g->full || g->elim[s]) /* all in pred[s] */
                for (int k = 0; k < np; k++) product(g, s, P[k], 0, pvl[k] & svl[j]);
            else
                for (int k = 0; k < np; k++)
                    product(g, s, P[k], !on_pred(g, s, P[k]), pvl[k] & svl[j]);
        }
    }
    log_push(g, OP_GONE, v, v, 0);
    for (int j = 0; j < ns; j++) {
        Set *ps = &g->pred[S[j]];
        if (on_pred(g, S[j], v)) set_del(ps, set_find(ps, v));
        if (!svl[j]) g->valued_pred[S[j]]--;
        log_push(g, OP_DEL, S[j], v, svl[j]);
    }
    for (int k = 0; k < np; k++) {
        Set *sp = &g->succ[P[k]];
        if (on_succ(g, v, P[k])) set_del(sp, set_find(sp, v));
        if (!pvl[k]) g->valued_succ[P[k]]--;
        log_push(g, OP_DEL, v, P[k], pvl[k]);
    }
    set_clear(&g->pred[v]);
    set_clear(&g->succ[v]);
    g->valued_pred[v] = g->valued_succ[v] = 0;
    g->gone[v] = 1;
    return cost;
}

void cc_set_logging(Graph *g, int on) {
    g->logging = on;
    if (!on) g->loglen = 0;
}

i64 cc_mark(const Graph *g) { return g->loglen; }

/* Takes back every elimination logged after mark. */
void cc_undo(Graph *g, i64 mark) {
    while (g->loglen > mark) {
        g->loglen -= 4;
        int op = g->log[g->loglen], s = g->log[g->loglen + 1], p = g->log[g->loglen + 2];
        if (op == OP_DEL) {
            insert_edge(g, s, p, (unsigned char)g->log[g->loglen + 3]);
        } else if (op == OP_GONE) {
            g->gone[s] = 0;
        } else if (op == OP_ADD) {
            remove_edge(g, s, p);
        } else { /* OP_FLAG: the edge was value-less before */
            Set *ps = &g->pred[s], *sp = &g->succ[p];
            if (on_pred(g, s, p)) ps->e[set_find(ps, p)] |= 1;
            if (on_succ(g, s, p)) sp->e[set_find(sp, s)] |= 1;
            g->valued_pred[s]--;
            g->valued_succ[p]--;
        }
    }
}

/* Per-step multiplications of order from the graph as given (reset first).
 * Returns 0, -1 if the deadline (cc_now() seconds; <= 0: none) passed, -2
 * once the total passes cap (<= 0: none), or -3 if order holds a vertex that
 * may not be eliminated. */
int cc_order_cost(Graph *g, const int *order, int len, i64 *costs, double deadline,
                  i64 cap) {
    i64 total = 0;
    cc_reset(g);
    int saved = g->logging;
    g->logging = 0;
    int status = 0;
    for (int k = 0; k < len; k++) {
        if (deadline > 0 && (k & 255) == 255 && cc_now() > deadline) {
            status = -1;
            break;
        }
        costs[k] = cc_eliminate(g, order[k]);
        if (costs[k] < 0) {
            status = -3;
            break;
        }
        total += costs[k];
        if (cap > 0 && total > cap) {
            status = -2;
            break;
        }
    }
    g->logging = saved;
    return status;
}

/* ------------------------------------------------------------------ greedy */

/* Score terms of a greedy rule (graphs/baselines.py GREEDY_RULES codes). */
enum { T_MULTS = 0, T_MULTS_MINUS_REMOVED = 1, T_FILL = 2, T_POSITION = 3,
       T_NEG_POSITION = 4, T_NOISY_MULTS = 5, T_RANDOM = 6 };

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

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

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
    reset_to(g, needs_fill); /* the fill rule reads outputs' predecessors */
    int saved = g->logging;
    g->logging = 0;
    int *version = calloc(g->n ? g->n : 1, sizeof(int));
    unsigned char *inside = calloc(g->n ? g->n : 1, 1);
    int *touched = xmalloc(sizeof(int) * (g->n ? g->n : 1));
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
        int nt = 0, gen = next_gen(g);
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

/* --------------------------------------------------------------- annealing */

/* Simulated annealing over orders with a cursor: the graph is kept eliminated
 * up to the cursor c, and every move rewrites a window order[c:c+d+1] that
 * starts there (swap two neighbours, move order[c] later, move order[c+d] to c,
 * swap the ends).  The window is priced by eliminating it on the graph and
 * undoing that; the steps after it keep their costs, since the set eliminated
 * before each of them is unchanged.  Then the cursor advances one step; at the
 * end of the order the graph is reset and the sweep starts again.  A move costs
 * a few eliminations of vertices near the cursor, whatever the graph's size. */
typedef struct {
    Graph *g;
    int n;
    int *inter, *order, *best, *seg;
    i64 *costs, *segcost;
    i64 total, best_total, moves, t, run_moves;
    int cursor, run, greedy_restarts;
    int best_here; /* order == best and costs are its steps: no re-pricing */
    uint64_t rng;
    double hot, cold, scale, t_hi, t_lo, mean_dist;
} Anneal;

static int propose(Anneal *a, int *d_out) {
    int c = a->cursor, n = a->n, *o = a->order, *seg = a->seg;
    int room = n - 1 - c;
    double r = rng_unit(&a->rng);
    int d = 1;
    if (r >= 0.35) {
        double e = -log(1.0 - rng_unit(&a->rng)) * a->mean_dist;
        d = 1 + (int)e;
    }
    if (d > room) d = room;
    if (r < 0.35 || d == 1) {
        seg[0] = o[c + 1];
        seg[1] = o[c];
    } else if (r < 0.6) { /* order[c] later, to c + d */
        for (int k = 0; k < d; k++) seg[k] = o[c + 1 + k];
        seg[d] = o[c];
    } else if (r < 0.85) { /* order[c + d] back to c */
        seg[0] = o[c + d];
        for (int k = 0; k < d; k++) seg[k + 1] = o[c + k];
    } else {
        for (int k = 0; k <= d; k++) seg[k] = o[c + k];
        seg[0] = o[c + d];
        seg[d] = o[c];
    }
    *d_out = d;
    return 1;
}

/* Prices the proposed window; returns the change of the total. */
static i64 price(Anneal *a, int d) {
    Graph *g = a->g;
    i64 mark = g->loglen, delta = 0;
    g->logging = 1;
    for (int k = 0; k <= d; k++) {
        a->segcost[k] = cc_eliminate(g, a->seg[k]);
        delta += a->segcost[k] - a->costs[a->cursor + k];
    }
    cc_undo(g, mark);
    g->logging = 0;
    return delta;
}

static void advance(Anneal *a) {
    if (a->cursor + 2 >= a->n) {
        cc_reset(a->g);
        a->cursor = 0;
        return;
    }
    a->g->logging = 0;
    cc_eliminate(a->g, a->order[a->cursor]);
    a->cursor++;
}

static void start_from(Anneal *a, const int *order, const i64 *costs) {
    memcpy(a->order, order, sizeof(int) * a->n);
    if (costs)
        memcpy(a->costs, costs, sizeof(i64) * a->n);
    else
        cc_order_cost(a->g, a->order, a->n, a->costs, 0, 0);
    a->total = 0;
    for (int k = 0; k < a->n; k++) a->total += a->costs[k];
    cc_reset(a->g);
    a->cursor = 0;
    a->best_here = 0;
}

static void note_best(Anneal *a) {
    if (a->total < a->best_total) {
        a->best_total = a->total;
        memcpy(a->best, a->order, sizeof(int) * a->n);
        a->best_here = 1;
    }
}

/* inter: the intermediates in program order; start: the first order;
 * greedy_restarts: every other run starts from a greedy-randomised Markowitz
 * order (else always from the best); start_costs: start's per-step costs if
 * known (NULL: priced here). */
Anneal *sa_new(const int *ip, const int *ii, const unsigned char *vl, int num_vertices,
               const int *inter, const int *start, int n, uint64_t seed, double hot,
               double cold, i64 run_moves, double mean_dist, int greedy_restarts,
               const i64 *start_costs) {
    Anneal *a = calloc(1, sizeof(Anneal));
    if (!a) abort();
    a->g = cc_new(num_vertices, ip, ii, vl, inter, n);
    a->n = n;
    a->inter = xmalloc(sizeof(int) * (n + 1));
    a->order = xmalloc(sizeof(int) * (n + 1));
    a->best = xmalloc(sizeof(int) * (n + 1));
    a->seg = xmalloc(sizeof(int) * (n + 1));
    a->costs = xmalloc(sizeof(i64) * (n + 1));
    a->segcost = xmalloc(sizeof(i64) * (n + 1));
    memcpy(a->inter, inter, sizeof(int) * n);
    a->rng = seed * 0x2545f4914f6cdd1dULL + 1;
    a->hot = hot;
    a->cold = cold;
    a->run_moves = run_moves;
    a->mean_dist = mean_dist;
    a->greedy_restarts = greedy_restarts;
    start_from(a, start, start_costs);
    a->best_total = a->total;
    memcpy(a->best, a->order, sizeof(int) * n);
    a->best_here = 1;
    /* scale: the mean uphill change of moves from the start order */
    double up = 0;
    int ups = 0, tries = n < 15 ? 20 * n : 300;
    if (n >= 2) {
        for (int k = 0; k < tries; k++) {
            int d;
            propose(a, &d);
            i64 delta = price(a, d);
            if (delta > 0) { up += (double)delta; ups++; }
            advance(a);
        }
        cc_reset(a->g);
        a->cursor = 0;
    }
    a->scale = ups ? up / ups : 1.0;
    a->t = a->run_moves; /* the first move starts a run */
    return a;
}

void sa_free(Anneal *a) {
    if (!a) return;
    cc_free(a->g);
    free(a->inter); free(a->order); free(a->best); free(a->seg);
    free(a->costs); free(a->segcost);
    free(a);
}

static void start_run(Anneal *a) {
    a->run++;
    if (a->greedy_restarts && a->run % 2 == 0) {
        /* a fresh greedy-randomised Markowitz order */
        int terms[2] = {T_NOISY_MULTS, T_RANDOM};
        int *tmp = xmalloc(sizeof(int) * (a->n + 1));
        cc_greedy(a->g, a->inter, a->n, terms, 2, 0.5, rng_next(&a->rng), tmp, 0, 0);
        start_from(a, tmp, NULL);
        free(tmp);
        a->t_hi = a->hot * a->scale;
        note_best(a);
    } else if (a->best_here) { /* a big graph's pricing pass is not free */
        cc_reset(a->g);
        a->cursor = 0;
        a->t_hi = (a->run == 1 ? 1.0 : 0.33) * a->hot * a->scale;
    } else {
        start_from(a, a->best, NULL);
        a->best_here = 1;
        a->t_hi = (a->run == 1 ? 1.0 : 0.33) * a->hot * a->scale;
    }
    a->t_lo = a->cold * a->scale;
    a->t = 0;
}

/* Makes num_moves more moves; returns the best total so far. */
i64 sa_step(Anneal *a, i64 num_moves) {
    if (a->n < 2) {
        a->moves += num_moves;
        return a->best_total;
    }
    double log_ratio = 0;
    if (a->t < a->run_moves) log_ratio = log(a->t_lo / a->t_hi);
    for (i64 m = 0; m < num_moves; m++) {
        if (a->t >= a->run_moves) {
            start_run(a);
            log_ratio = log(a->t_lo / a->t_hi);
        }
        double temp = a->t_hi * exp(log_ratio * (double)a->t / (double)a->run_moves);
        a->t++;
        a->moves++;
        int d;
        propose(a, &d);
        i64 delta = price(a, d);
        if (delta <= 0 || rng_unit(&a->rng) < exp(-(double)delta / temp)) {
            memcpy(a->order + a->cursor, a->seg, sizeof(int) * (d + 1));
            memcpy(a->costs + a->cursor, a->segcost, sizeof(i64) * (d + 1));
            a->total += delta;
            a->best_here = 0;
            if (delta < 0) note_best(a);
        }
        advance(a);
    }
    return a->best_total;
}

/* Takes order (true cost) as the best if cheaper; the next restart uses it. */
void sa_offer(Anneal *a, const int *order, i64 cost) {
    if (cost < a->best_total) {
        a->best_total = cost;
        memcpy(a->best, order, sizeof(int) * a->n);
        a->best_here = 0;
    }
}

void sa_best(const Anneal *a, int *out) { memcpy(out, a->best, sizeof(int) * a->n); }
i64 sa_moves(const Anneal *a) { return a->moves; }
double sa_scale(const Anneal *a) { return a->scale; }
