// Filters of the spec table. The page carries its data in attributes; no
// string from the report is ever evaluated as code.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.spec"));
  var fLabel = document.getElementById("f-label");
  var fStatus = document.getElementById("f-status");
  var fText = document.getElementById("f-text");
  var shown = document.getElementById("f-shown");
  if (!fLabel || !fStatus || !fText || !shown) {
    return;
  }
  function labelsOf(row) {
    try {
      return JSON.parse(row.getAttribute("data-labels") || "[]");
    } catch (e) {
      return [];
    }
  }
  function apply() {
    var label = fLabel.value, status = fStatus.value, text = fText.value.trim().toLowerCase(), n = 0;
    rows.forEach(function (row) {
      var ok = (!label || labelsOf(row).indexOf(label) >= 0) &&
        (!status || row.getAttribute("data-status") === status) &&
        (!text || (row.getAttribute("data-name") || "").indexOf(text) >= 0);
      row.hidden = !ok;
      if (ok) {
        n++;
      }
    });
    shown.textContent = n + " of " + rows.length + " specs shown";
  }
  function choose(select, value) {
    var has = Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    select.value = has ? value : "";
    apply();
  }
  fLabel.addEventListener("change", apply);
  fStatus.addEventListener("change", apply);
  fText.addEventListener("input", apply);
  document.getElementById("f-reset").addEventListener("click", function () {
    fLabel.value = "";
    fStatus.value = "";
    fText.value = "";
    apply();
  });
  document.querySelectorAll("button[data-status]").forEach(function (b) {
    b.addEventListener("click", function () {
      choose(fStatus, b.getAttribute("data-status"));
      document.getElementById("specs").scrollIntoView();
    });
  });
  document.querySelectorAll("button[data-label]").forEach(function (b) {
    b.addEventListener("click", function () { choose(fLabel, b.getAttribute("data-label")); });
  });
  // Following a link to a spec (from the chart or the evidence) shows it.
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (!el) {
      return;
    }
    if (el.hidden) {
      fLabel.value = "";
      fStatus.value = "";
      fText.value = "";
      apply();
    }
    var d = el.querySelector("details");
    if (d) {
      d.open = true;
    }
  }
  window.addEventListener("hashchange", reveal);
  apply();
  reveal();
})();
