"""The web pages in headless Chromium (Debian's package, driven by Playwright): people in
their own browser contexts carry requests through sign-in, filing and approval; forged
and stale posts change nothing; every field has a label a screen reader can read."""

from __future__ import annotations

import contextvars
import hmac
import re
import time
from pathlib import Path

import pytest
from pages import CHROMIUM, Person, browser, sign_in, unnamed_controls, unreached_by_tab  # noqa: F401 (browser: a fixture)

from fixtures import add_person, as_user, free_port

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
def shots(tmp_path_factory):
    """Where each page's screenshot goes: the test's output folder."""
    return tmp_path_factory.mktemp("web-screenshots")


def test_one_investigation_from_request_to_release_by_four_people_in_their_browsers(
        browser, site, people, settings, enrolled, faces_dev, shots):
    """An analyst, a supervisor, a reviewer and the detective who asked carry case WEB-7:
    a denial, a group photo's face chosen by clicking, a forged post, an expired session, a
    disputed review, and a second search that is released; the detective sees nothing until then."""
    from facelead import LEAD_NOTICE
    from facelead.policy import Action
    from flows.calibrate_gallery import calibrate
    from warehouse import casefile, chain, db
    as_user("admin.test", Action.CALIBRATE, calibrate, gallery="dev")  # so every candidate has its chance count
    detective_secret = add_person(settings.database_path, "admin.test", "detective.test", ["requester"], None)
    analyst = Person(browser, site, "analyst.test", people["analyst.test"], shots)
    supervisor = Person(browser, site, "supervisor.test", people["supervisor.test"], shots)
    reviewer = Person(browser, site, "reviewer.test", people["reviewer.test"], shots)
    detective = Person(browser, site, "detective.test", detective_secret, shots)
    analyst.shown("home-analyst")

    def file(probe: Path, justification: str, screenshot: str | None = None) -> None:
        analyst.open("/")
        analyst.page.get_by_role("link", name="New search request").click()
        analyst.page.get_by_label("Probe photo").set_input_files(str(probe))
        analyst.page.get_by_label("Case number").fill("WEB-7")
        analyst.page.get_by_label("Justification").fill(justification)
        analyst.page.get_by_label("Requested by").select_option("detective.test")
        if screenshot:
            analyst.shown(screenshot)
        analyst.page.get_by_role("button", name="File the request").click()

    def run_and_determine(choice: str) -> str:
        analyst.open("/requests")
        analyst.page.get_by_role("button", name="Run the search for case WEB-7").click()
        analyst.page.wait_for_url(re.compile(r".*/searches/[0-9a-f-]+$"))
        assert analyst.page.get_by_role("note").inner_text() == LEAD_NOTICE
        analyst.page.get_by_label("The probe's person is").select_option(choice)
        analyst.page.get_by_role("button", name="Record the determination").click()
        assert analyst.page.get_by_role("status").inner_text() == "Awaiting review."
        return analyst.page.url.rsplit("/", 1)[1]

    def detective_sees_nothing(search_id: str) -> None:
        detective.open("/leads")
        assert "No lead has been released to you" in detective.page.locator("main").inner_text()
        for path in (f"/leads/{search_id}", f"/searches/{search_id}", f"/searches/{search_id}/compare/1"):
            detective.open(path)
            assert "WEB-7" not in detective.page.content() and detective.page.get_by_role("alert").count() == 1

    # 1. A request the supervisor denies, with the reason the analyst then reads.
    file(enrolled.probes[0][0], "person of interest", screenshot="new-request")
    assert "awaits a supervisor's approval" in analyst.page.get_by_role("status").inner_text()
    supervisor.open("/")
    supervisor.page.get_by_role("link", name="Approval queue").click()
    card = supervisor.page.get_by_role("region", name="Case WEB-7")
    assert "person of interest" in card.inner_text() and "analyst.test" in card.inner_text()
    photo = supervisor.page.request.get(site + card.get_by_role("img").get_attribute("src"))
    assert photo.status == 200 and photo.headers["content-type"] == "image/jpeg" and photo.headers["cache-control"] == "no-store"
    card.get_by_role("img").evaluate("img => img.decode()")  # and the page shows it
    supervisor.shown("approvals")
    card.get_by_role("button", name="Deny case WEB-7").click()
    assert "needs its reason" in supervisor.page.get_by_role("alert").inner_text()  # nothing decided without one
    supervisor.open("/approvals")
    card = supervisor.page.get_by_role("region", name="Case WEB-7")
    card.get_by_label("Reason (required to deny)").fill("no link to a violent offense shown")
    card.get_by_role("button", name="Deny case WEB-7").click()
    assert supervisor.page.get_by_role("region", name="Case WEB-7").count() == 0
    analyst.open("/requests")
    row = analyst.page.get_by_role("row").filter(has_text="WEB-7")
    assert "denied by supervisor.test: no link to a violent offense shown" in row.inner_text()

    # 2. Refiled with the platform camera's frame of two men: the analyst clicks the second face.
    file(faces_dev / "multi" / "obama_and_biden.jpg", "shooting on the platform; the man on the right")
    boxes = analyst.page.get_by_role("button", name=re.compile(r"^Face \d"))
    assert boxes.count() >= 2 and "which face is to be searched" in analyst.page.locator("h1").inner_text()
    analyst.shown("choose-face")
    boxes.nth(1).click()
    if analyst.page.get_by_role("alert").count():  # below the probe bar: the reason is asked for first
        analyst.page.get_by_label(re.compile("Why search a face below")).fill("the only frame of the second man")
        analyst.page.get_by_role("button", name="File the request for face 2").click()
    assert "awaits a supervisor's approval" in analyst.page.get_by_role("status").inner_text()
    analyst.shown("my-requests")
    with db.open_db(settings.database_path, read_only=True) as conn:
        [(request_id, face_index)] = conn.execute("SELECT request_id, face_index FROM requests "
                                                  "WHERE case_number = 'WEB-7' AND decision IS NULL").fetchall()
    assert face_index == 1

    # A post without the session's form token, and one sent from another site, change nothing.
    supervisor.open("/approvals")
    decision = f"{site}/requests/{request_id}/decision"
    for form in ({"decision": "approve"}, {"decision": "approve", "csrf": "guessed"}):
        answer = supervisor.page.request.post(decision, form=form)
        assert answer.status == 403 and "Form refused" in answer.text()
    token = supervisor.page.locator("input[name=csrf]").first.get_attribute("value")
    answer = supervisor.page.request.post(decision, form={"decision": "approve", "csrf": token},
                                          headers={"Origin": "https://elsewhere.example", "Sec-Fetch-Site": "cross-site"})
    assert answer.status == 403
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert casefile.get_request(conn, request_id).decision is None
        refused = [r for r in chain.audit_rows(conn) if r.action == "web.form.refused" and r.actor == "supervisor.test"]
    assert len(refused) == 2 and all(r.target == f"/requests/{request_id}/decision" for r in refused)

    # The supervisor leaves the queue open past the idle timeout: the approval is refused, not kept.
    time.sleep(IDLE_SECONDS + 1)
    supervisor.page.get_by_role("region", name="Case WEB-7").get_by_role("button", name="Approve case WEB-7").click()
    assert "Your session ended" in supervisor.page.get_by_role("alert").inner_text()
    cookies = {c["name"]: c for c in supervisor.page.context.cookies()}
    assert cookies["facelead_session"]["httpOnly"] and cookies["facelead_session"]["sameSite"] == "Strict"
    supervisor.open("/approvals")  # the sign-in page, then back to the queue
    supervisor.page.get_by_role("region", name="Case WEB-7").get_by_role("button", name="Approve case WEB-7").click()
    assert supervisor.page.get_by_role("region", name="Case WEB-7").count() == 0

    # 3. The analyst runs it, compares by keyboard and names rank 1; the reviewer, blind, disputes it.
    first = run_and_determine("1")
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert conn.execute("SELECT probe_face_index FROM searches WHERE search_id = ?", [first]).fetchone() == (1,)
    analyst.open(f"/searches/{first}")
    analyst.shown("results")
    analyst.page.get_by_role("link", name="Compare rank 1", exact=True).click()
    assert analyst.page.get_by_role("note").inner_text() == LEAD_NOTICE
    assert all(word in analyst.page.locator("main").inner_text() for word in ("Score", "Gallery source", "Photo date"))
    analyst.shown("compare")
    analyst.page.keyboard.press("ArrowRight")
    analyst.page.wait_for_url(re.compile(r".*/compare/2$"))
    analyst.page.keyboard.press("ArrowLeft")
    analyst.page.wait_for_url(re.compile(r".*/compare/1$"))
    detective_sees_nothing(first)
    reviewer.open("/")
    reviewer.page.get_by_role("link", name="Review queue").click()
    reviewer.shown("review-queue")
    reviewer.page.get_by_role("link", name="Review case WEB-7").click()
    text = reviewer.page.locator("main").inner_text()
    assert "analyst's determination is not shown" in text and "Awaiting" not in text
    assert "rank 1" not in text.split("Determination")[-1].split("The probe's person is")[0]
    reviewer.shown("review")
    reviewer.page.get_by_label("The probe's person is").select_option("none")
    reviewer.page.get_by_role("button", name="Record the review").click()
    assert "disputed" in reviewer.page.get_by_role("status").inner_text()
    analyst.open(f"/searches/{first}")
    assert "disputed" in analyst.page.get_by_role("status").inner_text()
    detective_sees_nothing(first)

    # 4. A better frame of the same man; approved, run, and both name the same candidate: released.
    probe, person = next((path, who) for path, who in enrolled.probes if who == "biden")
    file(probe, "shooting on the platform; station entrance camera")
    supervisor.open("/approvals")
    supervisor.page.get_by_role("region", name="Case WEB-7").get_by_role("button", name="Approve case WEB-7").click()
    second = run_and_determine("1")
    top = analyst.page.get_by_role("row").filter(has_text="Compare rank 1").first.inner_text()
    assert person in top  # the gallery's photos of the probe's person lead
    detective_sees_nothing(second)
    reviewer.open("/reviews")
    reviewer.page.get_by_role("link", name="Review case WEB-7").click()
    reviewer.page.get_by_label("The probe's person is").select_option("1")
    reviewer.page.get_by_role("button", name="Record the review").click()
    assert "released" in reviewer.page.get_by_role("status").inner_text()

    # 5. The detective reads and prints the one-page lead report.
    detective.open("/")
    detective.page.get_by_role("link", name="Released leads").click()
    detective.shown("leads")
    assert detective.page.get_by_role("link", name=re.compile("Lead report")).count() == 1
    detective.page.get_by_role("link", name="Lead report for case WEB-7").click()
    text = detective.page.locator("main").inner_text()
    assert LEAD_NOTICE in text and "run by analyst.test" in text and "reviewer.test" in text and person in text
    assert "corroborate it with independent evidence" in text and "rank 1" in text
    detective.shown("lead-report")
    detective.page.emulate_media(media="print")
    pdf = shots / "lead-report.pdf"
    detective.page.pdf(path=str(pdf), format="Letter")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) == 1  # one page
    for person_at_browser in (analyst, supervisor, reviewer, detective):
        assert person_at_browser.policy_violations == []


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


