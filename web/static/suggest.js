/* Search-box suggestions, as progressive enhancement (without JavaScript the box is a plain form).
 *
 * Every <input data-suggest="URL"> becomes an ARIA 1.2 combobox: typing asks
 * GET URL?q=… (OpenSearch Suggestions JSON: [query, [completions], [kinds]]) after a short pause
 * and shows the completions in a listbox under the box. Up/Down move through them (the input's
 * aria-activedescendant follows), Enter on a highlighted one searches for it, Enter otherwise
 * submits what was typed, Escape closes the list; a click or tap picks one too.
 * Labels follow <html lang>: Simplified Chinese for zh*, English otherwise.
 */
(function () {
  "use strict";

  var ZH = /^zh/i.test(document.documentElement.lang || "");
  var KIND = ZH ? { title: "题名", author: "著者", subject: "主题" } : { title: "title", author: "author", subject: "subject" };
  var COUNT = ZH ? function (n) { return n + " 条建议"; } : function (n) { return n + (n === 1 ? " suggestion" : " suggestions"); };
  var DELAY = 120;

  function setup(input, n) {
    var form = input.form;
    var listId = "suggest-list-" + n;
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", ZH ? "检索建议" : "Search suggestions");
    list.hidden = true;
    var status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    input.parentNode.insertBefore(list, input.nextSibling);
    input.parentNode.appendChild(status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");

    var timer = null, active = -1, items = [], asked = "", controller = null;

    function close() {
      list.hidden = true;
      list.textContent = "";
      items = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(i) {
      items.forEach(function (li, j) { li.setAttribute("aria-selected", j === i ? "true" : "false"); });
      active = i;
      if (i >= 0) { input.setAttribute("aria-activedescendant", items[i].id); items[i].scrollIntoView({ block: "nearest" }); }
      else { input.removeAttribute("aria-activedescendant"); }
    }

    function choose(i) {
      input.value = items[i].getAttribute("data-value");
      close();
      if (form) { form.submit(); }
    }

    function show(texts, kinds) {
      list.textContent = "";
      items = texts.map(function (text, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-value", text);
        var label = document.createElement("span");
        label.className = "text";
        label.textContent = text;
        li.appendChild(label);
        if (kinds && KIND[kinds[i]]) {
          var kind = document.createElement("span");
          kind.className = "kind";
          kind.textContent = KIND[kinds[i]];
          li.appendChild(kind);
        }
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(i); });
        list.appendChild(li);
        return li;
      });
      active = -1;
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
      status.textContent = items.length ? COUNT(items.length) : "";
    }

    function ask() {
      var q = input.value;
      if (!q.trim()) { asked = ""; close(); return; }
      if (q === asked) { return; }
      asked = q;
      if (controller) { controller.abort(); }
      controller = window.AbortController ? new AbortController() : null;
      fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q),
            { headers: { Accept: "application/x-suggestions+json, application/json" }, signal: controller && controller.signal })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer || input.value !== q || document.activeElement !== input) { return; }
          show(answer[1] || [], answer[2] || []);
        })
        .catch(function () { /* the box still works: Enter searches what was typed */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, DELAY);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown" && items.length) { ev.preventDefault(); highlight((active + 1) % items.length); }
      else if (ev.key === "ArrowUp" && items.length) { ev.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
      else if (ev.key === "Enter" && active >= 0) { ev.preventDefault(); choose(active); }
      else if (ev.key === "Escape" && !list.hidden) { ev.preventDefault(); close(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest]"), setup);
})();
