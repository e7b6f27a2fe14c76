// Mirage reading screen: keys, timing, preloading and never-lost answers (an ES module).
//
// The page talks only to the reader JSON API (the same endpoints a scripted reader uses):
//   GET  state_url      -> progress + the current and the next trial (opaque tokens only)
//   POST responses_url  -> stores the answer once per trial; a retry returns the stored answer
// The next trial's images are decoded before the current answer is sent, so the next image is painted in
// the frame after the key press. Answers are sent strictly in order and retried until acknowledged
// (reader/sender.mjs). The screen is always in one phase of reader/phases.mjs, and changes phase only by
// screen.dispatch(event); enter() below does what each phase does on arrival. What a trial asks and allows
// (time limit, confidence, feedback, when its exposure is known) comes from the server (display.rules).
import { machine } from "./reader/phases.mjs";
import { createSender, newClientKey } from "./reader/sender.mjs";
import { answerTimes, countdownSteps, createViewingClock, maskDue } from "./reader/clock.mjs";
import { createView } from "./reader/view.mjs";

const initial = JSON.parse(document.getElementById("reader-state").textContent);
const display = JSON.parse(document.getElementById("reader-display").textContent);
const view = createView(display);
const clock = createViewingClock(() => performance.now());
const FEEDBACK_MS = 900;           // a practice verdict on screen
const FEEDBACK_POINTED_MS = 1600;  // ... when it points out the odd image the reader missed

let progress = initial.progress;
let queue = initial.trials.slice();   // the server's current and next trial, from its latest state
let ended = null;                     // "finished" or "excluded", once the server says so
const answered = new Set();           // tokens answered on this page (sent or being sent)
const preloaded = new Map();
let trial = null;                     // the trial on screen: the server's payload, plus what was shown
let choice = emptyChoice();
let highlight = null;
let awaitedVerdict = null;            // the acknowledgement whose verdict comes before the next trial
let firstTrial = true;
let leaving = false;
let timers = [];                      // {id, livesIn}: cleared as soon as the phase is none of livesIn

const screen = machine(enter);
const sender = createSender({
  url: initial.responses_url,
  // The CSRF token matters only for invitations made to an account (session-authenticated).
  headers: { "X-CSRFToken": document.getElementById("csrf-token").value },
  onConnection: view.connection,
  onAcknowledged: acknowledge,
  onRefused: (error) => {
    view.setPending(sender.pending());
    screen.dispatch("stop", error.message);
  },
});

function emptyChoice() {
  return { answer: "", position: null, rating: null, confidence: null };
}

function rules(t) {
  return display.rules[t.kind === "practice" ? "practice" : "main"];
}

// ---------------------------------------------------------------- timers and frames

function later(ms, fn, livesIn = [screen.phase]) {
  const entry = { livesIn, id: 0 };
  entry.id = setTimeout(() => {
    timers = timers.filter((t) => t !== entry);
    fn();
  }, ms);
  timers.push(entry);
}

function wait(ms) {
  return new Promise((resolve) => later(ms, resolve));
}

function dropTimers(phase) {
  timers = timers.filter((t) => {
    if (t.livesIn.includes(phase)) return true;
    clearTimeout(t.id);
    return false;
  });
}

function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame((t) => resolve(t)));
}

// ---------------------------------------------------------------- what each phase does on arrival

function enter(phase, change) {
  dropTimers(phase);
  view.setPhase(phase);
  view.showPaused(phase === "paused");
  if (phase !== "answering") view.setAnswerable(false);
  if (phase !== "countdown") view.setCountdown(null);
  switch (phase) {
    case "loading": return enterLoading();
    case "countdown": return runCountdown();
    case "exposing": return runExposure();
    case "showing": return armAnswerTimers();
    case "masked": return enterMasked(change);
    case "answering": return view.setAnswerable(true);
    case "sending": return enterSending();
    case "feedback": return enterFeedback(change.detail);
    case "paused": return enterPaused();
    case "done": return leaveForDonePage();
    case "stopped": return view.showStopped(change.detail);
    default: return undefined;  // pausing: the exposure goes on, and its mask brings the pause
  }
}

