// The reading screen's phases, and for each the events it accepts and the phase each leads to.
// An event a phase does not list is ignored: a key press while nothing can be answered, a pause once the
// reading has stopped, a late timer. Every change of phase goes through one dispatch (see machine()).
//
//   loading    a trial is being prepared: its images decoded, the blank interval between trials
//   countdown  3, 2, 1 before a timed image
//   exposing   a timed image is up: nothing cuts it short, so a pause waits for the mask ("pausing")
//   pausing    a pause asked for while a timed image is up; it begins when the mask is
//   showing    an untimed image is up, not yet answerable (the double-press guard, the minimum viewing time)
//   masked     a timed image has been replaced by its mask, not yet answerable
//   answering  answers are accepted
//   sending    the answer is on its way; the page goes on at once, or when the server's acknowledgement
//              says what comes next (a practice verdict, a staircase exposure, no trial known yet)
//   feedback   the server's verdict on a practice answer is shown
//   paused     the reader paused: nothing on screen, the viewing clock stopped
//   done       every trial answered (or the reading ended on the server): on to the done page
//   stopped    the study was paused or closed, or an answer was refused: the page says why
export const TRANSITIONS = Object.freeze({
  loading: { countdown: "countdown", show: "showing", mask: "masked", wait: "sending", timeout: "sending",
             gone: "loading", pause: "paused", finish: "done", stop: "stopped" },
  countdown: { expose: "exposing", gone: "loading", pause: "paused", finish: "done", stop: "stopped" },
  exposing: { mask: "masked", pause: "pausing", stop: "stopped" },
  pausing: { mask: "paused", stop: "stopped" },
  showing: { accept: "answering", timeout: "sending", gone: "loading", pause: "paused", finish: "done",
             stop: "stopped" },
  masked: { accept: "answering", timeout: "sending", gone: "loading", pause: "paused", finish: "done",
            stop: "stopped" },
  answering: { answer: "sending", timeout: "sending", gone: "loading", pause: "paused", finish: "done",
               stop: "stopped" },
  // A finish waits for the verdict to be shown: sending and feedback go on through loading, which ends.
  sending: { next: "loading", verdict: "feedback", pause: "paused", stop: "stopped" },
  feedback: { next: "loading", pause: "paused", stop: "stopped" },
  paused: { resume: "loading", stop: "stopped" },
  done: {},
  stopped: {},
});

export const INITIAL = "loading";

/** The phase an event leads to from a phase, or null when that phase does not accept it. */
export function nextPhase(phase, event) {
  const allowed = TRANSITIONS[phase];
  if (!allowed) throw new Error(`unknown phase ${phase}`);
  return Object.prototype.hasOwnProperty.call(allowed, event) ? allowed[event] : null;
}

/**
 * The one holder of the current phase. dispatch(event, detail) moves to the phase the table gives and
 * calls onEnter(phase, {from, event, detail}); it returns false (and changes nothing) for an event the
 * current phase does not accept. `generation` grows with every change, so work begun in one phase (an
 * image decode, a frame loop) can tell it has been overtaken.
 */
export function machine(onEnter, initial = INITIAL) {
  let phase = initial;
  let generation = 0;
  return {
    /** Enter the initial phase (its onEnter runs as for any other). */
    start(detail) {
      generation += 1;
      onEnter(phase, { from: null, event: "start", detail });
    },
    get phase() { return phase; },
    get generation() { return generation; },
    accepts(event) { return nextPhase(phase, event) !== null; },
    dispatch(event, detail) {
      const to = nextPhase(phase, event);
      if (to === null) return false;
      const from = phase;
      phase = to;
      generation += 1;
      onEnter(to, { from, event, detail });
      return true;
    },
  };
}
