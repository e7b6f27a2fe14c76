// The viewing clock and a trial's timing rules, with a fake clock written here.
import assert from "node:assert/strict";
import { test } from "node:test";

import { GUARD_MS, answerTimes, countdownSteps, createViewingClock, maskDue } from "../../static/mirage/reader/clock.mjs";

function fakeNow(start = 1000) {
  let t = start;
  const now = () => t;
  now.advance = (ms) => { t += ms; };
  return now;
}

test("the viewing clock counts only while the image is up, and a pause keeps what was viewed", () => {
  const now = fakeNow();
  const clock = createViewingClock(now);
  assert.equal(clock.viewedMs(), 0);
  now.advance(300);  // the image is not up yet (decoding, the blank interval)
  assert.equal(clock.viewedMs(), 0);
  clock.start();
  now.advance(600);
  assert.equal(clock.viewedMs(), 600);
  clock.stop();      // a pause
  now.advance(10000);
  assert.equal(clock.viewedMs(), 600, "the paused ten seconds are not counted");
  assert.equal(clock.running, false);
  clock.start();     // resumed: it goes on from where it stopped
  now.advance(150);
  assert.equal(clock.viewedMs(), 750);
  clock.reset();     // the next trial
  assert.equal(clock.viewedMs(), 0);
});

test("the clock starts at the frame that painted the image, and a second start changes nothing", () => {
  const now = fakeNow(5000);
  const clock = createViewingClock(now);
  clock.start(4990);  // the frame's timestamp, a little before now
  clock.start(5200);  // already running
  now.advance(100);
  assert.equal(clock.viewedMs(), 110);
});

test("an untimed trial is answerable after the guard, or after what is left of the minimum viewing time", () => {
  assert.deepEqual(answerTimes({ viewedMs: 0 }), { acceptInMs: GUARD_MS, timeoutInMs: null });
  assert.equal(answerTimes({ viewedMs: 0, minViewMs: 1200 }).acceptInMs, 1200);
  // 900 ms viewed before a pause: 300 ms of the minimum are left after it, never less than the guard.
  assert.equal(answerTimes({ viewedMs: 900, minViewMs: 1200 }).acceptInMs, 300);
  assert.equal(answerTimes({ viewedMs: 1100, minViewMs: 1200 }).acceptInMs, GUARD_MS);
});

test("a pause never renews the time limit: only what is left of it remains", () => {
  assert.equal(answerTimes({ viewedMs: 0, timeLimitMs: 1500 }).timeoutInMs, 1500);
  assert.equal(answerTimes({ viewedMs: 1000, timeLimitMs: 1500 }).timeoutInMs, 500);
  assert.ok(answerTimes({ viewedMs: 1600, timeLimitMs: 1500 }).timeoutInMs <= 0, "already up");
  assert.equal(answerTimes({ viewedMs: 1000, timeLimitMs: null }).timeoutInMs, null, "no limit, no timeout");
});

test("with a timed exposure the minimum viewing time and the time limit count from the mask", () => {
  // 500 ms exposure, just masked (510 ms viewed since onset): the full second of the limit is left.
  const masked = answerTimes({ viewedMs: 510, exposedMs: 500, minViewMs: 400, timeLimitMs: 1000 });
  assert.equal(masked.timeoutInMs, 990);
  assert.equal(masked.acceptInMs, 390);
});

test("the mask is swapped in at the frame whose successor is nearest the exposure", () => {
  const frame = 1000 / 60;
  for (const exposureMs of [50, 100, 300, 500]) {
    const onAt = 0;
    let now = 0;
    while (!maskDue({ onAt, now, frameMs: frame, exposureMs })) now += frame;
    const painted = now + frame;  // the mask appears a frame after the swap
    assert.ok(Math.abs(painted - exposureMs) <= frame / 2 + 1e-9, `${exposureMs} ms shown for ${painted} ms`);
  }
});

test("the countdown counts down from the given number", () => {
  assert.deepEqual(countdownSteps(3, 400), [["3", 400], ["2", 400], ["1", 400]]);
  assert.deepEqual(countdownSteps(0, 400), []);
});
