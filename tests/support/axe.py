"""axe-core in a browser page: what it finds serious or critical.

The script is the one the test-only package ``axe-playwright-python`` ships (MPL-2.0). It goes in
as an inline script, so the page's context must bypass the content security policy
(``bypass_csp=True``); the pages themselves allow no inline script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import axe_playwright_python
from playwright.async_api import Page as AsyncPage
from playwright.sync_api import Page

__all__ = ["AXE", "Impact", "serious_violations", "serious_violations_async"]

AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"
"""axe-core as axe-playwright-python ships it."""

_RUN = "async () => (await axe.run(document)).violations"
Impact = Literal["critical", "serious", "moderate", "minor"]
_IMPACTS: tuple[Impact, ...] = ("critical", "serious", "moderate", "minor")


def _worst(violations: list[dict[str, Any]], down_to: Impact) -> list[str]:
    """Each violation of impact ``down_to`` or worse, with the elements it was found on."""
    counted = _IMPACTS[: _IMPACTS.index(down_to) + 1]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in counted
    ]


def serious_violations(page: Page, *, down_to: Impact = "serious") -> list[str]:
    """What axe-core finds serious or critical on ``page`` (Playwright's sync API).

    ``down_to="moderate"`` counts moderate findings too (a skipped heading level).
    """
    page.add_script_tag(path=str(AXE))
    return _worst(page.evaluate(_RUN), down_to)


async def serious_violations_async(page: AsyncPage, *, down_to: Impact = "serious") -> list[str]:
    """What axe-core finds serious or critical on ``page`` (Playwright's async API).

    ``down_to="moderate"`` counts moderate findings too (a skipped heading level).
    """
    await page.add_script_tag(path=str(AXE))
    return _worst(await page.evaluate(_RUN), down_to)
