"""The web pages in headless Chromium (Debian's package, driven by Playwright): people in
their own browser contexts carry requests through sign-in, filing and approval; forged
and stale posts change nothing; every field has a label a screen reader can read."""

from __future__ import annotations

import contextvars
import re
import shutil
import time

import pytest

from fixtures import add_person, as_user, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium; CI does)")
IDLE_SECONDS = 8  # this module's session idle timeout, short enough to wait out


@pytest.fixture(scope="module")
def site(settings, people, prefect_api, enrolled):
    """The service on a free port with an 8-second session idle timeout."""
    from facelead.service import start_api, stop_api
    from facelead.settings import Settings

    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FACELEAD_SERVICE__PORT", str(port))
        env.setenv("FACELEAD_SECURITY__SESSION_IDLE_MINUTES", str(IDLE_SECONDS / 60))
        api = start_api(Settings(), run_in=contextvars.copy_context().run)
        yield f"http://127.0.0.1:{port}"
        stop_api(*api)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where each page's screenshot goes: the test's output folder."""
    return tmp_path_factory.mktemp("web-screenshots")


def sign_in(browser, site: str, user_id: str, secret: str):
    """A fresh browser context signed in as ``user_id`` with the keyboard alone; its page."""
    page = browser.new_context().new_page()
    page.goto(f"{site}/login")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'user_id'")  # autofocus
    page.keyboard.type(user_id)
    page.keyboard.press("Tab")
    page.keyboard.type(secret)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{site}/", page.locator("main").inner_text()
    return page


def unnamed_controls(page) -> list[str]:
    """Form controls in the accessibility tree without an accessible name."""
    tree = page.locator("main").aria_snapshot()
    return [line for line in tree.splitlines()
            if re.match(r"\s*- (textbox|combobox|button|checkbox|radio|spinbutton)\s*(\[|$|:)", line)]


def test_a_request_is_filed_refused_with_a_reason_and_the_filer_sees_why(browser, site, people, enrolled, shots):
    analyst = sign_in(browser, site, "analyst.test", people["analyst.test"])
    analyst.screenshot(path=shots / "home-analyst.png", full_page=True)
    analyst.get_by_role("link", name="New search request").click()
    assert unnamed_controls(analyst) == []
    analyst.get_by_label("Probe photo").set_input_files(str(enrolled.probes[0][0]))
    analyst.get_by_label("Case number").fill("WEB-DENY-1")
    analyst.get_by_label("Justification").fill("armed robbery, store camera")
    analyst.screenshot(path=shots / "new-request.png", full_page=True)
    analyst.get_by_role("button", name="File the request").click()
    assert "awaits a supervisor's approval" in analyst.get_by_role("status").inner_text()

    supervisor = sign_in(browser, site, "supervisor.test", people["supervisor.test"])
    supervisor.get_by_role("link", name="Approval queue").click()
    card = supervisor.get_by_role("region", name="Case WEB-DENY-1")
    assert "armed robbery, store camera" in card.inner_text() and "analyst.test" in card.inner_text()
    photo = supervisor.request.get(site + card.get_by_role("img").get_attribute("src"))
    assert photo.status == 200 and photo.headers["content-type"] == "image/jpeg", photo.text()[:300]
    assert photo.headers["cache-control"] == "no-store"
    card.get_by_role("img").evaluate("img => img.decode()")  # and the page shows it
    assert unnamed_controls(supervisor) == []
    supervisor.screenshot(path=shots / "approvals.png", full_page=True)
    card.get_by_role("button", name="Deny case WEB-DENY-1").click()
    assert "needs its reason" in supervisor.get_by_role("alert").inner_text()  # nothing decided without one
    supervisor.goto(f"{site}/approvals")
    card = supervisor.get_by_role("region", name="Case WEB-DENY-1")
    card.get_by_label("Reason (required to deny)").fill("no link to a violent offense")
    card.get_by_role("button", name="Deny case WEB-DENY-1").click()
    assert supervisor.get_by_role("region", name="Case WEB-DENY-1").count() == 0

    analyst.get_by_role("link", name="facelead").click()
    analyst.get_by_role("link", name="My requests").click()
    row = analyst.get_by_role("row").filter(has_text="WEB-DENY-1")
    assert "denied by supervisor.test: no link to a violent offense" in row.inner_text()
    assert all(r.headers.get("cache-control") == "no-store" for r in [analyst.reload()])


def test_a_supervisor_never_sees_their_own_request(browser, site, settings, enrolled):
    secret = add_person(settings.database_path, "admin.test", "dualrole.test", ["analyst", "supervisor"],
                        __import__("datetime").date(2099, 1, 1))
    both = sign_in(browser, site, "dualrole.test", secret)
    both.goto(f"{site}/requests/new")
    both.get_by_label("Probe photo").set_input_files(str(enrolled.probes[1][0]))
    both.get_by_label("Case number").fill("WEB-OWN-1")
    both.get_by_label("Justification").fill("own request")
    both.get_by_role("button", name="File the request").click()
    both.goto(f"{site}/approvals")
    assert both.get_by_role("region", name="Case WEB-OWN-1").count() == 0


def test_a_post_without_the_session_s_form_token_changes_nothing(browser, site, people, settings, enrolled):
    from facelead.tasks.workflow import file_request
    from facelead.warehouse import db

    request = file_request(settings.database_path, "analyst.test", "WEB-CSRF-1", settings.offense_codes[0], "t",
                           enrolled.probes[0][0], "dev", settings.offense_codes)
    supervisor = sign_in(browser, site, "supervisor.test", people["supervisor.test"])
    for form in ({"decision": "approve"}, {"decision": "approve", "csrf": "guessed"}):
        answer = supervisor.request.post(f"{site}/requests/{request}/decision", form=form)
        assert answer.status == 403 and "Form refused" in answer.text()
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert db.get_request(conn, request)["decision"] is None


def test_an_idle_session_ends_and_its_form_is_refused(browser, site, people, settings, enrolled):
    supervisor = sign_in(browser, site, "supervisor.test", people["supervisor.test"])
    supervisor.goto(f"{site}/approvals")
    time.sleep(IDLE_SECONDS + 1)
    supervisor.get_by_role("button").filter(has_text="Approve").first.click()
    assert "Your session ended" in supervisor.get_by_role("alert").inner_text()
    supervisor.goto(f"{site}/approvals")
    assert supervisor.url.startswith(f"{site}/login?next=/approvals")
    cookies = {c["name"]: c for c in supervisor.context.cookies()}
    assert cookies["facelead_session"]["httpOnly"] and cookies["facelead_session"]["sameSite"] == "Strict"


def test_a_wrong_secret_is_refused_on_the_sign_in_page(browser, site):
    page = browser.new_context().new_page()
    page.goto(f"{site}/approvals")
    assert page.url.endswith("/login?next=/approvals")
    page.get_by_label("User id").fill("supervisor.test")
    page.get_by_label("Secret").fill("not the secret")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").count() == 1 and page.context.cookies() == []


def test_an_approved_request_is_run_compared_by_keyboard_and_reviewed_blind_to_a_dispute(
        browser, site, people, enrolled, approved, shots):
    from facelead import LEAD_NOTICE
    from facelead.flows.calibrate_gallery import calibrate
    from facelead.policy import Action

    as_user("admin.test", Action.CALIBRATE, calibrate, gallery="dev")  # so every candidate has its chance count
    approved(enrolled.probes[2][0], "WEB-RUN-1")
    analyst = sign_in(browser, site, "analyst.test", people["analyst.test"])
    analyst.goto(f"{site}/requests")
    analyst.get_by_role("button", name="Run the search for case WEB-RUN-1").click()
    analyst.wait_for_url(re.compile(r".*/searches/[0-9a-f-]+$"))
    search_url = analyst.url
    assert analyst.get_by_role("note").inner_text() == LEAD_NOTICE
    rows = analyst.get_by_role("row").filter(has_text="Compare rank")
    assert rows.count() == 20 and "expected chance candidates" in rows.first.inner_text()
    analyst.screenshot(path=shots / "results.png", full_page=True)
    analyst.get_by_role("link", name="Compare rank 1", exact=True).click()
    assert analyst.get_by_role("note").inner_text() == LEAD_NOTICE
    assert "Score" in analyst.locator("main").inner_text() and "Gallery source" in analyst.locator("main").inner_text()
    analyst.screenshot(path=shots / "compare.png", full_page=True)
    analyst.keyboard.press("ArrowRight")
    analyst.wait_for_url(re.compile(r".*/compare/2$"))
    analyst.keyboard.press("ArrowLeft")
    analyst.wait_for_url(re.compile(r".*/compare/1$"))
    analyst.goto(search_url)
    assert unnamed_controls(analyst) == []
    analyst.get_by_label("The probe's person is").select_option("1")
    analyst.get_by_role("button", name="Record the determination").click()
    assert analyst.get_by_role("status").inner_text() == "Awaiting review."

    reviewer = sign_in(browser, site, "reviewer.test", people["reviewer.test"])
    reviewer.get_by_role("link", name="Review queue").click()
    reviewer.get_by_role("link", name="Review case WEB-RUN-1").click()
    text = reviewer.locator("main").inner_text()
    assert "analyst's determination is not shown" in text and "rank 1" not in text.split("Determination")[-1].split(
        "The probe's person is")[0]
    reviewer.get_by_label("The probe's person is").select_option("none")
    reviewer.get_by_role("button", name="Record the review").click()
    assert "disputed" in reviewer.get_by_role("status").inner_text()
    analyst.reload()
    assert "disputed" in analyst.get_by_role("status").inner_text()
    reviewer.goto(f"{site}/reviews")
    assert reviewer.get_by_role("link", name="Review case WEB-RUN-1").count() == 0


def test_a_group_photo_s_face_is_chosen_by_clicking_and_that_face_is_searched(
        browser, site, people, settings, faces_dev, shots):
    from facelead.flows.search_probe import search_probe  # noqa: F401 (the run below goes through the page)
    from facelead.tasks.workflow import decide_request
    from facelead.warehouse import db

    analyst = sign_in(browser, site, "analyst.test", people["analyst.test"])
    analyst.goto(f"{site}/requests/new")
    analyst.get_by_label("Probe photo").set_input_files(str(faces_dev / "multi" / "obama_and_biden.jpg"))
    analyst.get_by_label("Case number").fill("WEB-GROUP-1")
    analyst.get_by_label("Justification").fill("two men on the platform camera")
    analyst.get_by_role("button", name="File the request").click()
    boxes = analyst.get_by_role("button", name=re.compile(r"^Face \d"))
    assert boxes.count() >= 2 and "which face is to be searched" in analyst.locator("h1").inner_text()
    assert unnamed_controls(analyst) == []
    analyst.screenshot(path=shots / "choose-face.png", full_page=True)
    boxes.nth(1).click()  # the second face, by clicking its box on the photo
    if analyst.get_by_role("alert").count():  # below the probe bar: the reason is asked for first
        analyst.get_by_label(re.compile("Why search a face below")).fill("the only frame of the second man")
        analyst.get_by_role("button", name="File the request for face 2").click()
    assert "awaits a supervisor's approval" in analyst.get_by_role("status").inner_text()
    with db.open_db(settings.database_path, read_only=True) as conn:
        [(request_id, face_index)] = conn.execute(
            "SELECT request_id, face_index FROM requests WHERE case_number = 'WEB-GROUP-1'").fetchall()
    assert face_index == 1
    decide_request(settings.database_path, "supervisor.test", request_id, True, "ok")
    analyst.goto(f"{site}/requests")
    analyst.get_by_role("button", name="Run the search for case WEB-GROUP-1").click()
    analyst.wait_for_url(re.compile(r".*/searches/[0-9a-f-]+$"))
    with db.open_db(settings.database_path, read_only=True) as conn:
        searched = conn.execute("SELECT probe_face_index FROM searches WHERE request_id = ?", [request_id]).fetchone()
    assert searched == (1,)


def test_a_probe_below_the_quality_bar_needs_a_reason_before_it_is_filed(browser, site, people, settings, faces_dev,
                                                                         tmp_path):
    from PIL import Image

    from facelead.models import degrade
    from facelead.models.image import decode_image
    from facelead.warehouse import db

    dark = tmp_path / "dark.png"
    Image.fromarray(degrade.darken(decode_image((faces_dev / "identities/biden/02.jpg").read_bytes(), 10**8), 0.08)
                    ).save(dark)
    analyst = sign_in(browser, site, "analyst.test", people["analyst.test"])
    analyst.goto(f"{site}/requests/new")
    analyst.get_by_label("Probe photo").set_input_files(str(dark))
    analyst.get_by_label("Case number").fill("WEB-DARK-1")
    analyst.get_by_label("Justification").fill("night camera")
    analyst.get_by_role("button", name="File the request").click()
    assert "too dark" in analyst.get_by_role("alert").inner_text()
    analyst.get_by_role("button", name="File the request for face 1").click()
    assert "give the reason" in analyst.get_by_role("alert").inner_text()
    analyst.get_by_label(re.compile("Why search a face below")).fill("the only frame; detective asked")
    analyst.get_by_role("button", name="File the request for face 1").click()
    assert "awaits a supervisor's approval" in analyst.get_by_role("status").inner_text()
    with db.open_db(settings.database_path, read_only=True) as conn:
        row = conn.execute("SELECT face_index, quality_override FROM requests WHERE case_number = 'WEB-DARK-1'").fetchone()
    assert row == (0, "the only frame; detective asked")


def test_the_requester_sees_nothing_before_release_then_a_printable_one_page_lead(
        browser, site, people, settings, enrolled, shots):
    from facelead import LEAD_NOTICE
    from facelead.tasks.workflow import decide_request, file_request, record_determination

    secret = add_person(settings.database_path, "admin.test", "detective.test", ["requester"], None)
    request = file_request(settings.database_path, "analyst.test", "WEB-LEAD-1", settings.offense_codes[0],
                           "shooting, doorbell camera", enrolled.probes[3][0], "dev", settings.offense_codes,
                           requested_for="detective.test")
    decide_request(settings.database_path, "supervisor.test", request, True, "ok")
    analyst = sign_in(browser, site, "analyst.test", people["analyst.test"])
    analyst.goto(f"{site}/requests")
    analyst.get_by_role("button", name="Run the search for case WEB-LEAD-1").click()
    analyst.wait_for_url(re.compile(r".*/searches/[0-9a-f-]+$"))
    search_id = analyst.url.rsplit("/", 1)[1]
    record_determination(settings.database_path, "analyst.test", search_id, 1)

    detective = sign_in(browser, site, "detective.test", secret)
    detective.get_by_role("link", name="Released leads").click()
    assert "No lead has been released to you" in detective.locator("main").inner_text()
    detective.goto(f"{site}/leads/{search_id}")
    assert "WEB-LEAD-1" not in detective.content() and detective.get_by_role("alert").count() == 1
    detective.goto(f"{site}/searches/{search_id}")  # nor the candidates
    assert "Compare rank" not in detective.content()

    record_determination(settings.database_path, "reviewer.test", search_id, 1)
    detective.goto(f"{site}/leads")
    detective.get_by_role("link", name="Lead report for case WEB-LEAD-1").click()
    text = detective.locator("main").inner_text()
    assert LEAD_NOTICE in text and "run by analyst.test" in text and "reviewer.test" in text
    assert "corroborate it with independent evidence" in text and "rank 1" in text
    assert unnamed_controls(detective) == []
    detective.screenshot(path=shots / "lead-report.png", full_page=True)
    pdf = shots / "lead-report.pdf"
    detective.emulate_media(media="print")
    detective.pdf(path=str(pdf), format="Letter")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) == 1  # one page


def test_supervisor_auditor_and_admin_pages(browser, site, people, settings, shots):
    supervisor = sign_in(browser, site, "supervisor.test", people["supervisor.test"])
    supervisor.get_by_role("link", name="Search history").click()
    supervisor.get_by_label("Case number").fill("WEB-RUN-1")
    supervisor.get_by_role("button", name="Filter").click()
    rows = supervisor.get_by_role("row").filter(has_text="WEB-RUN-1")
    assert rows.count() == 1 and "disputed" in rows.first.inner_text()
    assert unnamed_controls(supervisor) == []
    supervisor.screenshot(path=shots / "history.png", full_page=True)
    supervisor.goto(f"{site}/oversight?start=2020-01-01&end=2100-01-01")
    chart = supervisor.get_by_role("img", name=re.compile("Searches, released leads"))
    assert chart.count() == 1 and supervisor.get_by_role("row").filter(has_text=settings.offense_codes[0]).count() == 1
    supervisor.screenshot(path=shots / "oversight.png", full_page=True)
    supervisor.goto(f"{site}/export")
    supervisor.get_by_label("Case number").fill("WEB-RUN-1")
    with supervisor.expect_download() as download:
        supervisor.get_by_role("button", name="Download the packet").click()
    import zipfile

    with zipfile.ZipFile(download.value.path()) as packet:
        names = packet.namelist()
    assert any(name.endswith("SHA256SUMS") or "manifest" in name.lower() for name in names), names

    auditor = sign_in(browser, site, "auditor.test", people["auditor.test"])
    auditor.get_by_role("link", name="Audit chain status").click()
    assert "The audit chain holds" in auditor.get_by_role("status").inner_text()
    auditor.screenshot(path=shots / "audit.png", full_page=True)
    auditor.goto(f"{site}/admin/users")
    assert auditor.get_by_role("alert").count() == 1 and "Add a user" not in auditor.content()  # not an admin

    admin = sign_in(browser, site, "admin.test", people["admin.test"])
    admin.get_by_role("link", name="Users").click()
    assert unnamed_controls(admin) == []
    admin.get_by_label("User id").fill("newcomer.test")
    admin.get_by_label("Name").fill("A Newcomer")
    admin.get_by_role("checkbox", name="analyst", exact=True).check()
    admin.get_by_label(re.compile("certification valid until")).fill("2099-01-01")
    admin.get_by_role("button", name="Add the user").click()
    assert "one-time enrollment code" in admin.get_by_role("status").inner_text()
    code = admin.locator(".code code").inner_text()
    assert len(code) >= 8
    admin.screenshot(path=shots / "users.png", full_page=True)
    admin.get_by_role("button", name="Disable newcomer.test").click()
    row = admin.get_by_role("row").filter(has_text="newcomer.test")
    assert "disabled" in row.inner_text()


def test_a_probe_uploaded_in_another_session_cannot_be_named_into_a_request(browser, site, people):
    analyst = sign_in(browser, site, "analyst.test", people["analyst.test"])
    analyst.goto(f"{site}/requests/new")
    csrf = analyst.locator("input[name=csrf]").first.get_attribute("value")
    answer = analyst.request.post(f"{site}/requests/confirm", form={
        "csrf": csrf, "case_number": "WEB-STOLEN-1", "offense_code": "violent-felony", "justification": "t",
        "gallery": "dev", "probe_name": "0" * 64 + ".jpg", "probe_tag": "0" * 64})
    assert answer.status == 409 and "not uploaded in this session" in answer.text()
    auditor = sign_in(browser, site, "auditor.test", people["auditor.test"])
    auditor.goto(f"{site}/requests/new")
    assert auditor.get_by_role("alert").count() == 1 and auditor.get_by_label("Probe photo").count() == 0
    csrf = auditor.locator("input[name=csrf]").first.get_attribute("value")  # the sign-out form's
    answer = auditor.request.post(f"{site}/requests/new", multipart={
        "csrf": csrf, "case_number": "WEB-STOLEN-2", "offense_code": "violent-felony", "justification": "t",
        "gallery": "dev", "probe": {"name": "p.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8 nothing"}})
    assert answer.status == 403  # the role is checked before the upload is kept or looked at