function enterLoading() {
  if (ended === "excluded") return screen.dispatch("finish");
  const onScreen = trial && !answered.has(trial.token) && !trial.gone ? trial : null;
  if (onScreen) {  // back from a pause
    if (onScreen.exposure) return screen.dispatch("mask");  // a timed image is never shown twice
    const limit = rules(onScreen).time_limit_ms;
    if (limit && clock.viewedMs() >= limit) return submit(true);  // the time was up when the pause began
    return present(onScreen, true);  // shown again for what is left of its time
  }
  const next = nextShowable();
  if (next) return present({ ...next, exposure: null, gone: false, nodes: null, lastRect: null }, false);
  if (sender.pending() > 0) return screen.dispatch("wait");
  return screen.dispatch("finish");  // nothing left here: the done page (it sends back if trials remain)
}

/** The next trial the page may show now, or null. */
function nextShowable() {
  const next = queue.find((t) => !answered.has(t.token));
  if (!next) return null;
  // An exposure decided only when its trial becomes current: wait until the server has said it is.
  if (rules(next).exposure_set_when_current && (sender.pending() > 0 || queue[0] !== next)) return null;
  return next;
}

function preload(t) {
  for (const image of t.images) {
    if (!preloaded.has(image.url)) {
      const element = new Image();
      element.decoding = "async";
      element.src = image.url;
      preloaded.set(image.url, element.decode().then(() => element, () => element));
    }
  }
}

function preloadNext() {
  const next = queue.find((t) => !answered.has(t.token) && t.token !== trial.token);
  if (next) preload(next);
}

async function present(t, resumed) {
  const generation = screen.generation;
  const stale = () => screen.generation !== generation;
  if (!resumed) clock.reset();
  trial = t;
  choice = emptyChoice();
  highlight = null;
  view.showMask(false);
  view.clearMessage();
  view.resetControls(choice);
  preload(t);
  const elements = await Promise.all(t.images.map((image) => preloaded.get(image.url)));
  if (stale()) return;
  if (!firstTrial && !resumed && display.blank_ms > 0) {
    view.clearImages();
    await wait(display.blank_ms);
    if (stale()) return;
  }
  firstTrial = false;
  view.setProgress(t, progress, sender.pending("practice"), sender.pending("main"));
  t.size = view.fitSize(elements.length);
  t.nodes = view.stimulus(elements, t.size, choosePosition);
  if (t.exposure_ms) {
    screen.dispatch("countdown");
    return;
  }
  view.showImages(t.nodes);
  const paintedAt = await nextFrame();
  if (stale()) return;
  clock.start(paintedAt);
  screen.dispatch("show");
  preloadNext();
}

async function runCountdown() {
  view.clearImages();
  view.prepareMask(trial.nodes.length, trial.size);  // ready before the image is up
  for (const [text, ms] of countdownSteps(display.countdown_from, display.countdown_step_ms)) {
    view.setCountdown(text);
    await wait(ms);  // a pause here drops the timer: the image was never shown, it starts afresh
  }
  screen.dispatch("expose");
}

async function runExposure() {
  const t = trial;
  const up = () => trial === t && (screen.phase === "exposing" || screen.phase === "pausing");
  view.showImages(t.nodes);
  const onAt = await nextFrame();
  const rect = view.firstImageRect();
  // Swap in the mask at the frame whose successor (when the mask is painted) is nearest the exposure.
  let previous = onAt;
  for (;;) {
    const now = await nextFrame();
    const frameMs = now - previous;
    previous = now;
    if (maskDue({ onAt, now, frameMs, exposureMs: t.exposure_ms })) break;
  }
  if (!up()) return;  // the reading stopped meanwhile
  view.clearImages();
  view.showMask(true);
  const offAt = await nextFrame();
  if (!up()) return;
  t.exposure = { requested: t.exposure_ms, onAt, offAt, rect };
  clock.start(onAt);
  screen.dispatch("mask");  // masked, or paused when a pause was asked for meanwhile
}