def test_a_wrong_secret_is_refused_on_the_sign_in_page(browser, site):
    page = browser.new_context().new_page()
    page.goto(f"{site}/approvals")
    assert page.url.endswith("/login?next=/approvals")
    page.get_by_label("User id").fill("supervisor.test")
    page.get_by_label("Secret").fill("not the secret")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").count() == 1 and page.context.cookies() == []


def test_a_sign_in_posted_from_another_site_is_refused_and_pages_allow_only_their_own_scripts(browser, site, people):
    page = browser.new_context().new_page()
    shown = page.goto(f"{site}/login")
    assert "script-src 'self'" in shown.headers["content-security-policy"]
    assert unnamed_controls(page) == [] and unreached_by_tab(page) == []
    form = {"user_id": "supervisor.test", "secret": people["supervisor.test"]}
    for foreign in ({"Origin": "https://elsewhere.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = page.request.post(f"{site}/login", form=form, headers=foreign, max_redirects=0)
        assert answer.status == 403 and "Form refused" in answer.text()
        assert page.context.cookies() == []  # a hostile page cannot sign the browser in as anyone
    for elsewhere in ("//elsewhere.example", "/\\elsewhere.example", "https://elsewhere.example"):  # no open redirect
        answer = page.request.post(f"{site}/login", form={**form, "next": elsewhere}, max_redirects=0)
        assert (answer.status, answer.headers["location"]) == (303, "/"), elsewhere
    answer = page.request.post(f"{site}/login", form={**form, "next": "/approvals"}, max_redirects=0)
    assert (answer.status, answer.headers["location"]) == (303, "/approvals")


def test_a_probe_below_the_quality_bar_needs_a_reason_before_it_is_filed(browser, site, people, settings, faces_dev,
                                                                         tmp_path):
    from PIL import Image

    from models import degrade
    from models.image import decode_image
    from warehouse import db

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


def test_supervisor_auditor_and_admin_pages(browser, site, people, settings, enrolled, approved, shots):
    import zipfile

    from facelead.workflow import record_determination
    from warehouse import accounts, chain, db

    from fixtures import run_search

    searched = run_search(approved(enrolled.probes[4][0], "WEB-HIST-1")).search_id
    record_determination(settings.database_path, "analyst.test", searched, 1)
    record_determination(settings.database_path, "reviewer.test", searched, None)
    supervisor = Person(browser, site, "supervisor.test", people["supervisor.test"], shots)
    supervisor.page.get_by_role("link", name="Search history").click()
    supervisor.page.get_by_label("Case number").fill("WEB-HIST-1")
    supervisor.page.get_by_role("button", name="Filter").click()
    rows = supervisor.page.get_by_role("row").filter(has_text="WEB-HIST-1")
    assert rows.count() == 1 and "disputed" in rows.first.inner_text()
    supervisor.shown("history")
    supervisor.open("/oversight?start=2020-01-01&end=2100-01-01")
    chart = supervisor.page.get_by_role("img", name=re.compile("Searches, released leads"))
    assert chart.count() == 1
    assert supervisor.page.get_by_role("row").filter(has_text=settings.offense_codes[0]).count() == 1
    supervisor.shown("oversight")
    supervisor.open("/export")
    supervisor.shown("export")
    supervisor.page.get_by_label("Case number").fill("WEB-HIST-1")
    with supervisor.page.expect_download() as download:
        supervisor.page.get_by_role("button", name="Download the packet").click()
    with zipfile.ZipFile(download.value.path()) as packet:
        names = packet.namelist()
    assert any(name.endswith("SHA256SUMS") or "manifest" in name.lower() for name in names), names

    auditor = Person(browser, site, "auditor.test", people["auditor.test"], shots)
    auditor.page.get_by_role("link", name="Audit chain status").click()
    assert "The audit chain holds" in auditor.page.get_by_role("status").inner_text()
    auditor.shown("audit")
    auditor.open("/admin/users")
    assert auditor.page.get_by_role("alert").count() == 1 and "Add a user" not in auditor.page.content()  # not an admin
    token = auditor.page.locator("input[name=csrf]").first.get_attribute("value")  # the sign-out form's
    answer = auditor.page.request.post(f"{site}/admin/users/auditor.test/roles",
                                       form={"csrf": token, "roles": "admin"}, max_redirects=0)
    assert answer.status == 403
    with db.open_db(settings.database_path, read_only=True) as conn:
        last = chain.audit_rows(conn)[-1]
        assert "admin" not in accounts.get_user(conn, "auditor.test").roles
    assert (last.actor, last.action, last.target) == ("auditor.test", "user.admin.refused", "user:auditor.test")

    admin = Person(browser, site, "admin.test", people["admin.test"], shots)
    admin.page.get_by_role("link", name="Users").click()
    admin.page.get_by_label("User id").fill("newcomer.test")
    admin.page.get_by_label("Name").fill("A Newcomer")
    admin.page.get_by_role("checkbox", name="analyst", exact=True).check()
    admin.page.get_by_label(re.compile("certification valid until")).fill("2099-01-01")
    admin.page.get_by_role("button", name="Add the user").click()
    assert "one-time enrollment code" in admin.page.get_by_role("status").inner_text()
    assert len(admin.page.locator(".code code").inner_text()) >= 8
    admin.shown("users")
    admin.page.get_by_role("link", name="Roles of newcomer.test").click()
    admin.shown("user-roles")
    admin.page.get_by_role("checkbox", name="reviewer", exact=True).check()
    admin.page.get_by_label(re.compile("certification valid until")).fill("2098-12-31")
    admin.page.get_by_role("button", name="Save the roles of newcomer.test").click()
    assert "Roles of newcomer.test saved" in admin.page.get_by_role("status").inner_text()
    row = admin.page.get_by_role("row").filter(has_text="newcomer.test")
    assert "analyst, reviewer" in row.inner_text() and "2098-12-31" in row.inner_text()
    admin.page.get_by_role("button", name="Disable newcomer.test").click()
    assert "disabled" in admin.page.get_by_role("row").filter(has_text="newcomer.test").inner_text()
    assert admin.page.get_by_role("link", name="Roles of admin.test").count() == 0  # never one's own
    for person in (supervisor, auditor, admin):
        assert person.policy_violations == []


def test_a_probe_uploaded_in_another_session_cannot_be_named_into_a_request(browser, site, people):
    analyst = sign_in(browser, site, "analyst.test", people["analyst.test"])
    analyst.goto(f"{site}/requests/new")
    csrf = analyst.locator("input[name=csrf]").first.get_attribute("value")
    answer = analyst.request.post(f"{site}/requests/confirm", form={
        "csrf": csrf, "case_number": "WEB-STOLEN-1", "offense_code": "violent-felony", "justification": "a forged filing",
        "gallery": "dev", "probe_name": "0" * 64 + ".jpg", "probe_tag": "0" * 64})
    assert answer.status == 409 and "not uploaded in this session" in answer.text()
    name = "1" * 64 + ".jpg"  # a tag keyed with the form's own token, which the person can read, is no tag
    forged = hmac.new(csrf.encode(), name.encode(), "sha256").hexdigest()
    answer = analyst.request.post(f"{site}/requests/confirm", form={
        "csrf": csrf, "case_number": "WEB-STOLEN-1", "offense_code": "violent-felony", "justification": "a forged filing",
        "gallery": "dev", "probe_name": name, "probe_tag": forged})
    assert answer.status == 409 and "not uploaded in this session" in answer.text()
    auditor = sign_in(browser, site, "auditor.test", people["auditor.test"])
    auditor.goto(f"{site}/requests/new")
    assert auditor.get_by_role("alert").count() == 1 and auditor.get_by_label("Probe photo").count() == 0
    csrf = auditor.locator("input[name=csrf]").first.get_attribute("value")  # the sign-out form's
    answer = auditor.request.post(f"{site}/requests/new", multipart={
        "csrf": csrf, "case_number": "WEB-STOLEN-2", "offense_code": "violent-felony", "justification": "a forged filing",
        "gallery": "dev", "probe": {"name": "p.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8 nothing"}})
    assert answer.status == 403  # the role is checked before the upload is kept or looked at
