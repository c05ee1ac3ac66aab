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
