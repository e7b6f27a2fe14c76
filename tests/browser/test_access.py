"""The reading screen for everyone: mouse only, screen-reader names, visible focus, sufficient contrast.

Each test checks what a reader meets on the real page in Chromium: clicks that really
land (Playwright's clicks are mouse events at the element's position, refused when something covers it), the
names Chromium's accessibility tree gives a screen reader, the focus ring of the computed style, and the
colours that are actually painted.
"""
from __future__ import annotations

import re

import pytest

from readerstudy.models import Response, Study, StudyStatus
from readerstudy.services import create_reader

from .reader_helpers import ANSWERABLE, current_trial, src, start, stored_answers, wait_ready

pytestmark = [pytest.mark.browser]
reading = pytest.mark.django_db(transaction=True)

VIEWPORT = {"width": 1280, "height": 900}

# Every key event on the reading screen is counted (in sessionStorage, so the count survives the move to the
# done page): a mouse-only reading must end with none. The questionnaire before it is a form, not the screen.
COUNT_KEYS = """
if (location.pathname.endsWith('/read/')) {
  for (const type of ['keydown', 'keypress', 'keyup']) {
    addEventListener(type, () => sessionStorage.setItem('mirage-keys',
      String(Number(sessionStorage.getItem('mirage-keys') || 0) + 1)), true);
  }
}
"""


def mouse_page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(COUNT_KEYS)
    return context, context.new_page()


def keys_pressed(page) -> int:
    return int(page.evaluate("sessionStorage.getItem('mirage-keys') || 0"))


def wait_saved(page):
    page.wait_for_function("() => document.getElementById('reader-app').dataset.pending === '0'")


def pause_and_continue_by_click(page):
    shown = src(page)
    page.click("#pause")
    assert page.locator("#paused").is_visible()
    assert page.locator("#images img").count() == 0
    page.click("#resume")
    assert page.locator("#paused").is_hidden()
    page.wait_for_function(ANSWERABLE)
    assert src(page) == shown, "the same trial again after the pause"


# ================================================================ 1. mouse only


@reading
def test_practice_and_main_trials_with_confidence_by_mouse_only_each_answer_stored_once(
        browser, live_server, make_study):
    study = make_study(practice_trials=2, confidence_scale="5", trials_per_resolution=2, resolutions=[64, 96])
    reader = create_reader(study, "Dr. Mouse")
    context, page = mouse_page(browser)
    start(page, live_server, reader)
    expected = {}  # trial id -> (answer, confidence) as clicked
    previous = None
    for n in range(2):  # practice: a click, the server's verdict, the next trial
        previous = wait_ready(page, previous)
        assert page.locator("#phase").inner_text() == "Practice"
        answer = ("real", "synthetic")[n % 2]
        expected[current_trial(page).pk] = (answer, None)
        page.click(f"#controls button[data-answer={answer}]")
        page.wait_for_function("() => /correct/i.test(document.getElementById('feedback').textContent)")

    main = reader.trials.filter(kind="main").count()
    clicks = [("synthetic", 5), ("real", 1), ("real", 3), ("synthetic", 4), ("real", 2), ("synthetic", 2)]
    for n in range(main):
        previous = wait_ready(page, previous)
        if n == 1:
            pause_and_continue_by_click(page)
        if n == 3:  # pause by click, close the browser, come back later with the same link
            page.click("#pause")
            wait_saved(page)
            assert keys_pressed(page) == 0
            context.close()
            assert Response.objects.filter(trial__reader=reader).count() == 2 + 3
            context, page = mouse_page(browser)
            page.goto(f"{live_server.url}/r/{reader.token}/")
            page.wait_for_url(re.compile(r"/read/$"))
            previous = wait_ready(page, None)
            first_open = reader.trials.filter(response__isnull=True).order_by("index").first()
            assert current_trial(page).pk == first_open.pk, "resumed at the first unanswered trial"
        trial = current_trial(page)
        assert trial.pk not in expected, "never a trial twice"
        answer, confidence = clicks[n]
        page.click(f"#controls button[data-answer={answer}]")
        assert page.locator("#confidence").is_visible()
        page.click(f"#confidence button[data-confidence='{confidence}']")
        assert page.locator("#confirm").is_visible()
        assert Response.objects.filter(trial=trial).count() == 0, "nothing is sent before Confirm"
        page.click("#confirm")
        expected[trial.pk] = (answer, confidence)
    page.wait_for_url(re.compile(r"/done/$"))
    assert keys_pressed(page) == 0
    context.close()

    responses = Response.objects.filter(trial__reader=reader)
    assert responses.count() == reader.trials.count() == len(expected)
    assert {r.trial_id: (r.answer, r.confidence) for r in responses} == expected
    reader.refresh_from_db()
    assert reader.sessions.count() == 2


