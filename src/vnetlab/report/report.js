/* vnetlab report: select a step (it and its causal chain are highlighted),
   expand or collapse the flows, filter the table history. No network, no
   innerHTML: every text set here goes through textContent. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("vnetlab-data").textContent);
  var steps = data.steps;
  var msg = data.msg;
  var status = document.getElementById("selection");

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function fill(template, fields) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(fields, key) ? String(fields[key]) : whole;
    });
  }

  function chain(id) {
    var out = [];
    var seen = {};
    while (id && steps[id] && !seen[id]) {
      seen[id] = true;
      out.push(String(id));
      id = String(steps[id].c);
    }
    return out;
  }

  function select(id) {
    each(".sel, .in-chain, .uses", function (el) {
      el.classList.remove("sel", "in-chain", "uses");
    });
    var ids = chain(id);
    ids.forEach(function (stepId, i) {
      each('[data-step="' + stepId + '"]', function (el) {
        el.classList.add(i === 0 ? "sel" : "in-chain");
      });
    });
    var step = steps[id];
    if (step && step.r) {
      each('[data-step="' + step.r + '"]', function (el) { el.classList.add("uses"); });
    }
    if (status) {
      status.hidden = false;
      status.textContent = fill(msg.selected, {
        id: id, where: step ? step.w : "?", note: step ? step.n : "", n: ids.length
      });
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) { return; }
    var el = target.closest("[data-step]");
    if (!el || el.closest("summary")) { return; }
    var id = el.getAttribute("data-step");
    if (/^[0-9]+$/.test(id)) { select(id); }
  });

  function setAll(open) {
    each("details.flow", function (d) { d.open = open; });
  }
  var expand = document.getElementById("expand-all");
  var collapse = document.getElementById("collapse-all");
  if (expand) { expand.addEventListener("click", function () { setAll(true); }); }
  if (collapse) { collapse.addEventListener("click", function () { setAll(false); }); }

  var filter = document.getElementById("history-filter");
  var device = document.getElementById("history-device");
  var count = document.getElementById("history-count");
  function applyFilter() {
    var query = filter.value.trim().toLowerCase();
    var wanted = device.value;
    var rows = document.querySelectorAll("table.history tbody tr");
    var shown = 0;
    Array.prototype.forEach.call(rows, function (tr) {
      var ok = (!query || tr.textContent.toLowerCase().indexOf(query) !== -1) &&
        (!wanted || tr.getAttribute("data-device") === wanted);
      tr.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = fill(msg.count, {shown: shown, total: rows.length});
  }
  if (filter && device && count) {
    filter.addEventListener("input", applyFilter);
    device.addEventListener("change", applyFilter);
    applyFilter();
  }
}());
