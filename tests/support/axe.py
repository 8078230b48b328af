"""axe-core in a browser page: what it finds serious or critical.

The script is the one the test-only package ``axe-playwright-python`` ships (MPL-2.0). It goes in
as an inline script, so the page's context must bypass the content security policy
(``bypass_csp=True``); the pages themselves allow no inline script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import axe_playwright_python
from playwright.async_api import Page as AsyncPage
from playwright.sync_api import Page

__all__ = ["AXE", "serious_violations", "serious_violations_async"]

AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"
"""axe-core as axe-playwright-python ships it."""

_RUN = "async () => (await axe.run(document)).violations"
_SERIOUS = ("serious", "critical")


def _serious(violations: list[dict[str, Any]]) -> list[str]:
    """Each serious or critical violation, with the elements it was found on."""
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in _SERIOUS
    ]


def serious_violations(page: Page) -> list[str]:
    """What axe-core finds serious or critical on ``page`` (Playwright's sync API)."""
    page.add_script_tag(path=str(AXE))
    return _serious(page.evaluate(_RUN))


async def serious_violations_async(page: AsyncPage) -> list[str]:
    """What axe-core finds serious or critical on ``page`` (Playwright's async API)."""
    await page.add_script_tag(path=str(AXE))
    return _serious(await page.evaluate(_RUN))
