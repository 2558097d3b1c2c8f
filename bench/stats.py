"""Small-sample statistics for the benches' tables: an exact one-sided rank test
(Mann-Whitney's U, computed by going through every way to split the pooled runs), so that a
table can say whether one side's runs lie below the other's by more than the runs' spread
explains. With 5 runs a side the smallest possible p is 1/252."""
import itertools


def mid_ranks(values):
    """Each value's rank among values, 1-based, ties sharing their mean rank."""
    order = sorted(values)
    first = {}
    last = {}
    for i, v in enumerate(order, 1):
        first.setdefault(v, i)
        last[v] = i
    return [(first[v] + last[v]) / 2 for v in values]


def p_lower(a, b):
    """One-sided p-value that a's values tend to be smaller than b's: the share of all splits
    of the pooled values into groups of len(a) and len(b) whose first group's rank sum is at
    most a's. Small (under 0.05, say) means a really is lower; 1.0 when a side is empty."""
    if not a or not b:
        return 1.0
    ranks = mid_ranks(list(a) + list(b))
    observed = sum(ranks[:len(a)])
    splits = list(itertools.combinations(ranks, len(a)))
    return sum(1 for s in splits if sum(s) <= observed + 1e-9) / len(splits)