@reading
def test_a_forced_choice_of_three_images_by_mouse_only(browser, live_server, make_study):
    study = make_study(design="choice", alternatives=3, display_size=256, trials_per_resolution=2,
                       resolutions=[64, 96])
    reader = create_reader(study, "Dr. Pointer")
    context, page = mouse_page(browser)
    start(page, live_server, reader)
    expected = {}
    previous = None
    for n in range(reader.trials.count()):
        previous = wait_ready(page, previous)
        assert page.locator("#images button.choice").count() == 3
        if n == 1:
            pause_and_continue_by_click(page)
        trial = current_trial(page)
        position = (2, 0, 1)[n % 3]
        page.click(f"#images button.choice[data-position='{position}']")
        expected[trial.pk] = position
    page.wait_for_url(re.compile(r"/done/$"))
    assert keys_pressed(page) == 0
    context.close()
    responses = Response.objects.filter(trial__reader=reader).select_related("trial")
    assert responses.count() == reader.trials.count() == len(expected)
    assert {r.trial_id: r.chosen_position for r in responses} == expected
    assert all(r.correct == (r.chosen_position == r.trial.odd_position) for r in responses)


@reading
def test_a_realism_rating_then_real_or_synthetic_then_a_0_to_100_slider_by_mouse_only(
        browser, live_server, make_study):
    study = make_study(design="rating", rating_ask_class=True, confidence_scale="100", trials_per_resolution=1,
                       resolutions=[64, 96])
    reader = create_reader(study, "Dr. Slide")
    context, page = mouse_page(browser)
    start(page, live_server, reader)
    expected = {}
    previous = None
    for n in range(reader.trials.count()):
        previous = wait_ready(page, previous)
        if n == 1:
            pause_and_continue_by_click(page)
        trial = current_trial(page)
        rating, answer, where = ((4, "real", 0.85), (1, "synthetic", 0.15))[n % 2]
        page.click(f"#controls button[data-rating='{rating}']")
        assert page.locator("#class-after").is_visible()
        page.click(f"#class-after button[data-answer={answer}]")
        slider = page.locator("#confidence-range")
        assert slider.is_visible()
        box = slider.bounding_box()
        slider.click(position={"x": box["width"] * where, "y": box["height"] / 2})
        shown = int(page.locator("#confidence-value").inner_text())
        assert abs(shown - 100 * where) <= 10, shown  # the click moved the slider where it landed
        assert Response.objects.filter(trial=trial).count() == 0, "nothing is sent before Confirm"
        page.click("#confirm")
        expected[trial.pk] = (rating, answer, shown)
    page.wait_for_url(re.compile(r"/done/$"))
    assert keys_pressed(page) == 0
    context.close()
    responses = Response.objects.filter(trial__reader=reader)
    assert responses.count() == reader.trials.count() == len(expected)
    assert {r.trial_id: (r.rating, r.answer, r.confidence) for r in responses} == expected


# ================================================================ 2. names and roles for a screen reader

INTERACTIVE = "button, input, textarea, select, a[href], [role=radio], [role=slider], [tabindex]"
INTERACTIVE_ROLES = {"button", "radio", "slider", "textbox", "checkbox", "combobox", "link"}


