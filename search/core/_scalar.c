/* Fast scalar elimination: the cost core of ccelim for scalar graphs, in C.
 *
 * The definition lives in graphs/elimination.py + graphs/algebra.py; this file
 * makes it fast and is checked against it in tests/search/test_core.py.  A scalar
 * partial is either valued (a number) or value-less (a copy).  Eliminating v
 * costs (valued preds of v) x (valued succs of v) multiplications; a product is
 * value-less only when both factors are, and anything added onto an existing
 * edge is valued.
 *
 * The graph is kept as adjacency arrays with a per-edge value-less flag on both
 * sides, and an undo log, so that a search can eliminate a few vertices, price
 * them and take them back.  Loaded with ctypes by search/core/scalar.py; plain C99,
 * no Python headers.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef long long i64;

typedef struct {
    int *v;
    int n, cap;
} Adj;

/* Edge (p -> s) in an open-addressing table: its positions in pred[s] and
 * succ[p] (so that removal is O(1)) and whether it is value-less. */
typedef struct {
    uint64_t key; /* 0: empty slot */
    int in_pred, in_succ;
    unsigned char vl;
} Slot;

typedef struct {
    int n;
    /* the graph as given, to reset to */
    int *ip, *ii;
    unsigned char *ivl;
    Adj *pred, *succ;
    int *valued_pred, *valued_succ; /* counts of valued edges */
    unsigned char *gone;
    Slot *table;
    uint64_t mask; /* table size - 1 */
    i64 used;
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

static int adj_push(Adj *a, int v) {
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 4;
        a->v = realloc(a->v, sizeof(int) * a->cap);
        if (!a->v) abort();
    }
    a->v[a->n] = v;
    return a->n++;
}

static inline uint64_t edge_key(int s, int p) {
    return ((uint64_t)(unsigned)(s + 1) << 32) | (uint64_t)(unsigned)(p + 1);
}

static inline uint64_t slot_of(const Graph *g, uint64_t key) {
    key *= 0x9e3779b97f4a7c15ULL;
    return (key ^ (key >> 29)) & g->mask;
}

static i64 find(const Graph *g, int s, int p) {
    uint64_t key = edge_key(s, p), i = slot_of(g, key);
    while (g->table[i].key) {
        if (g->table[i].key == key) return (i64)i;
        i = (i + 1) & g->mask;
    }
    return -1;
}

static void grow(Graph *g) {
    Slot *old = g->table;
    uint64_t size = g->mask + 1;
    g->mask = 2 * size - 1;
    g->table = calloc(2 * size, sizeof(Slot));
    if (!g->table) abort();
    for (uint64_t k = 0; k < size; k++) {
        if (!old[k].key) continue;
        uint64_t i = slot_of(g, old[k].key);
        while (g->table[i].key) i = (i + 1) & g->mask;
        g->table[i] = old[k];
    }
    free(old);
}

static void insert_edge(Graph *g, int s, int p, unsigned char vl) {
    if (2 * (g->used + 1) > (i64)(g->mask + 1)) grow(g);
    uint64_t key = edge_key(s, p), i = slot_of(g, key);
    while (g->table[i].key) i = (i + 1) & g->mask;
    g->table[i].key = key;
    g->table[i].in_pred = adj_push(&g->pred[s], p);
    g->table[i].in_succ = adj_push(&g->succ[p], s);
    g->table[i].vl = vl;
    g->used++;
    if (!vl) {
        g->valued_pred[s]++;
        g->valued_succ[p]++;
    }
}

/* Removes edge (p -> s); returns whether it was value-less. */
static unsigned char remove_edge(Graph *g, int s, int p) {
    i64 at = find(g, s, p);
    Slot e = g->table[at];
    Adj *ps = &g->pred[s], *sp = &g->succ[p];
    int last = ps->v[--ps->n];
    if (e.in_pred != ps->n) {
        ps->v[e.in_pred] = last;
        g->table[find(g, s, last)].in_pred = e.in_pred;
    }
    last = sp->v[--sp->n];
    if (e.in_succ != sp->n) {
        sp->v[e.in_succ] = last;
        g->table[find(g, last, p)].in_succ = e.in_succ;
    }
    if (!e.vl) {
        g->valued_pred[s]--;
        g->valued_succ[p]--;
    }
    /* backward-shift deletion keeps probe chains whole without tombstones */
    uint64_t i = (uint64_t)at, j = i;
    for (;;) {
        j = (j + 1) & g->mask;
        if (!g->table[j].key) break;
        uint64_t home = slot_of(g, g->table[j].key);
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            g->table[i] = g->table[j];
            i = j;
        }
    }
    g->table[i].key = 0;
    g->used--;
    return e.vl;
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

void cc_reset(Graph *g) {
    for (int v = 0; v < g->n; v++) g->pred[v].n = g->succ[v].n = 0;
    memset(g->valued_pred, 0, sizeof(int) * g->n);
    memset(g->valued_succ, 0, sizeof(int) * g->n);
    memset(g->gone, 0, g->n);
    memset(g->table, 0, sizeof(Slot) * (g->mask + 1));
    g->used = 0;
    for (int s = 0; s < g->n; s++)
        for (int k = g->ip[s]; k < g->ip[s + 1]; k++) insert_edge(g, s, g->ii[k], g->ivl[k]);
    g->loglen = 0;
}

