"""A manager opens the dashboard in a real browser: the figures of the data the test made,
charts drawn by Chart.js under the Content-Security-Policy, a CSV export downloaded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.conftest import login, screenshot
from tests.factories import PASSWORD
from tests.sla.test_dashboard import world  # noqa: F401  (the data of the figures)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("world"),
]

CANVAS_PAINTED = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || !window.Chart || !Chart.getChart(canvas)) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted;
}"""


def test_manager_sees_the_figures_charts_and_exports(
    new_page,
    base_url,
    manager,
    settings,
    tmp_path,
):
    settings.SLA_CALL_ANSWER_SECONDS = 20
    page = new_page(viewport={"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    login(page, base_url, manager.username, PASSWORD)
    page.get_by_test_id("nav-reports").click()  # the managers' menu
    page.get_by_test_id("nav-dashboard").click()
    page.wait_for_url("**/sla/dashboard/")
    # The console the manager landed on opened its websocket (live_server has none).
    errors.clear()
    expect(page.get_by_role("heading", name="Service dashboard")).to_be_visible()

    # The figures of the world the test created.
    expect(page.get_by_test_id("kpi-backlog")).to_contain_text("3")
    expect(page.get_by_test_id("kpi-compliance-resolution")).to_contain_text("66.7 %")
    expect(page.get_by_test_id("kpi-compliance-first_response")).to_contain_text("75.0 %")
    expect(page.get_by_test_id("kpi-breached")).to_contain_text("1")
    expect(page.get_by_test_id("kpi-near")).to_contain_text("2")
    expect(page.get_by_test_id("kpi-fcr")).to_contain_text("33.3 %")
    expect(page.get_by_test_id("kpi-service-level")).to_contain_text("37.5 %")
    calls = page.get_by_test_id("table-calls")
    expect(calls.get_by_role("row", name="90th percentile wait")).to_contain_text("40 s")
    expect(calls.get_by_role("row", name="Answered 5", exact=True)).to_be_visible()
    summary = page.get_by_test_id("table-summary")
    expect(summary.get_by_role("row", name="Median time to resolve (calendar")).to_contain_text(
        "10 h 00 min"
    )
    expect(summary.get_by_role("row", name="Reopen rate")).to_contain_text("33.3 %")

    # Charts are drawn (pixels on the canvas), with no CSP or script error.
    for chart in ("chart-backlog", "chart-calls", "chart-channel", "chart-service"):
        page.wait_for_function(f"() => ({CANVAS_PAINTED})('{chart}') > 100")
    assert not errors, errors
    screenshot(page, "dashboard-en-1366", full_page=False)
    screenshot(page, "dashboard-en-1366-full")

    # A figure leads to the tickets behind it.
    link = page.get_by_test_id("kpi-backlog").get_attribute("href")
    assert link == "/console/?queue=open" or link.endswith("?queue=open")

    # The CSV export downloads the table, formulas defused.
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv-service").click()
    download = download_info.value
    assert download.suggested_filename == "service.csv"
    path = tmp_path / "service.csv"
    download.save_as(path)
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "Service,Tickets"
    assert "'+cmd,2" in text

    # Dates make the period custom: twenty days ago, one resolution clock was breached.
    day = (timezone.localdate() - timedelta(days=20)).isoformat()
    page.fill("#id_date_from", day)
    page.fill("#id_date_to", day)
    expect(page.locator("#id_period")).to_have_value("custom")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=custom**")
    expect(page.get_by_test_id("kpi-compliance-resolution")).to_contain_text("0.0 %")
    expect(page.get_by_test_id("kpi-backlog")).to_contain_text("3")

    # A bad period is a form error on the page, not an error page.
    page.goto(f"{base_url}/sla/dashboard/?period=custom&date_from=2026-05-02&date_to=2026-05-01")
    expect(page.get_by_text("The end date is before the start date.")).to_be_visible()
    expect(page.get_by_test_id("dashboard-invalid")).to_be_visible()


def test_the_figures_refresh_by_themselves(new_page, base_url, manager):
    page = new_page(viewport={"width": 1366, "height": 768})
    login(page, base_url, manager.username, PASSWORD)
    page.goto(f"{base_url}/sla/dashboard/?period=30d")
    first = page.get_by_test_id("dashboard-figures").get_attribute("data-refreshed")
    # The poll's request, now instead of in a minute (the stamp has whole seconds).
    page.wait_for_timeout(1100)
    page.evaluate(
        "htmx.ajax('GET', document.getElementById('dashboard-figures').getAttribute('hx-get'),"
        " {target: '#dashboard-figures', swap: 'outerHTML'})"
    )
    page.wait_for_function(
        f"() => document.getElementById('dashboard-figures').dataset.refreshed !== '{first}'",
        timeout=5000,
    )
    assert "period=30d" in page.get_by_test_id("dashboard-figures").get_attribute("hx-get")
    page.wait_for_function(f"() => ({CANVAS_PAINTED})('chart-backlog') > 100")
