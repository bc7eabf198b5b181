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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "_scalar.h"
#include "_sets.h"

double cc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *cc_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

static inline int on_pred(const Graph *g, int s, int p) {
    return g->full | g->elim[s] | !g->elim[p]; /* no branches */
}

static inline int on_succ(const Graph *g, int s, int p) {
    return g->full | g->elim[p] | !g->elim[s];
}

/* Always inlined: where the compiler chose a call (after undo gained two call
 * sites), eliminating by cc_order_cost at 10,000-100,000 intermediates was
 * 5-10 % slower. */
static inline __attribute__((always_inline)) void insert_edge(Graph *g, int s, int p,
                                                              unsigned char vl) {
    if (on_pred(g, s, p) && !g->gone[s]) set_add(&g->pred[s], p, vl);
    if (on_succ(g, s, p) && !g->gone[p]) set_add(&g->succ[p], s, vl);
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

void cc_reset_to(Graph *g, int full) {
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

void cc_reset(Graph *g) { cc_reset_to(g, 0); }

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
    g->ip = cc_xmalloc(sizeof(int) * (n + 1));
    g->ii = cc_xmalloc(sizeof(int) * m);
    g->ivl = cc_xmalloc(m);
    memcpy(g->ip, ip, sizeof(int) * (n + 1));
    memcpy(g->ii, ii, sizeof(int) * m);
    memcpy(g->ivl, vl, m);
    g->pred = aligned_alloc(64, sizeof(Set) * n1);
    g->succ = aligned_alloc(64, sizeof(Set) * n1);
    if (!g->pred || !g->succ) abort();
    memset(g->pred, 0, sizeof(Set) * n1);
    memset(g->succ, 0, sizeof(Set) * n1);
    g->valued_pred = cc_xmalloc(sizeof(int) * n1);
    g->valued_succ = cc_xmalloc(sizeof(int) * n1);
    g->gone = cc_xmalloc(n1);
    g->stamp = calloc(n1, sizeof(int));
    g->tmp_p = cc_xmalloc(sizeof(int) * n1);
    g->tmp_s = cc_xmalloc(sizeof(int) * n1);
    g->tmp_pvl = cc_xmalloc(n1);
    g->tmp_svl = cc_xmalloc(n1);
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

int cc_next_gen(Graph *g) {
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

/* Multiplications of eliminating w once u, an intermediate, is eliminated
 * first, without eliminating it (u not adjacent to w: cc_cost(w)).  Only w's
 * side towards u changes: for u -> w, w loses the edge from u and gets one
 * from every predecessor p of u: a new edge, valued unless p -> u and u -> w
 * are both value-less, or values added onto an existing edge p -> w (valued
 * from then on); w -> u mirrors it over u's successors.  O(|P(u)|) or
 * O(|S(u)|) look-ups in w's sets, where eliminating u and taking it back
 * costs |P(u)|·|S(u)| products and their log.  w must be an intermediate
 * (its sets hold all its edges). */
i64 cc_cost_after(const Graph *g, int w, int u) {
    i64 vp = g->valued_pred[w], vs = g->valued_succ[w];
    const Set *wp = &g->pred[w], *ws = &g->succ[w];
    int at = set_find(wp, u);
    if (at >= 0) {
        int uw = wp->e[at] & 1;
        const Set *up = &g->pred[u];
        vp -= !uw;
        for (int e = 0; e < up->n; e++) {
            int f = set_find(wp, up->e[e] >> 1);
            vp += f >= 0 ? (wp->e[f] & 1) : !(up->e[e] & uw & 1);
        }
        return vp * vs;
    }
    at = set_find(ws, u);
    if (at < 0) return vp * vs;
    int wu = ws->e[at] & 1;
    const Set *us = &g->succ[u];
    vs -= !wu;
    for (int e = 0; e < us->n; e++) {
        int f = set_find(ws, us->e[e] >> 1);
        vs += f >= 0 ? (ws->e[f] & 1) : !(us->e[e] & wu & 1);
    }
    return vp * vs;
}

/* Edges into and out of v now (what eliminating it removes). */
int cc_degree(const Graph *g, int v) { return g->gone[v] ? 0 : g->pred[v].n + g->succ[v].n; }

/* Whether an edge joins u and v now, either way; u and v may be eliminated
 * (such an edge is kept in both of u's sets). */
int cc_adjacent(const Graph *g, int u, int v) {
    return set_find(&g->succ[u], v) >= 0 || set_find(&g->pred[u], v) >= 0;
}

/* Edges that eliminating v now would create. */
i64 cc_fill(Graph *g, int v) {
    const Set *P = &g->pred[v], *S = &g->succ[v];
    i64 fill = 0;
    if (g->gone[v]) return 0;
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
    if (g->gone[v]) return 0; /* already eliminated (its sets may be stale) */
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
    for (int j = 0; j < ns; j++) {
        Set *ps = &g->pred[S[j]];
        if (on_pred(g, S[j], v)) set_del(ps, set_find(ps, v));
        if (!svl[j]) g->valued_pred[S[j]]--;
    }
    for (int k = 0; k < np; k++) {
        Set *sp = &g->succ[P[k]];
        if (on_succ(g, v, P[k])) set_del(sp, set_find(sp, v));
        if (!pvl[k]) g->valued_succ[P[k]]--;
    }
    /* A logged elimination keeps v's own sets as they are: nothing reads the
     * sets of a vertex that is gone, and undo then restores only the
     * neighbours' side (insert_edge skips a gone vertex's sets) instead of
     * refilling v's sets entry by entry, which rebuilt the index of a set of
     * more than SET_SMALL entries on every priced move of a dense graph.  The
     * edges removed are read back from those sets, not logged one by one. */
    log_push(g, OP_GONE, v, v, 0);
    if (!g->logging) {
        set_clear(&g->pred[v]);
        set_clear(&g->succ[v]);
    }
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
        if (op == OP_GONE) { /* v = s gets its edges back from its own sets
                                (kept while it was gone; insert_edge skips them),
                                the last removed first */
            const Set *P = &g->pred[s], *S = &g->succ[s];
            for (int k = P->n - 1; k >= 0; k--) insert_edge(g, s, P->e[k] >> 1, P->e[k] & 1);
            for (int j = S->n - 1; j >= 0; j--) insert_edge(g, S->e[j] >> 1, s, S->e[j] & 1);
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

/* Per-step multiplications of forward mode (the intermediates inter[0:len] in
 * that order) or reverse mode (last first), priced without eliminating, where
 * inter is topological.  In reverse mode the successors of v when it is
 * eliminated are the outputs it reaches, and its predecessors are its own; the
 * edge v -> o is value-less only if exactly one contribution made it (the edge
 * itself, or one successor's edge to o) and that one was value-less.  So per
 * vertex two bitsets over the outputs, reached and valued, from its
 * successors'; forward mode mirrors it over the inputs.  One pass over the
 * edges.  Returns 0, or -4 where this does not apply (inter not topological,
 * bitsets past 64 M words). */
int cc_mode_costs(const Graph *g, const int *inter, int len, int reverse, i64 *costs) {
    int n = g->n, m = g->ip[n], n1 = n ? n : 1;
    int *pos = cc_xmalloc(sizeof(int) * n1), *bit = cc_xmalloc(sizeof(int) * n1);
    int *sp = calloc(n + 1, sizeof(int)), *si = cc_xmalloc(sizeof(int) * (m ? m : 1));
    unsigned char *svl = cc_xmalloc(m ? m : 1);
    if (!sp) abort();
    for (int v = 0; v < n; v++) pos[v] = -1;
    for (int k = 0; k < len; k++) pos[inter[k]] = k;
    int ends = 0; /* reverse: outputs (terminals with preds); forward: inputs */
    for (int v = 0; v < n; v++) {
        int has_pred = g->ip[v + 1] > g->ip[v];
        bit[v] = (pos[v] < 0 && has_pred == reverse) ? ends++ : -1;
    }
    int status = 0;
    for (int k = 0; k < m; k++) sp[g->ii[k] + 1]++; /* successor lists */
    for (int v = 0; v < n; v++) sp[v + 1] += sp[v];
    for (int s = 0; s < n; s++)
        for (int k = g->ip[s]; k < g->ip[s + 1]; k++) {
            int p = g->ii[k], at = sp[p]++;
            si[at] = s;
            svl[at] = g->ivl[k];
            if (pos[s] >= 0 && pos[p] >= 0 && pos[p] >= pos[s]) status = -4;
        }
    for (int v = n; v > 0; v--) sp[v] = sp[v - 1];
    sp[0] = 0;
    size_t words = ((size_t)ends + 63) / 64;
    if ((size_t)(len + 2) * words * 2 > ((size_t)1 << 26)) status = -4;
    uint64_t *sets = status ? NULL : calloc((size_t)(len + 2) * words * 2 + 1, 8);
    if (!status && !sets) abort();
    uint64_t *ones = sets, *twos = sets + words; /* scratch */
    for (int step = 0; step < len && !status; step++) {
        int k = reverse ? len - 1 - step : step, v = inter[k];
        uint64_t *reach = sets + (size_t)(k + 1) * 2 * words, *valued = reach + words;
        memset(ones, 0, 16 * words);
        /* reverse: v's successors; forward: its predecessors */
        const int *nb = reverse ? si + sp[v] : g->ii + g->ip[v];
        const unsigned char *nvl = reverse ? svl + sp[v] : g->ivl + g->ip[v];
        int count = reverse ? sp[v + 1] - sp[v] : g->ip[v + 1] - g->ip[v];
        for (int j = 0; j < count; j++) {
            int u = nb[j];
            if (bit[u] >= 0) {
                size_t w = (size_t)bit[u] / 64;
                uint64_t b = 1ULL << (bit[u] % 64);
                twos[w] |= ones[w] & b;
                ones[w] |= b;
                if (!nvl[j]) valued[w] |= b;
            } else if (pos[u] >= 0) {
                const uint64_t *ru = sets + (size_t)(pos[u] + 1) * 2 * words;
                const uint64_t *vu = nvl[j] ? ru + words : ru; /* valued part */
                for (size_t w = 0; w < words; w++) {
                    twos[w] |= ones[w] & ru[w];
                    ones[w] |= ru[w];
                    valued[w] |= vu[w];
                }
            }
        }
        i64 reached = 0;
        for (size_t w = 0; w < words; w++) {
            reach[w] = ones[w];
            valued[w] |= twos[w];
            reached += __builtin_popcountll(valued[w]);
        }
        /* the other side: its own edges, valued ones counted */
        i64 own = 0;
        const unsigned char *ovl = reverse ? g->ivl + g->ip[v] : svl + sp[v];
        int other = reverse ? g->ip[v + 1] - g->ip[v] : sp[v + 1] - sp[v];
        for (int j = 0; j < other; j++) own += !ovl[j];
        costs[step] = own * reached;
    }
    free(sets); free(pos); free(bit); free(sp); free(si); free(svl);
    return status;
}
