// Mirage reading screen: keys, timing, preloading and never-lost answers.
//
// The page talks only to the reader JSON API (the same endpoints a scripted reader uses):
//   GET  state_url      -> progress + the current and the next trial (opaque tokens only)
//   POST responses_url  -> stores the answer once per trial; a retry returns the stored answer
// The next trial's images are decoded before the current answer is sent, so the next image is painted
// in the frame after the key press. Answers are sent strictly in order; a lost connection is retried with
// the same trial token until the server acknowledges, and the reader sees that an answer is pending.
(function () {
  "use strict";

  const initial = JSON.parse(document.getElementById("reader-state").textContent);
  const display = JSON.parse(document.getElementById("reader-display").textContent);
  const $ = (id) => document.getElementById(id);
  const imagesBox = $("images");
  const controls = $("controls");
  const feedback = $("feedback");
  const confirmHint = $("confirm-hint");
  const confidenceBox = $("confidence");
  const reasonBox = $("reason-box");
  const classAfter = $("class-after");       // realism rating followed by "real or synthetic?"
  const app = $("reader-app");
  const stage = $("stage");
  const sizeNotice = $("size-notice");

  let progress = initial.progress;
  let queue = initial.trials.slice();       // trials known from the server, current first
  const answered = new Set();                // tokens answered on this page (sent or being sent)
  let sendChain = Promise.resolve();         // answers go to the server one after another
  let pendingSends = 0;
  const pendingByKind = { practice: 0, main: 0 };  // answers not yet acknowledged, for the progress text
  let current = null;
  // Viewing time of the current trial: what was viewed before a pause (viewedMs) plus, while the image is
  // up (viewing), the time since shownAt. A pause stops the clock; it never restarts it.
  let shownAt = 0;                           // performance.now() of the frame that painted the image
  let viewedMs = 0;
  let viewing = false;
  let lastRect = null;                       // the image's displayed size, kept while a pause hides it
  let exposure = null;                       // {requested, onAt, offAt}
  let choice = emptyChoice();
  let highlight = null;
  let accepting = false;
  let paused = false;
  let halted = false;
  let timers = [];
  let firstTrial = true;
  let exposing = false;                      // a timed image's countdown or exposure is under way
  let exposureOn = false;                    // the timed image is on screen: a pause waits for the mask
  let pauseAfterExposure = false;
  let showSeq = 0;                           // a newer show() or a pause cancels an older one
  let advanceOnResume = false;
  const preloaded = new Map();
  // Input in the first moments of a new trial is a double click or key bounce, not a decision: ignore it.
  const GUARD_MS = 150;

  function emptyChoice() {
    return { answer: "", position: null, rating: null, confidence: null };
  }

  // ---------------------------------------------------------------- preloading

  function preload(trial) {
    for (const image of trial.images) {
      if (!preloaded.has(image.url)) {
        const element = new Image();
        element.decoding = "async";
        element.src = image.url;
        preloaded.set(image.url, element.decode().then(() => element, () => element));
      }
    }
  }

  function nextKnownTrial() {
    return queue.find((t) => !answered.has(t.token) && (!current || t.token !== current.token)) || null;
  }

  // ---------------------------------------------------------------- showing a trial

  function clearTimers() {
    timers.forEach(clearTimeout);
    timers = [];
  }

  function later(ms, fn) {
    timers.push(setTimeout(fn, ms));
  }

  function nextFrame() {
    return new Promise((resolve) => requestAnimationFrame((t) => resolve(t)));
  }

  function setProgressText() {
    const practice = current && current.kind === "practice";
    $("phase").textContent = practice ? "Practice" : "";
    // Answers still on their way count as done, each in its own phase (a practice answer is no main trial).
    if (practice) {
      const n = Math.min(progress.practice_done + pendingByKind.practice + 1, progress.practice_total);
      $("progress-text").textContent = `${n} of ${progress.practice_total}`;
    } else {
      const n = Math.min(progress.done + pendingByKind.main + 1, progress.total);
      $("progress-text").textContent = `Trial ${n} of ${progress.total}`;
    }
  }

  function setPending(kind, delta) {
    pendingSends += delta;
    pendingByKind[kind === "practice" ? "practice" : "main"] += delta;
    app.dataset.pending = String(pendingSends);
  }

  // ---------------------------------------------------------------- image size

  // The images are shown at the study's display size (CSS pixels) whenever the window has room for all of a
  // trial's images side by side, with every control the study can show below them: nothing ever scrolls.
  // When it has not, they are shown smaller (the displayed size is recorded with each answer) and the reader
  // is told how to get the set size back.
  const GAP = 16;                                     // .images gap
  const FRAME = display.design === "choice" ? 6 : 0;  // button.choice border, both sides

  function room() {
    // Every optional control has its room on the page from the start (concealed until the first choice).
    return { width: stage.clientWidth, height: stage.clientHeight };
  }

  function reveal(element, on) {
    if (element) element.classList.toggle("concealed", !on);
  }

  function showSizeNotice() {
    if (sizeNotice.textContent) return;  // said once; a live region repeated on every resize is noise
    const kbd = (text) => {
      const element = document.createElement("kbd");
      element.textContent = text;
      return element;
    };
    sizeNotice.append(
      `The images do not fit in this window at their set size (${display.display_size} px), so they are ` +
      "shown smaller. Please enlarge or maximise the window, or reset the browser zoom (",
      kbd("Ctrl+0"), ", on a Mac ", kbd("Cmd+0"), ").");
  }

  function fitSize(n) {
    const wanted = display.display_size;
    const fits = (box, s) => n * (s + FRAME) + GAP * (n - 1) <= box.width && s + FRAME <= box.height;
    let box = room();
    if (sizeNotice.textContent) {
      // The room there would be without the notice: it goes as soon as the set size fits.
      const style = getComputedStyle(sizeNotice);
      const own = sizeNotice.offsetHeight + parseFloat(style.marginTop) + parseFloat(style.marginBottom);
      if (fits({ width: box.width, height: box.height + own }, wanted)) {
        sizeNotice.replaceChildren();
        return wanted;
      }
    } else if (fits(box, wanted)) {
      return wanted;
    }
    showSizeNotice();
    box = room();
    const size = Math.floor(Math.min((box.width - GAP * (n - 1)) / n - FRAME, box.height - FRAME));
    return Math.max(16, size);
  }

  function resizeShown() {
    if (!current) return;
    const images = imagesBox.querySelectorAll("img.stimulus");
    const size = fitSize(current.images.length);
    images.forEach((img) => { img.width = size; img.height = size; });
  }

  let resizeFrame = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(resizeShown);
  });

  async function show(trial, resumed = false) {
    const seq = ++showSeq;
    clearTimers();
    $("mask").hidden = true;
    if (!resumed) {
      viewedMs = 0;
      lastRect = null;
    }
    viewing = false;
    exposing = false;
    pauseAfterExposure = false;
    current = trial;
    choice = emptyChoice();
    highlight = null;
    accepting = false;
    exposure = null;
    setButtons(false);
    feedback.classList.remove("notice");
    feedback.textContent = "";
    hideConfirmation();
    preload(trial);
    const elements = await Promise.all(trial.images.map((image) => preloaded.get(image.url)));
    if (seq !== showSeq) return;
    if (!firstTrial && !resumed && display.blank_ms > 0) {
      imagesBox.replaceChildren();
      await new Promise((resolve) => later(display.blank_ms, resolve));
      if (seq !== showSeq) return;
    }
    firstTrial = false;
    setProgressText();
    const size = fitSize(elements.length);
    const nodes = elements.map((element, position) => {
      const img = element;  // the decoded element itself: it paints in the frame it is inserted
      img.alt = elements.length > 1 ? `Image ${position + 1}` : "Image to judge";
      img.width = size;
      img.height = size;
      img.draggable = false;
      img.className = display.upscale === "pixelated" ? "stimulus pixelated" : "stimulus";
      if (display.design !== "choice") return img;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.disabled = true;  // enabled with the answer buttons, after the double-press guard
      button.dataset.position = String(position);
      button.setAttribute("aria-label", `Image ${position + 1}`);
      button.setAttribute("aria-keyshortcuts", String(position + 1));
      button.append(img);
      const key = document.createElement("kbd");
      key.textContent = String(position + 1);
      button.append(key);
      button.addEventListener("click", () => choosePosition(position));
      return button;
    });
    if (trial.exposure_ms) {
      await showTimed(trial, nodes, size, seq);
    } else {
      imagesBox.replaceChildren(...nodes);
      const paintedAt = await nextFrame();
      if (seq !== showSeq) return;
      shownAt = paintedAt;
      viewing = true;
      startAnswering();
    }
    const next = nextKnownTrial();
    if (next) preload(next);
  }

  async function showTimed(trial, nodes, size, seq) {
    exposing = true;
    const countdown = $("countdown");
    const mask = $("mask");
    imagesBox.replaceChildren();
    drawMask(mask, (size + FRAME) * nodes.length + GAP * (nodes.length - 1), size + FRAME);  // ready before the image is up
    countdown.hidden = false;
    for (const n of ["3", "2", "1"]) {
      countdown.textContent = n;
      await new Promise((resolve) => later(400, resolve));
      if (seq !== showSeq) return;  // paused in the countdown: the image was never shown, it starts afresh
    }
    countdown.hidden = true;
    exposureOn = true;  // from here to the mask, a pause waits: the image is never cut short nor shown again
    imagesBox.replaceChildren(...nodes);
    const onAt = await nextFrame();
    const rect = imagesBox.querySelector("img").getBoundingClientRect();
    // Swap in the mask at the frame whose successor (when the mask is painted) is nearest the exposure.
    let previous = onAt;
    for (;;) {
      const now = await nextFrame();
      const frame = now - previous;
      previous = now;
      if (now + frame - onAt >= trial.exposure_ms - frame / 2) break;
    }
    if (seq !== showSeq) {  // not reached (nothing replaces a trial while its image is up), but never a stray mask
      exposureOn = false;
      return;
    }
    imagesBox.replaceChildren();
    mask.hidden = false;
    const offAt = await nextFrame();
    exposureOn = false;
    if (seq !== showSeq) return;  // replaced by the server's trial (answered in another tab)
    exposure = { requested: trial.exposure_ms, onAt, offAt, rect };
    exposing = false;
    shownAt = onAt;
    viewing = true;
    if (pauseAfterExposure) {   // asked for while the image was up: the pause screen comes over the mask
      pauseAfterExposure = false;
      togglePause();
      return;
    }
    if (answered.has(trial.token)) {  // answered in another tab meanwhile
      advance();
      return;
    }
    later(500, () => { mask.hidden = true; });
    startAnswering();
  }

  function drawMask(canvas, width, height) {
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d");
    const data = ctx.createImageData(width, height);
    for (let i = 0; i < data.data.length; i += 4) {
      const v = Math.floor(Math.random() * 256);
      data.data[i] = data.data[i + 1] = data.data[i + 2] = v;
      data.data[i + 3] = 255;
    }
    ctx.putImageData(data, 0, 0);
  }

  function viewedSoFar() {
    return viewedMs + (viewing ? performance.now() - shownAt : 0);
  }

  function timeLimited(trial) {
    return Boolean(display.time_limit_ms) && trial.kind !== "practice";
  }

  function startAnswering() {
    // The minimum viewing time and the time limit count the viewing time, before a pause included; for a
    // timed exposure they count from the mask, as the answer can only come after it (the response time
    // reported is still from the image's onset).
    const spent = viewedSoFar() - (exposure ? exposure.offAt - exposure.onAt : 0);
    const guard = Math.max(GUARD_MS, (display.min_view_ms || 0) - spent);
    const enable = () => {
      accepting = true;
      setButtons(true);
    };
    if (timeLimited(current)) {
      const left = display.time_limit_ms - spent;
      if (left <= 0) {
        submit(true);
        return;
      }
      later(left, () => submit(true));
    }
    later(guard, enable);
  }

  function setButtons(enabled) {
    controls.querySelectorAll("button").forEach((b) => { b.disabled = !enabled; });
    imagesBox.querySelectorAll("button.choice").forEach((b) => { b.disabled = !enabled; });
  }

  // ---------------------------------------------------------------- choosing

  function needsConfidence() {
    return display.confidence_scale !== "off" && current && current.kind !== "practice";
  }

  function primaryChosen() {
    if (display.design === "single") return choice.answer !== "";
    if (display.design === "choice") return choice.position !== null;
    return choice.rating !== null;
  }

  function ready() {
    return primaryChosen() && (!needsConfidence() || choice.confidence !== null) &&
      (!classAfter || choice.answer !== "");
  }

  function afterPrimary(confirmNeeded) {
    markSelected();
    if (needsConfidence()) {
      reveal(confidenceBox, true);
      if (display.confidence_scale === "100") $("confidence-range").focus();
    }
    reveal(reasonBox, true);
    if (!confirmNeeded && ready() && !reasonBox) {
      submit(false);
    } else {
      reveal(confirmHint, true);
    }
  }

  function chooseAnswer(answer) {
    if (!accepting) return;
    if (display.design === "single") {
      choice.answer = answer;
      afterPrimary(false);
    } else if (classAfter && choice.rating !== null) {
      choice.answer = answer;
      afterPrimary(false);
    }
  }

  function choosePosition(position) {
    if (!accepting || display.design !== "choice" || position < 0 || position >= current.images.length) return;
    choice.position = position;
    highlight = position;
    afterPrimary(false);
  }

  function chooseRating(rating) {
    if (!accepting || display.design !== "rating" || rating < 1 || rating > display.rating_labels.length) return;
    choice.rating = rating;
    if (classAfter) {
      reveal(classAfter, true);  // then "real or synthetic?", answered with R / S
      markSelected();
      return;
    }
    afterPrimary(true);  // a rating is confirmed with Enter
  }

  function chooseConfidence(value) {
    if (!accepting || !needsConfidence() || !primaryChosen()) return;
    choice.confidence = value;
    markSelected();
    reveal(confirmHint, true);
  }

  function markSelected() {
    document.querySelectorAll("[data-answer]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.answer === choice.answer));
    });
    controls.querySelectorAll("[data-rating]").forEach((b) => {
      b.setAttribute("aria-pressed", String(Number(b.dataset.rating) === choice.rating));
    });
    imagesBox.querySelectorAll("button.choice").forEach((b) => {
      const p = Number(b.dataset.position);
      b.classList.toggle("selected", p === choice.position);
      b.classList.toggle("highlight", p === highlight);
      b.setAttribute("aria-pressed", String(p === choice.position));
    });
    document.querySelectorAll("[data-confidence]").forEach((b) => {
      b.setAttribute("aria-checked", String(Number(b.dataset.confidence) === choice.confidence));
    });
  }

  function hideConfirmation() {
    [confirmHint, classAfter, confidenceBox, reasonBox].forEach((el) => reveal(el, false));
    if (reasonBox) $("reason").value = "";
    markSelected();
  }

  // ---------------------------------------------------------------- sending

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  async function post(payload) {
    let delay = 500;
    for (;;) {
      let response;
      try {
        response = await fetch(initial.responses_url, {
          method: "POST",
          // The CSRF token matters only for invitations made to an account (session-authenticated).
          headers: { "Content-Type": "application/json", Accept: "application/json",
                     "X-CSRFToken": $("csrf-token").value },
          body: JSON.stringify(payload),
          credentials: "same-origin",
          cache: "no-store",
        });
      } catch (error) {
        response = null;
      }
      if (response && response.ok) {
        if (feedback.classList.contains("warning")) {
          feedback.classList.remove("warning");
          feedback.textContent = "Connection restored: your answers are saved.";
        }
        return response.json();
      }
      if (response && response.status >= 400 && response.status < 500) {
        let detail = "This answer could not be saved.";
        try { detail = (await response.json()).detail || detail; } catch (e) { /* keep the default */ }
        throw new Error(detail);
      }
      feedback.classList.add("warning");
      feedback.textContent = "Connection lost. Your answer will be saved as soon as the connection returns.";
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 8000);
    }
  }

  function acknowledge(body) {
    const state = body.state;
    if (state.excluded) return halt(state.message);
    if (!state.open) {
      progress = state.progress;
      return halt(notOpenMessage(state.status));
    }
    progress = state.progress;
    queue = state.trials;
    queue.forEach(preload);
    // Not stored, and the stored answer is not this page's own earlier try (a retry after a lost
    // acknowledgement): the trial had already been answered elsewhere (another tab or device), and the
    // server kept that answer.
    let elsewhere = body.created === false && !body.same_client;
    if (current && !answered.has(current.token) && !queue.some((t) => t.token === current.token)) {
      // The trial on screen is no longer the server's to answer: continue from the server's state.
      elsewhere = true;
      leaveCurrent();
    }
    if (elsewhere) {
      feedback.classList.remove("warning");
      feedback.classList.add("notice");
      feedback.textContent = "This trial had already been answered in another tab or window; that answer was kept.";
    }
    if (state.finished && pendingSends === 0) window.location.assign(initial.done_url);
  }

  function leaveCurrent() {
    answered.add(current.token);  // never sent from here
    accepting = false;
    viewing = false;
    setButtons(false);
    if (exposureOn) return;       // the timed image is up: showTimed moves on once the mask is
    clearTimers();
    advance();                    // paused: on resume
  }

  function submit(timedOut) {
    if (!current || answered.has(current.token) || (!timedOut && (!accepting || !ready()))) return;
    accepting = false;
    clearTimers();
    setButtons(false);
    const trial = current;
    const responseMs = viewedSoFar();
    viewing = false;
    const first = imagesBox.querySelector("img");
    const rect = exposure ? exposure.rect
      : (first ? first.getBoundingClientRect() : (lastRect || { width: null, height: null }));
    const payload = {
      trial: trial.token,
      client_key: uuid(),
      timed_out: Boolean(timedOut),
      client_response_ms: Math.round(responseMs * 10) / 10,
      displayed_width: rect.width,
      displayed_height: rect.height,
      device_pixel_ratio: window.devicePixelRatio || 1,
    };
    if (!timedOut) {
      if (display.design === "single") payload.answer = choice.answer;
      if (display.design === "choice") payload.chosen_position = choice.position;
      if (display.design === "rating") payload.rating = choice.rating;
      if (classAfter) payload.answer = choice.answer;
      if (needsConfidence()) payload.confidence = choice.confidence;
      if (reasonBox) payload.reason = $("reason").value;
    }
    if (exposure) {
      payload.client_exposure_ms = Math.round((exposure.offAt - exposure.onAt) * 10) / 10;
      payload.requested_exposure_ms = exposure.requested;
    }
    answered.add(trial.token);
    setPending(trial.kind, 1);
    const sent = sendChain.then(() => post(payload));
    sendChain = sent.then((body) => {
      setPending(trial.kind, -1);
      acknowledge(body);
    }, (error) => {
      setPending(trial.kind, -1);
      halt(error.message);
    });
    if (trial.kind === "practice" && display.practice_feedback) {
      // Practice: wait for the server's verdict and show it before moving on.
      sendChain.then(() => sent).then((body) => {
        if (halted) return;
        if (body.feedback && !(body.created === false && !body.same_client)) feedback.textContent = body.feedback.correct ? "Correct." : "Not correct.";
        later(900, advance);
      }, () => {});
      return;
    }
    advance();
  }

  function confirm() {
    // A 0-100 confidence left where the slider stands counts once the reader confirms it.
    if (needsConfidence() && display.confidence_scale === "100" && primaryChosen() && choice.confidence === null) {
      choice.confidence = Number($("confidence-range").value);
    }
    submit(false);
  }

  function advance() {
    if (halted) return;
    if (paused) {
      advanceOnResume = true;
      return;
    }
    // A staircase exposure depends on the answer just given: wait for the server to decide it. Fixed and
    // constant-stimuli exposures are stored with the schedule, so the preloaded next trial already has its own.
    const next = display.exposure_mode === "staircase" && pendingSends ? null : nextKnownTrial();
    if (next) {
      show(next);
      return;
    }
    // Nothing preloaded (first trials or a slow connection): wait for the acknowledgements.
    imagesBox.replaceChildren();
    feedback.textContent = pendingSends ? "Saving…" : "";
    sendChain.then(() => {
      if (halted) return;
      if (paused) {
        advanceOnResume = true;
        return;
      }
      const after = nextKnownTrial();
      if (after) show(after);
      else if (pendingSends === 0) window.location.assign(initial.done_url);
    });
  }

  function notOpenMessage(status) {
    if (status === "closed") return "The study has been closed by its coordinator. Your answers are saved; thank you.";
    return "The study is paused by its coordinator. Your answers so far are saved; please come back later.";
  }

  function halt(message) {
    halted = true;
    accepting = false;
    clearTimers();
    $("halted-message").textContent = message;
    $("halted").hidden = false;
  }

  // ---------------------------------------------------------------- pause and keys

  function togglePause() {
    if (halted) return;
    if (!paused && exposureOn) {
      // A timed image is never cut short nor shown again: the pause begins when the mask is up.
      pauseAfterExposure = true;
      return;
    }
    paused = !paused;
    $("paused").hidden = !paused;
    if (paused) {
      accepting = false;
      showSeq += 1;    // cancels a show() in progress (a countdown included: that image was never shown)
      clearTimers();
      setButtons(false);
      if (viewing) {   // the viewing clock stops, keeping what was viewed
        viewedMs += performance.now() - shownAt;
        viewing = false;
      }
      if (exposing) {
        exposing = false;
        $("countdown").hidden = true;
      }
      const first = imagesBox.querySelector("img");
      if (first) lastRect = first.getBoundingClientRect();
      imagesBox.replaceChildren();  // nothing to study behind the pause screen
      $("resume").focus();
      return;
    }
    if (document.activeElement && document.activeElement.id === "resume") document.activeElement.blur();
    if (advanceOnResume || (current && answered.has(current.token))) {
      advanceOnResume = false;
      advance();
    } else if (current && exposure) {
      // A timed image is never shown twice: stay on the mask; the clock goes on from where it stopped.
      shownAt = performance.now();
      viewing = true;
      startAnswering();
    } else if (current && timeLimited(current) && viewedMs >= display.time_limit_ms) {
      submit(true);    // the time was up when the pause began
    } else if (current) {
      // The image is shown again for what is left of its time limit (and of its minimum viewing time).
      show(current, true);
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (event.target && event.target.id === "reason" && event.key !== "Enter") return;
    const key = event.key.toLowerCase();
    if (key === "p" || (paused && key === "escape")) {
      event.preventDefault();
      togglePause();
      return;
    }
    if (paused || halted || !current) return;
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
    if ((display.design === "single" || (classAfter && choice.rating !== null)) && (key === "r" || key === "s")) {
      event.preventDefault();
      chooseAnswer(key === "r" ? "real" : "synthetic");
      return;
    }
    // Arrows move between the images until one is chosen; after that they belong to the confidence slider.
    if (display.design === "choice" && (key === "arrowleft" || key === "arrowright") && accepting &&
        choice.position === null) {
      event.preventDefault();
      const n = current.images.length;
      const start = highlight === null ? (key === "arrowright" ? -1 : n) : highlight;
      highlight = (start + (key === "arrowright" ? 1 : -1) + n) % n;
      markSelected();
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

  if (classAfter) {
    classAfter.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-answer]");
      if (button) chooseAnswer(button.dataset.answer);
    });
  }
  controls.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.answer) chooseAnswer(button.dataset.answer);
    if (button.dataset.rating) chooseRating(Number(button.dataset.rating));
  });
  document.querySelectorAll("[data-confidence]").forEach((b) => {
    b.addEventListener("click", () => chooseConfidence(Number(b.dataset.confidence)));
  });
  const range = $("confidence-range");
  if (range) {
    range.addEventListener("input", () => {
      $("confidence-value").textContent = range.value;
      chooseConfidence(Number(range.value));
    });
  }
  $("confirm").addEventListener("click", confirm);
  $("pause").addEventListener("click", togglePause);
  $("resume").addEventListener("click", togglePause);

  // Leaving while an answer is still on its way: the browser asks first (the answer is not yet saved).
  window.addEventListener("beforeunload", (event) => {
    if (pendingSends > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // ---------------------------------------------------------------- start

  if (!initial.open) {
    halt(notOpenMessage(initial.status));
  } else if (queue.length === 0) {
    window.location.assign(initial.done_url);
  } else {
    queue.forEach(preload);
    show(queue[0]);
  }
})();
