/* Simulated annealing over orders on the scalar cost core (_scalar.c).
 * Plain C11. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_scalar.h"
#include "_rng.h"

/* Simulated annealing over orders with a cursor: the graph is kept eliminated
 * up to the cursor c, and every move rewrites a window order[c:c+d+1] that
 * starts there (swap two neighbours, move order[c] later, move order[c+d] to c,
 * swap the ends).  The window is priced by eliminating it on the graph (all but
 * its last two steps, whose costs are read off the graph) and undoing that; the
 * steps after it keep their costs, since the set eliminated before each of
 * them is unchanged.  Then the cursor advances one step; at the
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
 * the steps left, and the rest of the window need not be eliminated.  The last
 * two steps are not eliminated: seg[d-1]'s cost is read off the graph, and
 * seg[d]'s is cc_cost_after(seg[d], seg[d-1]) (the same numbers: nothing
 * after the window reads the graph it leaves), so a swap eliminates nothing
 * and a longer move d - 1 vertices.  Leaves the eliminated part of the window
 * (priced: seg[0:d-1], d >= 2) for settle(). */
#define REJECTED INT64_MAX
static i64 price(Anneal *a, int d, double limit) {
    Graph *g = a->g;
    int c = a->cursor;
    if (commutes(a, d)) return 0;
    i64 delta = 0, left = 0;
    for (int k = 0; k <= d; k++) left += a->costs[c + k];
    a->mark = g->loglen;
    a->priced = d >= 2;
    g->logging = 1;
    for (int k = 0; k <= d; k++) {
        if (k < d - 1)
            a->segcost[k] = cc_eliminate(g, a->seg[k]);
        else if (k == d - 1)
            a->segcost[k] = cc_cost(g, a->seg[k]);
        else
            a->segcost[k] = cc_cost_after(g, a->seg[d], a->seg[d - 1]);
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
 * accepted window keeps its first step, which is that elimination (a window
 * that eliminated nothing eliminates it in advance()). */
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

