/* Searches on the scalar cost core (_scalar.c): the greedy baselines with a
 * lazy priority queue, and simulated annealing over orders.  Loaded with the
 * core by search/core/scalar.py; plain C11. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_scalar.h"

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
    int kind; /* the proposed move: SWAP, LATER, BACK or ENDS */
    int priced; /* the move's window is eliminated, logged from mark */
    i64 mark, first; /* log length before the window, after its first step */
    int best_here; /* order == best and costs are its steps: no re-pricing */
    uint64_t rng;
    double hot, cold, scale, t_hi, t_lo, mean_dist;
} Anneal;

enum { SWAP, LATER, BACK, ENDS };

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
        a->kind = SWAP;
        seg[0] = o[c + 1];
        seg[1] = o[c];
    } else if (r < 0.6) { /* order[c] later, to c + d */
        a->kind = LATER;
        for (int k = 0; k < d; k++) seg[k] = o[c + 1 + k];
        seg[d] = o[c];
    } else if (r < 0.85) { /* order[c + d] back to c */
        a->kind = BACK;
        seg[0] = o[c + d];
        for (int k = 0; k < d; k++) seg[k + 1] = o[c + k];
    } else {
        a->kind = ENDS;
        for (int k = 0; k <= d; k++) seg[k] = o[c + k];
        seg[0] = o[c + d];
        seg[d] = o[c];
    }
    *d_out = d;
    return 1;
}

/* Whether x is adjacent now to none of w[0:len]. */
static int apart(const Graph *g, int x, const int *w, int len) {
    for (int k = 0; k < len; k++)
        if (cc_adjacent(g, x, w[k])) return 0;
    return 1;
}

/* Whether the proposed move only exchanges vertices that commute, so that
 * every vertex keeps its cost and the window leaves the same graph (then its
 * change is 0, and the new steps' costs are set without eliminating).  From
 * the graph G at the cursor, x = order[c] moves later past w = order[c+1:c+d+1]
 * at no cost if x is adjacent in G to none of w: eliminating w[0] then neither
 * touches x nor is touched by it, so x's neighbours stay those in G and the
 * same holds for w[1], and so on.  Moving order[c+d] back past
 * order[c:c+d] is the mirror image, and swapping the ends is one move of each. */
static int commutes(Anneal *a, int d) {
    const Graph *g = a->g;
    const int *o = a->order + a->cursor;
    const i64 *cost = a->costs + a->cursor;
    i64 *seg = a->segcost;
    switch (a->kind) {
    case SWAP:
    case LATER:
        if (!apart(g, o[0], o + 1, d)) return 0;
        for (int k = 0; k < d; k++) seg[k] = cost[k + 1];
        seg[d] = cost[0];
        return 1;
    case BACK:
        if (!apart(g, o[d], o, d)) return 0;
        seg[0] = cost[d];
        for (int k = 0; k < d; k++) seg[k + 1] = cost[k];
        return 1;
    default: /* ENDS: order[c] to the end, then order[c+d] to the front */
        if (!apart(g, o[0], o + 1, d) || !apart(g, o[d], o + 1, d - 1)) return 0;
        for (int k = 1; k < d; k++) seg[k] = cost[k];
        seg[0] = cost[d];
        seg[d] = cost[0];
        return 1;
    }
}

/* Prices the proposed window; returns the change of the total, or REJECTED
 * once the change is sure to be at least limit (> 0): each step costs at least
 * 0, so the change is at least the steps priced so far minus the old costs of
 * the steps left, and the rest of the window need not be eliminated.  Leaves
 * the window eliminated (priced) for settle(). */
