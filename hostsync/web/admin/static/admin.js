// hostsync admin console: local times, copy buttons, confirmation prompts, live filters.
// No dependencies.
(function () {
  "use strict";
  // <time datetime="…Z">UTC text</time>: shown in the viewer's own time zone, UTC on hover.
  var formats = null;
  try {
    var parts = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
                  timeZoneName: "short" };
    formats = {
      thisYear: new Intl.DateTimeFormat(undefined, parts),
      otherYear: new Intl.DateTimeFormat(undefined, Object.assign({ year: "numeric" }, parts))
    };
  } catch (error) { formats = null; }
  var year = new Date().getFullYear();
  document.querySelectorAll("time[datetime]").forEach(function (element) {
    var moment = new Date(element.getAttribute("datetime"));
    if (!formats || isNaN(moment.getTime())) { return; }
    if (!element.title) { element.title = element.textContent; }
    var format = moment.getFullYear() === year ? formats.thisYear : formats.otherYear;
    element.textContent = format.format(moment);
  });
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) { return; }
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          field.select(); document.execCommand("copy"); done();
        });
      } else {
        field.select(); document.execCommand("copy"); done();
      }
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  document.querySelectorAll("form[data-live]").forEach(function (form) {
    var timer = null;
    var submit = function () { form.requestSubmit ? form.requestSubmit() : form.submit(); };
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", submit);
    });
    form.querySelectorAll("input[type=search]").forEach(function (input) {
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(submit, 400);
      });
    });
  });
  var search = document.querySelector("form[data-live] input[type=search]");
  if (search && search.value) {
    search.focus();
    search.setSelectionRange(search.value.length, search.value.length);
  }
})();
