// <form data-confirm="Question?">: the form is sent only after the person confirms. One listener on the
// document, so forms that htmx swaps in are covered too.

export function install(doc = document, ask = (question) => globalThis.confirm(question)) {
  doc.addEventListener("submit", (event) => {
    const form = event.target.closest?.("form[data-confirm]");
    if (form && !ask(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
}

if (typeof document !== "undefined") install();
