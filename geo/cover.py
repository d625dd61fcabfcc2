"""A boolean raster of where any fence could be near: skips the GEOS work for fixes far from every fence.

Most fixes of a bus are nowhere near a fence (in the benchmark's 5,000 fences about one fix in ten is), yet
each one cost a shapely point and an STRtree walk. The raster marks every cell that overlaps a fence's
bounding box grown by the band (plus a metre, far more than the rounding of the cell arithmetic); a fix in
an unmarked cell has no fence within the band, so only fixes in marked cells go on to the exact STRtree
query. The raster only ever lets more fixes through, never fewer, so answers are the tree's, unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MAX_CELLS = 1 << 22
"""At most this many cells (4 MiB): the cell size follows from the fences' extent."""
_MARGIN_M = 1.0


class CoverGrid:
    """Cells touched by any box grown by ``band_m``; :meth:`maybe_near` answers for arrays of points."""

    __slots__ = ("_cell", "_cells", "_nx", "_ny", "_x0", "_y0")

    def __init__(self, bounds: FloatArray, band_m: float) -> None:
        """Rasterise boxes given as rows of (xmin, ymin, xmax, ymax) in metres."""
        grow = band_m + _MARGIN_M
        boxes = bounds[np.all(np.isfinite(bounds), axis=1)]  # an empty fence has NaN bounds and no near point
        if len(boxes) == 0:
            self._x0 = self._y0 = self._cell = 1.0
            self._nx = self._ny = 0
            self._cells = np.zeros((0, 0), dtype=bool)
            return
        self._x0, self._y0 = float(boxes[:, 0].min()) - grow, float(boxes[:, 1].min()) - grow
        width = float(boxes[:, 2].max()) + grow - self._x0
        height = float(boxes[:, 3].max()) + grow - self._y0
        self._cell = max(math.sqrt(width * height / MAX_CELLS), width / MAX_CELLS, height / MAX_CELLS, 1e-3)
        self._nx = max(1, math.ceil(width / self._cell))
        self._ny = max(1, math.ceil(height / self._cell))
        self._cells = np.zeros((self._ny, self._nx), dtype=bool)
        low = np.floor((boxes[:, :2] - grow - (self._x0, self._y0)) / self._cell).astype(np.intp)
        high = np.floor((boxes[:, 2:] + grow - (self._x0, self._y0)) / self._cell).astype(np.intp)
        low = np.maximum(low, 0)
        high = np.minimum(high, (self._nx - 1, self._ny - 1))
        for (ix0, iy0), (ix1, iy1) in zip(low.tolist(), high.tolist(), strict=True):
            self._cells[iy0:iy1 + 1, ix0:ix1 + 1] = True

    def maybe_near(self, x: FloatArray, y: FloatArray) -> npt.NDArray[np.intp]:
        """Return the indices of the points that may lie within the band of some box (a superset)."""
        fx = np.floor((x - self._x0) / self._cell)
        fy = np.floor((y - self._y0) / self._cell)
        # NaN fails every comparison, so a point without coordinates is never a candidate (nor near in GEOS).
        inside = np.flatnonzero((fx >= 0) & (fx < self._nx) & (fy >= 0) & (fy < self._ny))
        hit = self._cells[fy[inside].astype(np.intp), fx[inside].astype(np.intp)]
        result: npt.NDArray[np.intp] = inside[hit]
        return result