def accessible(page, selector: str) -> list[dict]:
    """Role and name of each element matching selector, from Chromium's own accessibility tree (what a screen
    reader is given), with whether it is rendered at all."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        found = []
        for node_id in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})["nodeIds"]:
            [node] = cdp.send("Accessibility.getPartialAXTree", {"nodeId": node_id, "fetchRelatives": False})["nodes"]
            html = cdp.send("DOM.getOuterHTML", {"nodeId": node_id})["outerHTML"]
            found.append({"role": node.get("role", {}).get("value"), "name": (node.get("name") or {}).get("value", ""),
                          "ignored": node.get("ignored", False), "html": html[:120]})
        return found
    finally:
        cdp.detach()


def shown_controls_are_named(page) -> list[dict]:
    """Every rendered control on the reading screen has a role a screen reader announces and a non-empty name."""
    controls = [c for c in accessible(page, f"#reader-app :is({INTERACTIVE})") if not c["ignored"]]
    assert controls
    for control in controls:
        assert control["role"] in INTERACTIVE_ROLES, control
        assert control["name"].strip(), f"no accessible name: {control}"
    # Playwright's ARIA snapshot agrees: no control in it without a name.
    snapshot = page.locator("#reader-app").aria_snapshot()
    unnamed = [line for line in snapshot.splitlines()
               if re.match(rf"\s*- ({'|'.join(INTERACTIVE_ROLES)})\s*(\[.*\])?:?\s*$", line)]
    assert not unnamed, snapshot
    return controls


def names(page, selector: str) -> list[tuple[str, str]]:
    return [(c["role"], c["name"]) for c in accessible(page, selector)]


@reading
def test_every_control_of_a_confidence_study_has_a_role_and_a_name_and_the_live_regions_exist(
        page, live_server, make_study):
    study = make_study(confidence_scale="5", ask_reason=True, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Voice")
    start(page, live_server, reader)
    # The live regions are on the page from the start (a region added with its text is often not read).
    for selector, politeness in (("#feedback", {"assertive", "polite"}), ("#size-notice", {"polite"}),
                                 (".progress", {"polite"})):
        assert page.locator(selector).count() == 1
        assert page.locator(selector).get_attribute("aria-live") in politeness, selector
    assert page.locator("#feedback").get_attribute("role") == "status"

    wait_ready(page, None)
    shown_controls_are_named(page)
    assert names(page, "#pause") == [("button", "Pause P")]
    assert names(page, "#controls button") == [("button", "Real R"), ("button", "Synthetic S")]
    assert [page.get_attribute(s, "aria-keyshortcuts") for s in
            ("#pause", "#controls [data-answer=real]", "#controls [data-answer=synthetic]")] == ["P", "R", "S"]
    assert names(page, "#images") == [("group", "Image to judge")]
    assert names(page, "#images img") == [("image", "Image to judge")]
    assert page.get_attribute("#images img", "alt") == "Image to judge"

    page.click("#controls button[data-answer=real]")  # the confidence scale, the reason and Confirm appear
    controls = shown_controls_are_named(page)
    assert len(controls) == 1 + 2 + 5 + 1 + 1
    assert names(page, "#confidence [role=radiogroup]") == [
        ("radiogroup", "How confident are you? (1 = guessing, 5 = certain)")]
    assert names(page, "#confidence button") == [("radio", str(c)) for c in range(1, 6)]
    assert names(page, "#reason") == [("textbox", "Why? (optional)")]
    assert names(page, "#confirm") == [("button", "Confirm")]
    page.click("#confidence button[data-confidence='2']")
    assert page.get_attribute("#confidence button[data-confidence='2']", "aria-checked") == "true"
    assert page.get_attribute("#controls button[data-answer=real]", "aria-pressed") == "true"

    page.click("#pause")
    assert names(page, "#paused") == [("dialog", "Paused")]
    assert names(page, "#resume") == [("button", "Continue P")]
    page.click("#resume")
    page.wait_for_function(ANSWERABLE)

    # A stop by the coordinator is announced in a named alert dialog.
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.PAUSED)
    page.click("#controls button[data-answer=synthetic]")
    page.click("#confidence button[data-confidence='3']")
    page.click("#confirm")
    page.wait_for_function("() => !document.getElementById('halted').hidden", timeout=5000)
    assert names(page, "#halted") == [("alertdialog", "Reading stopped")]
    assert page.get_attribute("#halted", "aria-describedby") == "halted-message"  # the reason is read out too


@reading
def test_image_choices_ratings_the_class_question_and_the_slider_have_roles_and_names(
        browser, live_server, make_study):
    study = make_study(design="choice", alternatives=3, display_size=256, trials_per_resolution=1,
                       resolutions=[64])
    reader = create_reader(study, "Dr. Choice Voice")
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start(page, live_server, reader)
    wait_ready(page, None)
    shown_controls_are_named(page)
    assert names(page, "#images") == [("group", "Images to judge")]
    assert names(page, "#images button.choice") == [("button", f"Image {n}") for n in (1, 2, 3)]
    assert [page.locator("#images img").nth(n).get_attribute("alt") for n in range(3)] == [
        f"Image {n}" for n in (1, 2, 3)]
    context.close()

    labels = ["Clearly synthetic", "Probably synthetic", "Probably real", "Clearly real"]
    study = make_study(design="rating", rating_labels=labels, rating_ask_class=True, confidence_scale="100",
                       display_size=256, trials_per_resolution=1, resolutions=[64])
    reader = create_reader(study, "Dr. Rating Voice")
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start(page, live_server, reader)
    wait_ready(page, None)
    shown_controls_are_named(page)
    assert names(page, "#controls button") == [("button", f"{label} {n}") for n, label in enumerate(labels, 1)]
    page.click("#controls button[data-rating='3']")
    shown_controls_are_named(page)
    assert names(page, "#class-after button") == [("button", "Real R"), ("button", "Synthetic S")]
    page.click("#class-after button[data-answer=real]")
    shown_controls_are_named(page)
    assert names(page, "#confidence-range") == [("slider", "How confident are you? (0 = guessing, 100 = certain)")]
    assert names(page, "#confirm") == [("button", "Confirm")]
    context.close()


# ================================================================ colour and contrast (WCAG 2.1)

# WCAG 2.1 SC 1.4.3 Contrast (Minimum), level AA: text has a contrast ratio of at least 4.5:1 with its
# background, large text (18 pt, or 14 pt bold: 24 CSS px, or 18.66 CSS px at weight 700 or more) at least 3:1;
# text of an inactive (disabled) control is exempt. https://www.w3.org/TR/WCAG21/#contrast-minimum
# Contrast ratio (L1 + 0.05) / (L2 + 0.05), L1 the lighter colour's relative luminance, L2 the darker's:
# https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio and https://www.w3.org/TR/WCAG21/#dfn-relative-luminance

WHITE = (255.0, 255.0, 255.0, 1.0)
BLACK = (0.0, 0.0, 0.0, 1.0)


def parse_color(css: str) -> tuple[float, float, float, float]:
    """A computed colour, rgb(r, g, b) or rgba(r, g, b, a), as (r, g, b, alpha) with r, g, b in 0-255."""
    match = re.fullmatch(r"rgba?\(([^)]*)\)", css.strip())
    assert match, f"unexpected computed colour {css!r}"
    parts = [p for p in re.split(r"[\s,/]+", match.group(1).strip()) if p]
    r, g, b = (float(p) for p in parts[:3])
    return (r, g, b, float(parts[3]) if len(parts) > 3 else 1.0)


def relative_luminance(color) -> float:
    """WCAG 2.1: L = 0.2126 R + 0.7152 G + 0.0722 B, each channel linearised from sRGB."""
    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in color[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a, b) -> float:
    lighter, darker = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def over(top, bottom):
    """top composited (source-over, with its alpha) onto the opaque colour bottom."""
    alpha = top[3]
    return tuple(t * alpha + u * (1 - alpha) for t, u in zip(top[:3], bottom[:3])) + (1.0,)


def paint(layers: list[dict], text=None, image=None):
    """The opaque colour painted at a point of the innermost of layers (innermost first, as LAYERS_JS gives
    them): the canvas (white), each ancestor's background from the outermost in, each element's opacity
    blending all it paints with what is behind it, and last the text colour, when given. Behind what a choice
    button holds lies its image: `image` stands for that pixel."""
    def inside(i: int, behind):
        layer = layers[i]
        painted = over(parse_color(layer["background"]), behind)
        if layer.get("overImage") and image is not None:
            painted = image
        if i > 0:
            painted = inside(i - 1, painted)
        elif text is not None:
            painted = over(text, painted)
        return over(painted[:3] + (layer["opacity"],), behind)

    return inside(len(layers) - 1, WHITE)


def test_the_contrast_ratio_follows_wcag_2_1():
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21)
    assert contrast_ratio(WHITE, BLACK) == pytest.approx(21)
    assert contrast_ratio(WHITE, WHITE) == pytest.approx(1)
    assert contrast_ratio(parse_color("rgb(119, 119, 119)"), WHITE) == pytest.approx(4.48, abs=0.005)  # #777
    assert contrast_ratio(parse_color("rgb(118, 118, 118)"), WHITE) == pytest.approx(4.54, abs=0.005)  # #767676
    assert contrast_ratio(parse_color("rgb(0, 0, 255)"), WHITE) == pytest.approx(8.59, abs=0.005)
    assert parse_color("rgba(0, 0, 0, 0.5)") == (0, 0, 0, 0.5)
    # Compositing: half-transparent black on white is mid grey; an element at opacity 0.5 shows half of what
    # it paints over what is behind it; a transparent background shows the one behind.
    page_ = {"background": "rgb(255, 255, 255)", "opacity": 1}
    assert paint([{"background": "rgba(0, 0, 0, 0.5)", "opacity": 1}, page_]) == (127.5, 127.5, 127.5, 1.0)
    faded = [{"background": "rgba(0, 0, 0, 0)", "opacity": 0.5}, {"background": "rgb(0, 0, 0)", "opacity": 1}]
    assert paint(faded, text=WHITE) == (127.5, 127.5, 127.5, 1.0) and paint(faded) == BLACK
    assert paint([{"background": "rgba(0, 0, 0, 0)", "opacity": 1, "overImage": True}], text=WHITE,
                 image=BLACK) == WHITE and paint([{"background": "rgba(0, 0, 0, 0)", "opacity": 1,
                                                  "overImage": True}], image=BLACK) == BLACK


# ================================================================ 3. visible focus

# The painted colours along an element's ancestors, innermost first: enough to composite what is behind it.
LAYERS_JS = """() => {
window.__layers = (el) => {
  const layers = [];
  for (let a = el; a; a = a.parentElement) {
    const s = getComputedStyle(a);
    layers.push({background: s.backgroundColor, opacity: Number(s.opacity), overImage: a.matches('button.choice')});
  }
  return layers;
};
window.__describe = (el) => el.id ? '#' + el.id : (el.parentElement.closest('[id]').id + ' ' + el.tagName.toLowerCase()
  + [...el.attributes].filter((a) => a.name.startsWith('data-')).map((a) => `[${a.name}=${a.value}]`).join(''));
window.__ring = (el) => { const s = getComputedStyle(el);
  return {outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth, outlineColor: s.outlineColor,
          boxShadow: s.boxShadow}; };
}"""

RECORD_FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  (window.__trail = window.__trail || []).push(el);
  return {key: window.__describe(el), focusVisible: el.matches(':focus-visible'), focused: window.__ring(el),
          behind: window.__layers(el.parentElement)};
}"""


