/* Insertion moves on the scalar cost core (_scalar.c): one vertex moved to its
 * cheapest place in an order (cc_best_insertion), and every vertex's cheapest
 * earlier or nearby later place priced in one pass, the disjoint moves made at
 * once (cc_earlier_moves, cc_later_moves).  Plain C11. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_scalar.h"

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
 * c1[k] = c0[k] unless R[k] is adjacent to u after R[:k]; then c1[k] is read
 * off the sets (cc_cost_after: as if u were eliminated).  Once u has no
 * neighbour that may be eliminated, nothing changes u or is changed by it any
 * more: the pass
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
        if (event) c1[k] = cc_cost_after(g, w, u);
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

/* For every vertex u of order[0:len] (all the intermediates), its cheapest
 * place at or before its own, all priced in one elimination pass over order.
 * Writes the per-step costs of order to steps, and for each k, with
 * u = order[k], the place to[k] <= k to move u to (k: none cheaper) and the
 * multiplications it saves, gain[k] >= 0; returns the order's
 * multiplications, or -1 if the deadline (cc_now() seconds; <= 0: none)
 * passed.  The graph is reset first and left eliminated.
 *
 * Moving u from a to j <= a changes only the steps j..a: with S_k the set
 * order[:k] and cu(j) the cost of u after S_j, the order costs
 *   total - steps[a] + cu(j) + sum_{j<=k<a} (c1_u[k] - steps[k]),
 * c1_u[k] the cost of order[k] after S_k and u.  The pass's graph is the one
 * after S_k, which holds u for every k < a, so c1_u[k] is read off the sets
 * (cc_cost_after); it differs from steps[k] only where order[k] is adjacent
 * to u (an event), and cu changes only then.
 * So each u keeps E_u = sum of (c1_u - steps) so far and the least
 * cu(j) - E_u(j) with its place, updated at its events only: one pass prices
 * the earlier places of all n vertices, at one cc_cost_after per event.
 * Where no earlier place is cheaper, to[k] = k; ties among the cheaper places
 * go to the earliest. */
i64 cc_earlier_moves(Graph *g, const int *order, int len, i64 *steps, int *to,
                     i64 *gain, double deadline) {
    int n = g->n;
    i64 *acc = cc_xmalloc(sizeof(i64) * (n ? n : 1)); /* E_u, by vertex */
    i64 *low = cc_xmalloc(sizeof(i64) * (n ? n : 1)); /* least cu - E_u */
    int *place = cc_xmalloc(sizeof(int) * (n ? n : 1));
    int *near = cc_xmalloc(sizeof(int) * (n ? n : 1));
    cc_reset(g);
    int saved = g->logging;
    g->logging = 0;
    for (int k = 0; k < len; k++) {
        int u = order[k];
        acc[u] = 0;
        low[u] = cc_cost(g, u);
        place[u] = 0;
    }
    i64 total = 0;
    for (int k = 0; k < len; k++) {
        if (deadline > 0 && (k & 255) == 255 && cc_now() > deadline) {
            total = -1;
            break;
        }
        int w = order[k];
        i64 c0 = cc_cost(g, w);
        /* u's own place: cu(k) = c0 */
        i64 here = c0 - acc[w];
        if (low[w] < here) {
            to[k] = place[w];
            gain[k] = here - low[w];
        } else {
            to[k] = k;
            gain[k] = 0;
        }
        int m = 0;
        const Set *sets[2] = {&g->pred[w], &g->succ[w]};
        for (int t = 0; t < 2; t++)
            for (int e = 0; e < sets[t]->n; e++) {
                int x = sets[t]->e[e] >> 1;
                if (g->elim[x] && !g->gone[x]) near[m++] = x;
            }
        for (int i = 0; i < m; i++) acc[near[i]] += cc_cost_after(g, w, near[i]) - c0;
        steps[k] = cc_eliminate(g, w);
        total += steps[k];
        for (int i = 0; i < m; i++) {
            int u = near[i];
            i64 v = cc_cost(g, u) - acc[u];
            if (v < low[u]) {
                low[u] = v;
                place[u] = k + 1;
            }
        }
    }
    g->logging = saved;
    free(acc); free(low); free(place); free(near);
    return total;
}

/* Applies the cheapest set of the moves of cc_earlier_moves whose spans
 * [to[k], k] are disjoint (their savings then add up exactly: a move changes
 * only the steps in its span), chosen by weighted interval scheduling; writes
 * the new order to out and returns the multiplications saved. */