/* n vertices; the predecessors of s are ii[ip[s]:ip[s+1]], vl = value-less. */
Graph *cc_new(int n, const int *ip, const int *ii, const unsigned char *vl) {
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
    g->pred = calloc(n1, sizeof(Adj));
    g->succ = calloc(n1, sizeof(Adj));
    g->valued_pred = xmalloc(sizeof(int) * n1);
    g->valued_succ = xmalloc(sizeof(int) * n1);
    g->gone = xmalloc(n1);
    g->stamp = calloc(n1, sizeof(int));
    g->tmp_p = xmalloc(sizeof(int) * n1);
    g->tmp_s = xmalloc(sizeof(int) * n1);
    g->tmp_pvl = xmalloc(n1);
    g->tmp_svl = xmalloc(n1);
    uint64_t size = 64;
    while (size < 4 * (uint64_t)(m + 1)) size *= 2;
    g->mask = size - 1;
    g->table = calloc(size, sizeof(Slot));
    if (!g->pred || !g->succ || !g->stamp || !g->table) abort();
    cc_reset(g);
    return g;
}

void cc_free(Graph *g) {
    if (!g) return;
    for (int v = 0; v < g->n; v++) {
        free(g->pred[v].v);
        free(g->succ[v].v);
    }
    free(g->pred); free(g->succ); free(g->ip); free(g->ii); free(g->ivl);
    free(g->valued_pred); free(g->valued_succ); free(g->gone); free(g->table);
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
    const Adj *P = &g->pred[v], *S = &g->succ[v];
    i64 fill = 0;
    for (int j = 0; j < S->n; j++)
        for (int k = 0; k < P->n; k++) fill += find(g, S->v[j], P->v[k]) < 0;
    return fill;
}

/* Eliminates v; returns its multiplications. */
i64 cc_eliminate(Graph *g, int v) {
    i64 cost = cc_cost(g, v);
    int np = g->pred[v].n, ns = g->succ[v].n;
    int *P = g->tmp_p, *S = g->tmp_s;
    unsigned char *pvl = g->tmp_pvl, *svl = g->tmp_svl;
    memcpy(P, g->pred[v].v, sizeof(int) * np);
    memcpy(S, g->succ[v].v, sizeof(int) * ns);
    for (int k = 0; k < np; k++) pvl[k] = g->table[find(g, v, P[k])].vl;
    for (int j = 0; j < ns; j++) svl[j] = g->table[find(g, S[j], v)].vl;
    for (int j = 0; j < ns; j++) {
        int s = S[j];
        for (int k = 0; k < np; k++) {
            int p = P[k];
            i64 at = find(g, s, p);
            if (at >= 0) {
                if (g->table[at].vl) { /* a sum has values */
                    g->table[at].vl = 0;
                    g->valued_pred[s]++;
                    g->valued_succ[p]++;
                    log_push(g, OP_FLAG, s, p, 0);
                }
            } else {
                insert_edge(g, s, p, pvl[k] && svl[j]);
                log_push(g, OP_ADD, s, p, 0);
            }
        }
    }
    log_push(g, OP_GONE, v, v, 0);
    for (int j = 0; j < ns; j++) log_push(g, OP_DEL, S[j], v, remove_edge(g, S[j], v));
    for (int k = 0; k < np; k++) log_push(g, OP_DEL, v, P[k], remove_edge(g, v, P[k]));
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
            i64 at = find(g, s, p);
            g->table[at].vl = 1;
            g->valued_pred[s]--;
            g->valued_succ[p]--;
        }
    }
}

/* Per-step multiplications of order from the graph as given (reset first).
 * Returns 0, -1 if the deadline (cc_now() seconds; <= 0: none) passed, or -2
 * once the total passes cap (<= 0: none). */
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
    cc_reset(g);
    int saved = g->logging;
    g->logging = 0;
    uint64_t rng = seed;
    int needs_fill = 0;
    for (int k = 0; k < nterms; k++) needs_fill |= terms[k] == T_FILL;
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
        Adj *P = &g->pred[v], *S = &g->succ[v];
        for (int k = 0; k < P->n; k++) {
            int u = P->v[k];
            if (g->stamp[u] != gen) { g->stamp[u] = gen; touched[nt++] = u; }
        }
        for (int k = 0; k < S->n; k++) {
            int u = S->v[k];
            if (g->stamp[u] != gen) { g->stamp[u] = gen; touched[nt++] = u; }
            if (needs_fill) {
                const Adj *ps = &g->pred[u];
                for (int j = 0; j < ps->n; j++) {
                    int w = ps->v[j];
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
}

static void note_best(Anneal *a) {
    if (a->total < a->best_total) {
        a->best_total = a->total;
        memcpy(a->best, a->order, sizeof(int) * a->n);
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
    a->g = cc_new(num_vertices, ip, ii, vl);
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
    } else {
        start_from(a, a->best, NULL);
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
    }
}

void sa_best(const Anneal *a, int *out) { memcpy(out, a->best, sizeof(int) * a->n); }
i64 sa_moves(const Anneal *a) { return a->moves; }
double sa_scale(const Anneal *a) { return a->scale; }