function enterMasked({ from }) {
  if (trial.gone) return screen.dispatch("gone");      // answered in another tab while the image was up
  if (ended) return screen.dispatch("finish");
  clock.start();  // back from a pause: the clock goes on from where it stopped
  if (from === "exposing") {
    later(display.mask_ms, () => view.showMask(false), ["masked", "answering"]);
    preloadNext();
  }
  return armAnswerTimers();
}

function armAnswerTimers() {
  const exposure = trial.exposure;
  const times = answerTimes({
    viewedMs: clock.viewedMs(),
    exposedMs: exposure ? exposure.offAt - exposure.onAt : 0,
    minViewMs: display.min_view_ms,
    timeLimitMs: rules(trial).time_limit_ms,
  });
  if (times.timeoutInMs !== null && times.timeoutInMs <= 0) return submit(true);
  if (times.timeoutInMs !== null) later(times.timeoutInMs, () => submit(true), ["showing", "masked", "answering"]);
  return later(times.acceptInMs, () => screen.dispatch("accept"));
}

function enterSending() {
  const verdict = awaitedVerdict;
  awaitedVerdict = null;
  const generation = screen.generation;
  const current = () => screen.generation === generation;
  if (verdict) {  // practice with feedback: the server's verdict before the next trial
    verdict.then((body) => {
      if (!current()) return;
      const own = body.feedback && !(body.created === false && !body.same_client);
      if (!own) return screen.dispatch("next");
      return screen.dispatch("verdict", body.feedback);  // in a forced choice, with the odd image's position
    }, () => {});
    return undefined;
  }
  if (nextShowable() || sender.pending() === 0) return screen.dispatch("next");
  // Nothing the page may show yet (a staircase, a slow connection): wait for the acknowledgements.
  view.clearImages();
  view.say("Saving…");
  sender.idle().then(() => { if (current()) screen.dispatch("next"); });
  return undefined;
}

function enterFeedback(verdict) {
  view.showVerdict(verdict);
  const pointed = display.design === "choice" && !verdict.correct;
  later(pointed ? FEEDBACK_POINTED_MS : FEEDBACK_MS, () => screen.dispatch("next"));
}

function enterPaused() {
  clock.stop();  // the viewing clock stops, keeping what was viewed
  if (trial) trial.lastRect = view.firstImageRect() || trial.lastRect;
  view.clearImages();  // nothing to study behind the pause screen
}

function leaveForDonePage() {
  leaving = true;
  window.location.assign(initial.done_url);
}

// ---------------------------------------------------------------- the server's acknowledgements

function notOpenMessage(status) {
  if (status === "closed") return "The study has been closed by its coordinator. Your answers are saved; thank you.";
  return "The study is paused by its coordinator. Your answers so far are saved; please come back later.";
}

function acknowledge(body) {
  view.setPending(sender.pending());
  const state = body.state;
  if (state.excluded) {  // the practice pass mark was not reached: the done page says so
    ended = "excluded";
    queue = [];
    screen.dispatch("finish");  // or, after a verdict still to be shown, through loading
    return;
  }
  progress = state.progress;
  if (!state.open) {
    screen.dispatch("stop", notOpenMessage(state.status));
    return;
  }
  queue = state.trials;
  queue.forEach(preload);
  if (state.finished) ended = "finished";
  // Not stored, and the stored answer is not this page's own earlier try (a retry after a lost
  // acknowledgement): the trial had already been answered elsewhere (another tab or device), and the
  // server kept that answer.
  let elsewhere = body.created === false && !body.same_client;
  if (trial && !answered.has(trial.token) && !trial.gone && !queue.some((t) => t.token === trial.token)) {
    // The trial on screen is no longer the server's to answer: continue from the server's state (at
    // once, or when a timed image's mask is up, or on resume).
    trial.gone = true;
    elsewhere = true;
    screen.dispatch("gone");
  }
  if (elsewhere) view.say("This trial had already been answered in another tab or window; that answer was kept.", "notice");
  if (ended && sender.pending() === 0) screen.dispatch("finish");
}