def tab_through(page, limit: int = 40) -> dict[str, dict]:
    """Tab from the top of the page round to the first control again; each control with its style when focused
    and, once focus has moved on, when not."""
    page.evaluate(LAYERS_JS)
    page.evaluate("() => { window.__trail = []; if (document.activeElement) document.activeElement.blur(); }")
    page.mouse.move(0, 0)  # no hover style anywhere
    seen: dict[str, dict] = {}
    for _ in range(limit):
        page.keyboard.press("Tab")
        record = page.evaluate(RECORD_FOCUS)
        if record is None:
            continue
        if record["key"] in seen:
            break
        seen[record["key"]] = record
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    unfocused = page.evaluate("() => window.__trail.map((el) => [window.__describe(el), window.__ring(el)])")
    for key, ring in unfocused:
        seen[key]["unfocused"] = ring
    return seen


def has_ring(ring: dict) -> bool:
    outline = ring["outlineStyle"] not in ("none", "hidden") and float(ring["outlineWidth"].removesuffix("px")) >= 1
    return outline or ring["boxShadow"] != "none"


def assert_visible_focus(record: dict):
    key, focused = record["key"], record["focused"]
    assert record["focusVisible"], f"{key}: focused by Tab but not :focus-visible"
    assert has_ring(focused), f"{key}: no focus indicator: {focused}"
    assert focused != record["unfocused"], f"{key}: looks the same focused and not: {focused}"
    assert not has_ring(record["unfocused"]), f"{key}: a ring without focus: {record['unfocused']}"
    if focused["outlineStyle"] not in ("none", "hidden"):
        # WCAG 2.1 SC 1.4.11 (non-text contrast): the ring stands out from what is around it by 3:1 at least.
        around = paint(record["behind"])
        ratio = contrast_ratio(over(parse_color(focused["outlineColor"]), around), around)
        assert ratio >= 3, f"{key}: focus ring contrast {ratio:.2f}:1 against its surroundings"


