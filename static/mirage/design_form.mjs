// The study design form shows only the fields that apply to the chosen design, as the coordinator changes
// the design, the exposure or the practice trials. The rule is the server's (APPLIES_WHEN in
// readerstudy/models/study.py): each field's wrapper carries its condition as data-applies-when, e.g.
// {"design": ["choice"]} or {"practice_trials": {"above": 0}}. A hidden field's inputs are disabled, so
// neither saving nor the live preview sends them (the server stores such a field at its default, and
// says nothing of what it held). Without this script every field shows.

/**
 * Whether a field with `condition` applies, given the form's current values (strings, as inputs give them).
 * A list names the values under which it applies; {"above": n} asks for a number above n. A number the
 * coordinator is still typing (empty, or not a number) hides nothing: the server will say what is wrong.
 */
export function applies(condition, values) {
  return Object.entries(condition).every(([control, when]) => {
    const value = values[control];
    if (Array.isArray(when)) return when.includes(value);
    const number = Number(value);
    if (value === undefined || String(value).trim() === "" || !Number.isFinite(number)) return true;
    return number > when.above;
  });
}

/** The names of the controls the conditions read (the design, the exposure mode, the practice trials). */
export function controlsOf(conditions) {
  return [...new Set(conditions.flatMap((condition) => Object.keys(condition)))];
}

/** Hide the fields of `form` that do not apply, now and whenever a control changes; a fieldset left empty too. */
export function attach(form) {
  const fields = [...form.querySelectorAll("[data-applies-when]")].map((element) => (
    { element, condition: JSON.parse(element.dataset.appliesWhen) }));
  const controls = controlsOf(fields.map((field) => field.condition));
  function update() {
    const values = Object.fromEntries(controls.map((name) => [name, form.elements.namedItem(name)?.value]));
    for (const { element, condition } of fields) {
      element.hidden = !applies(condition, values);
      for (const input of element.querySelectorAll("input, select, textarea")) input.disabled = element.hidden;
    }
    for (const fieldset of form.querySelectorAll("fieldset")) {
      const inside = [...fieldset.querySelectorAll(".field")];
      fieldset.hidden = inside.length > 0 && inside.every((field) => field.hidden);
    }
  }
  const onChange = (event) => { if (controls.includes(event.target.name)) update(); };
  form.addEventListener("input", onChange);
  form.addEventListener("change", onChange);
  update();
  return update;
}

if (typeof document !== "undefined") {
  const form = document.querySelector("form[data-design-form]");
  if (form) attach(form);
}