// ---------------------------------------------------------------- answering

function needsConfidence() {
  return Boolean(trial) && rules(trial).asks_confidence;
}

function primaryChosen() {
  if (display.design === "single") return choice.answer !== "";
  if (display.design === "choice") return choice.position !== null;
  return choice.rating !== null;
}

function ready() {
  return primaryChosen() && (!needsConfidence() || choice.confidence !== null) &&
    (!view.has("classAfter") || choice.answer !== "");
}

function answering() {
  return screen.phase === "answering";
}

function afterPrimary(confirmNeeded) {
  view.markSelected(choice, highlight);
  if (needsConfidence()) {
    view.reveal("confidence", true);
    if (display.confidence_scale === "100") view.focusSlider();
  }
  view.reveal("reason", true);
  if (!confirmNeeded && ready() && !view.has("reason")) {
    submit(false);
  } else {
    view.reveal("confirm", true);
  }
}

function chooseAnswer(answer) {
  if (!answering()) return;
  if (display.design === "single") {
    choice.answer = answer;
    afterPrimary(false);
  } else if (view.has("classAfter") && choice.rating !== null) {
    choice.answer = answer;
    afterPrimary(false);
  }
}

function choosePosition(position) {
  if (!answering() || display.design !== "choice" || position < 0 || position >= trial.images.length) return;
  choice.position = position;
  highlight = position;
  afterPrimary(false);
}

function chooseRating(rating) {
  if (!answering() || display.design !== "rating" || rating < 1 || rating > display.rating_labels.length) return;
  choice.rating = rating;
  if (view.has("classAfter")) {
    view.reveal("classAfter", true);  // then "real or synthetic?", answered with R / S
    view.markSelected(choice, highlight);
    return;
  }
  afterPrimary(true);  // a rating is confirmed with Enter
}

function chooseConfidence(value) {
  if (!answering() || !needsConfidence() || !primaryChosen()) return;
  choice.confidence = value;
  view.markSelected(choice, highlight);
  view.reveal("confirm", true);
}

function answerPayload(t, timedOut) {
  const rect = t.exposure ? t.exposure.rect : (view.firstImageRect() || t.lastRect || { width: null, height: null });
  const payload = {
    trial: t.token,
    client_key: newClientKey(),
    timed_out: Boolean(timedOut),
    client_response_ms: Math.round(clock.viewedMs() * 10) / 10,
    displayed_width: rect.width,
    displayed_height: rect.height,
    device_pixel_ratio: window.devicePixelRatio || 1,
  };
  if (!timedOut) {
    if (display.design === "single") payload.answer = choice.answer;
    if (display.design === "choice") payload.chosen_position = choice.position;
    if (display.design === "rating") payload.rating = choice.rating;
    if (view.has("classAfter")) payload.answer = choice.answer;
    if (needsConfidence()) payload.confidence = choice.confidence;
    if (view.has("reason")) payload.reason = view.reasonText();
  }
  if (t.exposure) {
    payload.client_exposure_ms = Math.round((t.exposure.offAt - t.exposure.onAt) * 10) / 10;
    payload.requested_exposure_ms = t.exposure.requested;
  }
  return payload;
}

function submit(timedOut) {
  const event = timedOut ? "timeout" : "answer";
  if (!trial || answered.has(trial.token) || !screen.accepts(event) || (!timedOut && !ready())) return;
  const t = trial;
  const payload = answerPayload(t, timedOut);
  clock.stop();
  answered.add(t.token);
  const sent = sender.send(payload, t.kind);
  sent.catch(() => {});  // a refusal stops the page (onRefused)
  view.setPending(sender.pending());
  awaitedVerdict = rules(t).feedback ? sent : null;
  screen.dispatch(event);
}

