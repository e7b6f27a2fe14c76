"""The study design form fits the design: one rule for what applies, help, the supply check, the live panels."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from readerstudy.forms import StudyForm
from readerstudy.models import Study
from readerstudy.models.study import APPLIES_WHEN, field_applies
from readerstudy.views.design import reading_minutes

pytestmark = pytest.mark.django_db

NEW = "/coordinator/studies/new/"
PREVIEW = "/coordinator/studies/design/preview/"
POWER = "/coordinator/studies/design/power/"

# A value for every field that applies only sometimes, each unlike its default and valid for every design.
NOT_DEFAULT = {
    "alternatives": ("3", 3), "odd_class": ("synthetic", "synthetic"), "synthetic_fraction": ("0.25", 0.25),
    "tell_ratio": ("on", True), "confidence_scale": ("5", "5"), "rating_labels": ("a\nb\nc\nd\ne", list("abcde")),
    "rating_ask_class": ("on", True), "practice_pass_mark": ("0.5", 0.5), "exposure_ms": ("300", 300),
    "exposure_levels_ms": ("150,300", [150, 300]),
}
# practice_feedback is left unticked: False, where its default is True.


def design_data(pool, **overrides):
    """A design as the page sends it: with the fields that apply to it, and no others."""
    data = {
        "name": "Fits the design", "pool": pool.pk, "design": "single", "resolutions": "32,64",
        "trials_per_resolution": 4, "case_set": "shared", "order": "interleaved", "practice_trials": 0,
        "repeat_trials": 0, "catch_trials": 0, "min_view_ms": 0, "display_size": 400, "upscale": "pixelated",
        "blank_ms": 250, "exposure_mode": "none", "instructions": "", "consent": "",
    }
    data.update(overrides)
    needs = {"synthetic_fraction": ("single", "rating"), "confidence_scale": ("single",),
             "alternatives": ("choice",), "odd_class": ("choice",), "rating_labels": ("rating",)}
    given = {"synthetic_fraction": "0.5", "confidence_scale": "off", "alternatives": "2", "odd_class": "real",
             "rating_labels": "Fake\nProbably fake\nProbably real\nReal"}
    for name, designs in needs.items():
        if data["design"] in designs:
            data.setdefault(name, given[name])
    if int(data["practice_trials"]) > 0:
        data.setdefault("practice_pass_mark", "0")
    if data["exposure_mode"] in ("fixed", "staircase"):
        data.setdefault("exposure_ms", "500")
    if data["exposure_mode"] == "constant":
        data.setdefault("exposure_levels_ms", "100,200,400,800")
    return data


class Fields(HTMLParser):
    """The design form's fields as the page gives them: name -> its data-applies-when (None: always)."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, dict | None] = {}
        self._condition = self._open = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and "field" in (attrs.get("class") or "").split():
            self._open = True
            self._condition = json.loads(attrs["data-applies-when"]) if "data-applies-when" in attrs else None
        elif self._open and tag in ("input", "select", "textarea") and attrs.get("name"):
            self.fields.setdefault(attrs["name"], self._condition)


def page_fields(html: str) -> dict[str, dict | None]:
    parser = Fields()
    parser.feed(html)
    return parser.fields


# ----------------------------------------------------------------------------- one rule

def test_the_page_gives_every_field_the_rule_of_the_model_and_help_for_a_coordinator(client, alice, pool):
    client.force_login(alice)
    page = client.get(NEW).content.decode()
    fields = page_fields(page)
    assert set(fields) == set(StudyForm.Meta.fields)
    assert {name: condition for name, condition in fields.items() if condition} == APPLIES_WHEN
    form = StudyForm()
    for name, field in form.fields.items():
        assert len(field.help_text) > 40, f"{name} has no help worth the name"
        assert f'id="id_{name}_helptext"' in page and f'aria-describedby="id_{name}_helptext"' in page
    assert 'type="module" src="/static/mirage/design_form.mjs"' in page


