// The access review's one script. It only hides and shows what the page already holds:
// it filters the matrix and the list, keeps the filters in location.hash
// (#who=…&on=…&level=…&target=…) so a filtered view can be linked, and shows the reasons
// of the selected cell.
(() => {
  "use strict";
  const KEYS = ["who", "on", "level", "target"];
  const MIN = { read: 1, write: 2, admin: 3 };
  const LEVELS = { read: "at least read", write: "at least write", admin: "admin" };
  const byId = (id) => document.getElementById(id);
  const form = byId("filters");
  const fields = { who: byId("f-who"), on: byId("f-on"), level: byId("f-level"), target: byId("f-target") };
  const matrix = byId("matrix");
  const heads = [...matrix.querySelectorAll("tr.res th")];
  const groups = [...matrix.querySelectorAll("tr.tgt th[data-target]")];
  const rows = [...matrix.tBodies[0].rows].filter((r) => r.dataset.who !== undefined);
  const items = [...byId("list").tBodies[0].rows];
  const details = byId("details");
  const plural = (n, one, many) => n + " " + (n === 1 ? one : many);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };

  const state = () => Object.fromEntries(KEYS.map((k) => [k, fields[k].value.trim()]));

  function apply() {
    const s = state();
    const who = s.who.toLowerCase();
    const on = s.on.toLowerCase();
    const min = MIN[s.level] || 1;
    const whoOk = (text) => !who || text.toLowerCase().includes(who);
    const colOk = (col, target) => (!s.target || target === s.target) && (!on || col.toLowerCase().includes(on));
    const okCols = heads.map((h) => colOk(h.dataset.col, h.dataset.target));
    const used = heads.map(() => false);
    let people = 0;
    for (const row of rows) {
      const rowOk = whoOk(row.dataset.who);
      let any = false;
      heads.forEach((_, i) => {
        const cell = row.cells[i + 1];
        const rank = Number(cell.dataset.rank || 0);
        const shown = rank > 0 && rowOk && okCols[i] && rank >= min;
        cell.classList.toggle("off", rank > 0 && !shown);
        if (shown) any = used[i] = true;
      });
      row.hidden = !any;
      if (any) people++;
    }
    heads.forEach((h, i) => {
      h.hidden = !used[i];
      for (const row of rows) row.cells[i + 1].hidden = !used[i];
    });
    for (const g of groups) {
      const n = heads.filter((h, i) => used[i] && h.dataset.target === g.dataset.target).length;
      g.hidden = n === 0;
      g.colSpan = Math.max(n, 1);
    }
    for (const item of items) {
      item.hidden = !(whoOk(item.dataset.who) && colOk(item.dataset.col, item.dataset.target) &&
        Number(item.dataset.rank) >= min);
    }
    const resources = used.filter(Boolean).length;
    byId("shown").textContent =
      plural(people, "person", "people") + " × " + plural(resources, "resource", "resources") + " shown";
    // Printed, the controls are gone: say which view this is.
    const parts = [];
    if (s.who) parts.push("people “" + s.who + "”");
    if (s.on) parts.push("resources “" + s.on + "”");
    if (s.level) parts.push("level " + LEVELS[s.level]);
    if (s.target) parts.push("target " + s.target);
    byId("view").textContent = parts.length ? "Filtered view: " + parts.join(" · ") : "";
  }

  // ":", "/" and "@" are legal in a fragment: keep the link readable.
  const enc = (v) => encodeURIComponent(v).replace(/%3A/gi, ":").replace(/%2F/gi, "/").replace(/%40/gi, "@");

  function readHash() {
    const s = {};
    for (const part of location.hash.replace(/^#/, "").split("&")) {
      const at = part.indexOf("=");
      const key = part.slice(0, at);
      if (at < 0 || !KEYS.includes(key)) continue;
      try {
        s[key] = decodeURIComponent(part.slice(at + 1));
      } catch (e) {
        // A mangled link: that part is ignored, the rest still applies.
      }
    }
    for (const k of KEYS) {
      fields[k].value = s[k] || "";
      // A select given a value it does not offer selects nothing: back to "any"/"all".
      if (fields[k].selectedIndex < 0) fields[k].value = "";
    }
    apply();
  }

  function writeHash() {
    const s = state();
    const hash = KEYS.filter((k) => s[k]).map((k) => k + "=" + enc(s[k])).join("&");
    if (location.hash.replace(/^#/, "") === hash) return;
    // Replaced, not pushed: typing a name should not fill the history.
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  function changed() {
    apply();
    writeHash();
  }

  function show(cell) {
    const row = cell.parentElement;
    const head = heads[cell.cellIndex - 1];
    if (!head || row.dataset.who === undefined) return;
    for (const old of matrix.querySelectorAll("td.sel")) old.classList.remove("sel");
    cell.classList.add("sel");
    const email = row.querySelector(".email");
    details.replaceChildren(
      el("h2", row.querySelector(".name").textContent),
      el("p", (email ? email.textContent + " · " : "") + head.dataset.col + " (" +
        head.querySelector(".noun").textContent + ")", "sub"),
    );
    const item = cell.dataset.entry && byId(cell.dataset.entry);
    if (!item) {
      details.append(el("p", "No access here.", "hint"));
      return;
    }
    const level = el("p", "Level ");
    level.append(item.querySelector(".pill").cloneNode(true));
    details.append(level, el("p", "Because of", "hint"), item.querySelector("ul.why").cloneNode(true));
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", (e) => e.preventDefault());
  byId("f-clear").addEventListener("click", () => {
    for (const k of KEYS) fields[k].value = "";
    changed();
  });
  matrix.addEventListener("focusin", (e) => {
    const cell = e.target.closest("td");
    if (cell) show(cell);
  });
  matrix.addEventListener("click", (e) => {
    const cell = e.target.closest("td");
    if (cell) show(cell);
  });
  window.addEventListener("hashchange", readHash);
  form.hidden = false;
  readHash();
})();
