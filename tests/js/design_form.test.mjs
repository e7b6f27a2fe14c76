// The design form's script: which fields apply, from the server's conditions and the form's values.
import assert from "node:assert/strict";
import { test } from "node:test";

import { applies, controlsOf } from "../../static/mirage/design_form.mjs";

test("a list names the values under which a field applies", () => {
  const choiceOnly = { design: ["choice"] };
  assert.equal(applies(choiceOnly, { design: "choice" }), true);
  assert.equal(applies(choiceOnly, { design: "single" }), false);
  assert.equal(applies({ design: ["single", "rating"] }, { design: "rating" }), true);
});

test("a number above a bound applies; one still being typed hides nothing", () => {
  const withPractice = { practice_trials: { above: 0 } };
  assert.equal(applies(withPractice, { practice_trials: "4" }), true);
  assert.equal(applies(withPractice, { practice_trials: "0" }), false);
  assert.equal(applies(withPractice, { practice_trials: "" }), true);
  assert.equal(applies(withPractice, { practice_trials: "4x" }), true);
});

test("every condition of a field must hold, and no condition means always", () => {
  const both = { design: ["rating"], practice_trials: { above: 0 } };
  assert.equal(applies(both, { design: "rating", practice_trials: "2" }), true);
  assert.equal(applies(both, { design: "single", practice_trials: "2" }), false);
  assert.equal(applies(both, { design: "rating", practice_trials: "0" }), false);
  assert.equal(applies({}, { design: "single" }), true);
});

test("the controls are the fields the conditions read, each once", () => {
  const controls = controlsOf([{ design: ["choice"] }, { design: ["rating"] }, { exposure_mode: ["fixed"] }]);
  assert.deepEqual(controls, ["design", "exposure_mode"]);
});