@pytest.mark.parametrize("exposure_mode", ["none", "fixed", "constant", "staircase"])
@pytest.mark.parametrize("design", ["single", "choice", "rating"])
@pytest.mark.parametrize("practice_trials", [0, 2])
def test_the_form_stores_what_the_study_summary_shows_and_defaults_the_rest(client, alice, pool, make_study, design,
                                                                            exposure_mode, practice_trials):
    """Every value sent is kept exactly where design_fields_that_apply() names its field; elsewhere the default."""
    client.force_login(alice)
    data = design_data(pool, design=design, exposure_mode=exposure_mode, practice_trials=practice_trials,
                       **{name: sent for name, (sent, _) in NOT_DEFAULT.items()})
    if exposure_mode == "staircase":  # kept only for the studies that already use it: edit one
        study = make_study(status="draft", exposure_mode="staircase")
        response = client.post(f"/coordinator/studies/{study.pk}/edit/", data)
    else:
        response = client.post(NEW, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    study = Study.objects.get(name="Fits the design")
    applying = set(study.design_fields_that_apply())
    for name, (_, value) in {**NOT_DEFAULT, "practice_feedback": (None, False)}.items():
        default = Study._meta.get_field(name).get_default()
        assert (getattr(study, name) == value) == (name in applying), name
        if name not in applying:
            assert getattr(study, name) == default, name
    expected = {name for name in Study.DESIGN_FIELDS
                if field_applies(name, {"design": design, "exposure_mode": exposure_mode,
                                        "practice_trials": practice_trials})}
    assert applying == expected
    summary = client.get(f"/coordinator/studies/{study.pk}/").content.decode()
    assert ("<th>Alternatives</th>" in summary) is (design == "choice")
    assert ("<th>Exposure levels (ms)</th>" in summary) is (exposure_mode == "constant")


def test_the_rule_reads_the_design_the_exposure_and_the_practice():
    assert field_applies("alternatives", {"design": "choice"})
    assert not field_applies("alternatives", {"design": "single"})
    assert field_applies("confidence_scale", {"design": "single"})
    assert not field_applies("confidence_scale", {"design": "choice"})
    assert not field_applies("practice_pass_mark", {"practice_trials": 0})
    assert field_applies("practice_pass_mark", {"practice_trials": 3})
    assert not field_applies("practice_pass_mark", {"practice_trials": None})
    assert field_applies("exposure_ms", {"exposure_mode": "staircase"})
    assert not field_applies("exposure_ms", {"exposure_mode": "none"})
    assert field_applies("min_view_ms", {}) and field_applies("pool", {})


# ----------------------------------------------------------------------------- hidden fields never block saving

def test_fields_hidden_for_the_design_do_not_block_saving(client, alice, pool):
    """As the page sends it: what does not apply is left out (disabled); what is sent and wrong there is ignored."""
    client.force_login(alice)
    data = design_data(pool, design="choice", alternatives=2, odd_class="real",
                       exposure_levels_ms="10,200",  # under one frame, but the exposure is untimed
                       rating_labels="only one")  # a scale of one label, but this is no rating
    response = client.post(NEW, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    study = Study.objects.get()
    assert study.exposure_levels_ms == [100, 200, 400, 800]
    assert study.rating_labels == Study._meta.get_field("rating_labels").get_default()
    assert study.synthetic_fraction == 0.5 and study.confidence_scale == "off"


def test_a_value_its_own_field_refuses_is_still_said_without_the_script(client, alice, pool):
    client.force_login(alice)
    for junk, message in (("abc", "Enter a whole number"), ("7", "less than or equal to 4")):
        response = client.post(NEW, design_data(pool, design="single", alternatives=junk))
        assert response.status_code == 400 and message in response.content.decode()
    assert not Study.objects.exists()


def test_a_form_sent_back_shows_a_field_left_out_at_its_default(client, alice, pool):
    client.force_login(alice)
    response = client.post(NEW, design_data(pool, design="single", trials_per_resolution=40))
    page = response.content.decode()
    assert response.status_code == 400
    assert 'name="alternatives" value="2"' in page and 'name="exposure_levels_ms" value="100,200,400,800"' in page
    assert re.search(r'name="practice_feedback"[^>]* checked', page)


# ----------------------------------------------------------------------------- the supply check

def test_saving_a_design_the_pool_cannot_supply_says_what_is_missing_and_how_many_more(client, alice, pool):
    client.force_login(alice)
    # 2 resolutions x 20 real images need 40 real sources; the test pool has 30, and as many synthetic.
    response = client.post(NEW, design_data(pool, trials_per_resolution=40))
    page = response.content.decode()
    assert response.status_code == 400 and "The pool cannot supply this design." in page
    assert ("2 resolutions x 20 real images need 40 real sources with images at every resolution; "
            "the pool has 30.") in page
    assert "Add 10 more real and 10 more synthetic sources to the pool" in page
    # 60 practice trials need 30 real sources outside the 4 real images of the main case set.
    response = client.post(NEW, design_data(pool, practice_trials=60))
    assert "the pool has 26 left. Add 4 more real sources to the pool" in response.content.decode()
    assert not Study.objects.exists()


# ----------------------------------------------------------------------------- the preview

def preview(client, pool, **values):
    data = design_data(pool, **values)
    for name in ("name", "instructions", "consent"):
        data.pop(name)
    return client.get(PREVIEW, data)


@pytest.mark.parametrize("design, images, prompt, answers", [
    ("single", 1, "Is this image real or synthetic?", ["Real <kbd>R</kbd>", "Synthetic <kbd>S</kbd>"]),
    ("choice", 3, "Which image is real?", ["Keys <kbd>1</kbd>–<kbd>3</kbd>"]),
    ("rating", 1, "How realistic is this image?", ["Clearly synthetic <kbd>1</kbd>", "Clearly real <kbd>4</kbd>"]),
])
def test_the_preview_shows_the_reading_screen_of_each_design(client, alice, pool, design, images, prompt, answers):
    client.force_login(alice)
    response = preview(client, pool, design=design, alternatives=3, odd_class="real",
                       rating_labels="Clearly synthetic\nProbably synthetic\nProbably real\nClearly real",
                       preview_resolution="64", practice_trials=2, catch_trials=1, repeat_trials=2)
    page = response.content.decode()
    assert response.status_code == 200 and 'class="error"' not in page
    shown = re.findall(r'<img class="stimulus pixelated" src="(/coordinator/pools/\d+/images/\w+\.png)"', page)
    assert len(shown) == images
    for url in shown:
        assert client.get(url)["Content-Type"] == "image/png"
        assert pool.images.get(uid=url.rsplit("/", 1)[1][:-4]).resolution == 64
    assert prompt in page and all(answer in page for answer in answers)
    assert '<option value="64" selected>64 px</option>' in page
    assert "How confident are you?" not in page
    assert "Trial 1 of 11" in page  # 8 main, 1 catch, 2 repeated; practice is not counted
    assert re.search(r"Total</th><td class=\"num\"><strong>13</strong>", page)
    assert "Untimed: each image stays on screen until the reader answers." in page
    assert re.search(r"About <strong>\d+ minutes?</strong> of reading per reader", page)
    if design == "choice":
        odd = re.findall(r'<button type="button" class="choice( odd)?">', page)
        assert odd.count(" odd") == 1 and len(odd) == 3


def test_the_preview_shows_confidence_and_explains_the_exposure(client, alice, pool):
    client.force_login(alice)
    page = preview(client, pool, confidence_scale="5", ask_reason="on", exposure_mode="constant",
                   exposure_levels_ms="400,100,200", time_limit_ms=4000).content.decode()
    assert "How confident are you? (1 = guessing, 5 = certain)" in page and "Why? (optional)" in page
    assert ("one of 3 durations, 100, 200, 400 ms, each equally often at every resolution and for both kinds of "
            "image, in random order, after a countdown (3, 2, 1, 1.2 s in all)") in page
    assert "4000 ms to answer, counted from the noise pattern" in page
    fixed = preview(client, pool, exposure_mode="fixed", exposure_ms=250, practice_trials=2).content.decode()
    assert "Each main-trial image is shown for 250 ms" in fixed and "Practice is timed the same way" in fixed


def test_a_wrong_value_gives_the_forms_errors_in_the_preview_and_no_screen(client, alice, pool):
    client.force_login(alice)
    response = preview(client, pool, resolutions="32,abc", blank_ms="")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Resolutions: Give resolutions as whole numbers separated by commas" in page
    assert "Blank between trials (ms): This field is required." in page
    assert "stimulus" not in page and "Trials per reader" not in page


def test_a_design_the_pool_cannot_supply_is_previewed_under_the_reason(client, alice, pool):
    client.force_login(alice)
    page = preview(client, pool, trials_per_resolution=40).content.decode()
    assert "Saving this design would be refused" in page and "Add 10 more real" in page
    assert "stimulus" in page and "Trial 1 of 80" in page


def test_the_preview_of_a_study_being_edited_keeps_its_staircase(client, alice, pool, make_study):
    study = make_study(status="draft", exposure_mode="staircase", exposure_ms=300)
    client.force_login(alice)
    page = client.get(PREVIEW, {**design_data(pool, exposure_mode="staircase", exposure_ms=300),
                                "study": study.pk}).content.decode()
    assert "Adaptive staircase: each image is shown for 300 ms at first" in page
    refused = preview(client, pool, exposure_mode="staircase").content.decode()
    assert "Exposure: Select a valid choice." in refused
    for junk in ("abc", "²", "٣", "9" * 40):  # digits Python's int() takes or a database cannot: a 404, never a 500
        assert client.get(PREVIEW, {"study": junk}).status_code == 404
        assert client.get(POWER, {"study": junk}).status_code == 404


@pytest.mark.parametrize("url", [PREVIEW, POWER])
def test_only_coordinators_get_the_live_panels(client, bob, charlie, pool, url):
    assert client.get(url).status_code == 302  # to the login page
    for person in (bob, charlie):  # an analyst, an account with no role
        client.force_login(person)
        assert client.get(url).status_code == 403


def test_the_reading_time_adds_up_the_trials():
    study = Study(design="single", resolutions=[32, 64], trials_per_resolution=10, practice_trials=4, blank_ms=250)
    # practice: 4 x (0.25 s blank + 3 s + 1 s verdict); main: 20 x (0.25 + 3)
    assert reading_minutes(study) == pytest.approx((4 * 4.25 + 20 * 3.25) / 60)
    timed = Study(design="choice", alternatives=3, resolutions=[32], trials_per_resolution=10, blank_ms=0,
                  exposure_mode="fixed", exposure_ms=500, confidence_scale="5", time_limit_ms=2000)
    # countdown 1.2 s + 0.5 s exposure + 0.5 s mask, then 1.5 s to answer and 1.5 s for confidence, which the
    # 2 s time limit cuts to 2 s
    assert reading_minutes(timed) == pytest.approx(10 * (2.2 + 2.0) / 60)
    timed.practice_trials = 2  # timed too, with no confidence asked, and a verdict: 2.2 + 1.5 + 1 s
    assert reading_minutes(timed) == pytest.approx((10 * (2.2 + 2.0) + 2 * 4.7) / 60)


# ----------------------------------------------------------------------------- the power panel

def test_the_power_panel_plans_the_values_in_the_form_as_the_study_page_does(client, alice, pool, make_study):
    from analysis.planning import components_from_model, design_table, headline_power

    client.force_login(alice)
    panel = client.get(POWER).content.decode()
    assert 'name="accuracy"' in panel and 'name="readers"' in panel and 'value="8"' in panel
    assert 'hx-include="#study-form, #power-inputs"' in panel
    values = {k: v for k, v in design_data(pool, resolutions="32,64,96", trials_per_resolution=10).items()
              if k not in ("name", "instructions", "consent")}
    page = client.get(POWER, {**values, "accuracy": 0.6, "readers": 8}).content.decode()
    model = components_from_model(0.6)
    power = headline_power(model, readers=8, images=30, groups=3)["power"]
    needed = int(design_table(model, groups=3, images=(30,))["readers"][0])
    assert f"<strong>{round(100 * power)}% power</strong>" in page and f"<strong>{needed} readers</strong>" in page
    saved = make_study(trials_per_resolution=10)  # the same design, on the study page
    study_page = client.get(f"/coordinator/studies/{saved.pk}/power/?accuracy=0.6&readers=8").content.decode()
    assert f"<strong>{round(100 * power)}% power</strong>" in study_page

    for wrong, message in (({"accuracy": 1.5}, "less than or equal to 0.99"), ({"readers": ""}, "required"),
                           ({"trials_per_resolution": "x"}, "Trials per resolution: Enter a whole number")):
        page = client.get(POWER, {**values, "accuracy": 0.6, "readers": 8, **wrong}).content.decode()
        assert message in page and "% power" not in page and "readers</strong>" not in page
    rating = client.get(POWER, {**values, "design": "rating", "accuracy": 0.6, "readers": 8}).content.decode()
    assert "A realism rating has no chance level" in rating and "% power" not in rating
    few = client.get(POWER, {**values, "case_set": "random", "accuracy": 0.6, "readers": 2}).content.decode()
    assert "no power: a reader-random test needs at least 3 readers" in few