i64 cc_apply_earlier(const int *order, int len, const int *to, const i64 *gain,
                     int *out) {
    /* best[k + 1]: the most saved by moves whose spans end before k + 1 */
    i64 *best = cc_xmalloc(sizeof(i64) * (len + 1));
    best[0] = 0;
    for (int k = 0; k < len; k++) {
        best[k + 1] = best[k];
        if (gain[k] > 0 && best[to[k]] + gain[k] > best[k + 1])
            best[k + 1] = best[to[k]] + gain[k];
    }
    i64 saved = best[len];
    memcpy(out, order, sizeof(int) * len);
    for (int k = len; k > 0;) { /* walk the chosen spans back */
        if (best[k] == best[k - 1]) {
            k--;
            continue;
        }
        int a = k - 1, j = to[a], u = order[a];
        memmove(out + j + 1, order + j, sizeof(int) * (a - j));
        out[j] = u;
        k = j;
    }
    free(best);
    return saved;
}

/* For every vertex u = order[a], its cheapest place after its own within
 * reach places, priced by a cursor: the graph is kept eliminated up to a, and
 * the order after a is eliminated without u (logged) until u has no neighbour
 * left that may be eliminated (nothing changes u or is changed by it from
 * there on) or reach steps have passed; moving u to j > a costs
 *   total - steps[a] + sum_{a<k<=j} (c0'[k] - steps[k]) + cu'(j),
 * with c0'[k] the cost of order[k] without u eliminated and cu'(j) that of u
 * after order[:j+1] without u.  Then that is taken back and u eliminated.
 * steps: the order's per-step costs.  Writes to[a] >= a (a: none cheaper;
 * ties among the cheaper places go to the earliest) and the multiplications
 * saved, gain[a] >= 0; returns the eliminations made, or -1 past the
 * deadline (cc_now() seconds; <= 0: none).  The graph is reset first and left
 * eliminated.  A pass costs up to reach eliminations a vertex, where moving
 * vertices earlier (cc_earlier_moves) costs about one. */
i64 cc_later_moves(Graph *g, const int *order, const i64 *steps, int len, int reach,
                   int *to, i64 *gain, double deadline) {
    cc_reset(g);
    int saved = g->logging;
    i64 work = 0;
    for (int a = 0; a < len; a++) {
        if (deadline > 0 && (a & 63) == 63 && cc_now() > deadline) {
            work = -1;
            break;
        }
        int u = order[a];
        g->loglen = 0;
        g->logging = 1;
        i64 run = 0, best = steps[a];
        int at = a;
        for (int k = a + 1; k < len && k - a <= reach; k++) {
            run += cc_eliminate(g, order[k]) - steps[k];
            work++;
            i64 here = run + cc_cost(g, u);
            if (here < best) {
                best = here;
                at = k;
            }
            int left = 0;
            const Set *sets[2] = {&g->pred[u], &g->succ[u]};
            for (int t = 0; t < 2 && !left; t++)
                for (int e = 0; e < sets[t]->n && !left; e++) {
                    int x = sets[t]->e[e] >> 1;
                    left = g->elim[x] && !g->gone[x];
                }
            if (!left) break;
        }
        cc_undo(g, 0);
        g->logging = 0;
        cc_eliminate(g, u);
        to[a] = at;
        gain[a] = steps[a] - best;
    }
    g->loglen = 0;
    g->logging = saved;
    return work;
}

/* cc_apply_earlier for the moves of cc_later_moves: spans [k, to[k]]. */
i64 cc_apply_later(const int *order, int len, const int *to, const i64 *gain,
                   int *out) {
    /* best[k]: the most saved by moves whose spans start at k or later */
    i64 *best = cc_xmalloc(sizeof(i64) * (len + 1));
    best[len] = 0;
    for (int k = len - 1; k >= 0; k--) {
        best[k] = best[k + 1];
        if (gain[k] > 0 && best[to[k] + 1] + gain[k] > best[k])
            best[k] = best[to[k] + 1] + gain[k];
    }
    i64 saved = best[0];
    memcpy(out, order, sizeof(int) * len);
    for (int k = 0; k < len;) {
        if (best[k] == best[k + 1]) {
            k++;
            continue;
        }
        int j = to[k], u = order[k];
        memmove(out + k, order + k + 1, sizeof(int) * (j - k));
        out[j] = u;
        k = j + 1;
    }
    free(best);
    return saved;
}
