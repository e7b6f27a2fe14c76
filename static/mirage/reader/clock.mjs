// Viewing time and the timing rules of a trial, with no DOM: `now` is given (performance.now on the page).
//
// The viewing clock counts only the time an image is up: a pause stops it and keeps what was viewed, so a
// pause never buys viewing time. The minimum viewing time and the time limit count viewing time; for a
// timed exposure they count from the mask, as the answer can only come after it (the response time that
// is reported still counts from the image's onset).

// Input in the first moments of a new trial is a double click or key bounce, not a decision: ignored.
export const GUARD_MS = 150;

export function createViewingClock(now) {
  let viewedMs = 0;     // viewed before the last stop
  let since = null;     // when the image went up again, while it is up
  return {
    /** The image is up from `at` (the frame that painted it), unless the clock already runs. */
    start(at = now()) {
      if (since === null) since = at;
    },
    /** The image is gone (a pause, an answer): keep what was viewed. */
    stop() {
      if (since !== null) {
        viewedMs += Math.max(0, now() - since);
        since = null;
      }
    },
    /** A new trial. */
    reset() {
      viewedMs = 0;
      since = null;
    },
    get running() { return since !== null; },
    viewedMs() {
      return viewedMs + (since === null ? 0 : Math.max(0, now() - since));
    },
  };
}

/**
 * When a trial on screen becomes answerable and when its time is up, from now.
 * viewedMs: viewed so far (the clock); exposedMs: how long a timed image was up (0 if untimed);
 * timeLimitMs: null for none. Returns {acceptInMs, timeoutInMs} (timeoutInMs null without a limit; at or
 * below 0 the time is already up).
 */
export function answerTimes({ viewedMs, exposedMs = 0, minViewMs = 0, timeLimitMs = null, guardMs = GUARD_MS }) {
  const spent = viewedMs - exposedMs;
  return {
    acceptInMs: Math.max(guardMs, (minViewMs || 0) - spent),
    timeoutInMs: timeLimitMs ? timeLimitMs - spent : null,
  };
}

/**
 * Whether to swap in the mask at this frame: the mask is painted a frame later, so swap at the frame
 * whose successor is nearest the requested exposure. onAt: the frame that painted the image; now: this
 * frame; frameMs: the last frame's length.
 */
export function maskDue({ onAt, now, frameMs, exposureMs }) {
  return now + frameMs - onAt >= exposureMs - frameMs / 2;
}

/** The countdown before a timed image: [text, ms] steps, e.g. 3, 2, 1 at 400 ms each. */
export function countdownSteps(from, stepMs) {
  const steps = [];
  for (let n = from; n >= 1; n -= 1) steps.push([String(n), stepMs]);
  return steps;
}
