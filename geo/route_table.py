"""Every bus's route and allowed stopping places as flat numpy arrays, measured for a batch of fixes at once.

The engine needs three numbers per bus fix: its distance from the bus's route, its distance along the route
(linear referencing) and its distance to the nearest stop or depot. Asking GEOS costs a point object per
fix and three calls each (``shapely.distance``, ``shapely.line_locate_point``), most of the spatial stage's
time. Routes are short (the example district's have two to five segments), so measuring each fix against
every segment of its own route is a few array operations over ``fixes x segments`` elements.

The arithmetic is GEOS's, expression for expression, so the numbers are the ones GEOS gives, to the bit:

* distance to a segment A-B is ``algorithm::Distance::pointToSegment``: the distance to A (or B) when the
  projection factor ``r`` is at most 0 (at least 1), else ``|s| * sqrt(len2)``; a zero-length segment is
  its end point; the route distance is the least over the segments (``DistanceOp``);
* along is ``linearref::LengthIndexOfPoint``: the first segment of least distance wins, and the fix's
  measure is that segment's start measure (lengths summed in order) plus its clamped projection factor
  times its length;
* place distance is the least Euclidean distance to the stops and depot (the square root is monotonic, so
  taking it of the least square gives the same number).

``tests/geo/test_route_table.py`` holds this to bit-for-bit equality with shapely on random and degenerate
data. Long routes (one traced from GPS, say) stay in arrays too: per segment, GEOS's linear referencing
costs more than the array arithmetic (measured 1.6x at 256 to 4,096 segments), and blocks bound the memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import shapely

from geo.routes import BusPlan

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_CHUNK_ELEMENTS = 1 << 14
"""Fix-segment pairs per block of array work: temporaries of 128 KiB stay in cache whatever the batch."""


class RouteTable:
    """The routes and allowed places of a list of bus plans, addressed by their row in that list."""

    def __init__(self, plans: Sequence[BusPlan]) -> None:
        """Flatten each plan's route into segments and its stops and depot into points."""
        self.lines = np.array([plan.line_m for plan in plans], dtype=object)
        self.places = np.array([plan.allowed_m for plan in plans], dtype=object)
        segments = [shapely.get_coordinates(plan.line_m) for plan in plans]
        self._seg_count = np.array([max(len(c) - 1, 0) for c in segments], dtype=np.intp)
        a = np.concatenate([c[:-1] for c in segments]) if plans else np.empty((0, 2))
        b = np.concatenate([c[1:] for c in segments]) if plans else np.empty((0, 2))
        ex, ey = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
        len2 = ex * ex + ey * ey
        # LineSegment::getLength is p0.distance(p1), sqrt((A - B)**2 ...): the squares of B - A are the same.
        seg_len = np.sqrt(len2)
        self._seg_first = _starts(self._seg_count)
        # Start measure of each segment: GEOS adds the lengths one by one from 0.0; cumsum adds in order too.
        self._seg_from = np.zeros(len(seg_len))
        for first, count in zip(self._seg_first.tolist(), self._seg_count.tolist(), strict=True):
            if count > 1:
                self._seg_from[first + 1:first + count] = np.cumsum(seg_len[first:first + count - 1])
        # A segment so short (under 1e-154 m) that its squared length underflows to zero while its ends differ
        # makes GEOS divide by zero in ways not worth copying: such a route is left to GEOS.
        tiny = np.flatnonzero((len2 == 0.0) & ((ex != 0.0) | (ey != 0.0)))
        self._underflows = np.zeros(len(plans), dtype=bool)
        self._underflows[np.searchsorted(self._seg_first, tiny, side="right") - 1] = True
        columns = np.stack((a[:, 0], a[:, 1], b[:, 0], b[:, 1], ex, ey, len2, seg_len))
        # Routes of k segments share one (columns, plans, k) table, so a block of fixes gathers all it needs
        # about its routes in one indexing operation.
        self._segments = _tables(columns, self._seg_count)
        spots = [shapely.get_coordinates(plan.allowed_m) for plan in plans]
        self._place_count = np.array([len(c) for c in spots], dtype=np.intp)
        xy = np.concatenate(spots).T if plans else np.empty((2, 0))
        self._places = _tables(xy, self._place_count)

    def measure(self, rows: IntArray, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return, per fix, the distance from its plan's route, the distance along it, and to the nearest place.

        ``rows`` gives each fix's plan row. A plan without places gives ``inf`` (GEOS gives NaN for an empty
        multipoint; both compare false with any allowance).
        """
        rows = np.asarray(rows, dtype=np.intp)
        distance = np.empty(len(rows))
        along = np.empty(len(rows))
        place = np.full(len(rows), np.inf)
        finite = np.isfinite(x) & np.isfinite(y)
        count = np.where(self._underflows[rows], 0, self._seg_count[rows])
        # Routes of k segments at a time, as a (fixes, k) block: no ragged bookkeeping, and argmin's first
        # minimum is GEOS's rule (a later segment wins only when strictly closer).
        in_arrays = finite & (count >= 1)
        for k, block in _blocks(count, in_arrays):
            distance[block], along[block] = self._route(rows[block], x[block], y[block], k)
        to_geos = np.flatnonzero(~in_arrays)  # what only GEOS knows how to measure: empty lines, and the like
        if len(to_geos):
            points = shapely.points(x[to_geos], y[to_geos])
            with np.errstate(all="ignore"):  # GEOS's own answer for a vanishing segment, floating flags and all
                distance[to_geos] = shapely.distance(self.lines[rows[to_geos]], points)
                along[to_geos] = shapely.line_locate_point(self.lines[rows[to_geos]], points)
        places = self._place_count[rows]
        for k, block in _blocks(places, finite & (places >= 1)):
            place[block] = self._nearest_place(rows[block], x[block], y[block], k)
        return distance, along, place

    def _route(self, rows: IntArray, x: FloatArray, y: FloatArray, k: int) -> tuple[FloatArray, FloatArray]:
        slot, table = self._segments
        # Every operand a contiguous (fixes, k) array, so numpy runs each operation as one flat loop (a
        # broadcast (fixes, 1) operand would make it loop k elements at a time).
        ax, ay, bx, by, ex, ey, len2, seg_len = table[k][:, slot[rows]]
        px, py = np.repeat(x, k).reshape(-1, k), np.repeat(y, k).reshape(-1, k)
        wx, wy = px - ax, py - ay
        with np.errstate(divide="ignore", invalid="ignore"):  # zero-length segments, see below
            r = (wx * ex + wy * ey) / len2
            # GEOS's s is ((A.y - p.y) * ex - (A.x - p.x) * ey) / len2: the same magnitude to the bit, since
            # IEEE subtraction and products are exactly antisymmetric in sign.
            mid = np.abs((wx * ey - wy * ex) / len2) * seg_len
        beyond = r >= 1.0
        ux, uy = np.where(beyond, px - bx, wx), np.where(beyond, py - by, wy)
        # GEOS: the distance to A when r <= 0, to B when r >= 1, else |s| * sqrt(len2). A zero-length segment
        # (A == B) is its distance to A: its r is infinite, or NaN (0 / 0) for p == A, which fails both
        # comparisons below and so takes the end, A. (A route whose squared lengths underflow goes to GEOS.)
        dist = np.where((r > 0.0) & ~beyond, mid, np.sqrt(ux * ux + uy * uy))
        pick = np.argmin(dist, axis=1)
        at = np.arange(len(rows)) * k + pick
        factor, length = r.ravel()[at], seg_len.ravel()[at]
        start = self._seg_from[self._seg_first[rows] + pick]
        # GEOS's measure on the segment: its start when r <= 0, else start + r * length, at most its end. A
        # zero-length segment gives its start whatever r is, since its length is 0 (inf * 0 is not used).
        with np.errstate(invalid="ignore"):
            along = np.where(factor <= 0.0, start, np.where(factor <= 1.0, start + factor * length, start + length))
        return dist.ravel()[at], along

    def _nearest_place(self, rows: IntArray, x: FloatArray, y: FloatArray, k: int) -> FloatArray:
        slot, table = self._places
        px, py = table[k][:, slot[rows]]
        dx, dy = px - np.repeat(x, k).reshape(-1, k), py - np.repeat(y, k).reshape(-1, k)
        result: FloatArray = np.sqrt(np.min(dx * dx + dy * dy, axis=1))
        return result


def _tables(columns: FloatArray, counts: IntArray) -> tuple[IntArray, dict[int, FloatArray]]:
    """Regroup per-element columns of consecutive groups as (columns, groups of k, k) tables, one per k.

    Returns each group's row in its table, and the tables by k.
    """
    firsts = _starts(counts)
    slot = np.full(len(counts), -1, dtype=np.intp)
    tables: dict[int, FloatArray] = {}
    for k in np.unique(counts[counts > 0]).tolist():
        members = np.flatnonzero(counts == k)
        slot[members] = np.arange(len(members))
        tables[k] = columns[:, firsts[members][:, None] + np.arange(k)]
    return slot, tables


def _starts(counts: IntArray) -> IntArray:
    """Return where each group of ``counts`` begins in the flattened array."""
    starts = np.zeros(len(counts), dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


def _blocks(counts: IntArray, wanted: npt.NDArray[np.bool_]) -> Iterator[tuple[int, IntArray]]:
    """Yield (k, indices) for the wanted fixes of ``k`` elements each, at most :data:`_CHUNK_ELEMENTS` at once."""
    for k in np.unique(counts[wanted]).tolist():
        at = np.flatnonzero(wanted & (counts == k))
        step = max(1, _CHUNK_ELEMENTS // k)
        for begin in range(0, len(at), step):
            yield k, at[begin:begin + step]
