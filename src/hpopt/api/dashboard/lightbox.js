// Plots at full size: a thumbnail is a button that opens a modal <dialog> with the image at
// its natural size (Escape or Close shuts it, focus goes back to the thumbnail), and each
// plot has an "open in new tab" link. Images are blob: URLs (fetched with the API key).

import { h } from "./dom.js";

let dialog = null;
let opener = null;

function lightbox() {
  if (dialog) return dialog;
  dialog = h("dialog", { id: "lightbox", "aria-labelledby": "lightbox-title" }, [
    h("div", { class: "lightbox-bar" }, [
      h("h3", { id: "lightbox-title" }),
      h("a", { id: "lightbox-newtab", target: "_blank", rel: "noopener", text: "open in new tab" }),
      h("button", { id: "lightbox-close", type: "button", text: "Close", onclick: () => dialog.close() }),
    ]),
    h("div", { class: "lightbox-body" }, h("img", { id: "lightbox-img", alt: "" })),
  ]);
  // a click on the backdrop (the dialog box itself, outside its content) closes it too
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => { opener?.focus(); opener = null; });
  document.body.append(dialog);
  return dialog;
}

export function openLightbox(src, caption, from) {
  const box = lightbox();
  opener = from || document.activeElement;
  box.querySelector("#lightbox-title").textContent = caption;
  const img = box.querySelector("#lightbox-img");
  img.src = src;
  img.alt = `${caption} (full size)`;
  box.querySelector("#lightbox-newtab").href = src;
  if (!box.open) box.showModal();
  box.querySelector("#lightbox-close").focus();
}

// A plot's figure: img (its src may be set later) inside a button that opens it full size.
export function plotFigure(img, caption) {
  const newTab = h("a", { class: "newtab", target: "_blank", rel: "noopener", hidden: true, text: "open in new tab",
                          "aria-label": `open ${caption} in a new tab` });
  img.addEventListener("load", () => { newTab.href = img.src; newTab.hidden = false; });
  const thumb = h("button", { type: "button", class: "thumb", "aria-label": `${caption}: open full size`,
                              onclick: (e) => { if (img.src) openLightbox(img.src, caption, e.currentTarget); } }, img);
  return h("figure", {}, [thumb, h("figcaption", { text: caption }), newTab]);
}
