/* unicat search widget: <script src="https://catalogue.example/widget.js" data-key="uc_…" async></script>
 *
 * Puts a search box and a result list where the script tag stands (or into the element named by
 * data-target), inside a Shadow DOM so the host page's CSS neither leaks in nor is touched.
 * Language: data-lang ("zh" | "en"), else the host page's <html lang>. Searches go to the
 * catalogue's JSON API with the key as the api_key parameter (a simple CORS GET: the catalogue
 * answers with CORS headers only for the origins the key was issued for). Each hit links back
 * to the full record in the catalogue.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var base = new URL(script.src, document.baseURI).origin;
  var key = script.getAttribute("data-key") || "";
  var size = Math.min(parseInt(script.getAttribute("data-size") || "10", 10) || 10, 50);
  var pageLang = (script.getAttribute("data-lang") || document.documentElement.lang || "en").toLowerCase();
  var lang = pageLang.indexOf("zh") === 0 ? "zh" : "en";
  var T = {
    zh: { label: "检索联合目录", placeholder: "题名、著者、主题、ISBN…", search: "检索", none: "没有找到记录。",
          error: "暂时无法检索。", total: function (n) { return "共 " + n + " 条"; },
          held: function (n) { return n + " 馆收藏"; }, more: "在联合目录中查看全部结果" },
    en: { label: "Search the union catalogue", placeholder: "Title, author, subject, ISBN…", search: "Search",
          none: "Nothing found.", error: "Search is unavailable right now.",
          total: function (n) { return n + (n === 1 ? " result" : " results"); },
          held: function (n) { return "Held by " + n + (n === 1 ? " library" : " libraries"); },
          more: "See all results in the union catalogue" }
  }[lang];

  var host = document.createElement("div");
  host.className = "unicat-widget";
  var target = script.getAttribute("data-target");
  var parent = target ? document.querySelector(target) : null;
  if (parent) { parent.appendChild(host); } else { script.parentNode.insertBefore(host, script.nextSibling); }
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = [
    ":host{all:initial;display:block;font:15px/1.5 system-ui,'Noto Sans CJK SC','PingFang SC',sans-serif;color:#1d2733}",
    "form{display:flex;gap:.4em;margin:0 0 .6em}",
    "input{flex:1;font:inherit;padding:.35em .5em;border:1px solid #8a96a3;border-radius:4px}",
    "button{font:inherit;padding:.35em .9em;border:0;border-radius:4px;background:#1f5f8b;color:#fff;cursor:pointer}",
    "ol{margin:0;padding:0 0 0 1.4em}li{margin:.35em 0;color:#1d2733}a{color:#1f5f8b}",
    ".meta{color:#55616d;font-size:.9em}.status{color:#55616d;margin:.2em 0}.error{color:#a12a2a}"
  ].join("");
  root.appendChild(style);
  var form = document.createElement("form");
  form.setAttribute("role", "search");
  var input = document.createElement("input");
  input.type = "search"; input.name = "q"; input.placeholder = T.placeholder; input.setAttribute("aria-label", T.label);
  var button = document.createElement("button");
  button.type = "submit"; button.textContent = T.search;
  form.appendChild(input); form.appendChild(button);
  var status = document.createElement("p");
  status.className = "status"; status.setAttribute("aria-live", "polite");
  var list = document.createElement("ol");
  var more = document.createElement("a");
  more.target = "_blank"; more.rel = "noopener"; more.hidden = true; more.textContent = T.more;
  root.appendChild(form); root.appendChild(status); root.appendChild(list); root.appendChild(more);

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }

  function render(body, q) {
    list.textContent = "";
    status.className = "status";
    status.textContent = body.total ? T.total(body.total) : T.none;
    body.hits.forEach(function (hit) {
      var li = document.createElement("li");
      var a = text("a", hit.title || "—");
      a.href = base + "/records/" + encodeURIComponent(hit.id) + "?lang=" + (lang === "zh" ? "zh_Hans" : "en");
      a.target = "_blank"; a.rel = "noopener";
      li.appendChild(a);
      var meta = [(hit.authors || []).slice(0, 2).join("; "), hit.publisher, hit.year].filter(Boolean).join(" · ");
      li.appendChild(text("div", meta + (meta ? " — " : "") + T.held(hit.holdings_count || 0), "meta"));
      list.appendChild(li);
    });
    more.href = base + "/search?q=" + encodeURIComponent(q);
    more.hidden = !body.total;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var q = input.value.trim();
    if (!q) { return; }
    var url = base + "/api/v1/search?size=" + size + "&q=" + encodeURIComponent(q) + "&api_key=" + encodeURIComponent(key);
    status.textContent = "…";
    fetch(url, { credentials: "omit" })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        if (!res.ok) { throw new Error((res.body.error && res.body.error.message) || T.error); }
        render(res.body, q);
      })
      .catch(function (err) {
        list.textContent = ""; more.hidden = true;
        status.className = "status error";
        status.textContent = T.error + (err && err.message && err.message !== "Failed to fetch" ? " " + err.message : "");
      });
  });
  host.unicat = { root: root, search: function (q) { input.value = q; form.requestSubmit(); } };
})();
