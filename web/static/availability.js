/* Live availability, as progressive enhancement (the pages work without it).
 *
 * Record page: <table id="availability" data-record-id="..."> gets one row per holding member
 * from GET /api/v1/records/{id}/availability (library, state, items with status, call number,
 * due date). Results page: every <span class="avail-badge" data-record-id="..."> is filled from
 * one GET /api/v1/availability?ids=... (at most 50 ids per request).
 * Labels follow <html lang>: Simplified Chinese for zh*, English otherwise.
 */
(function () {
  "use strict";

  var ZH = /^zh/i.test(document.documentElement.lang || "");
  var L = ZH ? {
    ok: "已查询", unknown: "未知（超时或无法连接）", error: "出错", loading: "正在查询各馆实时状态…",
    none: "无单册信息", failed: "暂时无法获取实时状态", due: "应还", requestable: "可申请",
    asOf: "采集数据", yes: "有馆可借", no: "暂无可借", maybe: "状态未知", cached: "缓存",
    status: {
      available: "在架可借", on_loan: "已借出", in_transit: "在途", on_hold_shelf: "预约待取",
      lost: "遗失", missing: "缺失", not_for_loan: "不外借", unavailable: "暂不可借", unknown: "状态未知"
    }
  } : {
    ok: "answered", unknown: "unknown (timed out / unreachable)", error: "error",
    loading: "Asking every library for live status…", none: "no item information",
    failed: "Live status is not available right now", due: "due", requestable: "requestable",
    asOf: "harvested data", yes: "available now somewhere", no: "not available now", maybe: "status unknown",
    cached: "cached",
    status: {
      available: "available", on_loan: "on loan", in_transit: "in transit", on_hold_shelf: "on hold shelf",
      lost: "lost", missing: "missing", not_for_loan: "not for loan", unavailable: "not available",
      unknown: "unknown"
    }
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function name(entry) {
    var n = entry.member_name || {};
    return (ZH ? n.zh || n.en : n.en || n.zh) || entry.member;
  }

  function itemLine(item) {
    var parts = [L.status[item.status] || item.status];
    if (item.status === "unknown" && item.status_text) parts[0] += " (" + item.status_text + ")";
    if (item.call_number) parts.push(item.call_number);
    if (item.location) parts.push(item.location);
    if (item.due_date) parts.push(L.due + " " + item.due_date.slice(0, 10));
    if (item.requestable) parts.push(L.requestable);
    return el("li", { "class": "item status-" + item.status }, [parts.join(" · ")]);
  }

  function row(entry) {
    var state = entry.state === "ok" ? (entry.source === "harvested" ? L.asOf : L.ok) : L[entry.state] || entry.state;
    var stateCell = el("td", { "class": "state state-" + entry.state }, [state]);
    if (entry.detail) stateCell.setAttribute("title", entry.detail);
    if (entry.state === "ok" && entry.detail) stateCell.appendChild(el("small", {}, [" (" + entry.detail + ")"]));
    if (entry.cached) stateCell.appendChild(el("small", {}, [" · " + L.cached]));
    var items = entry.items || [];
    var itemsCell = el("td", { "class": "items" }, items.length
      ? [el("ul", {}, items.map(itemLine))]
      : [entry.state === "ok" ? L.none : (entry.detail || "—")]);
    return el("tr", { "data-member": entry.member }, [el("th", { scope: "row" }, [name(entry)]), stateCell, itemsCell]);
  }

  function message(tbody, text) {
    tbody.replaceChildren(el("tr", {}, [el("td", { colspan: "3" }, [text])]));
  }

  function fillTable(table) {
    var id = table.getAttribute("data-record-id");
    var tbody = table.tBodies[0] || table.appendChild(document.createElement("tbody"));
    var fallback = tbody.cloneNode(true);
    table.setAttribute("aria-busy", "true");
    message(tbody, L.loading);
    fetch("/api/v1/records/" + encodeURIComponent(id) + "/availability", { headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        var rows = (data.holdings || []).map(row);
        if (rows.length) tbody.replaceChildren.apply(tbody, rows); else message(tbody, L.none);
      })
      .catch(function () {
        message(tbody, L.failed);
        tbody.appendChild(fallback.rows[0] || el("tr"));
      })
      .then(function () { table.removeAttribute("aria-busy"); });
  }

  function fillBadges(badges) {
    var byId = {};
    badges.forEach(function (b) {
      var id = b.getAttribute("data-record-id");
      (byId[id] = byId[id] || []).push(b);
    });
    var ids = Object.keys(byId);
    for (var i = 0; i < ids.length; i += 50) {
      var chunk = ids.slice(i, i + 50);
      fetch("/api/v1/availability?ids=" + encodeURIComponent(chunk.join(",")), { headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (data) {
          Object.keys(data).forEach(function (id) {
            var v = data[id] && data[id].available_somewhere;
            var cls = v === true ? "yes" : v === false ? "no" : "unknown";
            var text = v === true ? L.yes : v === false ? L.no : L.maybe;
            (byId[id] || []).forEach(function (b) {
              b.classList.add(cls);
              b.textContent = text;
              b.setAttribute("title", text);
            });
          });
        })
        .catch(function () { /* badges stay empty: the page is complete without them */ });
    }
  }

  function start() {
    var table = document.getElementById("availability");
    if (table && table.getAttribute("data-record-id")) fillTable(table);
    var badges = Array.prototype.slice.call(document.querySelectorAll(".avail-badge[data-record-id]"));
    if (badges.length) fillBadges(badges);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