DESIGNS = {
    "single with confidence and reason": (
        {"confidence_scale": "5", "ask_reason": True},
        ["#controls button[data-answer=real]"],
        ["#pause", "controls button[data-answer=real]", "controls button[data-answer=synthetic]",
         *(f"confidence button[data-confidence={c}]" for c in range(1, 6)), "#reason", "#confirm"]),
    "forced choice of three": (
        {"design": "choice", "alternatives": 3, "display_size": 256},
        [],
        ["#pause", *(f"images button[data-position={p}]" for p in range(3))]),
    "rating, class and slider": (
        {"design": "rating", "rating_ask_class": True, "confidence_scale": "100", "display_size": 256},
        ["#controls button[data-rating='2']", "#class-after button[data-answer=synthetic]"],
        ["#pause", *(f"controls button[data-rating={r}]" for r in range(1, 5)),
         "class-after button[data-answer=real]", "class-after button[data-answer=synthetic]",
         "#confidence-range", "#confirm"]),
}


@reading
@pytest.mark.parametrize("design", list(DESIGNS))
def test_tabbing_to_each_control_shows_a_visible_focus_ring(page, live_server, make_study, design):
    options, reveal, expected = DESIGNS[design]
    study = make_study(trials_per_resolution=2, resolutions=[64], **options)
    reader = create_reader(study, "Dr. Tab")
    start(page, live_server, reader)
    wait_ready(page, None)
    for selector in reveal:  # by mouse: every control the trial can show is on screen
        page.click(selector)
    records = tab_through(page)
    order = list(records)  # Tab goes on from where the last click was: round the loop from Pause
    order = order[order.index("#pause"):] + order[:order.index("#pause")] if "#pause" in order else order
    assert order == expected, "every control is reached by Tab, in reading order"
    for record in records.values():
        assert_visible_focus(record)
    assert Response.objects.filter(trial__reader=reader).count() == 0, "tabbing answers nothing"

    # Pause by keyboard from the focused Pause button: Continue takes the focus, and shows it.
    page.focus("#pause")
    page.keyboard.press("Enter")
    assert page.locator("#paused").is_visible()
    record = page.evaluate(RECORD_FOCUS)
    assert record["key"] == "#resume"
    page.evaluate("() => document.activeElement.blur()")
    record["unfocused"] = page.evaluate("() => window.__ring(document.getElementById('resume'))")
    assert_visible_focus(record)