#define REJECTED INT64_MAX
static i64 price(Anneal *a, int d, double limit) {
    Graph *g = a->g;
    int c = a->cursor;
    if (commutes(a, d)) return 0;
    i64 delta = 0, left = 0;
    for (int k = 0; k <= d; k++) left += a->costs[c + k];
    a->mark = g->loglen;
    a->priced = 1;
    g->logging = 1;
    for (int k = 0; k <= d; k++) {
        a->segcost[k] = cc_eliminate(g, a->seg[k]);
        if (k == 0) a->first = g->loglen;
        delta += a->segcost[k] - a->costs[c + k];
        left -= a->costs[c + k];
        if (k < d && (double)(delta - left) >= limit && delta - left > 0) {
            delta = REJECTED;
            break;
        }
    }
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

/* Takes the priced window back and advances the cursor past order[c]; an
 * accepted window keeps its first step, which is that elimination. */
static void settle(Anneal *a, int accepted) {
    Graph *g = a->g;
    if (a->priced) {
        a->priced = 0;
        if (accepted && a->cursor + 2 < a->n) {
            cc_undo(g, a->first);
            g->loglen = a->mark; /* the first step stays */
            g->logging = 0;
            a->cursor++;
            return;
        }
        cc_undo(g, a->mark);
        g->logging = 0;
    }
    advance(a);
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
    a->inter = cc_xmalloc(sizeof(int) * (n + 1));
    a->order = cc_xmalloc(sizeof(int) * (n + 1));
    a->best = cc_xmalloc(sizeof(int) * (n + 1));
    a->seg = cc_xmalloc(sizeof(int) * (n + 1));
    a->costs = cc_xmalloc(sizeof(i64) * (n + 1));
    a->segcost = cc_xmalloc(sizeof(i64) * (n + 1));
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
            i64 delta = price(a, d, INFINITY);
            if (delta > 0) { up += (double)delta; ups++; }
            settle(a, 0);
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
        int *tmp = cc_xmalloc(sizeof(int) * (a->n + 1));
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
        /* Accepted iff delta <= 0 or u < exp(-delta / temp), i.e. delta < limit;
         * u is drawn first so that pricing can stop once delta must pass it. */
        double limit = -temp * log(1.0 - rng_unit(&a->rng));
        i64 delta = price(a, d, limit);
        int accepted = delta <= 0 || (delta != REJECTED && (double)delta < limit);
        if (accepted) {
            memcpy(a->order + a->cursor, a->seg, sizeof(int) * (d + 1));
            memcpy(a->costs + a->cursor, a->segcost, sizeof(i64) * (d + 1));
            a->total += delta;
            a->best_here = 0;
            if (delta < 0) note_best(a);
        }
        settle(a, accepted);
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

/* The current order into out and its multiplications as the annealer keeps
 * them (its per-step costs summed; tests re-price the order). */
i64 sa_current(const Anneal *a, int *out) {
    memcpy(out, a->order, sizeof(int) * a->n);
    return a->total;
}
i64 sa_moves(const Anneal *a) { return a->moves; }
double sa_scale(const Anneal *a) { return a->scale; }

/* --------------------------------------------------------------- insertion */

/* The cheapest place for u in order[0:len] (which holds u): writes the order
 * with u moved there to out, its per-step costs to out_steps, and returns its
 * multiplications, in one pass over R = the order without u.  steps: the
 * per-step costs of order.  The graph is reset first and left eliminated.
 *
 * Put u at position j of R and step k of R sees R[:k], plus u if k >= j, so
 *   cost(j) = sum_{k<j} c0[k] + cu[j] + sum_{k>=j} c1[k],
 * with c0[k] the cost of R[k] after R[:k], cu[j] that of u after R[:j], and
 * c1[k] that of R[k] after R[:k] and u; the graph after a set does not depend
 * on the order within it.  Eliminating u changes only its neighbours, so
 * c1[k] = c0[k] unless R[k] is adjacent to u after R[:k]; then u is eliminated
 * on the graph, R[k] priced, and u taken back.  Once u has no neighbour that
 * may be eliminated, nothing changes u or is changed by it any more: the pass
 * stops, cu stays, and c0 = c1 = the step's cost in order (whose step sees
 * the same set, u in it or not).  Ties go to the earliest place.  Returns -1
 * if the deadline (cc_now() seconds; <= 0: none) passed. */
i64 cc_best_insertion(Graph *g, const int *order, const i64 *steps, int len, int u,
                      int *out, i64 *out_steps, double deadline) {
    int m = 0, at_u = 0;
    int *rest = cc_xmalloc(sizeof(int) * (len ? len : 1));
    for (int k = 0; k < len; k++) {
        if (order[k] == u) at_u = k;
        else rest[m++] = order[k];
    }
    i64 *c0 = cc_xmalloc(sizeof(i64) * (m + 1)), *c1 = cc_xmalloc(sizeof(i64) * (m + 1));
    i64 *cu = cc_xmalloc(sizeof(i64) * (m + 1));
    cc_reset(g);
    int saved = g->logging;
    g->logging = 0;
    i64 result = 0;
    int k = 0;
    for (; k < m; k++) {
        if (deadline > 0 && (k & 255) == 255 && cc_now() > deadline) {
            result = -1;
            break;
        }
        int w = rest[k];
        cu[k] = cc_cost(g, u);
        c1[k] = cc_cost(g, w);
        int event = cc_adjacent(g, u, w);
        if (event) {
            i64 mark = g->loglen;
            g->logging = 1;
            cc_eliminate(g, u);
            c1[k] = cc_cost(g, w);
            cc_undo(g, mark);
            g->logging = 0;
        }
        c0[k] = cc_eliminate(g, w);
        if (event) { /* u's neighbours changed: any left to eliminate? */
            int left = 0;
            const Set *sets[2] = {&g->pred[u], &g->succ[u]};
            for (int t = 0; t < 2 && !left; t++)
                for (int e = 0; e < sets[t]->n && !left; e++)
                    left = g->elim[sets[t]->e[e] >> 1];
            if (!left) {
                k++;
                break;
            }
        }
    }
    if (result == 0) {
        for (int j = k; j < m; j++) { /* u apart from the rest */
            cu[j] = cc_cost(g, u);
            c0[j] = c1[j] = steps[j < at_u ? j : j + 1];
        }
        cu[m] = cc_cost(g, u);
        i64 after = 0; /* sum of c1[j:] */
        for (int j = 0; j < m; j++) after += c1[j];
        i64 before = 0, best = -1;
        int at = 0;
        for (int j = 0; j <= m; j++) {
            i64 total = before + cu[j] + after;
            if (best < 0 || total < best) {
                best = total;
                at = j;
            }
            if (j < m) {
                before += c0[j];
                after -= c1[j];
            }
        }
        memcpy(out, rest, sizeof(int) * at);
        out[at] = u;
        memcpy(out + at + 1, rest + at, sizeof(int) * (m - at));
        memcpy(out_steps, c0, sizeof(i64) * at);
        out_steps[at] = cu[at];
        memcpy(out_steps + at + 1, c1 + at, sizeof(i64) * (m - at));
        result = best;
    }
    g->logging = saved;
    free(rest); free(c0); free(c1); free(cu);
    return result;
}
