// Progressive enhancement only: every page works without this file.
// Place suggestions: as the counsellor types, names of areas in any language or script
// are offered from /app/places.json in the field's <datalist>.
(function () {
  "use strict";
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 2 || q === last) { return; }
        last = q;
        fetch(input.dataset.suggest + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (places) {
            list.textContent = "";
            places.forEach(function (p) {
              var option = document.createElement("option");
              option.value = p.name;
              option.label = p.context ? p.name + " (" + p.context + ")" : p.name;
              list.appendChild(option);
            });
          })
          .catch(function () { /* suggestions are a convenience; typing still works */ });
      }, 200);
    });
  });
})();
