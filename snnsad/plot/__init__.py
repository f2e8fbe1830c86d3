"""Looking at a network: spike rasters, membrane traces with the threshold, firing-rate histograms, for the
discrete networks' `Trace` and the event networks' `EventOutput` (matplotlib, the `plots` extra, imported
only when a function is called)."""

from ._plot import event_raster as event_raster
from ._plot import membrane as membrane
from ._plot import raster as raster
from ._plot import rate_histogram as rate_histogram
