/* The kiosk page: check in (with the host picker, a WAI-ARIA combobox), check out, and the
   return to the start screen after the kiosk has been left alone for idle_seconds.
   Talks to /v1/kiosk/* with the pairing cookie; every body is application/json. */
"use strict";

(function () {
  var API = "/v1/kiosk";
  var MIN_QUERY = 2;
  var SEARCH_DELAY_MS = 150;
  var body = document.body;
  var idleSeconds = parseInt(body.getAttribute("data-idle-seconds"), 10) || 30;
  var timeZone = body.getAttribute("data-timezone") || "UTC";

  function byId(id) { return document.getElementById(id); }

  var screens = ["start", "done", "checkout", "out-confirm", "out-done"];
  var current = "start";

  function show(name) {
    screens.forEach(function (screen) { byId(screen).hidden = screen !== name; });
    byId("to-checkout").hidden = name !== "start";
    body.classList.remove("picking");
    current = name;
    var title = byId(name).querySelector("h1");
    if (title) { title.focus(); }
    window.scrollTo(0, 0);
  }

  function folded(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/\s+/g, "");
  }

  function localTime(iso) {
    try {
      return new Intl.DateTimeFormat("en-GB", {
        hour: "2-digit", minute: "2-digit", timeZone: timeZone
      }).format(new Date(iso));
    } catch (error) {
      return new Date(iso).toLocaleTimeString();
    }
  }

  /* Requests: JSON both ways; a 401 means the kiosk was unpaired: reload to say so. */
  function api(method, path, payload, signal) {
    var options = { method: method, headers: { "Accept": "application/json" },
                    credentials: "same-origin", signal: signal };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload || {});
    }
    return fetch(path, options).then(function (response) {
      if (response.status === 401) { window.location.reload(); }
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function setError(field, errorId, message) {
    var error = byId(errorId);
    error.textContent = message || "";
    error.hidden = !message;
    if (field) {
      if (message) { field.setAttribute("aria-invalid", "true"); }
      else { field.removeAttribute("aria-invalid"); }
    }
  }

  /* ---- The host picker (WAI-ARIA APG combobox with a listbox popup) ---- */
  var hostInput = byId("host");
  var listbox = byId("host-options");
  var hostStatus = byId("host-status");
  var options = [];        // {id, label, detail, frontDesk}
  var activeIndex = -1;
  var choice = null;       // the picked option
  var searchTimer = null;
  var searchAbort = null;
  var searchSerial = 0;
  var FRONT_DESK = { id: null, label: "Front desk / I don't know", detail: null, frontDesk: true };

  function optionId(index) { return "host-option-" + index; }

  function render(found, note) {
    options = found.concat([FRONT_DESK]);
    listbox.textContent = "";
    if (note) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.setAttribute("role", "presentation");
      empty.textContent = note;
      listbox.appendChild(empty);
    }
    options.forEach(function (option, index) {
      var item = document.createElement("li");
      item.id = optionId(index);
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      if (option.frontDesk) { item.className = "desk"; }
      var label = document.createElement("span");
      label.className = "label";
      label.textContent = option.label;
      item.appendChild(label);
      if (option.detail) {
        var detail = document.createElement("span");
        detail.className = "detail";
        detail.textContent = option.detail;
        item.appendChild(detail);
      }
      // pointerdown keeps the focus in the input; click picks (touch, mouse, pen).
      item.addEventListener("pointerdown", function (event) { event.preventDefault(); });
      item.addEventListener("click", function () { pick(index); });
      listbox.appendChild(item);
    });
    setActive(-1);
  }

  /* Opening the list brings the picker to the top of the screen (room below it for the
     options, above an on-screen keyboard); the "picking" class lends the page that room. */
  function open() {
    var opening = listbox.hidden;
    listbox.hidden = false;
    hostInput.setAttribute("aria-expanded", "true");
    if (opening) {
      body.classList.add("picking");
      hostInput.closest(".field").scrollIntoView({ block: "start" });
    }
  }

  /* The room stays until the screen changes: taking it away as the list closes would move
     what the visitor is about to tap (the page would shrink under their finger). */
  function close() {
    listbox.hidden = true;
    hostInput.setAttribute("aria-expanded", "false");
    setActive(-1);
  }

  function isOpen() { return !listbox.hidden; }

  function setActive(index) {
    var items = listbox.querySelectorAll("[role=option]");
    activeIndex = index;
    for (var i = 0; i < items.length; i++) {
      var on = i === index;
      items[i].classList.toggle("active", on);
      items[i].setAttribute("aria-selected", on ? "true" : "false");
    }
    if (index >= 0 && items[index]) {
      hostInput.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    } else {
      hostInput.removeAttribute("aria-activedescendant");
    }
  }

  function pick(index) {
    var option = options[index];
    if (!option) { return; }
    choice = option;
    hostInput.value = option.label;
    setError(hostInput, "host-error", "");
    close();
    hostStatus.textContent = option.frontDesk
      ? "The front desk will be told you are here."
      : option.label + " chosen.";
  }

  function search() {
    var query = hostInput.value.trim();
    if (searchAbort) { searchAbort.abort(); searchAbort = null; }
    if (folded(query).length < MIN_QUERY) {
      render([], null);
      hostStatus.textContent = "";
      return;
    }
    var serial = ++searchSerial;
    searchAbort = typeof AbortController === "function" ? new AbortController() : null;
    api("GET", API + "/hosts?q=" + encodeURIComponent(query), null,
        searchAbort ? searchAbort.signal : undefined)
      .then(function (answer) {
        if (serial !== searchSerial || choice) { return; }
        if (answer.status === 200 && answer.data && Array.isArray(answer.data.hosts)) {
          var hosts = answer.data.hosts.map(function (host) {
            return { id: host.id, label: host.label, detail: host.detail || null, frontDesk: false };
          });
          render(hosts, hosts.length ? null : "No one found by that name.");
          hostStatus.textContent = hosts.length === 1 ? "1 person found."
            : hosts.length + " people found.";
        } else if (answer.status === 429) {
          render([], "Too many searches; wait a moment and type again.");
        } else {
          render([], "Search is not available; choose the front desk.");
        }
        if (document.activeElement === hostInput) { open(); }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        render([], "Search is not available; choose the front desk.");
        if (document.activeElement === hostInput) { open(); }
      });
  }

  hostInput.addEventListener("input", function () {
    choice = null;
    setError(hostInput, "host-error", "");
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, SEARCH_DELAY_MS);
    if (folded(hostInput.value).length < MIN_QUERY) { render([], null); }
    open();
  });

  hostInput.addEventListener("focus", function () {
    if (!choice) {
      if (!options.length) { render([], null); }
      open();
    }
  });

  hostInput.addEventListener("blur", function () { close(); });

  hostInput.addEventListener("keydown", function (event) {
    var count = options.length;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!options.length) { render([], null); count = options.length; }
        if (!isOpen()) { open(); if (event.altKey) { return; } }
        setActive(activeIndex + 1 >= count ? 0 : activeIndex + 1);
        break;
      case "ArrowUp":
        event.preventDefault();
        if (!options.length) { render([], null); count = options.length; }
        if (!isOpen()) { open(); }
        setActive(activeIndex <= 0 ? count - 1 : activeIndex - 1);
        break;
      case "Enter":
        if (isOpen() && activeIndex >= 0) {
          event.preventDefault();
          pick(activeIndex);
        }
        break;
      case "Escape":
        if (isOpen()) {
          event.preventDefault();
          close();
        } else if (hostInput.value) {
          event.preventDefault();
          hostInput.value = "";
          choice = null;
          render([], null);
        }
        break;
      default:
        break;
    }
  });

  /* ---- Check in ---- */
  var form = byId("checkin");
  var fullName = byId("full-name");
  var company = byId("company");
  var email = byId("email");
  var checkinButton = byId("checkin-button");

  function fieldOf(detail) {
    if (/^Full name/.test(detail)) { return [fullName, "full-name-error"]; }
    if (/^E-mail/.test(detail)) { return [email, "email-error"]; }
    return null;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    setError(fullName, "full-name-error", "");
    setError(email, "email-error", "");
    setError(null, "checkin-error", "");
    if (!fullName.value.trim()) {
      setError(fullName, "full-name-error", "Enter your full name.");
      fullName.focus();
      return;
    }
    if (!choice) {
      setError(hostInput, "host-error",
        "Pick the person you are visiting from the list, or Front desk / I don't know.");
      hostInput.focus();
      return;
    }
    var payload = { full_name: fullName.value, company: company.value || null,
                    email: email.value.trim() || null };
    if (choice.frontDesk) { payload.front_desk = true; } else { payload.host_id = choice.id; }
    checkinButton.disabled = true;
    checkinButton.setAttribute("aria-busy", "true");
    api("POST", API + "/visits", payload)
      .then(function (answer) {
        if (answer.status === 201) {
          byId("done-name").textContent = fullName.value.trim();
          byId("done-message").textContent = answer.data.host
            ? answer.data.host.label + " has been notified that you have arrived."
            : "The front desk has been notified that you have arrived.";
          show("done");
          return;
        }
        var detail = (answer.data && answer.data.detail) || "Check-in did not go through.";
        if (answer.status === 409) {
          choice = null;
          setError(hostInput, "host-error", detail);
          hostInput.focus();
          return;
        }
        var target = fieldOf(detail);
        if (target) {
          setError(target[0], target[1], detail);
          target[0].focus();
        } else {
          setError(null, "checkin-error", detail);
        }
      })
      .catch(function () {
        setError(null, "checkin-error",
          "Check-in did not go through. Please try again, or ask at the front desk.");
      })
      .then(function () {
        checkinButton.disabled = false;
        checkinButton.removeAttribute("aria-busy");
      });
  });

  /* ---- Check out ---- */
  var outName = byId("out-name");
  var outResults = byId("out-results");
  var outStatus = byId("out-status");
  var outTimer = null;
  var outSerial = 0;
  var leaving = null;

  function findVisitors() {
    var query = outName.value.trim();
    var serial = ++outSerial;
    outResults.textContent = "";
    if (folded(query).length < MIN_QUERY) { outStatus.textContent = ""; return; }
    api("GET", API + "/visits?q=" + encodeURIComponent(query))
      .then(function (answer) {
        if (serial !== outSerial) { return; }
        if (answer.status !== 200) {
          outStatus.textContent = (answer.data && answer.data.detail) || "Search is not available.";
          return;
        }
        var visits = answer.data.visits || [];
        outStatus.textContent = visits.length
          ? "Pick your name."
          : "No one checked in here today by that name.";
        visits.forEach(function (visit) {
          var item = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          var name = document.createElement("span");
          name.className = "name";
          name.textContent = visit.name;
          var time = document.createElement("span");
          time.className = "time";
          time.textContent = "Checked in at " + localTime(visit.checked_in_at);
          button.appendChild(name);
          button.appendChild(time);
          button.addEventListener("click", function () { confirmLeaving(visit); });
          item.appendChild(button);
          outResults.appendChild(item);
        });
      })
      .catch(function () {
        if (serial === outSerial) { outStatus.textContent = "Search is not available."; }
      });
  }

  function confirmLeaving(visit) {
    leaving = visit;
    byId("out-confirm-name").textContent = visit.name;
    byId("out-confirm-time").textContent = "Checked in at " + localTime(visit.checked_in_at) + ".";
    setError(null, "out-error", "");
    show("out-confirm");
  }

  outName.addEventListener("input", function () {
    clearTimeout(outTimer);
    outTimer = setTimeout(findVisitors, SEARCH_DELAY_MS);
  });
  byId("checkout-form").addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(outTimer);
    findVisitors();
  });

  byId("to-checkout").addEventListener("click", function () {
    outName.value = "";
    outResults.textContent = "";
    outStatus.textContent = "";
    show("checkout");
    outName.focus();
  });

  byId("out-back").addEventListener("click", function () {
    show("checkout");
    outName.focus();
  });

  var outButton = byId("out-confirm-button");
  outButton.addEventListener("click", function () {
    if (!leaving) { return; }
    outButton.disabled = true;
    api("POST", API + "/visits/" + encodeURIComponent(leaving.id) + "/checkout", {})
      .then(function (answer) {
        if (answer.status === 200) {
          byId("out-done-name").textContent = leaving.name;
          show("out-done");
        } else {
          setError(null, "out-error",
            (answer.data && answer.data.detail) || "Check-out did not go through.");
        }
      })
      .catch(function () {
        setError(null, "out-error",
          "Check-out did not go through. Please try again, or ask at the front desk.");
      })
      .then(function () { outButton.disabled = false; });
  });

  /* ---- Back to the start: the Done buttons, and idle time ---- */
  function reset() {
    clearTimeout(searchTimer);
    clearTimeout(outTimer);
    if (searchAbort) { searchAbort.abort(); searchAbort = null; }
    searchSerial++;
    outSerial++;
    form.reset();
    [fullName, email, hostInput].forEach(function (field) { field.removeAttribute("aria-invalid"); });
    ["full-name-error", "email-error", "host-error", "checkin-error", "out-error"].forEach(
      function (id) { setError(null, id, ""); });
    choice = null;
    leaving = null;
    options = [];
    listbox.textContent = "";
    close();
    hostStatus.textContent = "";
    outName.value = "";
    outResults.textContent = "";
    outStatus.textContent = "";
    checkinButton.disabled = false;
    outButton.disabled = false;
    show("start");
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-action=start]"), function (button) {
    button.addEventListener("click", reset);
  });

  function pristine() {
    return current === "start" && !fullName.value && !company.value && !email.value &&
      !hostInput.value;
  }

  var idleTimer = null;
  function touched() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () {
      if (!pristine()) { reset(); }
      if (document.activeElement && document.activeElement !== document.body) {
        document.activeElement.blur();
      }
    }, idleSeconds * 1000);
  }
  ["pointerdown", "keydown", "input", "touchstart", "wheel"].forEach(function (kind) {
    document.addEventListener(kind, touched, { capture: true, passive: true });
  });
  touched();
}());
