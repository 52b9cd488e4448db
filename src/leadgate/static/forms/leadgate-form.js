/* leadgate-form.js: turns <form data-leadgate-form="form_…"> into a validated fetch submit.
   No dependencies; the form still posts without it. */
(function () {
  "use strict";
  var me = document.currentScript;
  var base = me ? new URL(me.src).origin : location.origin;
  var HP = "_lg_hp", TS = "_lg_ts";
  var KEYS = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid",
    "fbclid", "msclkid"];

  // This visit: campaign parameters, click ids, referrer, landing page.
  function visit() {
    var t = {}, q = new URLSearchParams(location.search), campaign = false;
    KEYS.forEach(function (k) {
      var v = q.get(k);
      if (v) { campaign = true; t[k.replace(/_(\w)/g, function (m, c) { return c.toUpperCase(); })] = v.slice(0, 255); }
    });
    var ref = document.referrer;
    if (ref) t.referrer = ref.slice(0, 2048);
    t.landingPage = location.href.slice(0, 2048);
    return { touch: t, fresh: campaign || (ref && new URL(ref).origin !== location.origin) };
  }

  // First touch: kept from the first visit; last touch: the latest visit from a campaign or
  // another site, else this page.
  var now = visit(), first = now.touch, last = now.touch;
  try {
    var store = localStorage;
    first = JSON.parse(store.getItem("lg_ft")) || now.touch;
    store.setItem("lg_ft", JSON.stringify(first));
    if (now.fresh) store.setItem("lg_lt", JSON.stringify(now.touch));
    last = JSON.parse(store.getItem("lg_lt")) || now.touch;
  } catch (e) { /* storage off: this visit is both */ }

  function el(tag, attrs) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function hidden(form, name, value) {
    var input = form.elements[name];
    if (!input) {
      input = el("input", { type: "hidden", name: name });
      form.appendChild(input);
    }
    if (value != null) input.value = value;
    return input;
  }

  function errorBox(form, name, create) {
    var box = form.querySelector('[data-leadgate-error="' + name + '"]');
    var input = form.elements[name];
    // Made only when there is something to say: a box appearing on blur would move the
    // button a click is about to land on.
    if (!box && create && input && input.parentNode) {
      box = el("p", { "data-leadgate-error": name, id: "lg-err-" + name, "class": "lg-error" });
      input.parentNode.insertBefore(box, input.nextSibling);
      input.setAttribute("aria-describedby", box.id);
    }
    return box;
  }

  function showError(form, name, text) {
    var box = errorBox(form, name, !!text), input = form.elements[name];
    if (box) box.textContent = text || "";
    if (input && input.setAttribute) {
      if (text) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  function status(form, text) {
    var box = form.querySelector("[data-leadgate-status]");
    if (!box) {
      box = el("p", { "data-leadgate-status": "", role: "status", "aria-live": "polite" });
      form.insertBefore(box, form.firstChild);
    }
    box.textContent = text;
  }

  function fields(form) {
    var out = [];
    for (var i = 0; i < form.elements.length; i++) {
      var f = form.elements[i];
      if (f.name && f.willValidate && f.type !== "hidden") out.push(f);
    }
    return out;
  }

  function validate(form) {
    var first = null;
    fields(form).forEach(function (f) {
      var ok = f.checkValidity();
      showError(form, f.name, ok ? "" : f.validationMessage);
      if (!ok && !first) first = f;
    });
    if (first) first.focus();
    return !first;
  }

  function setup(form) {
    var id = form.getAttribute("data-leadgate-form");
    var url = base + "/f/" + encodeURIComponent(id);
    if (!form.getAttribute("action")) form.setAttribute("action", url);
    form.setAttribute("method", "post");
    form.noValidate = true;
    if (!form.elements[HP]) {
      var trap = el("input", { type: "text", name: HP, tabindex: "-1", autocomplete: "off",
        "aria-hidden": "true", style: "position:absolute;left:-9999px" });
      form.appendChild(trap);
    }
    var waiting = null;
    function proof(w) {
      w.addEventListener("verified", function (e) {
        hidden(form, "altcha", e.detail && e.detail.payload);
        if (waiting) { var go = waiting; waiting = null; go(); }
      });
    }
    if (form.querySelector("altcha-widget")) proof(form.querySelector("altcha-widget"));
    if (!form.hasAttribute("data-leadgate-hosted")) {
      fetch(url + "/token", { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (j) {
          hidden(form, TS, j.token);
          if (j.proofOfWork && !form.querySelector("altcha-widget")) {
            var w = el("altcha-widget", { challenge: url + "/challenge", name: "altcha",
              auto: "onload", hidelogo: "", hidefooter: "" });
            form.insertBefore(w, form.querySelector("[type=submit]"));
            proof(w);
            document.head.appendChild(el("script", { src: base + "/static/vendor/altcha/altcha.umd.min.js" }));
          }
        })
        .catch(function () {});
    }
    fields(form).forEach(function (f) {
      // Errors clear while typing and appear on leaving a field, so nothing moves under a click.
      f.addEventListener("input", function () {
        if (f.checkValidity()) showError(form, f.name, "");
      });
      f.addEventListener("blur", function () {
        if (f.value && !f.checkValidity()) showError(form, f.name, f.validationMessage);
      });
    });
    function send() {
      var data = {}, fd = new FormData(form);
      fd.forEach(function (v, k) { if (!(k in data)) data[k] = v; });
      data.attribution = { firstTouch: first, lastTouch: last };
      var button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(data)
      }).then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, body: j }; });
      }).then(function (res) {
        if (button) button.disabled = false;
        var b = res.body || {};
        if (res.ok) {
          form.dispatchEvent(new CustomEvent("leadgate:success", { detail: b }));
          if (b.redirectUrl) { location.href = b.redirectUrl; return; }
          form.reset();
          status(form, b.message);
          return;
        }
        (b.details || []).forEach(function (d) { if (d.field) showError(form, d.field, d.message); });
        status(form, b.message || "The form could not be sent.");
        form.dispatchEvent(new CustomEvent("leadgate:error", { detail: b }));
      }).catch(function () {
        if (button) button.disabled = false;
        status(form, "The form could not be sent. Check your connection and retry.");
      });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!validate(form)) return;
      // The proof of work runs from page load; a visitor faster than it waits for it here.
      var w = form.querySelector("altcha-widget");
      if (w && !(form.elements.altcha && form.elements.altcha.value)) {
        status(form, "Verifying…");
        waiting = send;
        return;
      }
      send();
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-leadgate-form]");
    for (var i = 0; i < forms.length; i++) setup(forms[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
