// A yes-or-no question in a dialog of the page's own. Not window.confirm: that one stops the
// page's thread while it waits (a console watch would stop printing), looks like the
// browser's rather than the page's, and a test cannot click its buttons.
import { h } from "./dom.js";

/**
 * Shows question in a modal dialog; resolves true if yes was pressed, false for no, Escape
 * or anything else that closes it. No has the focus first: Enter does not do what cannot be undone.
 */
export function ask(question: string, yes: string, no = "Cancel"): Promise<boolean> {
  return new Promise((resolve) => {
    const text = h("p", { id: "ask-question" }, question);
    const dialog = h("dialog", { class: "ask", "aria-labelledby": "ask-question" }, text,
      h("form", { method: "dialog", class: "row" },
        h("button", { type: "submit", value: "no", autofocus: true }, no),
        h("button", { type: "submit", value: "yes", class: "danger" }, yes)));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