# ================================================================ 4. contrast

TEXTS_JS = """(root) => {
  const found = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.querySelector(root), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (!el.getClientRects().length || style.visibility !== 'visible') continue;  // not on screen
    found.push({key: window.__describe(el), text: el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 60),
                color: style.color, size: parseFloat(style.fontSize), weight: Number(style.fontWeight),
                inactive: !!el.closest('button:disabled, [aria-disabled=true]'), layers: window.__layers(el)});
  }
  return found;
}"""


def low_contrast(page, root: str = "#reader-app") -> tuple[list[str], list[str]]:
    """Every piece of text shown under root: (what was checked, what fails SC 1.4.3)."""
    page.evaluate(LAYERS_JS)
    checked, failures = [], []
    for item in page.evaluate(TEXTS_JS, root):
        if item["inactive"]:
            continue  # a disabled control: exempt under SC 1.4.3
        large = item["size"] >= 24 or (item["size"] >= 18.66 and item["weight"] >= 700)
        needed = 3.0 if large else 4.5
        text = parse_color(item["color"])
        over_image = any(layer["overImage"] for layer in item["layers"])
        # On an image (the key number on a forced-choice image) the pixel behind can be anything: both extremes.
        ratio = min(contrast_ratio(paint(item["layers"], text, image), paint(item["layers"], None, image))
                    for image in ((BLACK, WHITE) if over_image else (None,)))
        checked.append(item["text"])
        if ratio < needed:
            failures.append(f"{item['key']} {item['text']!r}: {ratio:.2f}:1 < {needed}:1 "
                            f"({item['size']:.1f}px/{item['weight']}, {item['color']})")
    return checked, failures


