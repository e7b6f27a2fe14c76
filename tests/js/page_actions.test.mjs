// The coordinator pages' small modules: copy buttons and confirmations, with a fake document.
import assert from "node:assert/strict";
import { test } from "node:test";

import { copyText, install as installCopy } from "../../static/mirage/copy.mjs";
import { install as installConfirm } from "../../static/mirage/confirm.mjs";

function fakeDocument({ copyWorks = true } = {}) {
  const listeners = {};
  const appended = [];
  return {
    listeners, appended, copied: null,
    addEventListener(type, handler) { listeners[type] = handler; },
    createElement() {
      const doc = this;
      return { style: {}, setAttribute() {}, select() { doc.selected = this.value; }, remove() { doc.removed = true; } };
    },
    body: { append(element) { appended.push(element); } },
    execCommand(command) {
      if (command === "copy" && copyWorks) this.copied = this.selected;
      return copyWorks;
    },
  };
}

test("the clipboard gets the text where the browser allows it", async () => {
  const written = [];
  const ok = await copyText("https://mirage.test/r/abc/", fakeDocument(), { writeText: async (t) => written.push(t) });
  assert.equal(ok, true);
  assert.deepEqual(written, ["https://mirage.test/r/abc/"]);
});

test("a refused clipboard falls back to selecting and copying, and cleans up", async () => {
  const doc = fakeDocument();
  const refused = { writeText: async () => { throw new Error("NotAllowedError"); } };
  assert.equal(await copyText("link", doc, refused), true);
  assert.equal(doc.copied, "link");
  assert.equal(doc.removed, true);
  assert.equal(await copyText("link", fakeDocument({ copyWorks: false }), undefined), false);
});

test("a copy button says Copied, then its own label again", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const doc = fakeDocument();
  installCopy(doc);
  const button = { dataset: { copy: "link" }, textContent: "Copy", setAttribute() {},
                   closest: (selector) => (selector.startsWith("button.copy") ? button : null) };
  await doc.listeners.click({ target: button });
  assert.equal(button.textContent, "Copied");
  t.mock.timers.tick(2000);
  assert.equal(button.textContent, "Copy");
  await doc.listeners.click({ target: { closest: () => null } });  // a click elsewhere changes nothing
});

test("a form with a question is sent only when the person confirms", () => {
  const doc = fakeDocument();
  const asked = [];
  let answer = false;
  installConfirm(doc, (question) => { asked.push(question); return answer; });
  const form = { dataset: { confirm: "Close the study?" } };
  const submit = () => {
    const event = { target: { closest: () => form }, prevented: false, stopped: false,
                    preventDefault() { this.prevented = true; }, stopImmediatePropagation() { this.stopped = true; } };
    doc.listeners.submit(event);
    return event;
  };
  const refused = submit();
  assert.equal(refused.prevented && refused.stopped, true);
  answer = true;
  assert.equal(submit().prevented, false);
  assert.deepEqual(asked, ["Close the study?", "Close the study?"]);
  const plain = { target: { closest: () => null }, prevented: false, preventDefault() { this.prevented = true; } };
  doc.listeners.submit(plain);
  assert.equal(plain.prevented, false, "a form without a question is sent as it is");
});
