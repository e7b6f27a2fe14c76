// Copy buttons: <button class="copy" data-copy="text">. One listener on the document, so buttons in
// tables that htmx replaces keep working. The clipboard API needs a secure context (https or localhost);
// elsewhere the text is selected and copied the old way.

export async function copyText(text, doc = document, clipboard = globalThis.navigator?.clipboard) {
  if (clipboard && globalThis.isSecureContext !== false) {
    try {
      await clipboard.writeText(text);
      return true;
    } catch {
      // permission refused: fall through to the selection
    }
  }
  const area = doc.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  doc.body.append(area);
  area.select();
  let done = false;
  try {
    done = doc.execCommand("copy");
  } catch {
    done = false;
  }
  area.remove();
  return done;
}

export function install(doc = document) {
  doc.addEventListener("click", async (event) => {
    const button = event.target.closest?.("button.copy[data-copy]");
    if (!button) return;
    const label = button.dataset.label ?? button.textContent;
    button.dataset.label = label;
    const ok = await copyText(button.dataset.copy, doc);
    button.textContent = ok ? "Copied" : "Select and copy";
    button.setAttribute("aria-live", "polite");
    setTimeout(() => { button.textContent = label; }, 2000);
  });
}

if (typeof document !== "undefined") install();