function confirm() {
  // A 0-100 confidence left where the slider stands counts once the reader confirms it.
  if (needsConfidence() && display.confidence_scale === "100" && primaryChosen() && choice.confidence === null) {
    choice.confidence = view.sliderValue();
  }
  submit(false);
}

function togglePause() {
  screen.dispatch(screen.phase === "paused" ? "resume" : "pause");
}

// ---------------------------------------------------------------- keys and clicks

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target && event.target.id === "reason" && event.key !== "Enter") return;
  const key = event.key.toLowerCase();
  if (key === "p" || (screen.phase === "paused" && key === "escape")) {
    event.preventDefault();
    togglePause();
    return;
  }
  if (!answering()) return;
  if (key === "enter") {
    // Enter confirms; on a focused button or link other than an answer or Confirm (Pause) it does what it
    // always does.
    const focused = event.target instanceof Element ? event.target.closest("button, a[href], summary, select") : null;
    if (focused && !focused.matches("[data-answer], [data-rating], [data-confidence], button.choice, #confirm")) {
      return;
    }
    event.preventDefault();
    if (display.design === "choice" && choice.position === null && highlight !== null) {
      choosePosition(highlight);
    } else {
      confirm();
    }
    return;
  }
  if ((display.design === "single" || (view.has("classAfter") && choice.rating !== null)) && (key === "r" || key === "s")) {
    event.preventDefault();
    chooseAnswer(key === "r" ? "real" : "synthetic");
    return;
  }
  // Arrows move between the images until one is chosen; after that they belong to the confidence slider.
  if (display.design === "choice" && (key === "arrowleft" || key === "arrowright") && choice.position === null) {
    event.preventDefault();
    const n = trial.images.length;
    const start = highlight === null ? (key === "arrowright" ? -1 : n) : highlight;
    highlight = (start + (key === "arrowright" ? 1 : -1) + n) % n;
    view.markSelected(choice, highlight);
    return;
  }
  if (/^[0-9]$/.test(key)) {
    const digit = Number(key);
    event.preventDefault();
    if (!primaryChosen()) {
      if (display.design === "choice") choosePosition(digit - 1);
      else if (display.design === "rating") chooseRating(digit);
    } else if (display.design === "rating" && !needsConfidence()) {
      chooseRating(digit);
    } else if (needsConfidence() && display.confidence_scale === "5" && digit >= 1 && digit <= 5) {
      chooseConfidence(digit);
    }
  }
});

document.getElementById("reader-app").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button || button.closest("#images")) return;  // an image of a forced choice has its own handler
  if (button.dataset.answer) chooseAnswer(button.dataset.answer);
  else if (button.dataset.rating) chooseRating(Number(button.dataset.rating));
  else if (button.dataset.confidence) chooseConfidence(Number(button.dataset.confidence));
  else if (button.id === "confirm") confirm();
  else if (button.id === "pause" || button.id === "resume") togglePause();
});

const range = document.getElementById("confidence-range");
if (range) {
  range.addEventListener("input", () => {
    document.getElementById("confidence-value").textContent = range.value;
    chooseConfidence(Number(range.value));
  });
}

let resizeFrame = 0;
window.addEventListener("resize", () => {
  cancelAnimationFrame(resizeFrame);
  resizeFrame = requestAnimationFrame(() => view.resizeShown(trial));
});

// Leaving while an answer is still on its way: the browser asks first (the answer is not yet saved).
window.addEventListener("beforeunload", (event) => {
  if (sender.pending() > 0 && !leaving) {
    event.preventDefault();
    event.returnValue = "";
  }
});

// ---------------------------------------------------------------- start

if (!initial.open) {
  screen.dispatch("stop", notOpenMessage(initial.status));
} else {
  queue.forEach(preload);
  screen.start();  // loading: the first trial, or the done page when none is left
}