def assert_contrast(page, *must_include: str, root: str = "#reader-app"):
    checked, failures = low_contrast(page, root)
    assert not failures, "text below the WCAG 2.1 SC 1.4.3 contrast minimum:\n" + "\n".join(failures)
    for text in must_include:
        assert any(text in c for c in checked), f"{text!r} was not checked: {checked}"


@reading
def test_the_text_of_a_confidence_study_has_sufficient_contrast_in_every_state(page, live_server, make_study):
    study = make_study(practice_trials=1, confidence_scale="5", ask_reason=True, trials_per_resolution=2,
                       resolutions=[64], display_size=256)
    reader = create_reader(study, "Dr. Contrast")
    start(page, live_server, reader)
    previous = wait_ready(page, None)
    assert_contrast(page, "Practice", "1 of 1", "Pause", "Is this image real or synthetic?", "Real", "Synthetic")
    page.click("#controls button[data-answer=real]")
    page.click("#confirm")  # (the reason box is asked in practice too) then the practice feedback
    page.wait_for_function("() => /correct/i.test(document.getElementById('feedback').textContent)")
    assert_contrast(page, "orrect.")

    previous = wait_ready(page, previous)
    page.click("#controls button[data-answer=synthetic]")
    page.click("#confidence button[data-confidence='4']")  # chosen buttons, confidence, reason, Confirm
    assert_contrast(page, "Trial 1 of 2", "Synthetic", "How confident are you?", "4", "Why? (optional)", "Press",
                    "Confirm")
    page.click("#pause")
    assert_contrast(page, "Paused", "Your answers so far are saved", "Continue", root="#paused")
    page.click("#resume")
    page.wait_for_function(ANSWERABLE)

    failures = {"left": 1}  # a lost connection, then its return

    def flaky(route):
        if failures["left"]:
            failures["left"] -= 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/responses/", flaky)
    previous = src(page)
    page.click("#controls button[data-answer=real]")
    page.click("#confidence button[data-confidence='2']")
    page.click("#confirm")
    page.wait_for_function("() => /Connection lost/.test(document.getElementById('feedback').textContent)")
    assert_contrast(page, "Connection lost")
    page.wait_for_function("() => /Connection restored/.test(document.getElementById('feedback').textContent)")
    assert_contrast(page, "Connection restored")
    page.unroute("**/responses/")
    stored_answers(reader, 2, page=page)

    wait_ready(page, previous)
    page.set_viewport_size({"width": 700, "height": 480})  # too small for the set size: the notice
    page.wait_for_function("() => document.getElementById('size-notice').textContent !== ''")
    assert_contrast(page, "do not fit in this window", "Ctrl+0")
    page.set_viewport_size(VIEWPORT)

    Study.objects.filter(pk=study.pk).update(status=StudyStatus.PAUSED)
    page.click("#controls button[data-answer=real]")
    page.click("#confidence button[data-confidence='5']")
    page.click("#confirm")
    page.wait_for_function("() => !document.getElementById('halted').hidden", timeout=5000)
    assert_contrast(page, "Reading stopped", "not open for reading", root="#halted")


@reading
def test_the_text_of_image_choices_ratings_and_the_slider_has_sufficient_contrast(browser, live_server, make_study):
    study = make_study(design="choice", alternatives=3, display_size=256, trials_per_resolution=1,
                       resolutions=[64])
    reader = create_reader(study, "Dr. Choice Contrast")
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start(page, live_server, reader)
    wait_ready(page, None)
    assert_contrast(page, "Which image is", "Keys", "1", "2", "3", "click an image")
    context.close()

    study = make_study(design="rating", rating_ask_class=True, confidence_scale="100", display_size=256,
                       trials_per_resolution=1, resolutions=[64])
    reader = create_reader(study, "Dr. Rating Contrast")
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start(page, live_server, reader)
    wait_ready(page, None)
    assert_contrast(page, "How realistic is this image?", "Clearly synthetic", "Clearly real")
    page.click("#controls button[data-rating='3']")
    page.click("#class-after button[data-answer=real]")
    page.locator("#confidence-range").click()
    assert_contrast(page, "Probably real", "And is this image real or synthetic?", "Real", "How confident", "50",
                    "Confirm")
    context.close()
