// A full phone number typed into the search box is sent as a POST to the incoming-call lookup,
// so the number never lands in a URL (browser history, proxy and server logs).
(function () {
  "use strict";
  var FULL_NUMBER = /^(?:1[3-9]\d{9}|0\d{2,3}\d{7,8})$/;

  function digitsOf(text) {
    var halfWidth = text.replace(/[\uFF10-\uFF19]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xfee0);
    });
    return halfWidth.replace(/[\s\-()（）.]/g, "").replace(/^(?:\+86|0086)/, "");
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch (error) {
      return "";
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var lookupUrl = form.getAttribute("data-phone-lookup-url");
    if (!lookupUrl) {
      return;
    }
    var input = form.querySelector("input[name=q]");
    var number = digitsOf(input.value);
    if (!FULL_NUMBER.test(number)) {
      return;
    }
    event.preventDefault();
    var post = document.createElement("form");
    post.method = "post";
    post.action = lookupUrl;
    [["csrfmiddlewaretoken", csrfToken()], ["phone", number]].forEach(function (pair) {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = pair[0];
      field.value = pair[1];
      post.appendChild(field);
    });
    document.body.appendChild(post);
    post.submit();
  });
})();

// Controls marked data-submit-on-change (the language menu) submit their form when changed;
// no inline handlers, so the Content-Security-Policy can forbid them.
document.addEventListener("change", function (event) {
  "use strict";
  if (event.target.hasAttribute && event.target.hasAttribute("data-submit-on-change")) {
    event.target.form.submit();
  }
});

// The top bar's "More" menu (a <details>): closes on Escape (focus back on its summary) and when
// the user clicks elsewhere, like any menu.
(function () {
  "use strict";
  function openMenus() {
    return document.querySelectorAll("details[data-nav-more][open]");
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    openMenus().forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();

// Keyboard paths staff use all day:
// - "/" puts the cursor in the page's own search box (the first search field in <main>), else in the
//   top bar's customer search, unless the user is typing in a field already;
// - in a result list marked data-keyboard-list (customer search results, the call queue), Up/Down
//   move from row to row (Down from the page's search box enters the list) and Enter opens the row:
//   its first link, or the address in its data-row-href.
(function () {
  "use strict";
  var TYPING = "input, textarea, select, [contenteditable=''], [contenteditable=true]";

  function searchBox() {
    return document.querySelector("main input[type=search]") || document.getElementById("global-search");
  }

  function rowsOf(list) {
    return Array.prototype.filter.call(list.querySelectorAll("[data-keyboard-row]"), function (row) {
      return row.offsetParent !== null;
    });
  }

  function openRow(row) {
    var link = row.querySelector("a[href]");
    var href = row.getAttribute("data-row-href");
    if (link) {
      link.click();
    } else if (href) {
      window.location.assign(href);
    }
  }

  // Rows take the focus from the arrow keys only (tabindex -1): Tab still walks the links.
  function markRows(root) {
    root.querySelectorAll("[data-keyboard-list]").forEach(function (list) {
      list.querySelectorAll("tbody > tr, :scope > li").forEach(function (row) {
        if (row.querySelector("a[href]") || row.hasAttribute("data-row-href")) {
          row.setAttribute("data-keyboard-row", "");
          row.setAttribute("tabindex", "-1");
        }
      });
    });
    hintPageSearch();
  }

  // The visible hint: the top bar's search shows a "/" badge; a page with its own search box (where
  // "/" leads instead) says so in that box's placeholder, and the top bar's badge steps aside.
  function hintPageSearch() {
    var input = document.querySelector("main input[type=search]");
    var hint = document.body.getAttribute("data-search-hint");
    if (!input || !hint || input.hasAttribute("data-search-hinted")) return;
    var placeholder = input.getAttribute("placeholder");
    input.setAttribute("placeholder", placeholder ? placeholder + " · " + hint : hint);
    input.setAttribute("aria-keyshortcuts", "/");
    input.setAttribute("data-search-hinted", "");
    var global = document.getElementById("global-search");
    if (global) global.removeAttribute("aria-keyshortcuts");
    document.querySelectorAll("[data-shortcut-hint]").forEach(function (badge) {
      badge.hidden = true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    markRows(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    markRows(event.target.closest ? event.target.closest("main") || document : document);
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.isComposing) return;
    var target = event.target;
    var typing = target.matches && target.matches(TYPING);

    if (event.key === "/" && !typing) {
      var box = searchBox();
      if (box) {
        event.preventDefault();
        box.focus();
        box.select();
      }
      return;
    }

    var row = target.closest && target.closest("[data-keyboard-row]");
    if (row && target === row) {
      var rows = rowsOf(row.closest("[data-keyboard-list]"));
      var index = rows.indexOf(row);
      if (event.key === "ArrowDown" && index < rows.length - 1) {
        event.preventDefault();
        rows[index + 1].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (index > 0) {
          rows[index - 1].focus();
        } else {
          var back = searchBox();
          if (back) back.focus();
        }
      } else if (event.key === "Enter") {
        event.preventDefault();
        openRow(row);
      }
      return;
    }

    // Down from the page's search box enters the first result.
    if (event.key === "ArrowDown" && target.matches && target.matches("main input[type=search]")) {
      var list = document.querySelector("main [data-keyboard-list]");
      var first = list && rowsOf(list)[0];
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
})();
