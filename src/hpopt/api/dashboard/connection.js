// Whether the server answers: a banner (role="alert") while it does not, gone at the first answer.
// api.js reports every request's fate; JobLive reports its WebSocket's.

import { $ } from "./dom.js";

export const LOST_TEXT = "Lost connection to the server - retrying...";

export const connection = {
  down: false,
  lost() {
    if (this.down) return;
    this.down = true;
    show(true);
  },
  back() {
    if (!this.down) return;
    this.down = false;
    show(false);
  },
};

function show(down) {
  const banner = $("#connection-banner");
  if (!banner) return;
  banner.textContent = down ? LOST_TEXT : "";
  banner.hidden = !down;
}
