// The reading screen's phases: one table, one dispatch.
import assert from "node:assert/strict";
import { test } from "node:test";

import { INITIAL, TRANSITIONS, machine, nextPhase } from "../../static/mirage/reader/phases.mjs";

const PHASES = Object.keys(TRANSITIONS);
const TERMINAL = ["done", "stopped"];

function run(events, from = INITIAL) {
  const seen = [];
  const screen = machine((phase) => seen.push(phase), from);
  for (const event of events) screen.dispatch(event);
  return { phase: screen.phase, seen };
}

test("every phase the table leads to is a phase of the table", () => {
  for (const [phase, events] of Object.entries(TRANSITIONS)) {
    for (const [event, to] of Object.entries(events)) {
      assert.ok(PHASES.includes(to), `${phase} --${event}--> ${to}`);
    }
  }
  assert.ok(PHASES.includes(INITIAL));
});

test("done and stopped are final; every other phase can be stopped, and reaches done", () => {
  for (const phase of TERMINAL) assert.deepEqual(TRANSITIONS[phase], {});
  for (const phase of PHASES.filter((p) => !TERMINAL.includes(p))) {
    assert.equal(nextPhase(phase, "stop"), "stopped", phase);
    // Breadth-first: done is reachable from here.
    const seen = new Set([phase]);
    const todo = [phase];
    while (todo.length) {
      for (const to of Object.values(TRANSITIONS[todo.shift()])) {
        if (!seen.has(to)) { seen.add(to); todo.push(to); }
      }
    }
    assert.ok(seen.has("done"), `${phase} never reaches done`);
  }
});

test("an untimed trial: shown, answerable after the guard, answered, then the next one", () => {
  assert.deepEqual(run(["show", "accept", "answer", "next"]).seen, ["showing", "answering", "sending", "loading"]);
});

test("a timed trial: countdown, exposure, mask, then answers", () => {
  assert.deepEqual(run(["countdown", "expose", "mask", "accept", "answer"]).seen,
                   ["countdown", "exposing", "masked", "answering", "sending"]);
});

test("a pause during a timed exposure waits for the mask; the image is never cut short", () => {
  const { phase, seen } = run(["countdown", "expose", "pause", "pause", "mask"]);
  assert.deepEqual(seen, ["countdown", "exposing", "pausing", "paused"]);
  assert.equal(phase, "paused");
  assert.equal(nextPhase("pausing", "resume"), null, "nothing resumes what has not paused yet");
});

test("a pause in the countdown ends it: on resume the trial is prepared afresh", () => {
  assert.deepEqual(run(["countdown", "pause", "resume"]).seen, ["countdown", "paused", "loading"]);
});

test("answers are taken only while answering; the time limit also ends the showing and the mask", () => {
  for (const phase of PHASES) {
    assert.equal(nextPhase(phase, "answer") !== null, phase === "answering", phase);
  }
  for (const phase of ["showing", "masked", "answering"]) assert.equal(nextPhase(phase, "timeout"), "sending");
  assert.equal(nextPhase("exposing", "timeout"), null, "a timed image is never cut short");
});

test("a practice verdict is shown before the next trial, and the reading never ends over it", () => {
  assert.deepEqual(run(["show", "accept", "answer", "verdict", "next"]).seen,
                   ["showing", "answering", "sending", "feedback", "loading"]);
  assert.equal(nextPhase("sending", "finish"), null);
  assert.equal(nextPhase("feedback", "finish"), null);
  assert.equal(nextPhase("loading", "finish"), "done");
});

test("a trial answered in another tab is left at once, except while a timed image is up", () => {
  for (const phase of ["loading", "countdown", "showing", "masked", "answering"]) {
    assert.equal(nextPhase(phase, "gone"), "loading", phase);
  }
  assert.equal(nextPhase("exposing", "gone"), null);
  assert.equal(nextPhase("paused", "gone"), null, "the pause screen stays; resuming goes on from the server");
});

test("dispatch ignores what the phase does not accept, and says whether it moved", () => {
  const entered = [];
  const screen = machine((phase, change) => entered.push([phase, change.from, change.event, change.detail]));
  assert.equal(screen.dispatch("answer"), false, "nothing to answer while loading");
  assert.equal(screen.phase, "loading");
  assert.equal(screen.generation, 0);
  assert.equal(screen.accepts("show"), true);
  assert.equal(screen.dispatch("stop", "The study has been closed."), true);
  assert.deepEqual(entered, [["stopped", "loading", "stop", "The study has been closed."]]);
  assert.equal(screen.generation, 1);
  assert.equal(screen.dispatch("resume"), false);
  assert.throws(() => nextPhase("nowhere", "stop"), /unknown phase/);
});

test("start enters the first phase; a phase may dispatch on arrival", () => {
  const seen = [];
  const screen = machine((phase, change) => {
    seen.push([phase, change.event]);
    if (phase === "loading" && change.event === "start") screen.dispatch("show");
  });
  screen.start();
  assert.deepEqual(seen, [["loading", "start"], ["showing", "show"]]);
  assert.equal(screen.phase, "showing");
  assert.equal(screen.generation, 2);
});
