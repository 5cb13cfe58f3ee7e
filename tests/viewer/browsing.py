"""Helpers for the Chromium tests: wait for the viewer, read its viewport, judge screenshots by pixels."""

from __future__ import annotations

from urllib.parse import urlencode

import pyvips
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from viewer.deeplink import Region

# OpenSeadragon considers an image open before its first tiles arrive; tests wait for drawn tiles.
VIEWER_READY = """(selector) => {
  const element = document.querySelector(selector);
  if (!element || element.dataset.state !== 'ready' || !element.viewer) return false;
  const item = element.viewer.world.getItemAt(0);
  return Boolean(item && item.getFullyLoaded());
}"""

VIEWER_STATE = """(selector) => {
  const element = document.querySelector(selector);
  const item = element && element.viewer && element.viewer.world.getItemAt(0);
  return {state: element && element.dataset.state, step: element && element.dataset.step,
          items: element && element.viewer ? element.viewer.world.getItemCount() : null,
          tilesLoading: item ? item._tilesLoading : null, fullyLoaded: item ? item.getFullyLoaded() : null};
}"""


def embed_url(base_url: str, **params: str) -> str:
    return f"{base_url}/viewer/embed?{urlencode(params)}"


def wait_for_viewer(page, selector: str = "iiif-viewer", timeout: float = 20_000) -> None:
    try:
        page.wait_for_function(VIEWER_READY, arg=selector, timeout=timeout)
    except PlaywrightTimeout:
        state = page.evaluate(VIEWER_STATE, selector)
        raise AssertionError(f"the viewer did not finish loading: {state}; "
                             f"failed loads: {getattr(page, 'failed_loads', 'not recorded')}") from None


def viewport_region(page, selector: str = "iiif-viewer") -> Region:
    found = page.evaluate("(selector) => document.querySelector(selector).currentRegion()", selector)
    return Region(found["x"], found["y"], found["width"], found["height"])


def container_aspect(page, selector: str = "iiif-viewer") -> float:
    size = page.evaluate(
        "(selector) => { const s = document.querySelector(selector).viewer.viewport.getContainerSize();"
        " return [s.x, s.y]; }", selector)
    return size[0] / size[1]


def fitted(region: Region, aspect: float) -> tuple[float, float, float, float]:
    """The bounds OpenSeadragon shows for a region fitted into a container of that aspect, centred."""
    centre_x, centre_y = region.x + region.width / 2, region.y + region.height / 2
    width, height = region.width, region.height
    if width / height > aspect:
        height = width / aspect
    else:
        width = height * aspect
    return centre_x - width / 2, centre_y - height / 2, width, height


def assert_shows(page, region: Region, selector: str = "iiif-viewer", tolerance: float = 0.02) -> None:
    """The viewport is the region fitted to the container: each edge within ``tolerance`` of its size."""
    expected = fitted(region, container_aspect(page, selector))
    actual = viewport_region(page, selector)
    width, height = expected[2], expected[3]
    errors = (abs(actual.x - expected[0]) / width, abs(actual.y - expected[1]) / height,
              abs(actual.width - width) / width, abs(actual.height - height) / height)
    assert max(errors) <= tolerance, f"viewport {actual} is not {region} fitted ({expected}); errors {errors}"


def screenshot_deviation(png: bytes) -> float:
    """Standard deviation of a screenshot's pixels: a blank (uniform) area gives about 0."""
    return pyvips.Image.new_from_buffer(png, "").deviate()
