// The reading screen's DOM: what is on screen, and nothing about when. The page (reader.js) decides.
//
// Every control a trial can show after the first choice (confidence, reason, "real or synthetic?", the
// Confirm hint) has its place on the page from the start, only concealed: nothing moves when it appears,
// and the image size is chosen for the room left with all of them on screen.

const GAP = 16;  // .images gap, CSS px

export function createView(display) {
  const $ = (id) => document.getElementById(id);
  const app = $("reader-app");
  const stage = $("stage");
  const imagesBox = $("images");
  const controls = $("controls");
  const feedback = $("feedback");
  const sizeNotice = $("size-notice");
  const countdown = $("countdown");
  const mask = $("mask");
  const optional = {
    classAfter: $("class-after"),   // realism rating followed by "real or synthetic?"
    confidence: $("confidence"),
    reason: $("reason-box"),
    confirm: $("confirm-hint"),
  };
  const frame = display.design === "choice" ? 6 : 0;  // button.choice border, both sides
  app.dataset.pending = "0";

  // ---------------------------------------------------------------- image size

  // The images are shown at the study's display size (CSS pixels) whenever the stage has room for all of a
  // trial's images side by side: nothing ever scrolls. When it has not, they are shown smaller (the
  // displayed size is recorded with each answer) and the reader is told how to get the set size back.
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
    const fits = (box, s) => n * (s + frame) + GAP * (n - 1) <= box.width && s + frame <= box.height;
    let box = { width: stage.clientWidth, height: stage.clientHeight };
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
    box = { width: stage.clientWidth, height: stage.clientHeight };
    const size = Math.floor(Math.min((box.width - GAP * (n - 1)) / n - frame, box.height - frame));
    return Math.max(16, size);
  }

  function resizeShown(trial) {
    if (!trial) return;
    const size = fitSize(trial.images.length);
    imagesBox.querySelectorAll("img.stimulus").forEach((img) => { img.width = size; img.height = size; });
  }

  // ---------------------------------------------------------------- images, countdown, mask

  /** The trial's decoded images as the nodes to put on the stage (buttons for a forced choice). */
  function stimulus(elements, size, onChoose) {
    return elements.map((element, position) => {
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
      button.addEventListener("click", () => onChoose(position));
      return button;
    });
  }

  function showImages(nodes) { imagesBox.replaceChildren(...nodes); }
  function clearImages() { imagesBox.replaceChildren(); }

  function firstImageRect() {
    const first = imagesBox.querySelector("img");
    if (!first) return null;
    const rect = first.getBoundingClientRect();
    return { width: rect.width, height: rect.height };
  }

  function setCountdown(text) {
    countdown.hidden = text === null;
    if (text !== null) countdown.textContent = text;
  }

  /** Noise over where the images stand, drawn before the image is up so the swap costs nothing. */
  function prepareMask(n, size) {
    const width = (size + frame) * n + GAP * (n - 1);
    const height = size + frame;
    mask.width = width;
    mask.height = height;
    const ctx = mask.getContext("2d");
    const data = ctx.createImageData(width, height);
    for (let i = 0; i < data.data.length; i += 4) {
      const v = Math.floor(Math.random() * 256);
      data.data[i] = data.data[i + 1] = data.data[i + 2] = v;
      data.data[i + 3] = 255;
    }
    ctx.putImageData(data, 0, 0);
  }

  function showMask(on) { mask.hidden = !on; }

  // ---------------------------------------------------------------- controls

  function setAnswerable(enabled) {
    controls.querySelectorAll("button").forEach((b) => { b.disabled = !enabled; });
    imagesBox.querySelectorAll("button.choice").forEach((b) => { b.disabled = !enabled; });
  }

  /** Show or conceal one of the controls that come after the first choice (its room stays). */
  function reveal(name, on) {
    const element = optional[name];
    if (element) element.classList.toggle("concealed", !on);
  }

  function has(name) { return Boolean(optional[name]); }

  function markSelected(choice, highlight) {
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

  /** A new trial: the optional controls concealed again, the reason emptied, nothing selected. */
  function resetControls(choice) {
    Object.keys(optional).forEach((name) => reveal(name, false));
    const reason = $("reason");
    if (reason) reason.value = "";
    markSelected(choice, null);
  }

  function reasonText() {
    const reason = $("reason");
    return reason ? reason.value : "";
  }

  function sliderValue() { return Number($("confidence-range").value); }
  function focusSlider() { $("confidence-range").focus(); }

  // ---------------------------------------------------------------- messages

  function setProgress(trial, progress, pendingPractice, pendingMain) {
    const practice = trial.kind === "practice";
    $("phase").textContent = practice ? "Practice" : "";
    // Answers still on their way count as done, each in its own phase (a practice answer is no main trial).
    if (practice) {
      const n = Math.min(progress.practice_done + pendingPractice + 1, progress.practice_total);
      $("progress-text").textContent = `${n} of ${progress.practice_total}`;
    } else {
      const n = Math.min(progress.done + pendingMain + 1, progress.total);
      $("progress-text").textContent = `Trial ${n} of ${progress.total}`;
    }
  }

  function setPending(n) { app.dataset.pending = String(n); }
  function setPhase(phase) { app.dataset.phase = phase; }

  /** The message line under the images: kind "" (plain), "notice" or "warning" (the connection). */
  function say(text, kind = "") {
    feedback.classList.toggle("notice", kind === "notice");
    feedback.classList.toggle("warning", kind === "warning");
    feedback.textContent = text;
  }

  /** Cleared for a new trial, unless it says the connection is lost (that stays until it returns). */
  function clearMessage() {
    if (!feedback.classList.contains("warning")) say("");
  }

  function connection(status) {
    if (status === "lost") {
      say("Connection lost. Your answer will be saved as soon as the connection returns.", "warning");
    } else if (feedback.classList.contains("warning")) {
      say("Connection restored: your answers are saved.");
    }
  }

  /**
   * The server's verdict on a practice answer. In a forced choice it says which image was the odd one,
   * and outlines it when the images are still on screen (a timed image is never shown again).
   */
  function showVerdict({ correct, odd_position: odd }) {
    if (display.design !== "choice" || odd === null || odd === undefined) {
      say(correct ? "Correct." : "Not correct.");
      return;
    }
    const button = imagesBox.querySelector(`button.choice[data-position="${odd}"]`);
    if (button) button.classList.add("odd");
    const which = `image ${odd + 1}${button ? " (outlined)" : ""} is the ${display.odd_class} one.`;
    say(correct ? `Correct: ${which}` : `Not correct: ${which}`);
  }

  function showPaused(on) {
    $("paused").hidden = !on;
    if (on) $("resume").focus();
    else if (document.activeElement && document.activeElement.id === "resume") document.activeElement.blur();
  }

  function showStopped(message) {
    $("halted-message").textContent = message;
    $("halted").hidden = false;
  }

  return {
    fitSize, resizeShown, stimulus, showImages, clearImages, firstImageRect, setCountdown, prepareMask,
    showMask, setAnswerable, reveal, has, markSelected, resetControls, reasonText, sliderValue, focusSlider,
    setProgress, setPending, setPhase, say, clearMessage, connection, showVerdict, showPaused, showStopped,
  };
}
