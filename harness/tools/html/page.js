/* macsim reports: draws a page from the JSON block it carries.
   Everything in that JSON may come from a trace, so it reaches the DOM only as text
   (textContent, attribute values set one by one): nothing is ever parsed as HTML, and links
   are built only to the report's own pages. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("macsim-data").textContent);
  const app = document.getElementById("app");
  const LABEL_W = 220;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function add(parent, ...children) {
    for (const child of children) {
      if (child === null || child === undefined || child === "") continue;
      parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    }
    return parent;
  }
  function put(parent, node) {
    parent.appendChild(node);
    return node;
  }
  function css(value) { return String(value).replace(/[^A-Za-z0-9-]/g, "-"); }
  function pill(word) { return el("span", "pill " + css(word), word); }
  function seconds(t) { return (t === null || t === undefined) ? "" : (Math.round(t * 1000) / 1000) + " s"; }
  // Only a page of this report: a plain file name ending in .html, so no scheme can sneak in.
  function pageHref(page, hash) {
    if (typeof page !== "string" || !/^[A-Za-z0-9._-]+\.html$/.test(page)) return null;
    return page + (hash ? "#" + hash : "");
  }
  function link(href, text) {
    if (!href) return el("span", "", text);
    const a = el("a", "", text);
    a.href = href;
    return a;
  }
  function button(text, onClick, className) {
    const b = el("button", className || "link", text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function card(title, id) {
    const section = el("section", "card");
    if (id) section.id = id;
    if (title) add(section, el("h2", "", title));
    return section;
  }
  function header(title, verdict, meta, back) {
    const top = el("header", "top");
    if (back) add(top, add(el("div", "back"), link(back, "← all runs")));
    add(top, add(el("h1"), verdict ? pill(verdict) : null, el("span", "", title)));
    const line = el("div", "meta");
    for (const item of meta) if (item) add(line, typeof item === "string" ? el("span", "", item) : item);
    return add(top, line);
  }
  function value(v) {
    if (v === null || v === undefined) return el("span", "", "");
    if (Array.isArray(v)) {
      const list = el("ul");
      for (const item of v) add(list, add(el("li"), value(item)));
      return list;
    }
    if (typeof v === "object") {
      const dl = el("dl");
      for (const [key, item] of Object.entries(v)) add(dl, el("dt", "", key), add(el("dd"), value(item)));
      return dl;
    }
    return el("span", "", v);
  }

  /* ---- one run ---- */

  function runPage() {
    const timeline = data.timeline;
    const marks = new Map(timeline.marks.map((m) => [m.id, m]));
    const nodes = new Map();
    let selected = null;
    const stats = data.stats;
    document.body.dataset.page = "run";
    add(app, header(data.name, data.verdict, [
      data.summary,
      data.script ? "script: " + data.script : "",
      `${stats.boots} boot(s), ${stats.steps} steps, ${seconds(stats.simulated_s)} simulated, ${stats.events} trace events`,
      data.replay ? add(el("span"), "replay: ", el("code", "replay", data.replay)) : null,
    ], data.index ? pageHref(data.index) : null));
    const main = put(app, el("main"));
    if (data.first_cause) add(main, firstCauseCard(data.first_cause));
    if (data.violations.length) add(main, violationsCard(data.violations));
    const details = el("section", "card");
    details.id = "details";
    add(details, el("h2", "", "Details"), el("p", "empty", "Click a mark on the timeline to see what happened there."));
    add(main, timelineCard(), details);
    const source = coverageCard();
    add(main, source);

    function select(id, scroll) {
      const mark = marks.get(id);
      const node = nodes.get(id);
      if (!mark || !node) return;
      if (selected) selected.classList.remove("selected");
      selected = node;
      node.classList.add("selected");
      if (scroll) node.scrollIntoView({ block: "nearest", inline: "center" });
      showDetails(mark);
    }

    function showDetails(mark) {
      details.replaceChildren(el("h2", "", "Details"));
      const badges = el("div");
      if (mark.flags.includes("first-cause")) add(badges, el("span", "badge", "first cause"), " ");
      if (mark.flags.includes("violation")) add(badges, el("span", "badge", "violation"), " ");
      if (mark.problem && !mark.flags.length) add(badges, el("span", "badge", "went wrong"));
      add(details, badges, el("h3", "", mark.label));
      const where = el("div", "where");
      add(where, el("span", "", "boot " + mark.boot), el("span", "", seconds(mark.t_s)));
      if (mark.job) add(where, el("span", "", mark.job));
      if (mark.pid !== null && mark.pid !== undefined) add(where, el("span", "", "pid " + mark.pid));
      if (mark.seqs.length) {
        const first = mark.seqs[0];
        add(where, el("span", "", mark.seqs.length > 1 ? `trace events #${first}… (${mark.seqs.length})` : `trace event #${first}`));
      }
      if (mark.line) {
        add(where, mark.source_line && data.coverage
          ? add(el("span"), "script line ", button(mark.line, () => showSource(mark.source_line)))
          : el("span", "", "script line " + mark.line));
      }
      add(details, where);
      const dl = el("dl");
      for (const [name, text] of mark.details) add(dl, el("dt", "", name), add(el("dd"), el("pre", "", text)));
      add(details, dl);
      if (mark.members.length) {
        const list = el("ol", "members");
        for (const [seq, label] of mark.members) add(list, el("li", "", `#${seq}  ${label}`));
        add(details, el("p", "", `${mark.members.length} events in this mark:`), list);
      }
    }

    function firstCauseCard(cause) {
      const section = card("First cause", "first-cause");
      add(section, el("div", "cause-text", cause.text));
      const meta = el("div", "cause-meta");
      add(meta, pill(cause.kind || "cause"));
      if (cause.boot !== null && cause.boot !== undefined) add(meta, el("span", "", "boot " + cause.boot));
      if (cause.t_s !== null && cause.t_s !== undefined) add(meta, el("span", "", seconds(cause.t_s)));
      if (cause.job) add(meta, el("span", "", cause.job));
      if (cause.line) add(meta, el("span", "mono", cause.line));
      if (cause.mark) add(meta, button("show on the timeline", () => select(cause.mark, true), "link show-cause"));
      add(section, meta);
      add(section, el("p", "cause-note", "The earliest thing that went wrong before the first violation. "
        + "A script may test a failure on purpose: read the violations below too."));
      return section;
    }

    function violationsCard(violations) {
      const section = card(`Violations (${violations.length})`, "violations");
      const list = el("ul", "violations");
      for (const v of violations) {
        const where = [v.boot !== null && v.boot !== undefined ? "boot " + v.boot : "",
          v.step !== null && v.step !== undefined ? "step " + v.step : ""].filter(Boolean).join(", ");
        add(list, add(el("li"), el("span", "invariant", v.invariant), ": ", v.message,
          where ? ` (${where}) ` : " ", v.mark ? button("show", () => select(v.mark, true)) : null));
      }
      return add(section, list);
    }

    function legend() {
      const box = el("div", "legend");
      for (const [name, meaning] of Object.entries(data.categories)) {
        const item = add(el("span"), el("span", "swatch mark-swatch " + name), name);
        item.title = meaning;
        item.querySelector(".swatch").style.background = `var(--${name})`;
        add(box, item);
      }
      add(box, el("span", "", "red ring: went wrong · triangle: violation · big red dot: first cause · "
        + "the time axis is compressed: marks in trace order, gaps grow with the seconds between them"));
      return box;
    }

    function row(kind, title, width) {
      const line = el("div", "tl-row " + kind);
      const label = el("div", "tl-label", title);
      label.title = title;
      const track = el("div", "tl-track");
      track.style.width = width + "px";
      add(line, label, track);
      return [line, track];
    }

    function timelineCard() {
      const section = card("The host's life");
      section.id = "timeline";
      add(section, legend());
      const scroll = el("div", "tl-scroll");
      const inner = el("div", "tl-inner");
      inner.style.width = LABEL_W + timeline.width + "px";
      add(section, add(scroll, inner));
      timeline.boots.forEach((boot, index) => {
        const band = el("div", "boot-band" + (index % 2 ? " even" : ""));
        band.style.left = LABEL_W + boot.x0 + "px";
        band.style.width = Math.max(boot.x1 - boot.x0, 4) + "px";
        band.dataset.boot = boot.boot;
        add(inner, band);
      });
      const [axis, axisTrack] = row("axis", "simulated time", timeline.width);
      for (const [x, text] of timeline.ticks) {
        const tick = el("div", "tick", text);
        tick.style.left = x + "px";
        add(axisTrack, tick);
      }
      const [bootRow, bootTrack] = row("boots", "boots", timeline.width);
      for (const boot of timeline.boots) {
        const head = button("", () => boot.mark && select(boot.mark, true), "boot-head " + css(boot.why));
        add(head, `boot ${boot.boot} · ${seconds(boot.start_s)}`, el("span", "ended", boot.ended));
        head.title = `boot ${boot.boot}, ${seconds(boot.start_s)} to ${seconds(boot.end_s)}: ${boot.ended}`;
        head.style.left = boot.x0 + 2 + "px";
        head.style.width = Math.max(boot.x1 - boot.x0 - 4, 30) + "px";
        add(bootTrack, head);
      }
      add(inner, axis, bootRow);
      const tracks = new Map();
      const order = timeline.lanes.map((name, index) => index);
      const violationLane = timeline.lanes.indexOf("invariants and expectations");
      if (violationLane > 0) order.unshift(order.splice(violationLane, 1)[0]);
      for (const index of order) {
        const [line, track] = row(index === violationLane ? "lane judged" : "lane", timeline.lanes[index], timeline.width);
        line.dataset.lane = timeline.lanes[index];
        tracks.set(index, track);
        add(inner, line);
      }
      for (const mark of timeline.marks) {
        const track = tracks.get(mark.lane);
        if (mark.span) {
          const bar = el("div", "span " + css(mark.category) + (mark.unfinished ? " unfinished" : ""));
          bar.style.left = mark.span[0] + 6 + "px";
          bar.style.width = Math.max(mark.span[1] - mark.span[0] - 6, 2) + "px";
          add(track, bar);
        }
        const classes = ["mark", css(mark.category)].concat(mark.flags.map(css));
        if (mark.problem) classes.push("problem");
        if (mark.members.length) classes.push("group");
        const node = button("", () => select(mark.id, false), classes.join(" "));
        node.style.left = mark.x + (mark.flags.includes("first-cause") ? -3 : 0) + "px";
        node.title = mark.label;
        node.setAttribute("aria-label", mark.label);
        node.dataset.mark = mark.id;
        nodes.set(mark.id, node);
        add(track, node);
        if (mark.flags.includes("first-cause") || mark.flags.includes("violation")) {
          const rule = el("div", "vline " + (mark.flags.includes("first-cause") ? "first-cause" : ""));
          rule.style.left = LABEL_W + mark.x + 6 + "px";
          inner.insertBefore(rule, axis);
        }
      }
      return section;
    }

    function showSource(number) {
      const line = document.getElementById("L" + number);
      if (!line) return;
      for (const old of source.querySelectorAll("tr.target")) old.classList.remove("target");
      line.classList.add("target");
      line.scrollIntoView({ block: "center" });
    }

    function coverageCard() {
      const lines = data.coverage;
      const section = card("Script coverage" + (data.script ? ": " + data.script : ""), "coverage");
      if (!lines) {
        return add(section, el("p", "", "The script's source is not known here: a trace does not hold it. "
          + "`macsim show TRACE --script PATH --report DIR` adds it."));
      }
      add(section, el("p", "", `${lines.code_lines_run} of ${lines.code_lines} lines of code ran in this run `
        + "(a line of code: neither blank nor only a comment). Steps counted from:"));
      const files = el("ul", "files");
      for (const file of lines.files) {
        const name = file.path || "(no file: standard input or bash -c)";
        add(files, file.counted ? el("li", "", `${name}: ${file.steps} steps`)
          : el("li", "out", `left out: ${name} (${file.steps} steps): ${file.why_not}`));
      }
      add(section, files);
      if (lines.trap_on_line_1) add(section, el("p", "", "Steps on line 1 are a trap running: bash numbers a trap's commands from 1."));
      const table = el("table", "source");
      const body = put(table, el("tbody"));
      lines.lines.forEach((text, index) => {
        const hits = lines.hits[index];
        const code = text.trim() !== "" && !text.trim().startsWith("#");
        const tr = el("tr", hits ? "ran" : (code ? "missed" : ""));
        tr.id = "L" + (index + 1);
        add(body, add(tr, el("td", "n", index + 1), el("td", "hits", hits || ""), el("td", "text", text)));
      });
      return add(section, add(el("div", "source-wrap"), table));
    }

    function follow(hash) {
      const seq = /^#seq-(\d+)$/.exec(hash);
      const line = /^#L(\d+)$/.exec(hash);
      if (hash === "#first-cause" && data.first_cause) {
        if (data.first_cause.mark) select(data.first_cause.mark, true);
        document.getElementById("first-cause").scrollIntoView({ block: "start" });
      } else if (seq) {
        const found = timeline.marks.find((m) => m.seqs.includes(Number(seq[1])));
        if (found) select(found.id, true);
      } else if (line) {
        showSource(Number(line[1]));
      }
    }
    window.addEventListener("hashchange", () => follow(location.hash));
    follow(location.hash);
  }

  /* ---- indexes ---- */

  function causeCell(page, cause) {
    const cell = el("td", "cause");
    if (!cause) return cell;
    const where = [cause.kind, cause.boot !== null && cause.boot !== undefined ? "boot " + cause.boot : "",
      cause.job, cause.line].filter(Boolean).join(" · ");
    return add(cell, link(pageHref(page, "first-cause"), cause.text), el("div", "where", where));
  }

  function countPills(counts) {
    const box = el("div", "counts");
    for (const [name, count] of Object.entries(counts)) add(box, add(pill(name), " " + count));
    return box;
  }

  function suitePage() {
    document.body.dataset.page = "suite";
    const script = data.script;
    add(app, header(`${data.runs.length} ${data.title}`, null, [
      script ? `script: ${script.path}` : "", script && script.sha256 ? `sha256 ${String(script.sha256).slice(0, 12)}` : "",
      countPills(data.counts)]));
    const main = put(app, el("main"));
    const section = card("Runs, failing first");
    const table = el("table", "runs");
    add(table, add(el("thead"), add(el("tr"), el("th", "", "verdict"), el("th", "", "scenario"),
      el("th", "", "first cause (opens it)"), el("th", "", "violations"), el("th", "", "summary"))));
    const body = put(table, el("tbody"));
    for (const run of data.runs) {
      const violations = el("td", "found");
      if (run.violations && run.violations.length) {
        const list = el("ul", "violations");
        for (const v of run.violations) add(list, add(el("li"), el("span", "invariant", v.invariant), ": " + v.message));
        add(violations, list);
      }
      add(body, add(el("tr", css(run.verdict)), add(el("td"), pill(run.verdict)),
        add(el("td", "name"), link(pageHref(run.page), run.name)), causeCell(run.page, run.first_cause),
        violations, el("td", "summary", run.summary)));
    }
    add(main, add(section, table));
  }

  function side(result) {
    const cell = el("td", "side");
    if (!result) return add(cell, el("span", "", "not run"));
    const href = pageHref(result.page);
    add(cell, add(el("div", "verdict-line"), pill(result.verdict), href ? link(href, "page") : null));
    if (result.first_cause) add(cell, add(el("div", "mono"), link(pageHref(result.page, "first-cause"), result.first_cause.text)));
    return cell;
  }

  function scriptCard(title, script) {
    const section = card(title);
    add(section, el("div", "mono", script.path), el("div", "mono", "sha256 " + script.sha256));
    if (typeof script.claims === "string") add(section, el("div", "", "claims: " + script.claims));
    else if (script.claims !== undefined && script.claims !== null) add(section, el("div", "", "claims:"), value(script.claims));
    return section;
  }

  function gatePage() {
    document.body.dataset.page = "gate";
    add(app, header("gate: base and head", null, [countPills(data.counts)]));
    const main = put(app, el("main"));
    const pair = el("div", "pair");
    add(main, add(pair, scriptCard("base", data.base), scriptCard("head", data.head)));
    const section = card("Scenarios, regressions first");
    const table = el("table", "runs");
    add(table, add(el("thead"), add(el("tr"), el("th", "", "class"), el("th", "", "scenario"),
      el("th", "", "base"), el("th", "", "head"))));
    const body = put(table, el("tbody"));
    for (const r of data.rows) {
      add(body, add(el("tr", css(r.class)), add(el("td"), pill(r.class)), el("td", "name", r.name), side(r.base),
        side(r.head)));
    }
    add(main, add(section, table));
  }

  function explorationPage() {
    document.body.dataset.page = "exploration";
    const x = data.exploration;
    const failures = data.groups.reduce((n, g) => n + g.failures.length, 0);
    add(app, header(`explore ${x.scenario}`, failures ? "fail" : "pass", [
      x.script ? `script: ${x.script.path}` : "",
      `${x.steps} steps, ${x.crash_points} crash points (${x.with_a_torn_file} with a torn file), `
        + `${x.covered_by_an_equal_state} steps covered by an equal state, ${x.wall_s} s`,
      `${failures} distinct failure(s)`]));
    const main = put(app, el("main"));
    if (x.lost_before_registration) {
      add(main, add(card(), el("p", "", `${x.lost_before_registration} crash point(s) before the bootstrap registered `
        + `itself (step ${x.registered_at_step}) leave nothing to resume it: the start mechanism's limit, not counted.`)));
    }
    const uncut = x.uncut && x.uncut.violations.length ? x.uncut : null;
    if (uncut) {
      const section = card("Without a power cut the run already fails");
      section.classList.add("explore-uncut");
      add(section, add(el("p"), "first cause: ", el("span", "mono", uncut.first_cause)));
      for (const [invariant, message] of uncut.violations) add(section, el("div", "", `${invariant}: ${message}`));
      add(section, el("p", "", `${x.failing_as_without_a_cut} crash point(s) break only these: not listed below.`));
      add(main, section);
    }
    if (!failures) add(main, add(card(), el("p", "", uncut ? "No crash point adds a failure of its own."
      : "Every invariant held at every crash point.")));
    for (const group of data.groups) {
      const section = card(`${group.invariant} (${group.failures.length})`);
      section.classList.add("explore-group");
      for (const f of group.failures) {
        const item = el("div", "failure");
        const torn = f.torn && f.torn.length ? `, tearing ${f.torn.join(", ")}` : "";
        if (f.cause) add(item, el("div", "cause", f.cause));
        add(item, add(el("div"), el("span", "mono", f.line), ": ", f.message));
        const where = f.cut ? `power loss in step ${f.step} after ${f.cut.changes} change(s) by ${f.cut.command}`
          : `power loss before step ${f.step}`;
        add(item, el("div", "", `${where} (boot ${f.boot})${torn}`
          + (f.same_failure_at_steps && f.same_failure_at_steps.length
            ? `; the same failure at ${f.same_failure_at_steps.length} later crash point(s)` : "")));
        add(item, add(el("div"), "replay: ", el("code", "replay", f.replay)));
        if (f.page) add(item, add(el("div"), link(pageHref(f.page, "first-cause"), "the crash-point run: its first cause"),
          " · ", link(pageHref(f.page), "its page")));
        if (f.timeline) add(item, add(el("details"), el("summary", "", "timeline from the boot of the power cut"), el("pre", "", f.timeline)));
        add(section, item);
      }
      add(main, section);
    }
  }

  ({ run: runPage, suite: suitePage, gate: gatePage, exploration: explorationPage })[data.page]();
})();
